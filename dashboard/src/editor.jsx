// The definition editor: CodeMirror 6 with JSON support, parse errors as you type, the definition
// schema's errors and completions as you type (the schema the API serves), and the API's
// problem+json errors drawn at their location in the text.
import { useEffect, useRef } from 'preact/hooks';
import { EditorView, basicSetup } from 'codemirror';
import { highlightSpecialChars } from '@codemirror/view';
import { Compartment, EditorState, StateEffect, StateField } from '@codemirror/state';
import { json, jsonLanguage, jsonParseLinter } from '@codemirror/lang-json';
import { linter, lintGutter, forceLinting } from '@codemirror/lint';
import { syntaxHighlighting } from '@codemirror/language';
import { classHighlighter } from '@lezer/highlight';
import { jsonCompletion, getJSONSchema, handleRefresh, stateExtensions, updateSchema } from 'codemirror-json-schema';
import { Draft04 } from 'json-schema-library';
import { locate } from './jsonpath.js';
import { placeSchemaErrors } from './schema.js';

const setServerErrors = StateEffect.define();
const serverErrors = StateField.define({
  create: () => [],
  update(value, tr) {
    for (const e of tr.effects) if (e.is(setServerErrors)) return e.value;
    return value;
  },
});

const parseLint = jsonParseLinter();

/** The definition schema, fetched once per page (no token needed; ~15 KiB gzipped). */
let schemaPromise;
export function definitionSchema() {
  schemaPromise ||= fetch('/api/definition.schema.json')
    .then((r) => (r.ok ? r.json() : null))
    .catch(() => null);
  return schemaPromise;
}

// Checks the text against the definition schema as you type: an unknown step `type`, a missing
// field, a value of the wrong kind, each drawn where `locate` puts the API's own errors (the
// API's check on save stays the last word). The validator is the one codemirror-json-schema
// uses; its own linter marks an array element at the token after it. A trigger or a step is
// checked as the kind its `type` names (`placeSchemaErrors`).
let compiled = { schema: null, draft: null };
const schemaLinter = linter((view) => {
  const schema = getJSONSchema(view.state);
  if (!schema) return [];
  let data;
  try { data = JSON.parse(view.state.doc.toString()); } catch { return []; } // the parse linter's
  if (compiled.schema !== schema) compiled = { schema, draft: new Draft04(schema) };
  let errors = [];
  try { errors = placeSchemaErrors(compiled.draft, compiled.draft.validate(data), data); } catch { return []; }
  const seen = new Set();
  return errors.filter((e) => !seen.has(`${e.pointer} ${e.message}`) && seen.add(`${e.pointer} ${e.message}`)).map((e) => {
    const r = locate(view.state, e.pointer, { key: e.key }) || { from: 0, to: Math.min(1, view.state.doc.length) };
    return {
      from: r.from,
      to: Math.max(r.to, r.from),
      severity: 'error',
      source: 'definition schema',
      message: `${e.pointer || '/'}: ${e.message}`,
    };
  });
}, { delay: 300, needsRefresh: handleRefresh });

/** Where each API error sits in `state`'s text: [{location, message, from, to, line, exact}]. */
export function placeErrors(state, errors) {
  return errors.map((e) => {
    const r = locate(state, e.location) || { from: 0, to: Math.min(1, state.doc.length), exact: false };
    return { ...e, from: r.from, to: Math.max(r.to, r.from), exact: r.exact, line: state.doc.lineAt(r.from).number };
  });
}

const apiLinter = linter((view) => {
  const out = parseLint(view).map((d) => ({ ...d, message: `JSON syntax: ${d.message}` }));
  for (const e of placeErrors(view.state, view.state.field(serverErrors))) {
    out.push({ from: e.from, to: e.to, severity: 'error', source: e.location, message: `${e.location}: ${e.message}` });
  }
  return out;
}, {
  delay: 300,
  // New errors from the API re-run the linter even when the text did not change.
  needsRefresh: (update) => update.transactions.some((tr) => tr.effects.some((e) => e.is(setServerErrors))),
});

// The editor's colours, from the page's (styles.css). A rule in styles.css loses to CodeMirror's
// own base theme, whose light and dark variants are the more specific; a theme made here wins over
// it. The theme also tells CodeMirror whether it is dark, so that what is left to its base theme
// (the selection, the caret, the search panel) has the dark variant in dark mode.
const colours = {
  '.cm-gutters': { backgroundColor: 'var(--panel)', color: 'var(--muted)', borderRight: '1px solid var(--line)' },
  '.cm-activeLine, .cm-activeLineGutter': { backgroundColor: 'color-mix(in srgb, var(--accent) 8%, transparent)' },
  '.cm-cursor, .cm-dropCursor': { borderLeftColor: 'var(--fg)' },
  '.cm-tooltip': { backgroundColor: 'var(--panel)', color: 'var(--fg)', border: '1px solid var(--line)' },
  '.cm-tooltip-section:not(:first-child)': { borderTopColor: 'var(--line)' },
  '.cm-tooltip-autocomplete ul li[aria-selected]': { background: 'var(--accent)', color: 'var(--accent-fg)' },
};
const themes = { light: EditorView.theme(colours), dark: EditorView.theme(colours, { dark: true }) };
const darkScheme = matchMedia('(prefers-color-scheme: dark)');
const themeOf = (dark) => (dark ? themes.dark : themes.light);

/** Props: value (initial text), onChange(text), errors ([{location,message}]), apiRef (gets {view, setText, focusAt}). */
export function Editor({ value, onChange, errors, apiRef, label }) {
  const host = useRef(null);
  const view = useRef(null);
  const changeRef = useRef(onChange);
  changeRef.current = onChange;

  useEffect(() => {
    // The editor lives in a shadow root: there CodeMirror's generated styles go into adopted
    // stylesheets, which the Content-Security-Policy allows without 'unsafe-inline'.
    const shadow = host.current.shadowRoot || host.current.attachShadow({ mode: 'open' });
    const sheet = document.createElement('link');
    sheet.rel = 'stylesheet';
    sheet.href = '/app.css';
    const theme = new Compartment();
    const parent = document.createElement('div');
    parent.className = 'editor-root';
    shadow.replaceChildren(sheet, parent);
    const v = new EditorView({
      parent,
      root: shadow,
      state: EditorState.create({
        doc: value,
        extensions: [
          basicSetup,
          // The direction controls CodeMirror does not mark by default, marked like the others.
          highlightSpecialChars({ addSpecialChars: /[\u202a-\u202c\u2068]/ }),
          theme.of(themeOf(darkScheme.matches)),
          json(),
          syntaxHighlighting(classHighlighter),
          serverErrors,
          apiLinter,
          stateExtensions(undefined),
          schemaLinter,
          jsonLanguage.data.of({ autocomplete: schemaCompletion() }),
          lintGutter(),
          EditorView.contentAttributes.of({ 'aria-label': label || 'Workflow definition (JSON)' }),
          EditorView.updateListener.of((u) => { if (u.docChanged) changeRef.current?.(u.state.doc.toString()); }),
        ],
      }),
    });
    view.current = v;
    // The colour scheme changed while the page is open (the system's dark mode at dusk).
    const follow = (e) => v.dispatch({ effects: theme.reconfigure(themeOf(e.matches)) });
    darkScheme.addEventListener('change', follow);
    let live = true;
    definitionSchema().then((schema) => { if (schema && live) updateSchema(v, schema); });
    if (apiRef) {
      apiRef.current = {
        view: v,
        text: () => v.state.doc.toString(),
        setText(t) { v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: t } }); },
        focusAt(pos) { v.dispatch({ selection: { anchor: pos }, scrollIntoView: true }); v.focus(); },
      };
    }
    return () => { live = false; darkScheme.removeEventListener('change', follow); v.destroy(); };
  }, []);

  useEffect(() => {
    const v = view.current;
    if (!v) return;
    v.dispatch({ effects: setServerErrors.of(errors || []) });
    forceLinting(v);
  }, [errors]);

  return <div class="editor" ref={host} />;
}

// The schema's completions. Before the schema has loaded, codemirror-json-schema's source answers
// `[]` where the editor expects a result or null, and the editor throws reading its options (a
// page error when one types at once): no completions until then.
function schemaCompletion() {
  const complete = jsonCompletion();
  return (ctx) => {
    const result = complete(ctx);
    return Array.isArray(result) ? null : result;
  };
}
