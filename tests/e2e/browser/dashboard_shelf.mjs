// Test shelf: a request to the test URL appears by itself; Detect schema proposes a schema;
// Apply puts it into the draft (and the editor) — or, with unsaved edits, into the editor's text
// beside them, stored with the next save; over a draft saved elsewhere since, nothing (412).
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { args, scenario, signIn, editorText, setEditorText, apiGet, apiPut, shot } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.id}`);
  await page.getByText('No test requests yet').waitFor();
  out.example_curl = await page.locator('code.example-curl').textContent();
  out.test_url_shown = await page.locator('code[data-url="Test URL"]').textContent();
  await page.getByRole('button', { name: 'Copy Test URL' }).click();
  await page.getByText('Copied').waitFor();
  out.clipboard = await page.evaluate(() => navigator.clipboard.readText());
  // Two requests signed GitHub-style: one with a wrong secret, then one with the right one.
  const send = (secret, body = JSON.stringify({ email: 'ada@example.com', age: 36, tags: ['a'] })) => {
    const sig = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
    return JSON.parse(execFileSync('curl', ['-s', '-X', 'POST', `${args.base}/hooks/${args.id}/test?source=shelf`,
      '-H', 'content-type: application/json', '-H', 'x-sender: dashboard-test',
      '-H', `x-hub-signature-256: ${sig}`, '-d', body]).toString());
  };
  out.capture_replies = [send('not-the-secret')];
  await page.locator('.test-request').first().waitFor();
  out.capture_replies.push(send(args.github_secret));
  await page.locator('.test-request').nth(1).waitFor();
  const req = page.locator('.test-request').first();
  out.shelf_text = await req.textContent();
  // The request whose signature fails has no parsed body: its kept bytes are shown.
  const failing = page.locator('.test-request').nth(1);
  out.raw_summary = await failing.locator('.raw-body summary').textContent();
  out.raw_text = await failing.locator('.raw-body pre').textContent();
  out.signatures = await page.locator('.test-request .sig').evaluateAll((els) => els.map((e) => e.dataset.sig));
  out.signature_texts = await page.locator('.test-request .sig').allTextContents();
  await shot(page, 'test-shelf');
  await page.getByRole('button', { name: 'Detect schema' }).click();
  await page.locator('.proposal').waitFor();
  out.proposal_text = await page.locator('.proposal pre.json').textContent();
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.locator('.proposal').waitFor({ state: 'detached' });
  out.editor_text = await editorText(page);

  // Unsaved edits, then the schema of a new request: Apply puts it beside them in the editor;
  // nothing is stored until Save.
  const { draft } = await apiGet(`/api/workflows/${args.id}`);
  out.applied_draft = draft;
  await setEditorText(page, JSON.stringify({ ...draft, name: 'Shelf, renamed' }, null, 2));
  await page.getByText('Unsaved changes').waitFor();
  out.capture_replies.push(send(args.github_secret, JSON.stringify({ email: 'bob@example.com', age: 7, plan: 'pro' })));
  await page.locator('.test-request').nth(2).waitFor();
  await page.getByRole('button', { name: 'Detect schema' }).click();
  await page.locator('.proposal').waitFor();
  out.dirty_proposal_note = await page.locator('.proposal p.muted').textContent();
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.locator('.proposal').waitFor({ state: 'detached' });
  out.dirty_apply_note = await page.locator('p.note').textContent();
  out.dirty_apply_stored = (await apiGet(`/api/workflows/${args.id}`)).draft;
  out.dirty_apply_editor = await editorText(page);
  await page.getByRole('button', { name: /^Save/ }).click();
  await page.getByText('Draft saved.').waitFor();
  out.saved_draft = (await apiGet(`/api/workflows/${args.id}`)).draft;

  // A query the live URL would refuse (not UTF-8 once decoded) is captured, and said so.
  execFileSync('curl', ['-s', '-X', 'POST', `${args.base}/hooks/${args.id}/test?n=%FF`, '-d', '{}']);
  await page.locator('.test-request').nth(3).waitFor();
  out.query_error_text = await page.locator('.test-request').first().locator('p.bad').first().textContent();

  // Saved elsewhere (another tab, the CLI) while the page shows its draft: Apply is refused and
  // the editor shows that draft; applied again, the schema goes into it.
  const before = (await apiGet(`/api/workflows/${args.id}`)).draft;
  await apiPut(`/api/workflows/${args.id}`, { ...before, name: 'Shelf, saved elsewhere', trigger: { ...before.trigger, request: {} } });
  await page.getByRole('button', { name: 'Detect schema' }).click();
  await page.locator('.proposal').waitFor();
  await page.getByRole('button', { name: 'Apply' }).click();
  const refused = page.locator('.problem', { hasText: 'Not applied: the draft was changed elsewhere' });
  await refused.waitFor({ timeout: 10_000 });
  out.elsewhere = {
    stored: (await apiGet(`/api/workflows/${args.id}`)).draft,
    editor_shows_theirs: (await editorText(page)).includes('Shelf, saved elsewhere'),
  };
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.locator('.proposal').waitFor({ state: 'detached' });
  out.elsewhere.then_stored = (await apiGet(`/api/workflows/${args.id}`)).draft;

  // Text typed while an Apply is under way, refused as saved elsewhere: kept for "Restore my
  // edit", as a refused save's is.
  const again = (await apiGet(`/api/workflows/${args.id}`)).draft;
  await page.getByRole('button', { name: 'Detect schema' }).click();
  await page.locator('.proposal').waitFor();
  // The Apply is held until the draft was saved elsewhere and text typed.
  let held;
  const heldUp = new Promise((r) => { held = r; });
  let release;
  const released = new Promise((r) => { release = r; });
  await page.route('**/detect-schema', async (route) => {
    if (!(route.request().postData() || '').includes('"apply":true')) return route.continue();
    held();
    await released;
    await route.continue();
  });
  await page.getByRole('button', { name: 'Apply' }).click();
  await heldUp;
  await apiPut(`/api/workflows/${args.id}`, { ...again, name: 'Shelf, saved elsewhere again' });
  await setEditorText(page, JSON.stringify({ ...again, name: 'Typed while applying' }, null, 2));
  release();
  await page.locator('.problem', { hasText: 'Not applied: the draft was changed elsewhere' }).waitFor({ timeout: 10_000 });
  await page.unroute('**/detect-schema');
  const notice = page.locator('#stale-edit');
  await notice.waitFor({ timeout: 10_000 });
  out.typed_during_apply = { editor_shows_theirs: (await editorText(page)).includes('Shelf, saved elsewhere again') };
  await page.getByRole('button', { name: 'Restore my edit', exact: true }).click();
  out.typed_during_apply.restored = (await editorText(page)).includes('Typed while applying');
});
