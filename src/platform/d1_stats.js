// Counts the statements a D1 binding runs, for src/platform/d1_stats.rs (local mode only,
// TRIPLINE_DEV_STATS=1). `count(n, writes)` is told of every statement as it is sent: one for
// each `run`/`all`/`first`/`raw` of a prepared statement, one per statement of a `batch`;
// `writes` of them are not a SELECT.
const SENDS = new Set(["run", "all", "first", "raw"]);
// The real statement behind each counting wrapper (a batch is sent the real ones), and whether
// it writes.
const real = new WeakMap();
const writing = new WeakMap();
const isWrite = (sql) => !/^\s*select\b/i.test(String(sql));

export function countStatements(db, count) {
  return wrap(db, (target, key, value) => {
    if (key === "prepare") {
      return (sql, ...rest) => statement(value.call(target, sql, ...rest), count, isWrite(sql));
    }
    if (key === "batch") {
      return (statements, ...rest) => {
        count(statements.length, statements.filter((s) => writing.get(s) ?? true).length);
        return value.call(target, statements.map((s) => real.get(s) ?? s), ...rest);
      };
    }
    if (key === "exec") {
      return (query, ...rest) => {
        const lines = String(query).split("\n").filter((line) => line.trim());
        count(lines.length, lines.filter(isWrite).length);
        return value.call(target, query, ...rest);
      };
    }
    if (key === "withSession") return (...args) => countStatements(value.apply(target, args), count);
  });
}

function statement(s, count, write) {
  const wrapper = wrap(s, (target, key, value) => {
    if (key === "bind") return (...args) => statement(value.apply(target, args), count, write);
    if (SENDS.has(key)) {
      return (...args) => {
        count(1, write ? 1 : 0);
        return value.apply(target, args);
      };
    }
  });
  real.set(wrapper, s);
  writing.set(wrapper, write);
  return wrapper;
}

// A proxy whose methods run on the real object; `method` may replace one.
function wrap(object, method) {
  return new Proxy(object, {
    get(target, key) {
      const value = Reflect.get(target, key);
      if (typeof value !== "function" || key === "constructor") return value;
      return method(target, key, value) ?? value.bind(target);
    },
  });
}
