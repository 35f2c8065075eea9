// The runs list is of one workflow and one status filter: an answer still in flight when the
// filter changed is dropped, and another workflow's runs page starts empty.
import { args, scenario, signIn } from './dashboard_lib.mjs';

const ids = (page) => page.locator('tr[data-run]').evaluateAll((rows) => rows.map((r) => r.dataset.run));

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.a}/runs`);
  await page.locator('tr[data-run]').first().waitFor();
  // Hold the next refresh of the unfiltered list until the filter has changed.
  let held;
  const caught = new Promise((resolve) => {
    page.route((url) => url.pathname === `/api/workflows/${args.a}/runs` && !url.searchParams.has('status'), (route) => {
      if (held) return route.continue();
      held = route;
      return resolve();
    });
  });
  await caught;
  // From now on, every row the table ever shows is recorded.
  await page.evaluate(() => {
    window.__rows = [];
    new MutationObserver(() => {
      for (const r of document.querySelectorAll('tr[data-run]')) window.__rows.push(r.dataset.run);
    }).observe(document.getElementById('main'), { childList: true, subtree: true });
  });
  await page.getByLabel('Status').selectOption('failed');
  await page.getByText('No failed runs.').waitFor();
  const answered = page.waitForResponse((r) => r.request() === held.request());
  await held.continue();
  await answered;
  await page.waitForTimeout(2000);
  out.rows_while_failed = await page.evaluate(() => [...new Set(window.__rows)]);
  out.failed_empty_text = await page.locator('.empty').textContent();

  // Straight from A's runs page to B's.
  await page.getByLabel('Status').selectOption('');
  await page.locator('tr[data-run]').first().waitFor();
  out.a_rows = await ids(page);
  await page.evaluate((b) => { location.hash = `#/w/${b}/runs`; }, args.b);
  await page.locator(`a.wf-name[href="#/w/${args.b}"]`).waitFor();
  await page.locator(`tr[data-run="${args.b_newest}"]`).waitFor();
  await page.waitForTimeout(3500);
  out.b_rows = await ids(page);
});
