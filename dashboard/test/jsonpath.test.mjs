// node --test dashboard/test: where API error locations land in a definition's text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EditorState } from '@codemirror/state';
import { json } from '@codemirror/lang-json';
import { locate, parseLocation, setMember } from '../src/jsonpath.js';
import { lineDiff } from '../src/diff.js';

const text = `{
  "name": "Lead",
  "trigger": { "type": "schedule", "schedule": { "kind": "daily", "at": "25:00" } },
  "steps": [
    { "type": "log", "name": "a", "message": "x" },
    { "type": "http", "name": "b", "url": "ftp://nope" }
  ]
}`;
const state = EditorState.create({ doc: text, extensions: [json()] });
const at = (loc) => {
  const r = locate(state, loc);
  return { line: state.doc.lineAt(r.from).number, text: text.slice(r.from, r.to), exact: r.exact };
};

test('parses dotted, indexed and pointer locations', () => {
  assert.deepEqual(parseLocation('steps[1].url'), ['steps', 1, 'url']);
  assert.deepEqual(parseLocation('trigger.schedule.at'), ['trigger', 'schedule', 'at']);
  assert.deepEqual(parseLocation('/steps/1/url'), ['steps', 1, 'url']);
  assert.deepEqual(parseLocation('/a~1b/c~0d'), ['a/b', 'c~d']);
});

test('a scalar is marked at its value', () => {
  assert.deepEqual(at('steps[1].url'), { line: 6, text: '"ftp://nope"', exact: true });
  assert.deepEqual(at('trigger.schedule.at'), { line: 3, text: '"25:00"', exact: true });
  assert.deepEqual(at('name'), { line: 2, text: '"Lead"', exact: true });
});

test('an object or array is marked at its key, an array element at its bracket', () => {
  assert.deepEqual(at('trigger.schedule'), { line: 3, text: '"schedule"', exact: true });
  assert.deepEqual(at('steps'), { line: 4, text: '"steps"', exact: true });
  assert.deepEqual(at('steps[0]'), { line: 5, text: '{', exact: true });
});

test('a member asked for by its key is marked at its key, scalar or not', () => {
  const key = (loc) => {
    const r = locate(state, loc, { key: true });
    return { line: state.doc.lineAt(r.from).number, text: text.slice(r.from, r.to), exact: r.exact };
  };
  assert.deepEqual(key('/steps/1/url'), { line: 6, text: '"url"', exact: true });
  assert.deepEqual(key('/trigger/schedule'), { line: 3, text: '"schedule"', exact: true });
  // An array element has no key: its bracket, as without.
  assert.deepEqual(key('/steps/0'), { line: 5, text: '{', exact: true });
});

test('a missing key or index points at the nearest container', () => {
  assert.deepEqual(at('steps[1].method'), { line: 6, text: '{', exact: false });
  assert.deepEqual(at('steps[7].url'), { line: 4, text: '[', exact: false });
  assert.deepEqual(at('trigger.timezone'), { line: 3, text: '{', exact: false });
});

test('a member is set in the text, the rest of the text kept as it is', () => {
  const set = (doc, path, value) => {
    const st = EditorState.create({ doc, extensions: [json()] });
    const change = setMember(st, path, value);
    return change && st.update({ changes: change }).state.doc.toString();
  };
  const edited = `{
  "name": "Edited, not saved",
  "trigger": {
    "type": "endpoint",
    "request": {}
  }
}`;
  // An existing member: its value is replaced, indented like its line.
  assert.equal(set(edited, ['trigger', 'request'], { body: [{ name: 'email' }] }), `{
  "name": "Edited, not saved",
  "trigger": {
    "type": "endpoint",
    "request": {
      "body": [
        {
          "name": "email"
        }
      ]
    }
  }
}`);
  // A missing member is added at the end of its object.
  const added = set('{\n  "trigger": {\n    "type": "endpoint"\n  }\n}', ['trigger', 'request'], { query: [] });
  assert.equal(added, '{\n  "trigger": {\n    "type": "endpoint",\n    "request": {\n      "query": []\n    }\n  }\n}');
  assert.deepEqual(JSON.parse(set('{"trigger": {}}', ['trigger', 'request'], { a: 1 })), { trigger: { request: { a: 1 } } });
  // Not JSON, or no object to put it in: nothing to change.
  assert.equal(set('{"trigger": {', ['trigger', 'request'], {}), null);
  assert.equal(set('{"trigger": 7}', ['trigger', 'request'], {}), null);
  assert.equal(set('{"name": "x"}', ['trigger', 'request'], {}), null);
});

test('line diff marks changed lines only', () => {
  assert.deepEqual(lineDiff('a\nb\nc', 'a\nB\nc\nd'), [
    { op: ' ', text: 'a' }, { op: '-', text: 'b' }, { op: '+', text: 'B' }, { op: ' ', text: 'c' }, { op: '+', text: 'd' },
  ]);
  assert.deepEqual(lineDiff('x', 'x'), [{ op: ' ', text: 'x' }]);
});
