// Runs paging: 20 a page, "Older runs" brings the rest; a new run still appears at the top.
import { execFileSync } from 'node:child_process';
import { args, scenario, signIn } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.id}/runs`);
  await page.locator('tr[data-run]').first().waitFor();
  out.first_page = await page.locator('tr[data-run]').count();
  // A refresh that fails keeps the runs on screen with a note, gone at the next good answer.
  let refused = false;
  const refuseOnce = (route) => {
    if (refused) return route.continue();
    refused = true;
    return route.fulfill({ status: 503, contentType: 'application/problem+json',
      body: JSON.stringify({ type: 'about:blank', title: 'Service Unavailable', status: 503 }) });
  };
  const firstPage = (url) => url.pathname === `/api/workflows/${args.id}/runs` && !url.searchParams.has('cursor');
  await page.route(firstPage, refuseOnce);
  await page.locator('.stale').waitFor();
  out.stale_rows = await page.locator('tr[data-run]').count();
  out.stale_problem_boxes = await page.locator('.problem').count();
  await page.locator('.stale').waitFor({ state: 'detached' });
  await page.unroute(firstPage, refuseOnce);
  // The first try fails: the problem stays through the list's refreshes (every 1.5 s).
  let failed = false;
  await page.route((url) => url.pathname === `/api/workflows/${args.id}/runs` && url.searchParams.has('cursor'), (route) => {
    if (failed) return route.continue();
    failed = true;
    return route.fulfill({ status: 503, contentType: 'application/problem+json',
      body: JSON.stringify({ type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'Older page refused by the test.' }) });
  });
  // Pressed from the keyboard: the focus stays on the button while the page loads and after
  // (it is not the last page yet), not dropped to the page's body.
  await page.getByRole('button', { name: 'Older runs' }).focus();
  await page.keyboard.press('Enter');
  const problem = page.locator('.problem', { hasText: 'Older page refused by the test.' });
  await problem.waitFor();
  out.focus_after_failed_more = await page.evaluate(() => {
    const a = document.activeElement;
    return a && a.tagName === 'BUTTON' ? a.textContent : a && a.tagName;
  });
  await page.waitForTimeout(2500);
  out.more_problem_after_refreshes = await problem.count();
  await page.getByRole('button', { name: 'Older runs' }).click();
  await page.locator('tr[data-run]').nth(out.first_page).waitFor();
  out.more_problem_after_success = await problem.count();
  out.after_older = await page.locator('tr[data-run]').evaluateAll((rows) => rows.map((r) => r.dataset.run));
  out.older_button_left = await page.getByRole('button', { name: 'Older runs' }).count();
  // The button went with the last page: the focus it had is on the last run's link.
  out.focus_after_last_page = await page.evaluate(() => {
    const row = document.activeElement && document.activeElement.closest('tr[data-run]');
    return row ? row.dataset.run : document.activeElement ? document.activeElement.tagName : null;
  });
  const reply = execFileSync('curl', ['-s', '-X', 'POST', `${args.base}/hooks/${args.id}?source=partner`,
    '-H', 'content-type: application/json', '-d', '{"email":"late@example.com"}']).toString();
  out.new_run = JSON.parse(reply).run_id;
  await page.locator(`tr[data-run="${out.new_run}"]`).waitFor();
  out.after_new = await page.locator('tr[data-run]').evaluateAll((rows) => rows.map((r) => r.dataset.run));
});
