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
