// The empty test shelf's example request, as the page shows it (run by the test).
import { args, scenario, signIn } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.id}`);
  await page.getByText('No test requests yet').waitFor();
  out.example_curl = await page.locator('code.example-curl').textContent();
});
