// A deployed schedule whose draft is now an endpoint: the page shows what runs (the schedule's
// panel) and the draft's endpoint panel beside it.
import { args, scenario, signIn, shot } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.id}`);
  await page.locator('h1.wf-title').waitFor();
  await page.locator('code[data-url="Test URL"]').waitFor();
  // The preview loads by itself: its table, or the problem that took its place.
  await page.locator('table.preview, .col-side .problem').first().waitFor();
  out.head = await page.locator('.page-head p.muted').textContent();
  out.preview = await page.locator('table.preview').count();
  out.test_url = await page.locator('code[data-url="Test URL"]').count();
  out.production_url = await page.locator('code[data-url="Production URL"]').count();
  out.note = await page.locator('.col-side').textContent();
  await shot(page, 'live-kind');
});
