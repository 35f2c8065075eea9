// Shared by the dashboard scenarios: headless Chromium with a fresh profile, the admin sign-in,
// and what every scenario reports (CSP violations, dialogs, page errors).
// A scenario is `node SCRIPT.mjs '<json args>'` and prints one JSON line; exit 0 when it ran through.
import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const args = JSON.parse(process.argv[2] || '{}');

/** Runs `scenario(page, out)` in a fresh browser and prints `out` as JSON. */
export async function scenario(fn) {
  const profile = mkdtempSync(join(tmpdir(), 'tripline-chromium-'));
  const out = { ok: false, csp_violations: [], dialogs: [], page_errors: [] };
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 900 },
      colorScheme: 'light',
      permissions: ['clipboard-read', 'clipboard-write'],
      timeout: 60_000,
    });
    await context.exposeBinding('__tripline_csp', (_src, v) => out.csp_violations.push(v));
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        window.__tripline_csp(`${e.effectiveDirective} ${e.blockedURI}`);
      });
    });
    const page = context.pages()[0] || await context.newPage();
    page.setDefaultTimeout(30_000);
    // A first load of the dashboard can wait behind a busy local instance (other tests share it).
    page.setDefaultNavigationTimeout(90_000);
    page.on('dialog', (d) => { out.dialogs.push(d.message()); d.dismiss().catch(() => {}); });
    page.on('pageerror', (e) => out.page_errors.push(String(e.message || e)));
    await fn(page, out);
    out.ok = true;
  } catch (e) {
    out.error = String((e && e.stack) || e);
  } finally {
    if (context) await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
  console.log(JSON.stringify(out));
  process.exit(out.ok ? 0 : 1);
}

/** Opens the dashboard and signs in with the admin token. */
export async function signIn(page, base = args.base, token = args.token) {
  // Until the app's scripts have run ('domcontentloaded'), not every subresource ('load'): under
  // a busy local instance one slow asset request must not hold the sign-in. A first load that
  // still times out is tried once more (the assertions that follow are unchanged).
  const open = () => page.goto(`${base}/`, { waitUntil: 'domcontentloaded' });
  try {
    await open();
  } catch (e) {
    if (!String(e).includes('Timeout')) throw e;
    await open();
  }
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Workflows' }).waitFor();
}

/** Replaces the whole text of the definition editor, as typing would. */
export async function setEditorText(page, text) {
  await page.locator('.cm-content').click();
  await page.keyboard.press('Control+a');
  await page.keyboard.insertText(text);
}

/** Sets the editor's text, puts the caret `into` characters into the first `needle` in it, and
 * opens the completion there (Ctrl-Space), once its list is shown. */
export async function completeAt(page, text, needle, into) {
  await setEditorText(page, text);
  const at = text.indexOf(needle) + into;
  await page.keyboard.press('Control+End');
  for (let i = 0; i < text.length - at; i++) await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('Control+Space');
  await page.locator('.cm-tooltip-autocomplete').waitFor();
}

export async function editorText(page) {
  return page.evaluate(() => {
    const root = document.querySelector('.editor').shadowRoot;
    return [...root.querySelectorAll('.cm-line')].map((l) => l.textContent).join('\n');
  });
}

export async function shot(page, name) {
  if (!args.shots) return;
  mkdirSync(args.shots, { recursive: true });
  await page.screenshot({ path: join(args.shots, `${name}.png`) });
}

/** The management API from the test itself (to read what the dashboard did). */
export async function apiGet(path) {
  const r = await fetch(`${args.base}${path}`, { headers: { authorization: `Bearer ${args.token}` } });
  if (!r.ok) throw new Error(`GET ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

/** Saves a draft through the management API, as another tab or the CLI would. */
export async function apiPut(path, body) {
  const r = await fetch(`${args.base}${path}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${args.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`PUT ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}
