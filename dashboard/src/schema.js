// The definition schema's `oneOf`s (a trigger, a step, a schedule, a poll source, a verify) are
// lists of kinds told apart by one field that each kind fixes (`type`, `kind`, `scheme`). The
// validator and the completion would take them as "one of these schemas" only: a mistake inside a
// schedule trigger is then "matches no trigger", on the whole object, and the completion offers
// the fields of every kind. Here that field picks the kind, for both.
import { draft07Config } from 'json-schema-library';

const found = new WeakMap();
/** The field every branch of `oneOf` fixes (a `const` or an `enum`), with the branches (their
 * `$ref`s resolved by `draft`) and the values each takes; null when there is none. */
export function discriminator(draft, oneOf) {
  if (!Array.isArray(oneOf) || !oneOf.length) return null;
  if (found.has(oneOf)) return found.get(oneOf);
  const branches = oneOf.map((b) => draft.resolveRef(b));
  const first = (branches[0] && branches[0].properties) || {};
  let d = null;
  for (const key of Object.keys(first)) {
    const values = branches.map((b) => {
      const p = b && b.properties && b.properties[key];
      if (!p) return null;
      return p.const !== undefined ? [p.const] : Array.isArray(p.enum) ? p.enum : null;
    });
    if (values.every(Boolean)) { d = { key, branches, values }; break; }
  }
  found.set(oneOf, d);
  return d;
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const escape = (k) => String(k).replace(/~/g, '~0').replace(/\//g, '~1');
const valueAt = (data, pointer) => pointer.split('/').slice(1)
  .reduce((v, k) => (v == null ? undefined : v[k.replace(/~1/g, '/').replace(/~0/g, '~')]), data);

/** The validator's `errors` for `data` as [{pointer, message, key}], each at its own place: an
 * unknown field at its name (`key`: the member's name, not its value, is the place); a value that matches no kind of a `oneOf` is checked against the kind its
 * field names, with that kind's errors at their places, or, when it names none, the field is
 * marked with the kinds there are. `draft` is the validator (json-schema-library). */
export function placeSchemaErrors(draft, errors, data) {
  const out = [];
  for (const e of errors) {
    let pointer = String((e.data && e.data.pointer) || '#').replace(/^#/, '');
    if (e.name === 'NoAdditionalPropertiesError' && e.data.property !== undefined) {
      out.push({ pointer: `${pointer}/${escape(e.data.property)}`, message: e.message, key: true });
      continue;
    }
    const value = valueAt(data, pointer);
    const d = e.name === 'OneOfError' && isObject(value) && discriminator(draft, e.data.schema && e.data.schema.oneOf);
    if (d) {
      const given = value[d.key];
      const kinds = d.values.flat().map((v) => JSON.stringify(v)).join(', ');
      const i = d.values.findIndex((v) => v.includes(given));
      if (i >= 0) {
        const inner = placeSchemaErrors(draft, draft.validate(value, d.branches[i], `#${pointer}`), data);
        if (inner.length) { out.push(...inner); continue; }
      } else if (given === undefined) {
        out.push({ pointer, message: `The required property \`${d.key}\` is missing: one of ${kinds}` });
        continue;
      } else {
        out.push({ pointer: `${pointer}/${escape(d.key)}`, message: `Unknown ${d.key} ${JSON.stringify(given)}: one of ${kinds}` });
        continue;
      }
    }
    // An object where one kind of object or nothing is allowed (`verify`: a `oneOf` or null) is
    // checked against the object's schema, its errors at their places.
    const anyOf = e.name === 'AnyOfError' && isObject(value) && ((e.data.schema && e.data.schema.anyOf) || e.data.anyOf);
    if (Array.isArray(anyOf)) {
      const objects = anyOf.map((b) => draft.resolveRef(b)).filter((b) => b && b.type !== 'null');
      if (objects.length === 1) {
        const inner = placeSchemaErrors(draft, draft.validate(value, objects[0], `#${pointer}`), data);
        if (inner.length) { out.push(...inner); continue; }
      }
    }
    out.push({ pointer, message: e.message });
  }
  return out;
}

// The completion's validator (codemirror-json-schema makes a Draft07 of json-schema-library for
// each completion): an object of a `oneOf` with kinds is of the kind its field names, so that
// only that kind's fields and values are offered; a field not written yet keeps the whole
// `oneOf` (the plain choice fails on no value, and the field would not be offered at all).
const plainResolveOneOf = draft07Config.resolveOneOf;
draft07Config.resolveOneOf = (draft, data, schema, pointer) => {
  const d = discriminator(draft, schema.oneOf);
  if (d && isObject(data)) {
    const i = d.values.findIndex((v) => v.includes(data[d.key]));
    if (i >= 0) return { ...d.branches[i] };
  }
  if (d && data === undefined) return { ...schema };
  return plainResolveOneOf(draft, data, schema, pointer);
};
