// node --test dashboard/test: a refresh of a list's first page keeps the pages loaded below it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendPage, refreshFirstPage } from '../src/paging.js';

const key = (x) => x.id;
const older = (a, b) => a.id < b.id; // newest first, as runs and workflows are listed
const ids = (list) => list.map(key);
const items = (...names) => names.map((id) => ({ id }));

test('a refresh updates the first page and keeps the older pages loaded below it', () => {
  const loaded = items('r9', 'r8', 'r7', 'r6', 'r5', 'r4');
  // r10 is new, r8 is gone (deleted or out of the filter), r7 changed: the page now ends at r6.
  const page = [{ id: 'r10' }, { id: 'r9' }, { id: 'r7', status: 'succeeded' }, { id: 'r6' }];
  const merged = refreshFirstPage(loaded, page, false, key, older);
  assert.deepEqual(ids(merged), ['r10', 'r9', 'r7', 'r6', 'r5', 'r4']);
  assert.equal(merged[2].status, 'succeeded');
});

test('a first page that is the whole list replaces it; so does the first load', () => {
  assert.deepEqual(ids(refreshFirstPage(items('r3', 'r2', 'r1'), items('r3', 'r2'), true, key, older)), ['r3', 'r2']);
  assert.deepEqual(ids(refreshFirstPage(null, items('r2', 'r1'), false, key, older)), ['r2', 'r1']);
  assert.deepEqual(refreshFirstPage(items('r1'), [], true, key, older), []);
});

test('a page appended leaves out what is already loaded; any order works', () => {
  assert.deepEqual(ids(appendPage(items('r5', 'r4'), items('r4', 'r3'), key)), ['r5', 'r4', 'r3']);
  assert.deepEqual(ids(appendPage(null, items('r1'), key)), ['r1']);
  // Connections are listed by user id, ascending.
  const after = (a, b) => a.id > b.id;
  assert.deepEqual(ids(refreshFirstPage(items('a', 'b', 'c', 'd'), items('a', 'c'), false, key, after)), ['a', 'c', 'd']);
});

test('a page that holds none of the loaded items starts the list again, the pages below unloaded', () => {
  // 30 runs came while the tab was hidden: the fresh page of 20 ends at r111, above r100.
  const loaded = items('r100', 'r99', 'r98');
  const page = items('r130', 'r129', 'r111');
  const merged = refreshFirstPage(loaded, page, false, key, older);
  assert.equal(merged, page); // the page itself: the caller pages on from its cursor
  assert.deepEqual(ids(merged), ['r130', 'r129', 'r111']);
  // One loaded item in the page is enough to join them.
  assert.deepEqual(ids(refreshFirstPage(loaded, items('r101', 'r100', 'r99'), false, key, older)), ['r101', 'r100', 'r99', 'r98']);
  const joining = items('r101', 'r100');
  assert.notEqual(refreshFirstPage(loaded, joining, false, key, older), joining);
});
