// The example request the test shelf shows while it is empty: one the draft's request schema
// accepts, so that the first capture looks like the real thing.

/** A curl command for the test URL with the draft's first method (`POST` unless it says), the
 * query parameters and headers its schema requires and, for the methods that carry one, a JSON
 * body with every field its schema declares (`{"hello":"world"}` when it declares none). */
export function exampleCurl(wf) {
  const trigger = (wf.draft && wf.draft.trigger) || {};
  const given = trigger.method;
  const method = String((Array.isArray(given) ? given[0] : given) || 'POST').toUpperCase();
  const request = isObject(trigger.request) ? trigger.request : {};
  const needed = (rules) => (Array.isArray(rules) ? rules : [])
    .filter((r) => isObject(r) && typeof r.name === 'string' && (r.required === true || r.equals !== undefined));
  const query = needed(request.query)
    .map((r) => `${encodeURIComponent(r.name)}=${encodeURIComponent(String(sample(r)))}`).join('&');
  const url = quote(query ? `${wf.urls.test}?${query}` : wf.urls.test);
  const headerRules = needed(request.headers);
  // A content type the schema requires is the one sent (JSON unless it names one).
  const isType = (r) => r.name.toLowerCase() === 'content-type';
  const headerValue = (r) => (isType(r) && r.equals === undefined && !(Array.isArray(r.enum) && r.enum.length) ? 'application/json' : sample(r));
  const headers = headerRules.map((r) => ` -H ${quote(`${r.name}: ${headerValue(r)}`)}`).join('');
  if (method === 'GET') return `curl ${url}${headers}`;
  if (method === 'DELETE') return `curl -X DELETE ${url}${headers}`;
  const rules = (Array.isArray(request.body) ? request.body : []).filter((r) => isObject(r) && typeof r.name === 'string');
  // Objects without a prototype: a field named `__proto__` or `constructor` is a field.
  const body = Object.create(null);
  for (const r of rules) place(body, r.name, sample(r));
  const text = rules.length ? JSON.stringify(body) : '{"hello":"world"}';
  const type = headerRules.some(isType) ? '' : ` -H 'content-type: application/json'`;
  return `curl -X ${method} ${url}${headers}${type} -d ${quote(text)}`;
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A value a rule accepts: its `equals`, its first `enum` value, or one of its type. */
function sample(rule) {
  if (rule.equals !== undefined) return rule.equals;
  if (Array.isArray(rule.enum) && rule.enum.length) return rule.enum[0];
  switch (rule.type) {
    case 'integer': return 1;
    case 'number': return 1.5;
    case 'boolean': return true;
    case 'object': return Object.create(null);
    case 'array': return [];
    case 'null': return null;
    default: return 'example';
  }
}

/** `value` put at a body path (`customer.email`, `items[].sku`: one element per array) in
 * `body`, with the objects and arrays on the way; a place already taken is kept. */
function place(body, path, value) {
  const parts = path.split('.').map((p) => {
    const [, key, arrays] = /^(.*?)((?:\[\])*)$/.exec(p);
    return { key, depth: arrays.length / 2 };
  });
  let at = body;
  for (let i = 0; i < parts.length; i += 1) {
    if (!isObject(at)) return;
    let holder = at;
    let slot = parts[i].key;
    for (let d = 0; d < parts[i].depth; d += 1) {
      if (!Object.hasOwn(holder, slot)) holder[slot] = [];
      if (!Array.isArray(holder[slot])) return;
      holder = holder[slot];
      slot = 0;
    }
    if (i === parts.length - 1) {
      if (!Object.hasOwn(holder, slot)) holder[slot] = value;
      return;
    }
    if (!Object.hasOwn(holder, slot)) holder[slot] = Object.create(null);
    at = holder[slot];
  }
}

/** `s` as one single-quoted shell word. */
const quote = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
