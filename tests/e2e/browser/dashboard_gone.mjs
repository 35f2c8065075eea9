// What is not there is not asked for again: a run that does not exist (its workflow deleted)
// and the runs of a deleted workflow are read once, not every second. A workflow whose first
// read failed (a passing 503) is read again, and shown once that succeeds.
import { args, scenario, signIn } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await signIn(page);
  let runReads = 0;
  let listReads = 0;
  page.on('request', (r) => {
    const path = new URL(r.url()).pathname;
    if (path === `/api/runs/${args.run_id}`) runReads += 1;
    if (path === `/api/workflows/${args.deleted}/runs`) listReads += 1;
  });
  await page.goto(`${args.base}/#/runs/${args.run_id}`);
  await page.locator('.problem', { hasText: 'This run could not be loaded' }).waitFor();
  await page.waitForTimeout(4500);
  out.run_reads = runReads;

  await page.goto(`${args.base}/#/w/${args.deleted}/runs`);
  await page.locator('.problem').first().waitFor();
  await page.waitForTimeout(4500);
  out.list_reads = listReads;
  out.list_problems = await page.locator('.problem').allTextContents();

  // The first read of the workflow answers 503; the later ones go through.
  let refused = 0;
  await page.route((url) => url.pathname === `/api/workflows/${args.id}`, async (route) => {
    if (refused > 0) return route.continue();
    refused += 1;
    return route.fulfill({
      status: 503,
      contentType: 'application/problem+json',
      body: JSON.stringify({ type: 'urn:tripline:problem:unavailable', title: 'Workflow object unavailable', status: 503, detail: 'the workflow\'s object did not answer' }),
    });
  });
  await page.goto(`${args.base}/#/w/${args.id}`);
  await page.locator('.problem', { hasText: 'This workflow could not be loaded' }).waitFor();
  await page.locator('.wf-title', { hasText: args.name }).waitFor({ timeout: 25_000 });
  out.recovered_after = refused;
});
