// Tripline dashboard: sign in, then workflows, their editor and triggers, and runs.
import { options, render } from 'preact';
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, token, unsaved, setUnauthorizedHandler } from './api.js';
import { useRoute, go, Problem } from './ui.jsx';
import { WorkflowList } from './pages/list.jsx';
import { WorkflowPage } from './pages/workflow.jsx';
import { RunsPage, RunPage } from './pages/runs.jsx';
import { showDirectionControls } from './visible.js';

showDirectionControls(options);

function SignIn({ onSignedIn, reason }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState(reason || null);
  const [busy, setBusy] = useState(false);
  const submit = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api('GET', '/api/workflows?limit=1', undefined, value.trim());
      token.set(value.trim());
      onSignedIn();
    } catch (e) {
      setError(e.status === 401
        ? { title: 'Wrong admin token', detail: 'Tripline did not accept this token. Use the ADMIN_TOKEN of this deployment (scripts/dev prints the local one).', errors: [] }
        : e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin" tabIndex={-1}>
      <h1>Tripline</h1>
      <form onSubmit={submit}>
        <label for="admin-token">Admin token</label>
        <input id="admin-token" name="admin-token" type="password" autocomplete="current-password"
          required value={value} onInput={(e) => setValue(e.currentTarget.value)} />
        <button type="submit" disabled={busy || !value.trim()}>{busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
      <Problem error={error} />
      <p class="hint">The token stays in this tab (sessionStorage) and is sent only to this site.</p>
    </main>
  );
}

/** Asks before unsaved edits are dropped: Discard goes on (`proceed`), Stay keeps the page and
 * puts the focus back where it was. */
function LeaveBar({ onDiscard, onStay }) {
  const stay = useRef(null);
  useEffect(() => { stay.current.focus(); }, []);
  return (
    <div class="leave-bar" role="alertdialog" aria-labelledby="leave-q"
      onKeyDown={(e) => { if (e.key === 'Escape') onStay(); }}>
      <p id="leave-q"><strong>Unsaved changes</strong> — leave and discard them?</p>
      <button type="button" class="danger" onClick={onDiscard}>Discard</button>
      <button type="button" ref={stay} onClick={onStay}>Stay</button>
    </div>
  );
}

/** A route no page has (a mistyped or cut link): said, with the way back. */
function NoSuchPage() {
  useEffect(() => { document.title = 'No such page · Tripline'; }, []);
  return (
    <div class="problem" role="alert">
      <strong>No such page</strong>
      <p>Nothing is at <code>{location.hash}</code>. See <a href="#/">the workflows</a>.</p>
    </div>
  );
}

function App() {
  const [signedIn, setSignedIn] = useState(!!token.get());
  const [reason, setReason] = useState(null);
  // The workflow whose editor has unsaved changes, or null; read synchronously when the route
  // changes and when the page unloads, so it is a ref.
  const unsavedId = useRef(null);
  const onDirty = useCallback((id, d) => {
    if (d) unsavedId.current = id;
    else if (unsavedId.current === id) unsavedId.current = null;
  }, []);
  // A step held back by unsaved changes: { proceed, from (the element focused before) }.
  const [leaving, setLeaving] = useState(null);
  const holdFor = (proceed) => {
    if (!unsavedId.current) return false;
    setLeaving((old) => ({ proceed, from: old ? old.from : document.activeElement }));
    return true;
  };
  const route = useRoute((hash, redo) => holdFor(redo));
  useEffect(() => {
    setUnauthorizedHandler((e) => {
      token.clear();
      setLeaving(null);
      setReason({ title: 'Signed out', detail: `The admin token was refused (${e.detail || e.title}). Sign in again.`, errors: [] });
      setSignedIn(false);
    });
  }, []);
  useEffect(() => {
    const ask = (e) => {
      if (!unsavedId.current) return;
      e.preventDefault();
      e.returnValue = '';
    };
    addEventListener('beforeunload', ask);
    return () => removeEventListener('beforeunload', ask);
  }, []);
  // Signing in shows the page asked for: it takes the focus, as a page load would.
  const wasSignedIn = useRef(signedIn);
  useLayoutEffect(() => {
    if (signedIn && !wasSignedIn.current) document.getElementById('main')?.focus();
    wasSignedIn.current = signedIn;
  }, [signedIn]);
  // A new page takes the focus, as a page load would (not the first one).
  const path = route.join('/');
  const shownPath = useRef(path);
  useLayoutEffect(() => {
    if (shownPath.current === path) return;
    shownPath.current = path;
    document.getElementById('main')?.focus();
  }, [path]);
  if (!signedIn) return <SignIn reason={reason} onSignedIn={() => { setReason(null); setSignedIn(true); }} />;
  const signOut = () => {
    if (holdFor(signOut)) return;
    token.clear();
    unsaved.clearAll();
    setReason(null);
    setSignedIn(false);
    go('/');
  };
  const discard = () => {
    if (unsavedId.current) unsaved.clear(unsavedId.current);
    unsavedId.current = null;
    setLeaving(null);
    leaving.proceed();
  };
  const stay = () => {
    setLeaving(null);
    if (leaving.from && leaving.from.isConnected) leaving.from.focus();
  };
  let page;
  const [first, id, rest] = route;
  if (route.length === 0) page = <WorkflowList />;
  else if (first === 'w' && id && rest === 'runs' && route.length === 3) page = <RunsPage id={id} key={id} />;
  else if (first === 'w' && id && route.length === 2) page = <WorkflowPage id={id} key={id} onDirty={onDirty} />;
  else if (first === 'runs' && id && route.length === 2) page = <RunPage runId={id} key={id} />;
  else page = <NoSuchPage />;
  return (
    <>
      <header class="top">
        <a class="brand" href="#/">Tripline</a>
        <nav aria-label="Main"><a href="#/">Workflows</a></nav>
        <button type="button" class="link" onClick={signOut}>Sign out</button>
      </header>
      {leaving && <LeaveBar onDiscard={discard} onStay={stay} />}
      <main id="main" tabIndex={-1}>{page}</main>
    </>
  );
}

// The skip link (index.html) moves focus to the page's content. Following its `#main` would
// change the hash, which is the route: it would open the workflow list and drop unsaved edits.
document.querySelector('a.skip')?.addEventListener('click', (e) => {
  e.preventDefault();
  document.querySelector('main')?.focus();
});

const root = document.getElementById('app');
root.textContent = '';
render(<App />, root);
