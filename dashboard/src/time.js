// Relative times ('3 min ago', 'in 2 h'), and the one clock that keeps those on screen current
// between the refreshes of their page.

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** '3 minutes ago' / 'in 2 hours' for an ISO time, from `now`; '—' for none. With `next` (a
 * time something is due: a next run, poll or try), one that has just passed says 'now' (the
 * refresh that brings the next one has not come yet); otherwise (a time something happened) one
 * a little ahead of this clock (the server's is ahead) says 'just now'. */
export function relative(iso, now = Date.now(), { next = false } = {}) {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return String(iso);
  const s = Math.round((t - now) / 1000);
  const a = Math.abs(s);
  if (next && s <= 0 && s > -60) return 'now';
  if (!next && s >= 0 && s < 60) return 'just now';
  if (a < 60) return rtf.format(s, 'second');
  if (a < 3600) return rtf.format(Math.round(s / 60), 'minute');
  if (a < 86400) return rtf.format(Math.round(s / 3600), 'hour');
  return rtf.format(Math.round(s / 86400), 'day');
}

const listeners = new Set();
let timer = null;
/** Whether the ISO time `iso` is at or before `now` (a time that cannot be read has not). */
export function hasPassed(iso, now = Date.now()) {
  const t = Date.parse(iso);
  return !Number.isNaN(t) && t <= now;
}

/** Calls `f` every second, on one timer shared by all (it runs while someone listens); returns
 * the function that stops. */
export function everySecond(f) {
  listeners.add(f);
  if (!timer) timer = setInterval(() => { for (const g of [...listeners]) g(); }, 1000);
  return () => {
    listeners.delete(f);
    if (!listeners.size && timer) { clearInterval(timer); timer = null; }
  };
}

/** The instant (ms) the local date `date` (`YYYY-MM-DD`) starts in the IANA zone `zone`: its
 * midnight, the first one where midnight repeats, or the end of the gap where midnight falls in
 * one (clocks going forward over 00:00); for a day the zone skipped whole, the next day's start.
 * NaN for a date or a zone that does not read. */
export function startOfDay(date, zone) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return NaN;
  let fmt;
  try {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', era: 'short', year: 'numeric', month: 'numeric',
      day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
  } catch {
    return NaN;
  }
  const utc = (y, mo, d, h = 0, mi = 0, s = 0) => {
    const t = new Date(Date.UTC(2000, mo - 1, d, h, mi, s));
    t.setUTCFullYear(y);
    return t.getTime();
  };
  const local = utc(+m[1], +m[2], +m[3]);
  const read = new Date(local);
  if (read.getUTCDate() !== +m[3] || read.getUTCMonth() + 1 !== +m[2]) return NaN;
  // The zone's offset (ms) at an instant: its local reading, as if in UTC, minus the instant.
  const offset = (t) => {
    const p = Object.fromEntries(fmt.formatToParts(t).map((x) => [x.type, x.value]));
    const year = p.era === 'BC' ? 1 - +p.year : +p.year;
    return utc(year, +p.month, +p.day, +p.hour, +p.minute, +p.second) - Math.floor(t / 1000) * 1000;
  };
  // Midnight under each offset in force around that day; the earliest that reads as midnight,
  // or else (a gap) the latest, where the new offset starts.
  const day = 86400000;
  const tried = [...new Set([local - day, local, local + day].map((t) => local - offset(t)))];
  const midnights = tried.filter((t) => t + offset(t) === local);
  if (midnights.length) return Math.min(...midnights);
  // In a gap: the first second whose local reading is at or past midnight, between midnight
  // under the earliest and under the latest offset.
  let [lo, hi] = [Math.min(...tried), Math.max(...tried)];
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (mid + offset(mid) >= local) hi = mid; else lo = mid;
  }
  return hi;
}

/** The ISO time `iso` as a wall-clock reading in the IANA zone `zone` (`2026-03-29 03:00:00`);
 * null for a time or a zone that does not read. */
export function wallClock(iso, zone) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return null;
  try {
    const p = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit',
    }).formatToParts(t).map((x) => [x.type, x.value]));
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
  } catch {
    return null;
  }
}
