// Poll: reset from the beginning. OAuth: the connection is listed, then deleted.
import { args, scenario, signIn, shot } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.poll_id}`);
  await page.getByRole('heading', { name: 'Poll' }).waitFor();
  out.cursor_before = await page.locator('.poll-cursor').textContent();
  await page.getByLabel(/From the beginning/).check();
  await page.getByRole('button', { name: 'Reset poll' }).click();
  await page.locator('#poll-reset-result:not(:empty)').waitFor();
  out.reset_result = await page.locator('#poll-reset-result').textContent();
  out.cursor_after = await page.locator('.poll-cursor').textContent();
  await shot(page, 'poll');

  await page.goto(`${args.base}/#/w/${args.oauth_id}`);
  const conn = page.locator(`.connection[data-user="${args.user}"]`);
  await conn.waitFor();
  out.connection_text = await conn.textContent();
  out.signin_url = await page.locator('code[data-url="Sign-in URL"]').textContent();
  out.redirect_url = await page.locator('code[data-url="Redirect URL"]').textContent();
  await shot(page, 'oauth');
  await conn.getByRole('button', { name: `Delete connection of ${args.user}` }).click();
  await conn.waitFor({ state: 'detached' });
  out.after_delete = await page.getByText('No connections yet.').textContent();
});
