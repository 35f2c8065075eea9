// One workflow: the definition editor (errors at their place), save/deploy/undeploy, the draft's
// diff against the deployed version, and the panel of its trigger kind.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, apiIfMatch, enc, etagOf, strongTag, exactCompact, exactPretty, JsonText, unsaved } from '../api.js';
import { Editor, placeErrors } from '../editor.jsx';
import { setMember } from '../jsonpath.js';
import { lineDiff } from '../diff.js';
import { Problem, Loading, Status, Time, UrlRow, ConfirmButton, go, usePolling, useFocusAfter } from '../ui.jsx';
import { EndpointPanel, SchedulePanel, PollPanel, OAuthPanel } from './triggers.jsx';
import { visible } from '../visible.js';

/** A workflow as answered, with the texts the page shows of its draft, its deployed
 * definition and its poll's cursor: their numbers exactly as stored (see `exactPretty`). */
const withTexts = (w) => {
  const out = { ...w };
  const draft = exactPretty(w, 'draft');
  if (draft !== undefined) out.draftText = draft;
  const deployed = exactPretty(w, 'deployed_definition');
  if (deployed !== undefined) out.deployedText = deployed;
  const cursor = exactCompact(w, 'poll', 'cursor');
  if (cursor !== undefined) out.pollCursorText = cursor;
  return out;
};

/** What a workflow's answer says of its draft: the page keeps these as it read or saved them. */
const DRAFT_FIELDS = ['draft', 'draftText', 'name', 'key', 'trigger_type', 'updated_at', 'draft_changed', 'tag'];

/** Props: the deployed definition's and the draft's texts. */
function Diff({ deployed, draft }) {
  const lines = useMemo(() => lineDiff(deployed, draft), [deployed, draft]);
  const changed = lines.filter((l) => l.op !== ' ').length;
  if (!changed) return <p class="muted" data-diff="same">The saved draft is the deployed version.</p>;
  return (
    <pre class="diff" aria-label="Changes from the deployed version to the saved draft">
      {lines.map((l) => <div class={l.op === '+' ? 'add' : l.op === '-' ? 'del' : 'same'}>{`${l.op} ${l.text}`}</div>)}
    </pre>
  );
}

/** Props: id; onDirty(id, dirty) tells the app whether the editor has unsaved changes. */
export function WorkflowPage({ id, onDirty }) {
  const [wf, setWf] = useState(null);
  const [loadError, setLoadError] = useState(null);
  // Deleted elsewhere while shown (a read or a write answered 404): said once, nothing more sent.
  const [gone, setGone] = useState(false);
  const [text, setText] = useState(null);
  const [savedText, setSavedText] = useState(null);
  // The saved draft's revision (its ETag): a save or deploy is of that draft only.
  const [tag, setTag] = useState(null);
  // The same, for a deploy that follows its save at once (before the state is read again).
  const tagRef = useRef(null);
  const keepTag = (t) => {
    tagRef.current = t;
    setTag(t);
  };
  const [errors, setErrors] = useState([]);
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState('');
  const focusAfter = useFocusAfter(busy);
  const saveButton = useRef(null);
  const deployButton = useRef(null);
  const [note, setNote] = useState('');
  // An unsaved edit kept in this tab that started from an older draft: restored only when asked.
  const [staleEdit, setStaleEdit] = useState(null);
  const editor = useRef(null);

  // Counts what this page changed or read in full (saves, deploys, refreshes): a periodic read
  // that started before the last of them brings nothing newer, and is dropped.
  const changes = useRef(0);
  const refresh = async () => {
    changes.current += 1;
    const answer = await api('GET', `/api/workflows/${enc(id)}`);
    const w = withTexts(answer);
    w.tag = etagOf(answer);
    setWf(w);
    return w;
  };
  // The first read, made again by the periodic refresh (below) while it fails (but for a 404).
  const firstLoad = useRef(null);
  useEffect(() => {
    // An answer that comes after the page was left changes nothing.
    let live = true;
    firstLoad.current = () => refresh().then((w) => {
      if (!live) return;
      setLoadError(null);
      const t = w.draftText;
      // Unsaved changes kept in this tab (the token was refused meanwhile) come back — at once
      // when the saved draft is still the one they started from; when it was saved elsewhere
      // meanwhile, the page shows that draft and asks.
      const kept = unsaved.get(id);
      const edited = kept !== null && kept.text !== t;
      const stale = edited && kept.base !== null && strongTag(kept.base) !== strongTag(w.tag);
      setText(edited && !stale ? kept.text : t);
      setSavedText(t);
      keepTag(w.tag);
      if (stale) setStaleEdit(kept.text);
      else if (edited) setNote('Your unsaved changes were restored.');
    }).catch((e) => { if (live) setLoadError(e); });
    firstLoad.current();
    return () => { live = false; };
  }, [id]);
  // The tab's title follows the saved name (a save, a refresh after a rename elsewhere).
  const name = wf && wf.name;
  useEffect(() => { if (name) document.title = `${visible(name)} · Tripline`; }, [name]);

  // The trigger's live facts (a poll's last error and next poll, a schedule's next fire, the
  // deploy state) are read again every 10 s; what the page shows of the draft it edits stays.
  usePolling(async () => {
    if (!wf) {
      if (loadError && loadError.status !== 404) await firstLoad.current();
      return;
    }
    if (gone) return;
    const started = changes.current;
    let fresh;
    try {
      fresh = withTexts(await api('GET', `/api/workflows/${enc(id)}`));
    } catch (e) {
      if (e.status === 404) setGone(true);
      return; // else the next tick tries again
    }
    if (changes.current !== started) return;
    setWf((old) => {
      if (!old) return old;
      const kept = {};
      for (const k of DRAFT_FIELDS) if (k in old) kept[k] = old[k];
      // What the draft reads that the Worker lacks is the fresh answer's while it is of the
      // draft the page shows (a secret set since clears it), else the one read with that draft.
      if (fresh.draftText !== old.draftText) kept.missing_secrets = old.missing_secrets;
      return { ...fresh, ...kept };
    });
  }, 10000, [id]);

  const dirty = text !== null && text !== savedText;
  useEffect(() => {
    // While a kept edit waits for a choice, it stays what is kept.
    if (text === null || staleEdit !== null) return;
    if (dirty) unsaved.set(id, text, tag);
    else unsaved.clear(id);
  }, [text, savedText, tag, staleEdit]);
  // Before the page shows it: the app asks before unload from the moment "Unsaved" is shown.
  useLayoutEffect(() => { if (onDirty) onDirty(id, dirty); }, [dirty]);
  useEffect(() => () => { if (onDirty) onDirty(id, false); }, []);

  /** Saves the editor's text as the draft; true when it was accepted. `refused` names what a
   * save refused for a draft saved elsewhere stops (a deploy that saves first says so). */
  const save = async (refused = 'save') => {
    setProblem(null);
    setNote('');
    // What is sent is what counts as saved: text typed while the save is under way stays unsaved.
    // It is sent as typed (not re-encoded from a parsed value, which would round large numbers
    // and drop a duplicated key the server refuses).
    const sent = editor.current.text();
    try {
      JSON.parse(sent);
    } catch (e) {
      setErrors([]);
      setProblem({ title: 'The definition is not valid JSON', detail: `${e.message}. The editor marks the place.`, errors: [] });
      return false;
    }
    setBusy('save');
    changes.current += 1;
    try {
      const answer = await apiIfMatch('PUT', `/api/workflows/${enc(id)}`, new JsonText(sent), tagRef.current);
      const w = withTexts(answer);
      setErrors([]);
      setSavedText(sent);
      keepTag(etagOf(answer));
      setWf((old) => ({ ...old, ...w }));
      setNote('Draft saved.');
      return true;
    } catch (e) {
      // The edit kept is the editor's text now: what was typed while the save was under way too.
      if (e.status === 412) await savedElsewhere(editor.current.text(), refused);
      else if (e.status === 404) setGone(true);
      else if (e.tag) {
        // Saved, though the answer is a problem (the test URL's copy was not updated): the
        // draft sent is the saved one, and its tag is the next save's `If-Match`.
        setSavedText(sent);
        keepTag(e.tag);
        setErrors([]);
        setProblem(e);
        // The rest of the page (title, diff, panels) follows the saved draft; the periodic
        // refresh reads it again if this read fails.
        refresh().catch(() => {});
      } else {
        setErrors(e.errors || []);
        setProblem(e);
      }
      return false;
    } finally {
      setBusy('');
    }
  };

  /** The draft was saved elsewhere since this page read it (another tab, the CLI), and a save
   * or deploy of the page's was refused: the editor shows that draft; `edit`, the text this page
   * would have saved (or had typed since its deploy started), is kept until one chooses (as an
   * edit kept over a newer draft is). `refused`: what was refused (`save`, `deploy`, `delete`,
   * or `apply`, a detected schema, whose panel says so). */
  const savedElsewhere = async (edit, refused) => {
    const readBefore = tagRef.current;
    try {
      const w = await refresh();
      editor.current.setText(w.draftText);
      setText(w.draftText);
      setSavedText(w.draftText);
      keepTag(w.tag);
      setErrors([]);
      if (refused === 'deploy') {
        setProblem({ title: 'Not deployed: the draft was changed elsewhere', detail: 'It was saved again since this page read it (in another tab, or with the CLI); the editor now shows it. Review it, then deploy again.', errors: [] });
      } else if (refused === 'delete') {
        setProblem({ title: 'Not deleted: the workflow was changed elsewhere', detail: 'Its draft was saved again since this page read it (in another tab, or with the CLI); the editor now shows it. Review it, then delete again if you still mean to.', errors: [] });
      }
      if (edit !== null && edit !== w.draftText) {
        unsaved.set(id, edit, readBefore);
        setStaleEdit(edit);
      } else if (refused === 'save') {
        setNote('The draft was saved elsewhere meanwhile, as you have it.');
      }
    } catch (e) {
      setProblem(e);
    }
  };

  /** The workflow read again after a write that was done (`done` says which): a read that
   * fails is said as such, never as the write's failure (the next refresh reads it again). */
  const refreshAfter = async (done) => {
    try {
      await refresh();
    } catch (e) {
      setProblem({ title: `${done}, but the page could not be refreshed`, detail: `${e.message}. The page reads it again within 10 s.`, errors: [] });
    }
  };

  const deploy = async () => {
    if (dirty && !(await save('deploy'))) return;
    setBusy('deploy');
    setProblem(null);
    changes.current += 1;
    // The text the deploy is of: what is typed while it is under way stays an edit.
    const deploying = editor.current.text();
    try {
      // The draft the page shows, saved: not one saved elsewhere since (a 412 then).
      const d = await apiIfMatch('POST', `/api/workflows/${enc(id)}/deploy`, undefined, tagRef.current);
      await refreshAfter('Deployed');
      setNote(`Deployed version ${d.deployed_version}.`);
    } catch (e) {
      if (e.status === 412) {
        const typed = editor.current.text();
        await savedElsewhere(typed !== deploying ? typed : null, 'deploy');
      }
      else if (e.status === 404) setGone(true);
      else {
        setErrors(e.errors || []);
        setProblem(e);
      }
    } finally {
      setBusy('');
    }
  };

  const undeploy = async () => {
    setBusy('undeploy');
    setProblem(null);
    try {
      await api('POST', `/api/workflows/${enc(id)}/undeploy`);
      await refreshAfter('Undeployed');
      setNote('Undeployed: its triggers are stopped.');
    } catch (e) {
      if (e.status === 404) setGone(true);
      else {
        setErrors(e.errors || []);
        setProblem(e);
      }
    } finally {
      setBusy('');
    }
  };

  const remove = async () => {
    setBusy('delete');
    setProblem(null);
    try {
      // Only the draft the page shows: not one saved elsewhere since (a 412 then).
      await apiIfMatch('DELETE', `/api/workflows/${enc(id)}`, undefined, tagRef.current);
      // Deleted: its unsaved changes go with it.
      unsaved.clear(id);
      if (onDirty) onDirty(id, false);
      go('/');
    } catch (e) {
      setBusy('');
      if (e.status === 412) await savedElsewhere(dirty ? editor.current.text() : null, 'delete');
      else if (e.status === 404) setGone(true);
      else {
        setErrors(e.errors || []);
        setProblem(e);
      }
    }
  };

  /** The kept edit over the newer draft, as unsaved changes; or dropped. */
  const restoreStale = () => {
    editor.current.setText(staleEdit);
    setText(staleEdit);
    setStaleEdit(null);
    setNote('Your unsaved changes were restored.');
    editor.current.view.focus();
  };
  const discardStale = () => {
    setStaleEdit(null);
    editor.current.view.focus();
  };

  /** A detected schema into the editor's own text as `trigger.request`, the other unsaved edits
   * kept: the editor then has unsaved changes. */
  const applyInEditor = (schema) => {
    const change = setMember(editor.current.view.state, ['trigger', 'request'], schema);
    if (!change) {
      throw { title: 'The schema could not be put into the editor', detail: 'The editor’s text is not valid JSON with a `trigger` object: fix it, or save, then apply again.', errors: [] };
    }
    editor.current.view.dispatch({ changes: change });
    setNote('The detected schema is in the editor as trigger.request: save to keep it.');
  };

  /** A new draft from elsewhere (a detected schema applied; the answer has it as `workflow`):
   * into the editor, saved — unless the text was edited meanwhile: then only the schema goes
   * into it, beside those edits. */
  const adopt = (answer) => {
    const t = exactPretty(answer, 'workflow', 'draft');
    const w = { ...answer.workflow, draftText: t };
    const edited = editor.current.text() !== savedText;
    changes.current += 1;
    setSavedText(t);
    keepTag(etagOf(answer));
    setWf((old) => ({ ...old, ...w }));
    if (edited) {
      applyInEditor(w.draft.trigger.request);
      return;
    }
    editor.current.setText(t);
    setText(t);
    setErrors([]);
  };

  if (loadError) return <Problem error={loadError} title="This workflow could not be loaded" />;
  if (!wf || text === null) return <Loading what="the workflow" />;

  // The problem's own errors, each at its line in the editor's text.
  const placed = problem && editor.current ? placeErrors(editor.current.view.state, problem.errors || []) : [];
  // The secrets and vars the saved draft reads that the Worker lacks; each location moves the
  // editor there.
  const unset = Array.isArray(wf.missing_secrets) ? wf.missing_secrets : [];
  const showIn = (e) => {
    if (!editor.current) return;
    editor.current.focusAt(placeErrors(editor.current.view.state, [e])[0].from);
  };
  const deployedDef = wf.deployed_definition;
  // The trigger that runs (the deployed version's), then the draft's when a deploy would switch.
  const live = wf.live_trigger_type || wf.trigger_type;
  const kinds = live === wf.trigger_type ? [live] : [live, wf.trigger_type];

  return (
    <section class="workflow">
      <div class="page-head">
        <div>
          <h1 class="wf-title">{wf.name}</h1>
          <p class="muted"><span class="mono">{wf.id}</span> · {live}{live !== wf.trigger_type ? <> (draft: {wf.trigger_type})</> : null} · <Status status={wf.status} />
            {wf.deployed_version ? <> · v{wf.deployed_version} deployed <Time iso={wf.deployed_at} /></> : null}</p>
        </div>
        <nav class="actions" aria-label="Workflow actions">
          <a class="button" href={`#/w/${enc(id)}/runs`}>Runs</a>
          <button type="button" ref={saveButton} onClick={() => { focusAfter(() => saveButton.current, 'save'); save(); }} disabled={!!busy || gone}>{busy === 'save' ? 'Saving…' : dirty ? 'Save draft' : 'Save'}</button>
          <button type="button" class="primary" ref={deployButton} onClick={() => { focusAfter(() => deployButton.current, 'save', 'deploy'); deploy(); }} disabled={!!busy || gone}>{busy === 'deploy' ? 'Deploying…' : 'Deploy'}</button>
          {/* Undeployed, its button is disabled: Deploy takes the focus. */}
          <button type="button" onClick={(e) => { const self = e.currentTarget; focusAfter(() => (self.disabled ? deployButton.current : self), 'undeploy'); undeploy(); }} disabled={wf.status !== 'deployed' || !!busy || gone}>Undeploy</button>
          <ConfirmButton label={busy === 'delete' ? 'Deleting…' : 'Delete'} confirmLabel="Really delete?" onConfirm={remove} disabled={!!busy}
            warning={wf.status === 'deployed'
              ? 'It is deployed: its triggers stop, and its runs, connections and test requests go with it.'
              : 'Its runs, connections and test requests go with it.'} />
        </nav>
      </div>
      {gone && <div class="problem" role="alert" id="gone"><strong>This workflow was deleted</strong>
        <p>It was deleted elsewhere (another tab, the CLI or the API): nothing can be saved to it. The editor keeps what it shows, to copy.</p></div>}
      <p class="note" role="status" aria-live="polite">{note}{dirty ? ' Unsaved changes.' : ''}</p>
      {staleEdit !== null && (
        <div class="problem" role="alert" id="stale-edit">
          <strong>The draft was changed since your unsaved edit</strong>
          <p>It was saved elsewhere meanwhile: the editor shows that draft. Your edit is kept in this tab until you choose.</p>
          <p class="actions">
            <button type="button" onClick={restoreStale}>Restore my edit</button>
            <button type="button" onClick={discardStale}>Discard it</button>
          </p>
        </div>
      )}
      {problem && (
        <div class="problem" role="alert" id="save-problem">
          <strong>{problem.title}</strong>
          {problem.detail ? <p>{problem.detail}</p> : null}
          {placed.length > 0 && (
            <ul class="error-list">
              {placed.map((e) => (
                <li><button type="button" class="link" data-line={e.line} onClick={() => editor.current.focusAt(e.from)}>
                  Line {e.line}</button>: <code>{e.location}</code> {e.message}</li>
              ))}
            </ul>
          )}
        </div>
      )}
      {unset.length > 0 && (
        <div class="problem" role="status" id="missing-secrets">
          <strong>The draft reads {new Set(unset.map((e) => e.name)).size === 1 ? 'a secret' : 'secrets'} this Worker does not have</strong>
          <p>Until each is set, what reads it fails (a run's step, a signature check, a sign-in, a poll). Set it with <code>wrangler secret put NAME</code>; locally, add a <code>NAME=value</code> line to <code>.dev.vars</code> and restart <code>scripts/dev</code>.</p>
          <ul class="error-list">
            {unset.map((e) => (
              <li data-secret={e.name}><code>{e.name}</code>, read at <button type="button" class="link" onClick={() => showIn(e)}><code>{e.location}</code></button></li>
            ))}
          </ul>
        </div>
      )}
      <div class="grid">
        <div class="col-editor">
          <h2 id="editor-label">Definition</h2>
          <Editor value={text} onChange={setText} errors={errors} apiRef={editor} label="Workflow definition (JSON)" />
          <details class="diff-box" open={wf.status === 'deployed' && wf.deployedText !== wf.draftText}>
            <summary>Draft vs deployed</summary>
            {deployedDef ? <Diff deployed={wf.deployedText} draft={wf.draftText} /> : <p class="muted">Not deployed yet: nothing to compare with.</p>}
          </details>
        </div>
        <div class="col-side">
          {gone ? null : <>
          {kinds.includes('endpoint') && <EndpointPanel wf={wf} dirty={dirty} tag={tag} onApplied={adopt} onRefused={() => {
            // Text typed while the schema was applied is kept, as a refused save's is.
            const typed = editor.current.text();
            return savedElsewhere(typed !== savedText ? typed : null, 'apply');
          }} applyInEditor={applyInEditor} />}
          {kinds.includes('schedule') && <SchedulePanel wf={wf} dirty={dirty} />}
          {kinds.includes('poll') && <PollPanel wf={wf} onChanged={refresh} />}
          {kinds.includes('oauth') && <OAuthPanel wf={wf} />}
          {!kinds.some((k) => ['endpoint', 'schedule', 'poll', 'oauth'].includes(k)) && <UrlRow label="API" url={`/api/workflows/${wf.id}`} />}
          </>}
        </div>
      </div>
    </section>
  );
}
