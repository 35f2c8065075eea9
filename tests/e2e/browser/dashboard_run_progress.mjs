// A running run's page lists the steps it has not recorded yet (the one in progress first), and
// drops them as the run records them.
import { args, scenario, signIn } from './dashboard_lib.mjs';

const states = (page) => page.locator('.step.unreached').evaluateAll((els) => els.map((e) => `${e.dataset.step}: ${e.dataset.state}`));

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/runs/${args.run}`);
  await page.locator('.step.unreached').first().waitFor();
  out.running = await states(page);
  out.running_text = await page.locator('.step.unreached').first().textContent();
  // The upstream answers the step now.
  out.released = (await fetch(args.release)).status;
  await page.locator('.run .page-head .badge', { hasText: 'succeeded' }).waitFor({ timeout: 30_000 });
  out.done = await states(page);
  out.recorded = await page.locator('.step:not(.unreached)').evaluateAll((els) => els.map((e) => e.dataset.step));
});
