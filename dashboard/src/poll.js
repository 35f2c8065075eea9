// A poll trigger's health line (the workflow list), from the `poll` block of a workflow.

/** An `all_new` gap cannot be caught up: the health line mentions it for a day. */
const GAP_SHOWN_MS = 24 * 3600 * 1000;

/** The health line: not deployed, failing, not polled yet, or ok — with what holds runs back
 * (a blocking transaction, a walk over pages not read to the end yet, a recent possible gap).
 * `status` is the workflow's: an undeployed poll keeps its last state but polls no more. */
export function pollHealth(poll, status = 'deployed', now = Date.now()) {
  if (!poll) return null;
  if (status !== 'deployed') return { tone: 'muted', text: `not deployed (${poll.runs_created ?? 0} runs)` };
  if (poll.last_poll_error) return { tone: 'bad', text: `failing ×${poll.consecutive_failures}: ${poll.last_poll_error}` };
  if (!poll.last_poll_at) return { tone: 'muted', text: 'not polled yet' };
  const notes = [];
  if (poll.waiting) notes.push(`rows held back ${poll.waiting.seconds} s by open transaction ${poll.waiting.transaction}`);
  const gap = poll.last_gap;
  if (gap && !gap.caught_up_at) {
    if (gap.kind === 'max_pages') notes.push('catching up: the page bound was reached');
    else if (now - Date.parse(gap.at) < GAP_SHOWN_MS) notes.push(`possible gap at ${gap.at}`);
  }
  if (notes.length) return { tone: 'warn', text: `${poll.runs_created} runs; ${notes.join('; ')}` };
  return { tone: 'good', text: `ok, ${poll.runs_created} runs` };
}
