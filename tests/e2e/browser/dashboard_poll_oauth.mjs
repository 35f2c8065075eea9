// Poll: reset from the beginning. OAuth: the connection is listed, then deleted: Delete asks
// first, the button is disabled while the delete is under way (one DELETE, however many
// presses), and the focus then goes to the Connections heading.
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
  // The DELETE is held a moment, to press again while it is under way.
  const deletes = [];
  await page.route((url) => url.pathname.startsWith(`/api/workflows/${args.oauth_id}/connections/`), async (route) => {
    if (route.request().method() !== 'DELETE') return route.continue();
    deletes.push(route.request().url());
    await new Promise((r) => setTimeout(r, 1000));
    return route.continue();
  });
  await conn.getByRole('button', { name: `Delete connection of ${args.user}` }).focus();
  await page.keyboard.press('Enter');
  const really = conn.getByRole('button', { name: `Really delete connection of ${args.user}?` });
  await really.waitFor();
  out.deleted_after_first_press = deletes.length;
  await page.keyboard.press('Enter');
  await page.keyboard.press('Enter');
  await page.keyboard.press('Enter');
  out.disabled_in_flight = await conn.getByRole('button', { name: `Delete connection of ${args.user}` }).isDisabled();
  await conn.waitFor({ state: 'detached' });
  out.after_delete = await page.getByText('No connections yet.').textContent();
  out.focus_after_delete = await page.evaluate(() => document.activeElement.id);
  await page.waitForTimeout(1500);
  out.delete_requests = deletes.length;
  out.alerts_after_delete = await page.locator('.panel [role=alert]').count();
});
