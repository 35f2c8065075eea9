// A route with a malformed percent escape (`%E0`) is a page that says what is wrong, not a blank
// one: after a hash change and on a fresh load.
import { args, scenario, signIn } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/runs/%E0`);
  await page.getByText('This run could not be loaded').waitFor();
  out.after_hash_change = await page.locator('main .problem').textContent();
  await page.reload({ waitUntil: 'domcontentloaded' });
  await page.getByText('This run could not be loaded').waitFor();
  out.after_reload = await page.locator('main .problem').textContent();
  // A route no page has says so, rather than showing the workflow list.
  await page.goto(`${args.base}/#/nonsense/route`);
  await page.getByText('No such page').waitFor({ timeout: 10_000 }).catch(() => {});
  out.unknown_route = await page.locator('main').textContent();
  out.unknown_route_title = await page.title();
});
