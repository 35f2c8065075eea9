// Counts the statements a D1 binding runs, for src/platform/d1_stats.rs (local mode only,
// TRIPLINE_DEV_STATS=1): one for each `run`/`all`/`first`/`raw` of a prepared statement, one per
// statement of a `batch`; a write is any statement but a SELECT. Each is counted under the tag
// of the invocation whose future is being polled ("kind\nworkflow", set by `swapTag`).
let tag = null;
// "kind\n" (every workflow) or "kind\nworkflow" → [statements, writes].
const counts = new Map();

function count(n, writes) {
  const t = tag ?? "untagged\n";
  const add = (key) => {
    const c = counts.get(key) ?? [0, 0];
    c[0] += n;
    c[1] += writes;
    counts.set(key, c);
  };
  add(t.slice(0, t.indexOf("\n") + 1));
  if (!t.endsWith("\n")) add(t);
}

// Makes `next` the current tag; returns the one it replaces.
export function swapTag(next) {
  const previous = tag;
  tag = next;
  return previous;
}

// The current tag (null outside any invocation).
export function currentTag() {
  return tag;
}

// The current tag's workflow under another kind.
export function retag(kind) {
  return kind + (tag === null ? "\n" : tag.slice(tag.indexOf("\n")));
}

// `{kind: count}` as JSON, of one workflow ("" for all), statements or only writes.
export function snapshot(workflow, writes) {
  const out = {};
  for (const [key, c] of counts) {
    const i = key.indexOf("\n");
    const n = c[writes ? 1 : 0];
    if (key.slice(i + 1) === workflow && n > 0) out[key.slice(0, i)] = n;
  }
  return JSON.stringify(out);
}
const SENDS = new Set(["run", "all", "first", "raw"]);
// The real statement behind each counting wrapper (a batch is sent the real ones), and whether
// it writes.
const real = new WeakMap();
const writing = new WeakMap();
const isWrite = (sql) => !/^\s*select\b/i.test(String(sql));

export function countStatements(db) {
  return wrap(db, (target, key, value) => {
    if (key === "prepare") {
      return (sql, ...rest) => statement(value.call(target, sql, ...rest), isWrite(sql));
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
    if (key === "withSession") return (...args) => countStatements(value.apply(target, args));
  });
}

function statement(s, write) {
  const wrapper = wrap(s, (target, key, value) => {
    if (key === "bind") return (...args) => statement(value.apply(target, args), write);
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
