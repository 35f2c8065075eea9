// Runs paging: 20 a page, "Older runs" brings the rest; a new run still appears at the top.
import { execFileSync } from 'node:child_process';
import { args, scenario, signIn } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.id}/runs`);
  await page.locator('tr[data-run]').first().waitFor();
  out.first_page = await page.locator('tr[data-run]').count();
  await page.getByRole('button', { name: 'Older runs' }).click();
  await page.locator('tr[data-run]').nth(out.first_page).waitFor();
  out.after_older = await page.locator('tr[data-run]').evaluateAll((rows) => rows.map((r) => r.dataset.run));
  out.older_button_left = await page.getByRole('button', { name: 'Older runs' }).count();
  const reply = execFileSync('curl', ['-s', '-X', 'POST', `${args.base}/hooks/${args.id}?source=partner`,
    '-H', 'content-type: application/json', '-d', '{"email":"late@example.com"}']).toString();
  out.new_run = JSON.parse(reply).run_id;
  await page.locator(`tr[data-run="${out.new_run}"]`).waitFor();
  out.after_new = await page.locator('tr[data-run]').evaluateAll((rows) => rows.map((r) => r.dataset.run));
});
