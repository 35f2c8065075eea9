// A deployed schedule's next run, as its panel says it: when, and the wall clock in its zone.
import { args, scenario, signIn } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.id}`);
  const local = page.locator('.next-run-local');
  await local.waitFor();
  out.next_run_local = await local.textContent();
});
