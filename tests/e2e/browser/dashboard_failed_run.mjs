// A failed run's page says its error in words and shows the request its step sent and the answer it failed on, and the steps it never reached; its boxes of JSON are named. Its workflow's runs
// page, when the workflow is deleted while shown, says so (not "trying again").
import { args, scenario, signIn } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/runs/${args.run}`);
  await page.locator('.run-error').waitFor();
  out.run_error = await page.locator('.run-error p').textContent();
  out.step_error = await page.locator('.step[data-step="bad_call"] p.bad').textContent();
  out.input_label = await page.locator('pre.json').last().getAttribute('aria-label');
  // The answer the step failed on, under its own title.
  const step = page.locator('.step[data-step="bad_call"]');
  out.step_answer_title = (await step.locator('details[open] summary').count()) ? await step.locator('details[open] summary').textContent() : null;
  out.step_answer = (await step.locator('details[open] pre.json').count()) ? await step.locator('details[open] pre.json').textContent() : null;
  // What it sent, to read why it failed.
  out.step_request_line = (await step.locator('.request-line').count()) ? await step.locator('.request-line').textContent() : null;
  // The steps after it, never reached.
  await page.locator('.step.unreached').first().waitFor({ timeout: 10_000 }).catch(() => {});
  out.unreached = await page.locator('.step.unreached').evaluateAll((els) => els.map((e) => `${e.dataset.step}: ${e.dataset.state}`));

  await page.goto(`${args.base}/#/w/${args.workflow}/runs`);
  await page.locator(`tr[data-run="${args.run}"]`).waitFor();
  out.list_error = await page.locator(`tr[data-run="${args.run}"] td.run-list-error`).textContent();
  const r = await fetch(`${args.base}/api/workflows/${args.workflow}`, { method: 'DELETE', headers: { authorization: `Bearer ${args.token}` } });
  out.deleted = r.status;
  await page.locator('.problem', { hasText: 'This workflow was deleted' }).waitFor({ timeout: 15_000 }).catch(() => {});
  out.runs_page_problems = await page.locator('.problem, .stale').allTextContents();
});
