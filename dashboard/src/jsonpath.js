// Maps a JSON location from the API (`steps[1].url`, `trigger.schedule.at`, `name`) to a
// range in the editor's text, and sets a member in that text, using the JSON syntax tree
// CodeMirror already has.
import { ensureSyntaxTree, syntaxTree } from '@codemirror/language';

/** `steps[1].url` (or the JSON pointer `/steps/1/url`) → ['steps', 1, 'url']. */
export function parseLocation(location) {
  if (typeof location === 'string' && location.startsWith('/')) {
    return location.slice(1).split('/').filter((s) => s !== '')
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
      .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  }
  const out = [];
  const re = /([^.[\]]+)|\[(\d+)\]/g;
  let m;
  while ((m = re.exec(location || '')) !== null) {
    if (m[2] !== undefined) out.push(Number(m[2]));
    else out.push(m[1]);
  }
  return out;
}

function values(node) {
  const out = [];
  for (let c = node.firstChild; c; c = c.nextSibling) {
    if (!['[', ']', ',', '{', '}', '⚠'].includes(c.name) && c.type.isError === false) out.push(c);
  }
  return out;
}

function propertyValue(prop) {
  let last = null;
  for (let c = prop.firstChild; c; c = c.nextSibling) {
    if (c.name !== 'PropertyName' && c.name !== ':') last = c;
  }
  return last;
}

/** The member `key` of the object `node`: {prop, name, value} nodes, or null. */
function member(doc, node, key) {
  for (let c = node.firstChild; c; c = c.nextSibling) {
    if (c.name !== 'Property') continue;
    const pn = c.getChild('PropertyName');
    if (!pn) continue;
    let name;
    try { name = JSON.parse(doc.sliceString(pn.from, pn.to)); } catch { continue; }
    if (name === key) return { prop: c, name: pn, value: propertyValue(c) };
  }
  return null;
}

/** The top value of `state`'s JSON text; null without a tree. */
function topValue(state) {
  // Definitions are small: make sure the whole text is parsed before walking it.
  const tree = ensureSyntaxTree(state, state.doc.length, 500) || syntaxTree(state);
  let node = tree.topNode.firstChild;
  while (node && node.type.isError) node = node.nextSibling;
  return node;
}

/** The range the location names, or the nearest existing parent's; null without a tree. With
 * `key`, a member is named by its key (a field that should not be there) rather than its value. */
export function locate(state, location, { key = false } = {}) {
  const doc = state.doc;
  let node = topValue(state);
  if (!node) return null;
  let range = { from: node.from, to: Math.min(node.to, node.from + 1), exact: false };
  const path = parseLocation(location);
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    let next = null;
    let nameNode = null;
    if (node.name === 'Object' && typeof seg === 'string') {
      const m = member(doc, node, seg);
      if (m) { next = m.value; nameNode = m.name; }
    } else if (node.name === 'Array' && typeof seg === 'number') {
      next = values(node)[seg] || null;
    }
    if (!next) {
      // The key is missing (e.g. a required field): point at the container's first line.
      return { from: node.from, to: Math.min(node.to, node.from + 1), exact: false };
    }
    node = next;
    if (key && nameNode && i === path.length - 1) return { from: nameNode.from, to: nameNode.to, exact: true };
    // Scalars get the value underlined; containers get their key (or opening bracket).
    if (node.name === 'Object' || node.name === 'Array') {
      range = nameNode ? { from: nameNode.from, to: nameNode.to, exact: true }
        : { from: node.from, to: node.from + 1, exact: true };
    } else {
      range = { from: node.from, to: node.to, exact: true };
    }
  }
  return range;
}

/** The change that sets the member at `path` (object keys, e.g. ['trigger', 'request']) to
 * `value` in `state`'s JSON text and leaves the rest of the text as it is: the member's value is
 * replaced, or the member is added at the end of its object; the value is indented like its
 * line. Null when the text is not valid JSON or a parent on the path is not an object. */
export function setMember(state, path, value) {
  const doc = state.doc;
  try { JSON.parse(doc.toString()); } catch { return null; }
  let node = topValue(state);
  for (const key of path.slice(0, -1)) {
    const m = node && node.name === 'Object' ? member(doc, node, key) : null;
    node = m && m.value;
  }
  if (!node || node.name !== 'Object') return null;
  const key = path[path.length - 1];
  const indentAt = (pos) => /^\s*/.exec(doc.lineAt(pos).text)[0];
  const render = (indent) => JSON.stringify(value, null, 2).replace(/\n/g, `\n${indent}`);
  const m = member(doc, node, key);
  if (m) return { from: m.value.from, to: m.value.to, insert: render(indentAt(m.prop.from)) };
  const props = node.getChildren('Property');
  if (props.length) {
    const last = props[props.length - 1];
    const indent = indentAt(last.from);
    return { from: last.to, to: last.to, insert: `,\n${indent}${JSON.stringify(key)}: ${render(indent)}` };
  }
  const indent = `${indentAt(node.from)}  `;
  return { from: node.from + 1, to: node.from + 1, insert: `\n${indent}${JSON.stringify(key)}: ${render(indent)}\n${indentAt(node.from)}` };
}
