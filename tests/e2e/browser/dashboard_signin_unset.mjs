// Sign-in against a Worker without ADMIN_TOKEN: the page says what to set, in words.
import { args, scenario } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await page.goto(`${args.base}/`);
  await page.getByLabel('Admin token').fill('anything');
  await page.getByRole('button', { name: 'Sign in' }).click();
  out.message = await page.getByRole('alert').textContent();
  out.stored = await page.evaluate(() => sessionStorage.getItem('tripline.adminToken'));
});
