// node --test dashboard/test: the poll health line says what holds runs back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pollHealth } from '../src/poll.js';

const base = { last_poll_at: '2026-12-01T10:00:00Z', last_poll_error: null, consecutive_failures: 0, runs_created: 12, waiting: null, last_gap: null };
const now = Date.parse('2026-12-01T10:00:05Z');

test('ok only when nothing is held back', () => {
  assert.deepEqual(pollHealth(base, 'deployed', now), { tone: 'good', text: 'ok, 12 runs' });
  assert.equal(pollHealth(null), null);
  assert.equal(pollHealth({ ...base, last_poll_at: null }, 'deployed', now).tone, 'muted');
  assert.equal(pollHealth({ ...base, last_poll_error: 'boom', consecutive_failures: 2 }, 'deployed', now).tone, 'bad');
});

test('a blocking transaction and gaps not caught up are warnings', () => {
  const waiting = pollHealth({ ...base, waiting: { transaction: '731', since: base.last_poll_at, seconds: 42 } }, 'deployed', now);
  assert.equal(waiting.tone, 'warn');
  assert.match(waiting.text, /held back 42 s by open transaction 731/);
  const gap = { at: '2026-12-01T09:59:00Z', kind: 'max_pages', pages: 10, items: 100, new: 100, reason: 'r', caught_up_at: null };
  assert.match(pollHealth({ ...base, last_gap: gap }, 'deployed', now).text, /catching up/);
  assert.equal(pollHealth({ ...base, last_gap: { ...gap, caught_up_at: '2026-12-01T10:00:00Z' } }, 'deployed', now).tone, 'good');
  const allNew = { ...gap, kind: 'all_new' };
  assert.match(pollHealth({ ...base, last_gap: allNew }, 'deployed', now).text, /possible gap at 2026-12-01T09:59:00Z/);
  // An old `all_new` gap is no longer in the health line (the poll panel keeps showing it).
  assert.equal(pollHealth({ ...base, last_gap: allNew }, 'deployed', now + 2 * 24 * 3600 * 1000).tone, 'good');
});

test('an undeployed poll is said so, whatever its last state', () => {
  assert.deepEqual(pollHealth({ ...base, last_poll_error: 'boom', consecutive_failures: 2 }, 'draft', now), { tone: 'muted', text: 'not deployed (12 runs)' });
  assert.deepEqual(pollHealth(base, 'draft', now), { tone: 'muted', text: 'not deployed (12 runs)' });
});
