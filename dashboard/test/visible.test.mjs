// node --test dashboard/test: direction controls written out in what the page shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { visible, showDirectionControls } from '../src/visible.js';

test('direction controls are written as their escapes, other text as it is', () => {
  assert.equal(visible('a \u202eevil\u202c b'), 'a \\u202eevil\\u202c b');
  assert.equal(visible('\u2066x\u2069\u200e\u200f\u061c'), '\\u2066x\\u2069\\u200e\\u200f\\u061c');
  assert.equal(visible('Ünïcødé עברית 日本 \n\t'), 'Ünïcødé עברית 日本 \n\t');
});

test('every text node goes through it, elements are left to the hook before', () => {
  const seen = [];
  const options = { vnode: (v) => seen.push(v.type) };
  showDirectionControls(options);
  const text = { type: null, props: 'Pay \u202eexe.sllabddo\u202c' };
  options.vnode(text);
  assert.equal(text.props, 'Pay \\u202eexe.sllabddo\\u202c');
  const element = { type: 'td', props: { title: '\u202e' } };
  options.vnode(element);
  assert.deepEqual(element.props, { title: '\u202e' });
  assert.deepEqual(seen, [null, 'td']);
});
