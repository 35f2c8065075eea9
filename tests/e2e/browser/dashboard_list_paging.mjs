// Workflow list paging: "Load more workflows" brings the next page, and the list's refresh of
// its first page (every 10 s) keeps it; the filter finds a workflow of the second page.
import { args, scenario, signIn } from './dashboard_lib.mjs';

const ids = (page) => page.locator('tr[data-id]').evaluateAll((rows) => rows.map((r) => r.dataset.id));

await scenario(async (page, out) => {
  // Each read of a workflow's own resource (a row's details) is held 300 ms: the most held at
  // once is how many the list sends at once.
  let held = 0;
  out.most_detail_reads = 0;
  await page.route((url) => /^\/api\/workflows\/wf_[^/]+$/.test(url.pathname), async (route) => {
    held += 1;
    out.most_detail_reads = Math.max(out.most_detail_reads, held);
    await new Promise((r) => setTimeout(r, 300));
    held -= 1;
    return route.continue();
  });
  await signIn(page);
  await page.locator('tr[data-id]').first().waitFor();
  out.first_page = await page.locator('tr[data-id]').count();
  // Before the second page is loaded, the filter says where else to look.
  await page.getByLabel('Filter').fill(args.oldest_name);
  out.filtered_before_more = await page.locator('.empty').textContent();
  await page.getByLabel('Filter').fill('');
  // The first try fails: the problem stays through the list's next refresh.
  let failed = false;
  await page.route((url) => url.pathname === '/api/workflows' && url.searchParams.has('cursor'), (route) => {
    if (failed) return route.continue();
    failed = true;
    return route.fulfill({ status: 503, contentType: 'application/problem+json',
      body: JSON.stringify({ type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'Next page refused by the test.' }) });
  });
  const refreshed = () => page.waitForResponse((r) => new URL(r.url()).pathname === '/api/workflows' && !new URL(r.url()).searchParams.has('cursor'), { timeout: 20_000 });
  await page.getByRole('button', { name: 'Load more workflows' }).click();
  const problem = page.locator('.problem', { hasText: 'Next page refused by the test.' });
  await problem.waitFor();
  await refreshed();
  await page.waitForTimeout(500);
  out.more_problem_after_refresh = await problem.count();
  await page.getByRole('button', { name: 'Load more workflows' }).click();
  await page.locator('tr[data-id]').nth(out.first_page).waitFor();
  out.more_problem_after_success = await problem.count();
  out.after_more = await ids(page);
  // The next refresh of the first page (a request without a cursor), and its render.
  await page.waitForResponse((r) => new URL(r.url()).pathname === '/api/workflows' && !new URL(r.url()).searchParams.has('cursor'), { timeout: 20_000 });
  await page.waitForTimeout(500);
  out.after_refresh = await ids(page);
  out.more_button_after_refresh = await page.getByRole('button', { name: 'Load more workflows' }).count();
  await page.getByLabel('Filter').fill(args.oldest_name);
  out.filtered = await ids(page);
});
