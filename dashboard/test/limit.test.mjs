// node --test dashboard/test: a fan-out runs a few at a time and keeps its results in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mapLimited } from '../src/limit.js';

test('at most n calls are in flight, and the results keep the items order', async () => {
  let inFlight = 0;
  let most = 0;
  const items = [5, 1, 4, 2, 3, 0, 6, 2, 1];
  const out = await mapLimited(items, 3, async (ms) => {
    inFlight += 1;
    most = Math.max(most, inFlight);
    await new Promise((r) => setTimeout(r, ms * 3));
    inFlight -= 1;
    return ms * 10;
  });
  assert.equal(most, 3);
  assert.deepEqual(out, items.map((x) => x * 10));
  assert.deepEqual(await mapLimited([], 3, async () => 1), []);
});
