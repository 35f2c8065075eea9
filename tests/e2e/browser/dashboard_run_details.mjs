// A run's page, of a replay: what it replays (a link to that run), each http step's request
// (method and URL on a line, headers and body folded), an output cut to fit said as such with its
// start as text, and every box of JSON a named region under a summary naming its step.
import { args, scenario, signIn } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/runs/${args.run}`);
  await page.locator('.step').first().waitFor();
  // The run is finished (not fetched again): its "created" time still moves on.
  const created = page.locator('.run .page-head time');
  out.created_first = await created.textContent();
  await page.waitForTimeout(2500);
  out.created_later = await created.textContent();
  out.replay_of = await page.locator('.replay-of').textContent().catch(() => null);
  out.replay_of_href = await page.locator('.replay-of a').getAttribute('href', { timeout: 2000 }).catch(() => null);
  const step = (name) => page.locator(`.step[data-step="${name}"]`);
  out.ok_request_line = await step('fetch_ok').locator('.request-line').textContent({ timeout: 2000 }).catch(() => null);
  out.ok_request_folded = await step('fetch_ok').locator('.step-request details').evaluate((d) => !d.open, null, { timeout: 2000 }).catch(() => null);
  out.ok_request_texts = await step('fetch_ok').locator('.step-request pre.json').allTextContents();
  out.ok_summaries = await step('fetch_ok').locator('summary').allTextContents();
  out.big_cut = await step('fetch_big').locator('.cut').textContent({ timeout: 2000 }).catch(() => null);
  out.big_texts = await step('fetch_big').locator('details[open] pre.json').allTextContents();
  out.big_summaries = await step('fetch_big').locator('summary').allTextContents();

  out.boxes = await page.locator('pre.json').evaluateAll((els) => els.map((e) => ({ role: e.getAttribute('role'), label: e.getAttribute('aria-label') })));
  // The link opens the run replayed.
  if (out.replay_of_href) {
    await page.locator('.replay-of a').click();
    await page.locator(`h1:has-text("${args.original}")`).waitFor();
    out.opened = new URL(page.url()).hash;
  }
});
