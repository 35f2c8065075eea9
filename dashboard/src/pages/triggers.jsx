// The trigger panels of a workflow page: endpoint (URLs, live test shelf, schema detection),
// schedule (fire times with DST shifts), poll (status and reset), OAuth (URLs, connections).
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, apiIfMatch, enc, exactCompact, exactPretty } from '../api.js';
import { Problem, Loading, Empty, Time, UrlRow, Json, StaleNote, ConfirmButton, usePolling, MoreButton } from '../ui.jsx';
import { appendPage, refreshFirstPage } from '../paging.js';
import { exampleCurl } from '../curl.js';
import { connectionState } from '../connection.js';
import { everySecond, hasPassed, startOfDay, wallClock } from '../time.js';

/** Whether the focus may be moved to a control of `panel`: it is on nothing (the control it was
 * on went away) or still inside the panel. */
const focusIsFree = (panel) => document.activeElement === document.body || !document.activeElement
  || (panel && panel.contains(document.activeElement));

function Signature({ s }) {
  if (!s) return <span class="muted sig" data-sig="none">no signature check configured</span>;
  if (s.valid) return <span class="good sig" data-sig="valid">signature would pass ({s.scheme})</span>;
  const err = s.error || {};
  return <span class="bad sig" data-sig="invalid">signature would fail ({s.scheme}): {err.message}{err.location ? ` — ${err.location}` : ''}</span>;
}

/** Props: wf; dirty (the editor has unsaved changes); onApplied(answer) after the API wrote
 * the schema into the stored draft; applyInEditor(schema) puts it into the editor's text
 * instead (throws when it cannot). */
export function EndpointPanel({ wf, dirty, tag, onApplied, onRefused, applyInEditor }) {
  const [shelf, setShelf] = useState(null);
  const [shelfError, setShelfError] = useState(null);
  const [proposal, setProposal] = useState(null);
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState('');
  // A proposal applied or dismissed gives the focus back to "Detect schema" (once enabled),
  // unless the focus went elsewhere meanwhile (the editor, another panel).
  const panel = useRef(null);
  const detectButton = useRef(null);
  const refocus = useRef(false);
  const closeProposal = () => {
    refocus.current = true;
    setProposal(null);
  };
  useLayoutEffect(() => {
    if (!refocus.current || proposal || busy) return;
    refocus.current = false;
    if (focusIsFree(panel.current)) detectButton.current.focus();
  }, [proposal, busy]);
  // The shelf (up to 20 requests with their bodies) is fetched every 1.5 s while it changes;
  // while it does not, less and less often, down to every 12 s. A saved draft (its `verify`
  // decides the signature column) fetches it at once.
  const seen = useRef(null);
  // A workflow deleted meanwhile (404) is not asked for again; other failures back off.
  const gone = useRef(null);
  usePolling(async () => {
    if (gone.current === wf.id) return false;
    try {
      const r = await api('GET', `/api/workflows/${enc(wf.id)}/test-requests`);
      setShelfError(null);
      const key = JSON.stringify(r.test_requests.map((t) => [t.id, t.signature]));
      if (key === seen.current) return false;
      seen.current = key;
      // Each body's text with its numbers as received (see `exactPretty`).
      setShelf(r.test_requests.map((t, i) => ({ ...t, bodyText: exactPretty(r, 'test_requests', i, 'body') })));
    } catch (e) {
      if (e.status === 404) gone.current = wf.id;
      setShelfError(e);
      return false;
    }
    return true;
  }, 1500, [wf.id, wf.updated_at], 12000);

  const detect = async () => {
    setBusy('detect');
    setProblem(null);
    try {
      setProposal(await api('POST', `/api/workflows/${enc(wf.id)}/detect-schema`, {}));
    } catch (e) {
      setProblem(e);
    } finally {
      setBusy('');
    }
  };
  const apply = async () => {
    setBusy('apply');
    setProblem(null);
    try {
      // Unsaved edits stay: the schema goes into the editor's text, saved with the rest.
      if (dirty) {
        applyInEditor(proposal.schema);
        closeProposal();
        return;
      }
      // Into the draft this page shows only: one saved elsewhere since is a 412.
      const r = await apiIfMatch('POST', `/api/workflows/${enc(wf.id)}/detect-schema`, { test_request_id: proposal.test_request_id, apply: true }, tag);
      onApplied(r);
      closeProposal();
    } catch (e) {
      if (e.status === 412) {
        await onRefused();
        setProblem({ title: 'Not applied: the draft was changed elsewhere', detail: 'It was saved again since this page read it (in another tab, or with the CLI); the editor now shows it. Apply again to write the schema into it.', errors: [] });
      } else {
        // Written, though the answer is a problem (the test URL was not updated): the editor
        // shows the draft as written.
        if (e.tag) await onRefused();
        setProblem(e);
      }
    } finally {
      setBusy('');
    }
  };
  const stats = wf.endpoint || {};
  return (
    <section class="panel" aria-labelledby="endpoint-h" ref={panel}>
      <h2 id="endpoint-h">Endpoint</h2>
      <UrlRow label="Production URL" url={wf.urls.endpoint} />
      <UrlRow label="Test URL" url={wf.urls.test} />
      {wf.live_trigger_type !== 'endpoint' && <p class="muted">The production URL answers once {wf.status === 'deployed' ? 'this draft' : 'the workflow'} is deployed; the test URL records requests now.</p>}
      {stats.signature_failures ? <p class="bad">Signature failures on the production URL: {stats.signature_failures} (last <Time iso={stats.last_signature_failure_at} />)</p> : null}
      <h3>Test shelf</h3>
      <p class="muted">Requests sent to the test URL appear here by themselves. Nothing runs.</p>
      <Problem error={shelfError} />
      {shelf === null && !shelfError && <Loading what="the test shelf" />}
      {shelf && shelf.length === 0 && <Empty>No test requests yet. Send one, e.g. <code class="example-curl">{exampleCurl(wf)}</code>
        {wf.draft && wf.draft.trigger && wf.draft.trigger.verify ? '; unsigned, it is captured but shown as failing the draft\'s signature check (verify).' : ''}</Empty>}
      {shelf && shelf.length > 0 && (
        <ol class="shelf" aria-live="polite">
          {shelf.map((t) => (
            <li class="test-request" key={t.id} data-id={t.id}>
              <div><strong>{t.method}</strong> <span class="mono">{t.path}</span> <Time iso={t.received_at} /> <Signature s={t.signature} /></div>
              {t.query_error && <p class="bad">Query: {t.query_error}</p>}
              {t.body_error ? <p class="bad">Body: {t.body_error.replace(/^body: /, '')}</p> : <Json value={t.body} text={t.bodyText} label="Request body" />}
              {/* Not parsed (a signature that fails, a body that is no JSON): the bytes kept, to
                  compare with what the sender signed. */}
              {t.body_error && typeof t.raw_body === 'string' && t.raw_body !== '' && (
                <details class="raw-body"><summary>Raw body ({t.raw_body_encoding === 'base64' ? 'base64, ' : ''}{t.raw_body_bytes} bytes{t.raw_body_truncated ? ', the start kept' : ''})</summary>
                  <Json text={t.raw_body} label="Raw body" /></details>
              )}
              <details><summary>Query and headers</summary><Json value={{ query: t.query, headers: t.headers }} label="Query and headers" /></details>
            </li>
          ))}
        </ol>
      )}
      <div class="row">
        <button type="button" ref={detectButton} onClick={detect} disabled={!!busy}>{busy === 'detect' ? 'Detecting…' : 'Detect schema'}</button>
      </div>
      <Problem error={problem} />
      {proposal && (
        <div class="proposal">
          <h3>Proposed request schema</h3>
          <p class="muted">From test request {proposal.test_request_id}. {dirty
            ? <>Apply puts it into the editor as <code>trigger.request</code>, beside your unsaved changes; save to keep it.</>
            : <>Apply writes it into the draft as <code>trigger.request</code>.</>}</p>
          <Json value={proposal.schema} label="Detected request schema" />
          <div class="row">
            <button type="button" class="primary" onClick={apply} disabled={!!busy}>{busy === 'apply' ? 'Applying…' : 'Apply'}</button>
            <button type="button" onClick={closeProposal}>Dismiss</button>
          </div>
        </div>
      )}
    </section>
  );
}

/** The zone of the schedule a preview is of: the draft's, else the deployed one's (with
 * `deployedFirst`, the zone of what fires: the other way round); `UTC` when none is named or
 * the browser does not know the name. */
function scheduleZone(wf, deployedFirst = false) {
  const zone = (text) => {
    try {
      const t = JSON.parse(text)?.trigger;
      return t?.type === 'schedule' ? (typeof t.timezone === 'string' ? t.timezone : 'UTC') : null;
    } catch {
      return null;
    }
  };
  const z = (deployedFirst ? zone(wf.deployedText) ?? zone(wf.draftText) : zone(wf.draftText) ?? zone(wf.deployedText)) ?? 'UTC';
  return Number.isNaN(startOfDay('2000-01-01', z)) ? 'UTC' : z;
}

export function SchedulePanel({ wf, dirty }) {
  const [from, setFrom] = useState('');
  const [count, setCount] = useState('10');
  const [preview, setPreview] = useState(null);
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
  const zone = scheduleZone(wf);
  const firesIn = scheduleZone(wf, true);
  const load = async (ev) => {
    if (ev) ev.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      let q = `count=${enc(count || '10')}`;
      // Fire times strictly after the day's start in the schedule's zone: a millisecond before
      // it, so a fire at local midnight is listed. (A date the browser let through unread goes
      // as typed: the API says what is wrong.)
      const day = startOfDay(from, zone);
      if (from) q += `&after=${enc(Number.isNaN(day) ? `${from}T00:00:00Z` : new Date(day - 1).toISOString())}`;
      setPreview(await api('GET', `/api/workflows/${enc(wf.id)}/schedule/preview?${q}`));
    } catch (e) {
      setProblem(e);
      setPreview(null);
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => { load(); }, [wf.id, wf.updated_at]);
  return (
    <section class="panel" aria-labelledby="schedule-h">
      <h2 id="schedule-h">Schedule</h2>
      <dl class="facts">
        <dt>Next run</dt><dd><Time iso={wf.next_run_at} next />{wf.next_run_at ? <span class="muted next-run-local"> ({wallClock(wf.next_run_at, firesIn) ?? wf.next_run_at} {firesIn})</span> : wf.status !== 'deployed' ? <span class="muted"> (not deployed)</span> : null}</dd>
        <dt>Last run</dt><dd><Time iso={wf.last_run_at} /></dd>
        <dt>Skipped slots</dt><dd>{wf.skipped_slots ?? 0}</dd>
        {wf.last_misfire ? <><dt>Last misfire</dt><dd><Json value={wf.last_misfire} label="Last misfire" /></dd></> : null}
      </dl>
      <h3>Next fire times</h3>
      <form class="row" onSubmit={load}>
        <label for="preview-from">From (date, in {zone})</label>
        <input id="preview-from" type="date" value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
        <label for="preview-count">Count</label>
        <input id="preview-count" type="number" min="1" max="100" value={count} onInput={(e) => setCount(e.currentTarget.value)} />
        <button type="submit" disabled={busy}>Preview</button>
      </form>
      {dirty && <p class="muted">The preview is of the saved draft: save to see your changes.</p>}
      <Problem error={problem} />
      {preview && (
        <div class="table-wrap">
          <table class="preview">
            <caption>In {preview.timezone} and in UTC</caption>
            <thead><tr><th scope="col">Local ({preview.timezone})</th><th scope="col">UTC</th><th scope="col">DST</th></tr></thead>
            <tbody>
              {preview.fire_times.map((f) => (
                <tr class={f.dst_shifted ? 'dst' : ''} data-dst={f.dst_shifted ? 'shifted' : 'no'}>
                  <td class="mono" data-label="Local">{f.at}</td><td class="mono" data-label="UTC">{f.utc}</td>
                  <td data-label="DST">{f.dst_shifted ? <span class="badge s-dst" title="This local time does not exist or repeats on this day: the fire time moved with the DST change">DST shift</span> : null}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {preview.fire_times.some((f) => f.dst_shifted) && (
            <p class="muted">DST shift: on that day the local time does not exist (clocks go forward) or
              occurs twice (clocks go back); the run happens at the instant shown, once.</p>
          )}
        </div>
      )}
    </section>
  );
}

/** "1 failure", "3 failures". */
const failures = (n) => (n === 1 ? '1 failure' : `${n} failures`);

export function PollPanel({ wf, onChanged }) {
  const [start, setStart] = useState('now');
  const [problem, setProblem] = useState(null);
  const [result, setResult] = useState('');
  const [busy, setBusy] = useState(false);
  const p = wf.poll || {};
  const live = wf.status === 'deployed';
  const reset = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    setProblem(null);
    setResult('');
    try {
      const r = await api('POST', `/api/workflows/${enc(wf.id)}/poll/reset`, { start });
      setResult(`Poll reset (start: ${r.start}). New cursor: ${exactCompact(r, 'cursor')}`);
    } catch (e) {
      setProblem(e);
      setBusy(false);
      return;
    }
    // The reset is done: a failed read of the workflow after it is said as such.
    try {
      await onChanged();
    } catch (e) {
      setProblem({ title: 'Poll reset, but the page could not be refreshed', detail: `${e.message}. The page reads it again within 10 s.`, errors: [] });
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="panel" aria-labelledby="poll-h">
      <h2 id="poll-h">Poll</h2>
      <dl class="facts">
        <dt>Last poll</dt><dd><Time iso={p.last_poll_at} /></dd>
        <dt>Last success</dt><dd><Time iso={p.last_success_at} /></dd>
        <dt>Next poll</dt><dd class="next-poll">{live ? <Time iso={p.next_poll_at} next /> : <span class="muted">none (not deployed)</span>}</dd>
        <dt>Error</dt><dd class={p.last_poll_error && live ? 'bad' : ''}>{p.last_poll_error || 'none'}</dd>
        <dt>Backoff</dt><dd class="poll-backoff">{!p.consecutive_failures ? 'none' : live ? `${failures(p.consecutive_failures)} in a row; retrying with backoff` : `${failures(p.consecutive_failures)} in a row before it was undeployed`}</dd>
        <dt>Runs created</dt><dd>{p.runs_created ?? 0}</dd>
        <dt>Cursor</dt><dd><code class="poll-cursor">{p.cursor === null || p.cursor === undefined ? 'none yet' : (wf.pollCursorText ?? JSON.stringify(p.cursor))}</code></dd>
        <dt>Waiting for</dt>
        <dd class={p.waiting ? 'warn poll-waiting' : 'poll-waiting'}>{p.waiting
          ? <>transaction <code>{p.waiting.transaction}</code>, open since <Time iso={p.waiting.since} /> ({p.waiting.seconds} s): rows written after it began wait until it ends</>
          : 'nothing'}</dd>
        <dt>Last gap</dt>
        <dd class={p.last_gap && !p.last_gap.caught_up_at ? 'warn poll-gap' : 'poll-gap'}>{p.last_gap
          ? <><Time iso={p.last_gap.at} /> ({p.last_gap.kind}, {p.last_gap.new} new of {p.last_gap.items} items on {p.last_gap.pages} pages): {p.last_gap.reason}
            {p.last_gap.caught_up_at ? <>; caught up <Time iso={p.last_gap.caught_up_at} /></> : p.last_gap.kind === 'max_pages' ? '; not caught up yet' : ''}</>
          : 'none'}</dd>
      </dl>
      <form class="reset" onSubmit={reset}>
        <fieldset>
          <legend>Reset the cursor</legend>
          <label><input type="radio" name="start" value="now" checked={start === 'now'} onChange={() => setStart('now')} /> From now: skip what the source has now</label>
          <label><input type="radio" name="start" value="beginning" checked={start === 'beginning'} onChange={() => setStart('beginning')} /> From the beginning: a run for every record that has none yet</label>
        </fieldset>
        <button type="submit" disabled={busy}>{busy ? 'Resetting…' : 'Reset poll'}</button>
      </form>
      <p class="good" role="status" aria-live="polite" id="poll-reset-result">{result}</p>
      <Problem error={problem} title="The poll could not be reset" />
    </section>
  );
}

/** Connections are listed by user id, as the API pages them. */
const byUser = (c) => c.user_id;
const userAfter = (a, b) => a.user_id > b.user_id;

export function OAuthPanel({ wf }) {
  const [conns, setConns] = useState(null);
  const [next, setNext] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [problem, setProblem] = useState(null);
  // The connection whose delete is under way (its button is disabled meanwhile).
  // The connections whose delete is under way (several may be at once).
  const [deleting, setDeleting] = useState(() => new Set());
  // Whether more pages were loaded: until then the paging cursor follows the first page.
  const paged = useRef(false);
  const restarts = useRef(0);
  // After a delete, the focus goes to the next connection's Delete (the last one's when it was
  // the last), or to the Connections heading when none is left — unless the focus went
  // elsewhere while the delete was under way (the editor, another panel): it stays there.
  const panel = useRef(null);
  const list = useRef(null);
  const heading = useRef(null);
  const refocus = useRef(null);
  useLayoutEffect(() => {
    if (refocus.current === null) return;
    const buttons = list.current ? list.current.querySelectorAll('button.danger') : [];
    if (focusIsFree(panel.current)) (buttons[Math.min(refocus.current, buttons.length - 1)] || heading.current).focus();
    refocus.current = null;
  }, [conns]);
  const page = (cursor) => api('GET', `/api/workflows/${enc(wf.id)}/connections${cursor ? `?cursor=${enc(cursor)}` : ''}`);
  // The first page is fetched again every 5 s and merged: the pages loaded below it stay.
  // Deletes sent and ended: a first page asked for before a delete ended may still list its
  // connection, and is dropped.
  const deletes = useRef(0);
  const load = async () => {
    const started = deletes.current;
    try {
      const r = await page(null);
      if (started !== deletes.current) return;
      setConns((prev) => {
        const merged = refreshFirstPage(prev, r.connections, !r.next_cursor, byUser, userAfter);
        // The list is this page alone again: paging goes on from its cursor.
        if (merged === r.connections) {
          paged.current = false;
          restarts.current += 1;
        }
        return merged;
      });
      if (!paged.current || !r.next_cursor) setNext(r.next_cursor);
      setLoadError(null);
    } catch (e) {
      setLoadError(e);
    }
  };
  usePolling(load, 5000, [wf.id]);
  const more = async () => {
    setProblem(null);
    const restart = restarts.current;
    try {
      const r = await page(next);
      // Asked for before the list started again: it would leave out the connections between.
      if (restart !== restarts.current) return;
      paged.current = true;
      setConns((prev) => appendPage(prev, r.connections, byUser));
      setNext(r.next_cursor);
    } catch (e) {
      setProblem(e);
    }
  };
  const remove = async (userId, index) => {
    setDeleting((d) => new Set(d).add(userId));
    setProblem(null);
    deletes.current += 1;
    try {
      await api('DELETE', `/api/workflows/${enc(wf.id)}/connections/${enc(userId)}`);
      refocus.current = index;
      setConns((prev) => prev.filter((c) => c.user_id !== userId));
    } catch (e) {
      setProblem(e);
      return;
    } finally {
      deletes.current += 1;
      setDeleting((d) => {
        const left = new Set(d);
        left.delete(userId);
        return left;
      });
    }
    await load();
  };
  return (
    <section class="panel" aria-labelledby="oauth-h" ref={panel}>
      <h2 id="oauth-h">OAuth</h2>
      <UrlRow label="Sign-in URL" url={wf.urls.signin} />
      <UrlRow label="Redirect URL" url={wf.urls.redirect} />
      <p class="muted">Register the Redirect URL with the provider. Send users to a Sign-in link your backend signs for them (<code>?user_id=…&amp;expires=…&amp;signature=…</code>, see docs/oauth.md), or to a one-time link from <code>POST /api/workflows/{'{'}id{'}'}/signin-links</code>.</p>
      <TestSigninLink wf={wf} />
      <h3 id="connections-h" ref={heading} tabIndex={-1}>Connections</h3>
      {conns === null ? <Problem error={loadError} /> : <StaleNote error={loadError} />}
      <Problem error={problem} />
      {conns === null && !loadError && <Loading what="connections" />}
      {conns && conns.length === 0 && <Empty>No connections yet.</Empty>}
      {conns && conns.length > 0 && (
        <ul class="connections" ref={list}>
          {conns.map((c, i) => (
            <li class="connection" key={c.user_id} data-user={c.user_id}>
              <strong>{c.user_id}</strong> · <span class={connectionState(c).tone}>{connectionState(c).text}</span>
              <ConnectionHealth c={c} />
              <span class="muted"> · connected <Time iso={c.created_at} /></span>
              <ConfirmButton label={deleting.has(c.user_id) ? 'Deleting…' : 'Delete'} confirmLabel="Really delete?"
                ariaLabel={`Delete connection of ${c.user_id}`} confirmAriaLabel={`Really delete connection of ${c.user_id}?`}
                onConfirm={() => remove(c.user_id, i)} disabled={deleting.has(c.user_id)} />
            </li>
          ))}
        </ul>
      )}
      <MoreButton more={!!next} onClick={more} lastItem={() => list.current && list.current.querySelector('li.connection:last-child button')}>Load more connections</MoreButton>
    </section>
  );
}

/** A one-time Sign-in link for a user id, made with `POST /api/workflows/{id}/signin-links`: to
 * try the sign-in (or hand it to one user) without a backend that signs links. */
function TestSigninLink({ wf }) {
  const [user, setUser] = useState('');
  const [link, setLink] = useState(null);
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
  const create = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    setProblem(null);
    setLink(null);
    try {
      setLink(await api('POST', `/api/workflows/${enc(wf.id)}/signin-links`, { user_id: user }));
    } catch (e) {
      setProblem(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="signin-link" onSubmit={create}>
      <label for="signin-link-user">User id</label>
      <input id="signin-link-user" value={user} onInput={(e) => setUser(e.currentTarget.value)} autocomplete="off" spellcheck={false} />
      <button type="submit" disabled={busy}>{busy ? 'Creating…' : 'Create a test sign-in link'}</button>
      {link ? <SigninLinkMade link={link} /> : null}
      <Problem error={problem} title="The sign-in link could not be created" />
    </form>
  );
}

/** A sign-in link just made, with when it expires; once it has, only that (no link to copy). */
function SigninLinkMade({ link }) {
  const [expired, setExpired] = useState(() => hasPassed(link.expires_at));
  useEffect(() => {
    setExpired(hasPassed(link.expires_at));
    return everySecond(() => { if (hasPassed(link.expires_at)) setExpired(true); });
  }, [link.expires_at]);
  if (expired) {
    return <div class="signin-link-made"><p class="bad">The link for <strong>{link.user_id}</strong> has expired (a link works for 10 minutes): create a new one.</p></div>;
  }
  return (
    <div class="signin-link-made">
      <UrlRow label="One-time sign-in link" url={link.url} />
      <p class="muted">For <strong>{link.user_id}</strong>: it works once, and expires <Time iso={link.expires_at} next />. Whoever opens it signs in as that user: give it to them only.</p>
    </div>
  );
}

/** What a connection's status alone does not say: an access token past its `expires_at` (runs
 * that read the connection get a dead token until a refresh or a new sign-in), and the last
 * refresh's error while refreshes keep failing (not repeated when it is the re-auth reason),
 * with how many failed in a row and when the next try comes. */
function ConnectionHealth({ c }) {
  const expired = c.expires_at && Date.parse(c.expires_at) < Date.now();
  const failing = c.last_refresh_error && !(c.needs_reauth && c.needs_reauth.reason === c.last_refresh_error);
  const retrying = c.refresh_failures > 0 && c.next_refresh_attempt_at;
  return (
    <>
      {expired ? <span class="bad"> · access token expired <Time iso={c.expires_at} /></span> : null}
      {failing ? <span class="bad"> · last refresh failed: {c.last_refresh_error}</span> : null}
      {failing && retrying ? (
        <span class="bad"> ({c.refresh_failures} in a row; next try <Time iso={c.next_refresh_attempt_at} next />)</span>
      ) : null}
    </>
  );
}
