// Workflow list paging: "Load more workflows" brings the next page, and the list's refresh of
// its first page (every 10 s) keeps it; the filter finds a workflow of the second page.
import { args, scenario, signIn } from './dashboard_lib.mjs';

const ids = (page) => page.locator('tr[data-id]').evaluateAll((rows) => rows.map((r) => r.dataset.id));

await scenario(async (page, out) => {
  await signIn(page);
  await page.locator('tr[data-id]').first().waitFor();
  out.first_page = await page.locator('tr[data-id]').count();
  await page.getByRole('button', { name: 'Load more workflows' }).click();
  await page.locator('tr[data-id]').nth(out.first_page).waitFor();
  out.after_more = await ids(page);
  // The next refresh of the first page (a request without a cursor), and its render.
  await page.waitForResponse((r) => new URL(r.url()).pathname === '/api/workflows' && !new URL(r.url()).searchParams.has('cursor'), { timeout: 20_000 });
  await page.waitForTimeout(500);
  out.after_refresh = await ids(page);
  out.more_button_after_refresh = await page.getByRole('button', { name: 'Load more workflows' }).count();
  await page.getByLabel('Filter').fill(args.oldest_name);
  out.filtered = await ids(page);
});
