// Maps a JSON location from the API (`steps[1].url`, `trigger.schedule.at`, `name`) to a
// range in the editor's text, using the JSON syntax tree CodeMirror already has.
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

/** The range the location names, or the nearest existing parent's; null without a tree. */
export function locate(state, location) {
  // Definitions are small: make sure the whole text is parsed before walking it.
  const tree = ensureSyntaxTree(state, state.doc.length, 500) || syntaxTree(state);
  const doc = state.doc;
  let node = tree.topNode.firstChild;
  while (node && node.type.isError) node = node.nextSibling;
  if (!node) return null;
  let range = { from: node.from, to: Math.min(node.to, node.from + 1), exact: false };
  const path = parseLocation(location);
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    let next = null;
    let nameNode = null;
    if (node.name === 'Object' && typeof seg === 'string') {
      for (let c = node.firstChild; c; c = c.nextSibling) {
        if (c.name !== 'Property') continue;
        const pn = c.getChild('PropertyName');
        if (!pn) continue;
        let key;
        try { key = JSON.parse(doc.sliceString(pn.from, pn.to)); } catch { continue; }
        if (key === seg) { next = propertyValue(c); nameNode = pn; break; }
      }
    } else if (node.name === 'Array' && typeof seg === 'number') {
      next = values(node)[seg] || null;
    }
    if (!next) {
      // The key is missing (e.g. a required field): point at the container's first line.
      return { from: node.from, to: Math.min(node.to, node.from + 1), exact: false };
    }
    node = next;
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
