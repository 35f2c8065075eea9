// node --test src/platform/test: the Worker's body reader (src/platform/body.js) takes a whole
// body, refuses one over its cap, and never takes a body its sender broke off for the whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readCapped } from '../body.js';

const text = (s) => new TextEncoder().encode(s);

/** A POST whose body is `chunks`, then an error (`broken`) or the end. */
function request(chunks, broken = false) {
  let i = 0;
  const body = new ReadableStream({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(text(chunks[i++]));
      else if (broken) controller.error(new Error('aborted'));
      else controller.close();
    },
  });
  return new Request('http://tripline.test/hooks/x', { method: 'POST', body, duplex: 'half' });
}

test('a whole chunked body is read in one piece', async () => {
  const [outcome, bytes] = await readCapped(request(['amount=10 ', '(part 1', ' and part 2)']), 100, 1000);
  assert.equal(outcome, 'ok');
  assert.equal(new TextDecoder().decode(bytes), 'amount=10 (part 1 and part 2)');
});

test('no body is an empty one', async () => {
  const [outcome, bytes] = await readCapped(new Request('http://tripline.test/', { method: 'POST' }), 100, 1000);
  assert.equal(outcome, 'ok');
  assert.equal(bytes.byteLength, 0);
});

test('a body its sender broke off is a failure, not the part that arrived', async () => {
  const [outcome, message] = await readCapped(request(['amount=10 ', '(part 1'], true), 100, 1000);
  assert.equal(outcome, 'failed');
  assert.match(message, /aborted/);
});

test('over the cap is too large, whatever comes after', async () => {
  assert.deepEqual(await readCapped(request(['12345', '678901']), 10, 1000), ['too_large']);
  assert.deepEqual(await readCapped(request(['12345', '678901', 'more'], true), 10, 1000), ['too_large']);
  const [outcome] = await readCapped(request(['1234567890']), 10, 1000);
  assert.equal(outcome, 'ok');
});
