// The main path: create from the endpoint template, break it (error shown at its line), fix,
// save, deploy, send a request with curl, see the run appear live, open it, replay it, and see
// the draft's diff against the deployed version.
import { execFileSync } from 'node:child_process';
import { args, scenario, signIn, setEditorText, editorText, shot, apiGet, completeAt } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await signIn(page);
  await page.getByLabel('Template').selectOption('endpoint');
  await page.getByRole('button', { name: 'New workflow' }).click();
  await page.locator('.wf-title').waitFor();
  await page.locator('.cm-content').waitFor();
  out.id = decodeURIComponent(new URL(page.url()).hash.split('/')[2]);
  const wf = await apiGet(`/api/workflows/${out.id}`);

  // The definition schema (served by the API) checks as you type, before any save: a step of a
  // type that does not exist is marked at that type, with the schema's message (the types there
  // are) when the mark is hovered.
  const unknownType = structuredClone(wf.draft);
  unknownType.steps[0].type = 'sms';
  const unknownText = JSON.stringify(unknownType, null, 2);
  out.schema_expected_line = unknownText.split('\n').findIndex((l) => l.includes('"sms"')) + 1;
  await setEditorText(page, unknownText);
  await page.locator('.cm-lintRange-error').first().waitFor();
  out.schema_lint = await page.evaluate(() => {
    const root = document.querySelector('.editor').shadowRoot;
    const lines = [...root.querySelectorAll('.cm-content > .cm-line')];
    return [...root.querySelectorAll('.cm-lintRange-error')].map((r) => ({
      line: lines.indexOf(r.closest('.cm-line')) + 1,
      text: r.textContent,
    }));
  });
  await page.locator('.cm-lintRange-error').first().hover();
  await page.locator('.cm-tooltip-lint').first().waitFor();
  out.schema_messages = await page.locator('.cm-tooltip-lint .cm-diagnostic').allTextContents();
  out.schema_errors_listed = await page.locator('.error-list li').count();
  // Completion from the schema: inside a step's empty `type`, the step kinds.
  const blank = JSON.stringify({ ...wf.draft, steps: [{ type: '' }] }, null, 2);
  await completeAt(page, blank, '"type": ""', '"type": "'.length);
  out.schema_completions = await page.locator('.cm-tooltip-autocomplete .cm-completionLabel').allTextContents();
  await page.keyboard.press('Escape');
  // The template as it is: no schema error.
  await setEditorText(page, JSON.stringify(wf.draft, null, 2));
  await page.locator('.cm-lintRange-error').first().waitFor({ state: 'detached' });
  await page.waitForTimeout(1000);
  out.schema_lint_after_fix = await page.locator('.cm-lintRange-error').count();

  // An error the API finds (a template root that does not exist), not the JSON parser.
  const broken = structuredClone(wf.draft);
  broken.steps[0].message = 'hello {{nope.value}}';
  const brokenText = JSON.stringify(broken, null, 2);
  out.expected_line = brokenText.split('\n').findIndex((l) => l.includes('{{nope.value}}')) + 1;
  await setEditorText(page, brokenText);
  await page.getByRole('button', { name: /^Save/ }).click();
  const item = page.locator('.error-list li').first();
  await item.waitFor();
  out.error_list_text = await item.textContent();
  out.error_list_line = Number(await item.locator('button[data-line]').getAttribute('data-line'));
  await page.locator('.cm-lintRange-error').first().waitFor();
  out.lint_line = await page.evaluate(() => {
    const root = document.querySelector('.editor').shadowRoot;
    const line = root.querySelector('.cm-lintRange-error').closest('.cm-line');
    return [...root.querySelectorAll('.cm-content > .cm-line')].indexOf(line) + 1;
  });
  out.lint_text = await page.evaluate(() => document.querySelector('.editor').shadowRoot.querySelector('.cm-lintRange-error').textContent);
  await shot(page, 'workflow-error');

  // Fix, save, deploy.
  await setEditorText(page, JSON.stringify(wf.draft, null, 2));
  await page.getByRole('button', { name: /^Save/ }).click();
  await page.getByText('Draft saved.').waitFor();
  out.errors_after_fix = await page.locator('.error-list li').count();
  await page.getByRole('button', { name: 'Deploy', exact: true }).click();
  await page.getByText('Deployed version 1.').waitFor();
  await shot(page, 'workflow-endpoint');

  // Runs page, then a request from outside: the run shows up without a reload.
  await page.getByRole('link', { name: 'Runs', exact: true }).click();
  await page.getByText('No runs yet').waitFor();
  await page.evaluate(() => { window.__same_document = true; });
  const reply = execFileSync('curl', ['-s', '-X', 'POST', `${args.base}/hooks/${out.id}?source=website`,
    '-H', 'content-type: application/json', '-d', '{"email":"ada@example.com"}']).toString();
  out.run_id = JSON.parse(reply).run_id;
  const row = page.locator(`tr[data-run="${out.run_id}"]`);
  await row.waitFor();
  out.live_without_reload = await page.evaluate(() => window.__same_document === true);
  await row.locator('.badge.s-succeeded').waitFor();
  await shot(page, 'runs');
  // The status filter: no failed run; the succeeded one.
  await page.getByLabel('Status').selectOption('failed');
  out.failed_filter_text = await page.getByText('No failed runs.').textContent();
  // The filter is in the address: a reload shows the same list.
  out.filtered_hash = await page.evaluate(() => location.hash);
  await page.reload({ waitUntil: 'domcontentloaded' });
  await page.getByText('No failed runs.').waitFor();
  out.filter_after_reload = await page.getByLabel('Status').inputValue();
  // A link to the same page with another filter: the filter follows it.
  await page.evaluate((h) => { location.hash = h; }, `#/w/${out.id}/runs?status=succeeded`);
  await page.waitForFunction(() => document.getElementById('status-filter').value === 'succeeded', null, { timeout: 10_000 }).catch(() => {});
  out.filter_after_link = await page.getByLabel('Status').inputValue();
  await page.getByLabel('Status').selectOption('succeeded');
  await row.waitFor();
  out.succeeded_filter_rows = await page.locator('tr[data-run]').count();

  // Open the run: its steps.
  await row.getByRole('link').click();
  const step = page.locator('.step[data-step="note"]');
  await step.locator('.badge.s-succeeded').waitFor();
  out.step_text = await step.textContent();
  out.input_text = await page.locator('pre.json').first().textContent();
  await shot(page, 'run');

  // Replay: a new run, shown at once.
  await page.getByRole('button', { name: 'Replay' }).click();
  await page.waitForURL((u) => !u.hash.includes(out.run_id));
  out.replay_run_id = decodeURIComponent(new URL(page.url()).hash.split('/')[2]);
  await page.locator('.step[data-step="note"] .badge.s-succeeded').waitFor();
  out.replay_heading = await page.getByRole('heading', { level: 1 }).textContent();

  // Draft vs deployed: rename, save, see the change.
  await page.goto(`${args.base}/#/w/${out.id}`);
  await page.locator('.cm-content').waitFor();
  await page.locator('[data-diff="same"]').waitFor({ state: 'attached' });
  const renamed = structuredClone(wf.draft);
  renamed.name = 'Lead created (v2)';
  await setEditorText(page, JSON.stringify(renamed, null, 2));
  // The skip link, with the edit not saved yet: focus moves to the content, the route stays.
  const hashBeforeSkip = new URL(page.url()).hash;
  await page.locator('a.skip').focus();
  await page.keyboard.press('Enter');
  await page.waitForTimeout(200);
  out.skip_hash_before = hashBeforeSkip;
  out.skip_hash_after = new URL(page.url()).hash;
  out.skip_focus = await page.evaluate(() => document.activeElement.id);
  out.skip_kept_edit = (await editorText(page)).includes('Lead created (v2)');
  await page.getByRole('button', { name: /^Save/ }).click();
  await page.getByText('Draft saved.').waitFor();
  await page.locator('pre.diff').waitFor({ state: 'attached' });
  out.diff_added = await page.locator('pre.diff .add').allTextContents();
  out.diff_removed = await page.locator('pre.diff .del').allTextContents();
  out.editor_text = await editorText(page);

  // Undeploy: the production URL stops at once.
  await page.getByRole('button', { name: 'Undeploy' }).click();
  await page.getByText('Undeployed: its triggers are stopped.').waitFor();
  out.status_after_undeploy = await page.locator('.workflow .page-head .badge').first().textContent();
});
