// node --test dashboard/test: relative times, and the shared clock that keeps them current.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { relative, everySecond, startOfDay, hasPassed, wallClock } from '../src/time.js';

const now = Date.parse('2026-12-01T10:00:00Z');
const at = (s) => new Date(now + s * 1000).toISOString();

test('a time says how far it is, in the unit that fits', () => {
  assert.equal(relative(null, now), '—');
  assert.equal(relative(at(-4), now), '4 seconds ago');
  assert.equal(relative(at(90), now), 'in 2 minutes');
  assert.equal(relative(at(-7200), now), '2 hours ago');
  assert.equal(relative('not a time', now), 'not a time');
});

test('a next time that has passed says now, not a time gone by', () => {
  assert.equal(relative(at(4), now, { next: true }), 'in 4 seconds');
  assert.equal(relative(at(0), now, { next: true }), 'now');
  assert.equal(relative(at(-3), now, { next: true }), 'now');
  assert.equal(relative(at(-59), now, { next: true }), 'now');
  // Long past (not refreshed): how long.
  assert.equal(relative(at(-600), now, { next: true }), '10 minutes ago');
});

test('a past event a little ahead of this clock (skew) says just now', () => {
  assert.equal(relative(at(2), now), 'just now');
  assert.equal(relative(at(0), now), 'just now');
  assert.equal(relative(at(-1), now), '1 second ago');
});

test('one timer ticks every second for all that listen, and stops with the last', async () => {
  let a = 0;
  let b = 0;
  // Waits for a count (a loaded machine may tick late), at most 10 s.
  const until = async (ok) => {
    const end = Date.now() + 10_000;
    while (!ok() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    return ok();
  };
  const stopA = everySecond(() => { a += 1; });
  const stopB = everySecond(() => { b += 1; });
  assert.ok(await until(() => a >= 2), `${a}`);
  assert.ok(b >= 2, `${b}`);
  stopA();
  const [a1, b1] = [a, b];
  assert.ok(await until(() => b >= b1 + 2), `${b}`);
  assert.equal(a, a1, 'a listener stopped is not called again');
  stopB();
  // Nothing left listening: no timer keeps the process alive (the test ends).
});

test('startOfDay is the local midnight of a date in a zone, also on days with a DST change', () => {
  const iso = (d, z) => new Date(startOfDay(d, z)).toISOString();
  assert.equal(iso('2027-03-28', 'UTC'), '2027-03-28T00:00:00.000Z');
  assert.equal(iso('2027-03-28', 'America/New_York'), '2027-03-28T04:00:00.000Z');
  assert.equal(iso('2027-01-15', 'America/New_York'), '2027-01-15T05:00:00.000Z');
  assert.equal(iso('2027-07-01', 'Europe/London'), '2027-06-30T23:00:00.000Z');
  assert.equal(iso('2027-01-01', 'Asia/Kolkata'), '2026-12-31T18:30:00.000Z');
  // Changes later in the day leave its midnight alone.
  assert.equal(iso('2027-03-14', 'America/New_York'), '2027-03-14T05:00:00.000Z');
  assert.equal(iso('2027-11-07', 'America/New_York'), '2027-11-07T04:00:00.000Z');
  // Clocks go from 00:00 to 01:00: the day starts at 01:00, the end of the gap.
  assert.equal(iso('2026-09-06', 'America/Santiago'), '2026-09-06T04:00:00.000Z');
  // Clocks go from 01:00 back to 00:00: the first of the two midnights.
  assert.equal(iso('2026-11-01', 'America/Havana'), '2026-11-01T04:00:00.000Z');
  // Clocks go from 23:30 to 00:30: the day starts at 00:30.
  assert.equal(iso('1919-03-31', 'America/Toronto'), '1919-03-31T04:30:00.000Z');
  assert.equal(iso('0001-01-01', 'UTC'), '0001-01-01T00:00:00.000Z');
  for (const [d, z] of [['2027-02-30', 'UTC'], ['2027-13-01', 'UTC'], ['2027-00-15', 'UTC'], ['2027-3-1', 'UTC'], ['', 'UTC'], ['2027-01-01', 'Nowhere/Else']]) {
    assert.ok(Number.isNaN(startOfDay(d, z)), `${d} ${z}`);
  }
});

test('a time has passed at its instant and after, never when it cannot be read', () => {
  assert.equal(hasPassed(at(1), now), false);
  assert.equal(hasPassed(at(0), now), true);
  assert.equal(hasPassed(at(-600), now), true);
  assert.equal(hasPassed(null, now), false);
  assert.equal(hasPassed('not a time', now), false);
});

test('a time reads as the wall clock of a zone, across its DST change', () => {
  assert.equal(wallClock('2026-03-29T00:59:59Z', 'Europe/Berlin'), '2026-03-29 01:59:59');
  assert.equal(wallClock('2026-03-29T01:00:00Z', 'Europe/Berlin'), '2026-03-29 03:00:00');
  assert.equal(wallClock('2026-12-07T20:12:30.000Z', 'UTC'), '2026-12-07 20:12:30');
  assert.equal(wallClock('2026-12-07T00:30:00Z', 'America/New_York'), '2026-12-06 19:30:00');
  assert.equal(wallClock('not a time', 'UTC'), null);
  assert.equal(wallClock('2026-12-07T00:30:00Z', 'Not/AZone'), null);
});
