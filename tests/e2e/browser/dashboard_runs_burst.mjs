// Runs paging: three pages loaded, then more new runs than a page holds between two refreshes.
// The refresh reaches the runs shown (fetching the pages after its first) and keeps them.
import { args, scenario, signIn } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.id}/runs`);
  const rows = page.locator('tr[data-run]');
  await rows.nth(19).waitFor();
  const older = page.getByRole('button', { name: 'Older runs' });
  await older.click();
  await rows.nth(39).waitFor();
  await older.click();
  await rows.nth(args.loaded - 1).waitFor();
  await older.waitFor({ state: 'detached' });
  out.loaded = await rows.count();
  await rows.last().scrollIntoViewIfNeeded();
  // The next refresh waits until the new runs are all in: they come between two refreshes.
  let release;
  const released = new Promise((r) => { release = r; });
  let held;
  const heldOne = new Promise((r) => { held = r; });
  const firstPage = (url) => url.pathname === `/api/workflows/${args.id}/runs` && !url.searchParams.has('cursor');
  // Held while the runs are sent; once released, every refresh goes through.
  const hold = async (route) => { held(); await released; return route.continue(); };
  await page.route(firstPage, hold);
  await heldOne;
  out.new_runs = [];
  for (let i = 0; i < args.burst; i += 1) {
    const r = await fetch(`${args.base}/hooks/${args.id}?source=website`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: `burst${i}@example.com` }),
    });
    if (r.status !== 202) throw new Error(`webhook: ${r.status} ${await r.text()}`);
    out.new_runs.push((await r.json()).run_id);
  }
  release();
  await page.locator(`tr[data-run="${out.new_runs[out.new_runs.length - 1]}"]`).waitFor();
  // Two more refreshes: the list stays whole.
  await page.waitForTimeout(3500);
  out.after = await rows.evaluateAll((trs) => trs.map((r) => r.dataset.run));
  out.older_button = await older.count();
});
