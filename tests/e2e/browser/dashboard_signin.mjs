// Sign-in: a wrong token shows a message; the right one shows the workflow list; sign-out forgets it.
import { args, scenario, shot } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await page.goto(`${args.base}/`);
  await page.getByLabel('Admin token').fill('not-the-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  out.wrong_message = await page.getByRole('alert').textContent();
  out.stored_after_wrong = await page.evaluate(() => sessionStorage.getItem('tripline.adminToken'));
  await shot(page, 'signin');
  // The right token, with the keyboard only: Tab to the field, type, Enter.
  await page.getByLabel('Admin token').fill('');
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  for (let i = 0; i < 6; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(() => document.activeElement && document.activeElement.id === 'admin-token')) break;
  }
  out.tab_reached_token_field = await page.evaluate(() => document.activeElement.id === 'admin-token');
  await page.keyboard.type(args.token);
  await page.keyboard.press('Enter');
  // The list replaces the sign-in form: wait for its content, then read the heading.
  await page.locator('.empty, table.workflows').first().waitFor();
  out.heading = await page.getByRole('heading', { level: 1 }).textContent();
  out.list_text = await page.locator('main#main').textContent();
  out.stored_token = await page.evaluate(() => sessionStorage.getItem('tripline.adminToken'));
  out.url = page.url();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Admin token').waitFor();
  out.stored_after_signout = await page.evaluate(() => sessionStorage.getItem('tripline.adminToken'));
});
