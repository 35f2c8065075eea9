// Workflows: name, trigger, status, version, last run, next fire, poll health; filter; create.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, enc } from '../api.js';
import { Problem, ProblemMark, Loading, Empty, Status, Time, go, usePolling, MoreButton, StaleNote } from '../ui.jsx';
import { TEMPLATES } from '../templates.js';
import { pollHealth } from '../poll.js';
import { appendPage, refreshFirstPage } from '../paging.js';
import { mapLimited } from '../limit.js';

/** Newest first, as the API pages them: `a` comes after `b` when it was created earlier. */
const olderThan = (a, b) => a.created_at < b.created_at || (a.created_at === b.created_at && a.id < b.id);
const byId = (w) => w.id;
/** The trigger kind that runs (the deployed version's), else the draft's. */
const kindOf = (w) => w.live_trigger_type || w.trigger_type;

/** Whether the list shows details of `w` (a schedule's next fire, a poll's health). */
const hasDetails = (w) => kindOf(w) === 'schedule' || kindOf(w) === 'poll';
/** Reads of rows' details at once: each reads the workflow's object too. */
const DETAIL_READS = 4;
/** How long the details of a row below the first page are shown before they are read again;
 * a minute when the next fire they show has gone by, or their read failed. */
const DETAILS_FRESH_MS = 5 * 60 * 1000;
const DETAILS_SOON_MS = 60 * 1000;

/** What the list shows beyond the list's own fields (which carry the last run): a schedule's
 * next fire and a poll's health, from the workflow's own resource; or why that could not be
 * read (shown in the cell, so a failed read does not look like "nothing to show"); and when. */
async function details(w) {
  try {
    return { full: await api('GET', `/api/workflows/${enc(w.id)}`), error: null, at: Date.now() };
  } catch (e) {
    return { full: null, error: e, at: Date.now() };
  }
}

/** Whether details read as `x` are to be read again at `now`. A workflow not found (deleted
 * meanwhile) is not asked for again. */
function stale(x, now) {
  if (!x) return true;
  if (x.error && x.error.status === 404) return false;
  const age = now - x.at;
  if (age > DETAILS_FRESH_MS) return true;
  const next = x.full && x.full.next_run_at;
  return age > DETAILS_SOON_MS && (!!x.error || (!!next && Date.parse(next) < now));
}

export function WorkflowList() {
  const [items, setItems] = useState(null);
  const [next, setNext] = useState(null);
  const [extra, setExtra] = useState({});
  const [error, setError] = useState(null);
  const [filter, setFilter] = useState('');
  const [template, setTemplate] = useState(TEMPLATES[0].id);
  const [creating, setCreating] = useState(false);
  const [createError, setCreateError] = useState(null);
  // "Load more workflows" has its own error, which the refresh does not clear.
  const [moreError, setMoreError] = useState(null);
  const [loadingMore, setLoadingMore] = useState(false);

  // Whether more pages were loaded: until then the paging cursor follows the first page.
  const paged = useRef(false);
  // How often the list started again from a fresh first page: a page asked for before one is
  // dropped (it would leave out the workflows between).
  const restarts = useRef(0);
  // What is on screen, for a refresh that reads the details of rows below the first page.
  const shownNow = useRef({ items: null, extra: {} });
  shownNow.current = { items, extra };

  /** The page after `cursor` (the first without) into the list; then its workflows' details. */
  const load = async (cursor) => {
    const restart = restarts.current;
    const page = await api('GET', `/api/workflows?limit=50${cursor ? `&cursor=${enc(cursor)}` : ''}`);
    if (cursor) {
      if (restart !== restarts.current) return;
      paged.current = true;
      setItems((old) => appendPage(old, page.workflows, byId));
      setNext(page.next_cursor);
    } else {
      // A refresh updates the first page and keeps the pages loaded below it.
      setItems((old) => {
        const merged = refreshFirstPage(old, page.workflows, !page.next_cursor, byId, olderThan);
        // The list is this page alone again: paging goes on from its cursor.
        if (merged === page.workflows) {
          paged.current = false;
          restarts.current += 1;
        }
        return merged;
      });
      if (!paged.current || !page.next_cursor) setNext(page.next_cursor);
      setError(null);
    }
    const read = async (rows) => {
      const pairs = await mapLimited(rows, DETAIL_READS, async (w) => [w.id, await details(w)]);
      setExtra((old) => ({ ...old, ...Object.fromEntries(pairs) }));
    };
    // The page's rows; with a refresh, then the rows loaded below it whose details are stale.
    await read(page.workflows.filter(hasDetails));
    if (!cursor) {
      const now = Date.now();
      const onPage = new Set(page.workflows.map(byId));
      const { items: loaded, extra: known } = shownNow.current;
      await read((loaded || []).filter((w) => hasDetails(w) && !onPage.has(w.id) && stale(known[w.id], now)));
    }
  };
  useEffect(() => { document.title = 'Workflows · Tripline'; }, []);
  // Last runs and next fires move: refresh the first page now and then (merged into the list).
  usePolling(() => load(null).catch(setError), 10000, []);
  const more = async () => {
    setLoadingMore(true);
    setMoreError(null);
    try {
      await load(next);
    } catch (e) {
      setMoreError(e);
    } finally {
      setLoadingMore(false);
    }
  };

  const create = async () => {
    setCreating(true);
    setCreateError(null);
    try {
      const t = TEMPLATES.find((x) => x.id === template);
      const w = await api('POST', '/api/workflows', JSON.parse(t.text));
      go(`/w/${w.id}`);
    } catch (e) {
      setCreateError(e);
    } finally {
      setCreating(false);
    }
  };

  const f = filter.trim().toLowerCase();
  // What a row says: its name, id, trigger, status, last run's status and poll health.
  const said = (w) => {
    const x = extra[w.id] || {};
    const health = pollHealth(x.full && x.full.poll, w.status);
    return [w.name, w.id, kindOf(w), w.status, w.last_run && w.last_run.status, health && health.text];
  };
  const shown = (items || []).filter((w) => !f || said(w).some((s) => s != null && String(s).toLowerCase().includes(f)));

  return (
    <section>
      <div class="page-head">
        <h1>Workflows</h1>
        <div class="create">
          <label for="template">Template</label>
          <select id="template" value={template} onChange={(e) => setTemplate(e.currentTarget.value)}>
            {TEMPLATES.map((t) => <option value={t.id}>{t.label}</option>)}
          </select>
          <button type="button" onClick={create} disabled={creating}>{creating ? 'Creating…' : 'New workflow'}</button>
        </div>
      </div>
      <Problem error={createError} title="The workflow could not be created" />
      <div class="filter">
        <label for="filter">Filter</label>
        <input id="filter" type="search" placeholder="name, id, trigger, status, last run or poll health" value={filter}
          onInput={(e) => setFilter(e.currentTarget.value)} />
      </div>
      {items === null ? <Problem error={error} /> : <StaleNote error={error} />}
      {items === null && !error ? <Loading what="workflows" /> : null}
      {items && items.length === 0 ? <Empty>No workflows yet. Pick a template and press “New workflow”.</Empty> : null}
      {items && items.length > 0 && shown.length === 0
        ? <Empty>{next ? `None of the ${items.length} workflows loaded matches “${filter}”; Load more workflows to look further.` : `No workflow matches “${filter}”.`}</Empty>
        : null}
      {shown.length > 0 && (
        <div class="table-wrap">
          <table class="workflows">
            <thead>
              <tr><th scope="col">Name</th><th scope="col">Trigger</th><th scope="col">Status</th><th scope="col">Version</th>
                <th scope="col">Last run</th><th scope="col">Next fire</th><th scope="col">Poll</th></tr>
            </thead>
            <tbody>
              {shown.map((w) => {
                const x = { ...(extra[w.id] || {}), lastRun: w.last_run };
                const health = pollHealth(x.full && x.full.poll, w.status);
                return (
                  <tr key={w.id} data-id={w.id}>
                    <td data-label="Name"><div><a class="wf-name" href={`#/w/${enc(w.id)}`}>{w.name}</a><div class="muted mono">{w.id}</div></div></td>
                    <td data-label="Trigger">{kindOf(w)}</td>
                    <td data-label="Status"><Status status={w.status} /></td>
                    <td data-label="Version">{w.deployed_version ? `v${w.deployed_version}` : '—'}</td>
                    <td data-label="Last run" class="last-run">
                      {x.lastRun ? <a href={`#/runs/${enc(x.lastRun.id)}`}><Status status={x.lastRun.status} /> <Time iso={x.lastRun.created_at} /></a> : 'never'}
                    </td>
                    <td data-label="Next fire" class="next-fire">{kindOf(w) !== 'schedule' ? '—' : !extra[w.id] ? '…' : x.error ? <ProblemMark error={x.error} /> : <Time iso={x.full && x.full.next_run_at} next />}</td>
                    <td data-label="Poll" class="poll-health">{kindOf(w) === 'poll' && !extra[w.id] ? '…' : kindOf(w) === 'poll' && x.error ? <ProblemMark error={x.error} /> : health ? <span class={health.tone}>{health.text}</span> : '—'}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <MoreButton more={!!next} onClick={more} disabled={loadingMore} lastItem={() => document.querySelector('table.workflows tbody tr:last-child a.wf-name')}>Load more workflows</MoreButton>
      <Problem error={moreError} title="More workflows could not be loaded" />
    </section>
  );
}
