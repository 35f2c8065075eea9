// OAuth connections paging: 50 at first, "Load more connections" brings the rest, and the
// panel's refresh of its first page (every 5 s) keeps them.
import { args, scenario, signIn } from './dashboard_lib.mjs';

const users = (page) => page.locator('.connection').evaluateAll((items) => items.map((c) => c.dataset.user));

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.id}`);
  await page.locator('.connection').first().waitFor();
  out.first_page = await users(page);
  await page.getByRole('button', { name: 'Load more connections' }).click();
  await page.locator('.connection').nth(out.first_page.length).waitFor();
  out.after_more = await users(page);
  const path = `/api/workflows/${args.id}/connections`;
  await page.waitForResponse((r) => new URL(r.url()).pathname === path && !new URL(r.url()).searchParams.has('cursor'), { timeout: 15_000 });
  await page.waitForTimeout(500);
  out.after_refresh = await users(page);
  out.more_button_after_refresh = await page.getByRole('button', { name: 'Load more connections' }).count();
});
