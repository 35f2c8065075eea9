// node --test dashboard/test: a refresh of a list's first page keeps the pages loaded below it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendPage, fetchFirstPages, refreshFirstPage } from '../src/paging.js';

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

/** A list of runs r1..r{n}, newest first, served `size` a page; `asked` records the cursors. */
const served = (n, size, asked) => async (cursor) => {
  asked.push(cursor);
  const all = Array.from({ length: n }, (_, i) => ({ id: `r${String(n - i).padStart(3, '0')}` }));
  const from = cursor ? all.findIndex((x) => x.id === cursor) + 1 : 0;
  const items = all.slice(from, from + size);
  return { items, cursor: from + size < n ? items[items.length - 1].id : null };
};
const runs = (...ns) => ns.map((n) => ({ id: `r${String(n).padStart(3, '0')}` }));

test('more new items than a page holds: the pages after the first are fetched until they reach those loaded', async () => {
  // 43 runs loaded (three pages of 20), then 25 new ones: the first page (r068..r049) holds none.
  const loaded = runs(...Array.from({ length: 43 }, (_, i) => 43 - i));
  const asked = [];
  const r = await fetchFirstPages(loaded, served(68, 20, asked), key);
  assert.deepEqual(asked, [null, 'r049']);
  assert.equal(r.items.length, 40);
  assert.equal(r.cursor, 'r029');
  const merged = refreshFirstPage(loaded, r.items, !r.cursor, key, older);
  assert.deepEqual(ids(merged), ids(runs(...Array.from({ length: 68 }, (_, i) => 68 - i))));
});

test('the first page alone when it reaches the items loaded, or nothing is loaded', async () => {
  const asked = [];
  const r = await fetchFirstPages(runs(43, 42), served(50, 20, asked), key);
  assert.deepEqual(asked, [null]);
  assert.deepEqual([r.items.length, r.cursor], [20, 'r031']);
  const first = [];
  await fetchFirstPages(null, served(50, 20, first), key);
  await fetchFirstPages([], served(50, 20, first), key);
  assert.deepEqual(first, [null, null]);
});

test('at most `extra` more pages: beyond them the list starts again; the end of the list stops it', async () => {
  const asked = [];
  const r = await fetchFirstPages(runs(1), served(500, 20, asked), key, 5);
  assert.equal(asked.length, 6);
  assert.equal(r.items.length, 120);
  assert.equal(refreshFirstPage(runs(1), r.items, !r.cursor, key, older), r.items);
  // The loaded items are all gone (deleted, or out of the filter): the list's end stops it.
  const few = [];
  const end = await fetchFirstPages(runs(999), served(30, 20, few), key);
  assert.deepEqual([few.length, end.items.length, end.cursor], [2, 30, null]);
  // An answer not wanted any more (the filter changed) is dropped, pages fetched and all.
  let n = 0;
  const dropped = await fetchFirstPages(runs(1), async (c) => (n++ ? null : { items: runs(9), cursor: 'r009' }), key);
  assert.equal(dropped, null);
});
