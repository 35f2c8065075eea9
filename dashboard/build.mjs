// Builds the dashboard into dashboard/dist (Workers Static Assets): one ES module bundle, one
// stylesheet, index.html and the _headers file with the Content-Security-Policy.
// Usage: node dashboard/build.mjs
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist');
// Files are overwritten in place: a running `wrangler dev` watches this directory.
mkdirSync(out, { recursive: true });

// codemirror-json-schema (the editor's checks and completion from the definition schema) reaches
// two modules the dashboard has no use for: a markdown renderer with a syntax highlighter, and
// the YAML and JSON5 parsers. Each is replaced by a small stand-in (src/shims/), which keeps the
// bundle within its budget (docs/dashboard.md).
const shims = {
  name: 'codemirror-json-schema-shims',
  setup(b) {
    const swap = (filter, file) => b.onResolve({ filter }, (a) =>
      /[\\/]codemirror-json-schema[\\/]/.test(a.importer) ? { path: join(here, 'src/shims', file) } : undefined);
    swap(/^\.\.\/utils\/markdown$/, 'markdown.js');
    swap(/^\.\.\/parsers$/, 'parsers.js');
  },
};

await build({
  entryPoints: { app: join(here, 'src/main.jsx'), 'app.css': join(here, 'styles.css') },
  outdir: out,
  entryNames: '[name]',
  bundle: true,
  format: 'esm',
  minify: true,
  target: ['chrome111', 'firefox115', 'safari16.4'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  loader: { '.json': 'text' },
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [shims],
});
// esbuild names a CSS entry `app.css.css`; keep the plain name.
renameSync(join(out, 'app.css.css'), join(out, 'app.css'));
for (const f of ['index.html', '_headers']) copyFileSync(join(here, f), join(out, f));
// The API's JSON documents, compacted: the Worker answers /api/openapi.json and
// /api/definition.schema.json from these copies (src/api/documents.rs), not from its wasm.
mkdirSync(join(out, 'api'), { recursive: true });
for (const f of ['openapi.json', 'definition.schema.json']) {
  const doc = JSON.parse(readFileSync(join(here, '../src/api', f), 'utf8'));
  writeFileSync(join(out, 'api', f), JSON.stringify(doc));
}
