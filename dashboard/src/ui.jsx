// Small shared pieces: routing, polling, errors in words, times, copy buttons.
import { useEffect, useId, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.js';
import { relative, everySecond } from './time.js';

/** One segment of the route, decoded; one with a malformed escape (`%E0`) is kept as it is. */
function decodeSegment(s) {
  try { return decodeURIComponent(s); } catch { return s; }
}
const readRoute = () => (location.hash.replace(/^#\/?/, '').split('?')[0] || '').split('/').filter(Boolean).map(decodeSegment);

/** This history entry's place among the app's entries (kept in `history.state`), or null for
 * an entry the app has not seen yet. */
const entryIndex = () => (history.state && typeof history.state.tripline === 'number' ? history.state.tripline : null);
const markEntry = (n) => history.replaceState({ ...(history.state || {}), tripline: n }, '');

/** The current hash route, split: '#/w/wf_1/runs' → ['w', 'wf_1', 'runs']. `hold(hash, redo)` is
 * asked before a change of the hash is followed (`redo()` makes that change again): when it
 * returns true, the route stays and so does
 * the address: from a new entry (a link, a typed address) the browser goes back to the entry
 * shown, and a step through history (Back, Forward) is stepped back, so the next Back still
 * goes where it went before. */
export function useRoute(hold) {
  const [route, setRoute] = useState(readRoute);
  const holdRef = useRef(hold);
  holdRef.current = hold;
  useEffect(() => {
    let shown = location.hash;
    let at = entryIndex();
    if (at === null) markEntry(at = 0);
    // A step to an entry with the same address (no hashchange) only moves the place.
    const moved = () => {
      if (location.hash !== shown) return;
      const to = entryIndex();
      if (to !== null) at = to;
    };
    const f = () => {
      if (location.hash === shown) { moved(); return; }
      const to = entryIndex();
      const step = to !== null && to !== at ? to - at : 0;
      const hash = location.hash;
      const redo = step ? () => history.go(step) : () => { location.hash = hash; };
      if (holdRef.current && holdRef.current(hash, redo)) {
        // Back to the entry shown: a new entry is left as the one Forward reaches, so the
        // next Back goes where it went before (replacing its address would add a second entry
        // of the page shown, and that Back would seem to do nothing).
        if (step) history.go(-step);
        else history.back();
        return;
      }
      shown = location.hash;
      if (to !== null) at = to;
      else markEntry(at += 1);
      setRoute(readRoute());
    };
    addEventListener('hashchange', f);
    addEventListener('popstate', moved);
    return () => { removeEventListener('hashchange', f); removeEventListener('popstate', moved); };
  }, []);
  return route;
}

export function go(path) { location.hash = `#${path}`; }

/** Gives the focus back after a button's work: a button disabled while its request is under way
 * loses the focus (to the page's body), and a keyboard or screen reader user their place. When
 * `busy` ends and nothing else took the focus, the element the last click named gets it (the
 * button itself, or the one that stands for it now: Deploy after Undeploy). Returns the
 * function a click handler calls with a getter of that element and the `busy` values its work
 * takes. */
export function useFocusAfter(busy) {
  // { getter, kinds }: the element, and the `busy` values of the work the click started (a
  // deploy that saves first is two); work of another kind (a delete) gives no focus back.
  const target = useRef(null);
  const ended = useRef(busy);
  useEffect(() => {
    if (busy) {
      ended.current = busy;
      return;
    }
    const t = target.current;
    if (!t || !t.kinds.includes(ended.current)) return;
    const el = t.getter();
    const lost = !document.activeElement || document.activeElement === document.body;
    if (lost && el && el.isConnected && !el.disabled) el.focus();
  }, [busy]);
  return (getter, ...kinds) => { target.current = { getter, kinds }; };
}

/** Calls `f` now and then every `ms` while mounted and the tab is visible (no overlap). With
 * `maxMs`, a call that returns false (nothing changed) doubles the wait, up to `maxMs`; any
 * other result starts over at `ms`, and so does the tab shown again or the window focused,
 * which also calls `f` at once. */
export function usePolling(f, ms, deps, maxMs = ms) {
  const fn = useRef(f);
  fn.current = f;
  useEffect(() => {
    let stop = false;
    let busy = false;
    let timer;
    let wait = ms;
    const tick = async () => {
      clearTimeout(timer);
      if (stop || busy) return;
      if (!document.hidden) {
        busy = true;
        let changed;
        try { changed = await fn.current(); } catch { /* the callee shows its own error */ }
        busy = false;
        wait = changed === false ? Math.min(wait * 2, maxMs) : ms;
      }
      if (!stop) timer = setTimeout(tick, wait);
    };
    const wake = () => {
      if (document.hidden) return;
      wait = ms;
      tick();
    };
    tick();
    if (maxMs === ms) return () => { stop = true; clearTimeout(timer); };
    addEventListener('focus', wake);
    document.addEventListener('visibilitychange', wake);
    return () => {
      stop = true;
      clearTimeout(timer);
      removeEventListener('focus', wake);
      document.removeEventListener('visibilitychange', wake);
    };
  }, deps);
}

/** An error in words, with a list of the problem's individual errors. */
export function Problem({ error, title }) {
  if (!error) return null;
  const e = error instanceof ApiError || (error.title && !(error instanceof Error))
    ? { title: error.title, detail: error.detail || '', errors: error.errors || [] }
    : { title: String(error.message || error), detail: '', errors: [] };
  return (
    <div class="problem" role="alert">
      <strong>{title || e.title}</strong>
      {/* Under a title of the page's own, a problem without detail (Tripline not reached) says
          its own title. */}
      {e.detail ? <p>{e.detail}</p> : title && e.title !== title ? <p>{e.title}</p> : null}
      {e.errors.length > 0 && (
        <ul>{e.errors.map((x) => <li><code>{x.location}</code> {x.message}</li>)}</ul>
      )}
    </div>
  );
}

/** A one-line note on a page that refreshes itself: the last refresh failed, what is shown is
 * what was loaded before, and the next refresh tries again. */
export function StaleNote({ error }) {
  if (!error) return null;
  return <p class="warn stale" role="status">The last refresh failed ({error.title || error.message || String(error)}); showing what was loaded before, trying again.</p>;
}

/** A problem in a table cell, where a whole `Problem` does not fit: one line with its title
 * and detail (an error that is no problem: its message). */
export function ProblemMark({ error }) {
  if (!error) return null;
  const title = error.title || error.message || String(error);
  return <span class="bad problem-mark">Not loaded: {title}{error.detail ? ` (${error.detail})` : ''}</span>;
}

export function Loading({ what }) {
  return <p class="loading" role="status" aria-live="polite">Loading {what}…</p>;
}

export function Empty({ children }) {
  return <p class="empty">{children}</p>;
}

/** A time as '3 minutes ago' / 'in 2 hours' (`relative`), the exact time as its title. It moves
 * on by itself, checked every second on the shared clock and drawn again when its words
 * change (each second while it is within a minute), not only when its page refreshes. `next`:
 * a time something is due (see `relative`). */
export function Time({ iso, next }) {
  const text = relative(iso, Date.now(), { next });
  const shown = useRef(text);
  shown.current = text;
  const [, redraw] = useState(0);
  useEffect(() => {
    if (!iso) return undefined;
    return everySecond(() => {
      if (relative(iso, Date.now(), { next }) !== shown.current) redraw((n) => n + 1);
    });
  }, [iso, next]);
  if (!iso) return <span>—</span>;
  return <time datetime={iso} title={iso}>{text}</time>;
}

export function Status({ status }) {
  return <span class={`badge s-${String(status || 'none').replace(/[^a-z_]/g, '')}`}>{status || 'none'}</span>;
}

/** A button that acts on its second click: the first one asks (`confirmLabel`) and shows Cancel.
 * The question goes away on Cancel or Escape, when the focus leaves both buttons, and after `ms`;
 * the focus then goes back to the button. `ariaLabel`/`confirmAriaLabel` name it for assistive
 * technology when its text alone is not enough (one of many in a list); `warning`, shown while
 * it asks (and read with the question), says what else goes. */
export function ConfirmButton({ label, confirmLabel, onConfirm, disabled, ms = 5000, ariaLabel, confirmAriaLabel, warning }) {
  const warningId = useId();
  const [asking, setAsking] = useState(false);
  const group = useRef(null);
  const main = useRef(null);
  const back = () => {
    const inside = group.current && group.current.contains(document.activeElement);
    setAsking(false);
    if (inside) main.current.focus();
  };
  useEffect(() => {
    if (!asking) return undefined;
    const t = setTimeout(back, ms);
    return () => clearTimeout(t);
  }, [asking]);
  const click = () => {
    setAsking(!asking);
    if (asking) onConfirm();
  };
  return (
    <span class="confirm" ref={group} onKeyDown={(e) => { if (e.key === 'Escape') back(); }}
      onFocusOut={(e) => { if (group.current && !group.current.contains(e.relatedTarget)) setAsking(false); }}>
      <button type="button" class="danger" ref={main} onClick={click} disabled={disabled}
        aria-label={asking ? confirmAriaLabel : ariaLabel}
        aria-describedby={asking && warning ? warningId : undefined}>{asking ? confirmLabel : label}</button>
      {asking && <button type="button" onClick={back}>Cancel</button>}
      {asking && warning ? <span class="confirm-warning" id={warningId}>{warning}</span> : null}
    </span>
  );
}

export function CopyButton({ text, label }) {
  const [done, setDone] = useState('');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone('Copied');
    } catch {
      setDone('Copy failed: select the text and copy it');
    }
    setTimeout(() => setDone(''), 2000);
  };
  return (
    <span class="copy">
      <button type="button" onClick={copy} aria-label={label}>Copy</button>
      <span role="status" aria-live="polite">{done}</span>
    </span>
  );
}

export function UrlRow({ label, url }) {
  if (!url) return null;
  return (
    <div class="url-row">
      <span class="url-label">{label}</span>
      <code class="url" data-url={label}>{url}</code>
      <CopyButton text={url} label={`Copy ${label}`} />
    </div>
  );
}

/** A value as pretty JSON text; `text`, when given, is that text with the value's numbers
 * exactly as the server sent them (see `exactPretty`). */
export function Json({ value, text, label }) {
  // Focusable, so that a box taller than its room scrolls from the keyboard too; a named region
  // for the screen reader that lands on it (a name alone on a `pre` is not read out).
  return <pre class="json" tabIndex={0} role={label ? 'region' : undefined} aria-label={label}>{text ?? (value === undefined ? '' : JSON.stringify(value, null, 2))}</pre>;
}

/** A value stored cut to fit (`{"truncated": true, "size": N, "preview": "…"}`): its size and its
 * start, as text; anything else as JSON. `what` names it ("Output"). */
export function MaybeCut({ value, text, label, what }) {
  const cut = value && typeof value === 'object' && value.truncated === true && typeof value.preview === 'string';
  if (!cut) return <Json value={value} text={text} label={label} />;
  return (
    <>
      <p class="cut">{what} cut to fit: {typeof value.size === 'number' ? `${value.size} bytes` : 'size unknown'}; its start:</p>
      <pre class="json" tabIndex={0} role="region" aria-label={`${label} (its start)`}>{value.preview}</pre>
    </>
  );
}

export function duration(a, b) {
  if (!a || !b) return null;
  const ms = Date.parse(b) - Date.parse(a);
  if (Number.isNaN(ms)) return null;
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

/** A "load more" button, shown while `more`. While `disabled` (its page loading) it says so
 * (`aria-disabled`) and does nothing, but keeps the focus: a `disabled` button would drop it to
 * the page's body. Pressed for the last page, it goes: the focus it had then moves to the last
 * element `lastItem()` finds (the last row's link), rather than to the start of the page. */
export function MoreButton({ more, onClick, disabled, lastItem, children }) {
  const pressed = useRef(false);
  useLayoutEffect(() => {
    if (more || !pressed.current) return;
    pressed.current = false;
    const lost = document.activeElement === null || document.activeElement === document.body;
    const target = lastItem();
    if (lost && target) target.focus();
  }, [more]);
  if (!more) return null;
  return (
    <button type="button" aria-disabled={disabled ? 'true' : undefined}
      onClick={(e) => { if (disabled) return; pressed.current = true; onClick(e); }}>{children}</button>
  );
}
