// A run's input and a test request's body are shown with their numbers as stored: a number
// past JavaScript's exact integers is not rounded on the page.
import { args, scenario, signIn } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/runs/${args.run_id}`);
  await page.locator('pre.json').first().waitFor();
  out.run_texts = await page.locator('pre.json').allTextContents();
  await page.goto(`${args.base}/#/w/${args.id}`);
  await page.locator('li.test-request pre.json').first().waitFor();
  out.shelf_texts = await page.locator('li.test-request pre.json').allTextContents();
});
