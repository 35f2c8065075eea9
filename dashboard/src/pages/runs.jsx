// Runs of a workflow (status filter, paging, new runs appearing live) and one run's timeline.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, apiWith, enc, exactPretty } from '../api.js';
import { Problem, Loading, Empty, Status, Time, Json, MaybeCut, StaleNote, usePolling, duration, go, MoreButton, useFocusAfter } from '../ui.jsx';
import { appendPage, fetchFirstPages, refreshFirstPage } from '../paging.js';
import { unreachedSteps } from '../unreached.js';
import { visible } from '../visible.js';

const STATUSES = ['queued', 'running', 'succeeded', 'failed'];

const byId = (r) => r.id;
/** 32 random hex digits (`crypto.randomUUID` exists only on https and localhost pages). */
const randomKey = () => [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
/** Run ids sort by creation, as the API pages them (newest first). */
const olderThan = (a, b) => a.id < b.id;

/** The status filter the address names (`#/w/{id}/runs?status=failed`), or '' for all. */
const statusInAddress = () => {
  const s = new URLSearchParams(location.hash.split('?')[1] || '').get('status');
  return STATUSES.includes(s) ? s : '';
};

/** A run's error in words: its `message` (the record's form), else the text or JSON given. */
const errorText = (error) => {
  if (typeof error === 'string') return error;
  if (error && typeof error.message === 'string') return error.message;
  return JSON.stringify(error);
};

export function RunsPage({ id }) {
  const [wf, setWf] = useState(null);
  const [status, setStatusShown] = useState(statusInAddress);
  // The filter is kept in the address (in place: no history entry, no route change), so that a
  // reload or a shared link shows the same list.
  const setStatus = (s) => {
    setStatusShown(s);
    history.replaceState(history.state, '', `#/w/${enc(id)}/runs${s ? `?status=${s}` : ''}`);
  };
  // An address of this page with another filter (a link, Back) is the same route: the filter
  // follows it.
  useEffect(() => {
    const follow = () => setStatusShown(statusInAddress());
    addEventListener('hashchange', follow);
    return () => removeEventListener('hashchange', follow);
  }, []);
  const [list, setList] = useState(null);
  // The list as last rendered: a refresh fetches pages until it reaches these rows.
  const listNow = useRef(null);
  listNow.current = list;
  const [next, setNext] = useState(null);
  const [error, setError] = useState(null);
  // The workflow's name, and "Older runs": errors of their own, which the refresh does not clear.
  const [wfError, setWfError] = useState(null);
  const [moreError, setMoreError] = useState(null);
  const [loadingMore, setLoadingMore] = useState(false);
  // Whether older pages were loaded: until then the paging cursor follows the first page.
  const paged = useRef(false);
  // How often the list started again from a fresh first page: older runs asked for before
  // one are dropped (they would leave out the runs between).
  const restarts = useRef(0);
  // The workflow whose runs were answered 404 (deleted meanwhile).
  const gone = useRef(null);
  // What the list on screen is of: an answer to a request made for another workflow or status
  // filter (still in flight when the filter changed) is dropped.
  const shown = useRef('');
  shown.current = `${id} ${status}`;
  useEffect(() => {
    // An answer that comes after the page was left changes nothing.
    let live = true;
    api('GET', `/api/workflows/${enc(id)}`).then((w) => {
      if (!live) return;
      setWf(w);
      document.title = `Runs of ${visible(w.name)} · Tripline`;
    }).catch((e) => { if (live) setWfError(e); });
    return () => { live = false; };
  }, [id]);
  useEffect(() => { setList(null); listNow.current = null; setNext(null); setMoreError(null); setLoadingMore(false); paged.current = false; }, [status]);
  /** The page after `cursor` (the first without), or null when the filter changed meanwhile:
   * then its failure is not shown either (it was of another filter's list). */
  const fetchPage = async (cursor) => {
    const tag = shown.current;
    try {
      const r = await api('GET', `/api/workflows/${enc(id)}/runs?limit=20${status ? `&status=${status}` : ''}${cursor ? `&cursor=${enc(cursor)}` : ''}`);
      return tag === shown.current ? r : null;
    } catch (e) {
      if (tag !== shown.current) return null;
      throw e;
    }
  };
  // The first page is fetched again every 1.5 s: new runs and status changes show up live.
  // Runs older than the fresh first page are kept below it (pushed down, not lost); newer ones
  // it no longer has (filtered out) go. When more new runs came than a page holds, the pages
  // after it are fetched too (up to 5 more), until they reach the runs shown, when older pages
  // were loaded (a first page alone is simply replaced by the fresh one).
  usePolling(async () => {
    // A workflow deleted meanwhile (404) is not asked for again.
    if (gone.current === id) return;
    try {
      const r = await fetchFirstPages(paged.current ? listNow.current : null, async (cursor) => {
        const p = await fetchPage(cursor);
        return p && { items: p.runs, cursor: p.next_cursor };
      }, byId);
      if (!r) return;
      setList((prev) => {
        const merged = refreshFirstPage(prev, r.items, !r.cursor, byId, olderThan);
        // The list is these pages alone again: paging goes on from their cursor.
        if (merged === r.items) {
          paged.current = false;
          restarts.current += 1;
        }
        return merged;
      });
      if (!paged.current || !r.cursor) setNext(r.cursor);
      setError(null);
    } catch (e) {
      if (e.status === 404) gone.current = id;
      setError(e);
    }
  }, 1500, [id, status]);
  const more = async () => {
    const tag = shown.current;
    const restart = restarts.current;
    setLoadingMore(true);
    setMoreError(null);
    try {
      const r = await fetchPage(next);
      if (!r || restart !== restarts.current) return;
      paged.current = true;
      setList((prev) => appendPage(prev, r.runs, byId));
      setNext(r.next_cursor);
    } catch (e) {
      setMoreError(e);
    } finally {
      if (tag === shown.current) setLoadingMore(false);
    }
  };
  const runs = list;
  const all = list || [];
  return (
    <section>
      <div class="page-head">
        <div>
          <h1>Runs</h1>
          <p class="muted">of <a href={`#/w/${enc(id)}`} class="wf-name">{wf ? wf.name : id}</a></p>
        </div>
        <div class="row">
          <label for="status-filter">Status</label>
          <select id="status-filter" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            <option value="">all</option>
            {STATUSES.map((s) => <option value={s}>{s}</option>)}
          </select>
        </div>
      </div>
      <Problem error={wfError} title="The workflow could not be loaded" />
      {/* A workflow not found is said once: its runs' 404 says the same. */}
      {runs === null ? (wfError && wfError.status === 404 && error && error.status === 404 ? null : <Problem error={error} />)
        // Deleted while shown: said as such (the list is not read again), the runs shown kept.
        : error && error.status === 404 ? <Problem error={{ title: 'This workflow was deleted', detail: 'Its runs were deleted with it; those shown were loaded before.', errors: [] }} />
          : <StaleNote error={error} />}
      {runs === null && !error && <Loading what="runs" />}
      {runs && all.length === 0 && <Empty>{status ? `No ${status} runs.` : 'No runs yet. They appear here as soon as a trigger starts one.'}</Empty>}
      {all.length > 0 && (
        <div class="table-wrap">
          <table class="runs">
            <thead><tr><th scope="col">Run</th><th scope="col">Status</th><th scope="col">Trigger</th><th scope="col">Version</th><th scope="col">Created</th><th scope="col">Duration</th><th scope="col">Error</th></tr></thead>
            <tbody>
              {all.map((r) => (
                <tr key={r.id} data-run={r.id}>
                  <td data-label="Run"><a class="mono" href={`#/runs/${enc(r.id)}`}>{r.id}</a></td>
                  <td data-label="Status"><Status status={r.status} /></td>
                  <td data-label="Trigger">{r.trigger}</td>
                  <td data-label="Version">v{r.version}</td>
                  <td data-label="Created"><Time iso={r.created_at} /></td>
                  <td data-label="Duration">{duration(r.started_at, r.finished_at) || '—'}</td>
                  <td data-label="Error" class="run-list-error">{r.error ? <span title={visible(errorText(r.error))}>{errorText(r.error)}</span> : null}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <MoreButton more={!!next} onClick={more} disabled={loadingMore} lastItem={() => document.querySelector('table.runs tbody tr:last-child a')}>Older runs</MoreButton>
      <Problem error={moreError} title="Older runs could not be loaded" />
    </section>
  );
}

function Timeline({ run, planned }) {
  const steps = run.steps || [];
  const rest = unreachedSteps(run, planned);
  const t0 = Date.parse(run.started_at || run.created_at);
  const ends = steps.map((s) => Date.parse(s.finished_at || s.started_at)).filter((x) => !Number.isNaN(x));
  const t1 = Math.max(Date.parse(run.finished_at || '') || 0, ...ends, t0 + 1);
  const span = Math.max(t1 - t0, 1);
  if (!steps.length && !rest.length) return <Empty>No steps recorded yet.</Empty>;
  return (
    <ol class="timeline">
      {steps.map((s, i) => {
        const a = Date.parse(s.started_at);
        const b = Date.parse(s.finished_at || s.started_at);
        const left = Number.isNaN(a) ? 0 : ((a - t0) / span) * 100;
        const width = Number.isNaN(a) || Number.isNaN(b) ? 0 : Math.max(((b - a) / span) * 100, 0.5);
        return (
          <li class="step" data-step={s.name}>
            <div class="step-head">
              <strong>{s.name}</strong> <Status status={s.status} />
              <span class="muted"> · {s.attempts ?? 1} attempt{(s.attempts ?? 1) === 1 ? '' : 's'} · {duration(s.started_at, s.finished_at) || '—'}</span>
            </div>
            <div class="bar-track" aria-hidden="true"><div class={`bar s-${s.status}`} style={{ marginLeft: `${left}%`, width: `${width}%` }} /></div>
            {s.error ? <p class="bad">Error: {errorText(s.error)}</p> : null}
            {s.request ? <StepRequest step={s} run={run} i={i} /> : null}
            {s.output !== undefined && s.output !== null ? <StepOutput step={s} text={exactPretty(run, 'steps', i, 'output')} /> : null}
          </li>
        );
      })}
      {rest.map((s) => (
        <li class="step unreached" data-step={s.name} data-state={s.state}>
          <div class="step-head">
            <strong>{s.name}</strong> <span class="badge s-none">{s.state}</span>
            <span class="muted"> · {s.type}</span>
          </div>
        </li>
      ))}
    </ol>
  );
}

/** What an `http` step sent (redacted): its method and URL on a line, its headers and body
 * folded (a step that timed out or failed is read from them). */
function StepRequest({ step, run, i }) {
  const q = step.request;
  const line = typeof q.method === 'string' && typeof q.url === 'string';
  const has = (k) => q[k] !== undefined && q[k] !== null;
  return (
    <div class="step-request">
      {line ? <p class="request-line"><code>{q.method} {q.url}</code></p> : null}
      <details>
        <summary>{line ? `Headers and body sent by ${step.name}` : `Request of ${step.name}`}</summary>
        {!line ? <MaybeCut value={q} text={exactPretty(run, 'steps', i, 'request')} label={`Request of ${step.name}`} what="Request" />
          : (
            <>
              {has('headers') ? <Json value={q.headers} text={exactPretty(run, 'steps', i, 'request', 'headers')} label={`Headers sent by ${step.name}`} /> : null}
              {has('body') ? <MaybeCut value={q.body} text={exactPretty(run, 'steps', i, 'request', 'body')} label={`Body sent by ${step.name}`} what="Body" />
                : <p class="muted">No body.</p>}
            </>
          )}
      </details>
    </div>
  );
}

/** A step's output; a failed step's is the answer it failed on (an `http` step's server). A
 * value stored cut to fit says so and shows its start. */
function StepOutput({ step, text }) {
  const failed = step.status === 'failed';
  const title = failed ? `The answer ${step.name} failed on` : `Output of ${step.name}`;
  return (
    <details open>
      <summary>{title}</summary>
      <MaybeCut value={step.output} text={text} label={`${failed ? 'Answer' : 'Output'} of ${step.name}`} what={failed ? 'Answer' : 'Output'} />
    </details>
  );
}

/** The run a replay replays: its dedup key is `replay:<original run id>:…`. */
const replayOf = (run) => {
  const m = /^replay:([^:]+):/.exec(typeof run.dedup_key === 'string' ? run.dedup_key : '');
  return m ? m[1] : null;
};

export function RunPage({ runId }) {
  const [run, setRun] = useState(null);
  const [error, setError] = useState(null);
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
  const focusAfter = useFocusAfter(busy);
  // An answer that comes after the page was left does not set the title.
  const live = useRef(true);
  useEffect(() => () => { live.current = false; }, []);
  // A run that is not finished is fetched again until it is; one that is not there (expired,
  // or a wrong id) is not asked for again.
  const gone = useRef(null);
  usePolling(async () => {
    if (run && (run.status === 'succeeded' || run.status === 'failed')) return;
    if (gone.current === runId) return;
    try {
      const r = await api('GET', `/api/runs/${enc(runId)}`);
      setRun(r);
      setError(null);
      if (live.current) document.title = `Run ${r.id} · Tripline`;
    } catch (e) {
      if (e.status === 404) gone.current = runId;
      setError(e);
    }
  }, 1000, [runId, run && run.status]);
  // The steps of the run's version when it is the deployed one (the only definition the API
  // gives besides the draft): the run page lists those the run has not reached.
  const [planned, setPlanned] = useState(null);
  const wfId = run ? run.workflow_id : null;
  const version = run ? run.version : null;
  useEffect(() => {
    setPlanned(null);
    if (!wfId) return undefined;
    let live = true;
    api('GET', `/api/workflows/${enc(wfId)}`).then((w) => {
      const steps = w.deployed_definition?.steps;
      if (live && w.deployed_version === version && Array.isArray(steps)) setPlanned(steps);
    }).catch(() => {});
    return () => { live = false; };
  }, [wfId, version]);
  // The replay's `Idempotency-Key`, kept until a replay is accepted: pressing Replay again
  // after a lost answer makes no second run.
  const replayKey = useRef(null);
  const replay = async () => {
    setBusy(true);
    setProblem(null);
    try {
      if (!replayKey.current || replayKey.current.run !== runId) replayKey.current = { run: runId, key: `dashboard-${randomKey()}` };
      const r = await apiWith('POST', `/api/runs/${enc(runId)}/replay`, undefined, { 'idempotency-key': replayKey.current.key });
      replayKey.current = null;
      go(`/runs/${r.run_id}`);
    } catch (e) {
      setProblem(e);
    } finally {
      setBusy(false);
    }
  };
  // Until the run is loaded, a failed fetch is the page; later, the run stays on screen with a
  // note, and the next fetch tries again.
  if (!run) return error ? <Problem error={error} title="This run could not be loaded" /> : <Loading what="the run" />;
  return (
    <section class="run">
      <div class="page-head">
        <div>
          <h1>Run <span class="mono">{run.id}</span></h1>
          <p class="muted"><a href={`#/w/${enc(run.workflow_id)}/runs`}>all runs of this workflow</a> · v{run.version} · {run.trigger} · <Status status={run.status} /> · created <Time iso={run.created_at} /> · took {duration(run.started_at, run.finished_at) || '—'}</p>
        </div>
        <div class="actions">
          <button type="button" class="primary" onClick={(e) => { const self = e.currentTarget; focusAfter(() => self, true); replay(); }} disabled={busy}>{busy ? 'Replaying…' : 'Replay'}</button>
        </div>
      </div>
      {replayOf(run) ? <p class="replay-of">Replay of <a class="mono" href={`#/runs/${enc(replayOf(run))}`}>{replayOf(run)}</a></p> : null}
      <StaleNote error={error} />
      <Problem error={problem} title="The run could not be replayed" />
      {run.error ? <div class="problem run-error"><strong>The run failed</strong><p>{errorText(run.error)}</p></div> : null}
      <div class="grid">
        <div>
          <h2>Steps</h2>
          <Timeline run={run} planned={planned} />
        </div>
        <div>
          <h2>Input</h2>
          <MaybeCut value={run.input} text={exactPretty(run, 'input')} label="Run input" what="Input" />
          {run.dedup_key ? <p class="muted">Dedup key: <code>{run.dedup_key}</code></p> : null}
        </div>
      </div>
    </section>
  );
}
