// Delete asks first; the question can be taken back (Cancel, a click elsewhere, waiting), and a
// second click on "Really delete?" deletes; leaving the page while it asks is no error.
import { args, scenario, signIn } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.id}`);
  await page.locator('.cm-content').waitFor();
  const actions = page.getByRole('navigation', { name: 'Workflow actions' });
  const state = async () => ({
    buttons: await actions.getByRole('button').evaluateAll((bs) => bs.map((b) => `${b.textContent}${b.disabled ? ' (disabled)' : ''}`)),
  });
  await actions.getByRole('button', { name: 'Delete', exact: true }).click();
  out.asking = await state();
  out.warning = await actions.locator('.confirm-warning').textContent();
  out.described = await actions.getByRole('button', { name: 'Really delete?' }).evaluate((b) => document.getElementById(b.getAttribute('aria-describedby'))?.textContent);
  await actions.getByRole('button', { name: 'Cancel' }).click();
  out.after_cancel = await state();
  await actions.getByRole('button', { name: 'Delete', exact: true }).click();
  await page.locator('.wf-title').click();
  out.after_click_elsewhere = await state();
  await actions.getByRole('button', { name: 'Delete', exact: true }).click();
  await actions.getByRole('button', { name: 'Really delete?' }).waitFor();
  await actions.getByRole('button', { name: 'Delete', exact: true }).waitFor({ timeout: 10_000 });
  out.after_waiting = await state();
  // Leaving the page while it asks (Back) takes the question away with the page, without an error.
  await actions.getByRole('button', { name: 'Delete', exact: true }).click();
  await actions.getByRole('button', { name: 'Really delete?' }).waitFor();
  await page.goBack();
  await page.getByRole('heading', { name: 'Workflows' }).waitFor();
  await page.waitForTimeout(300);
  out.errors_after_leaving = [...out.page_errors];
  await page.goForward();
  await page.locator('.cm-content').waitFor();
  await actions.getByRole('button', { name: 'Delete', exact: true }).click();
  await actions.getByRole('button', { name: 'Really delete?' }).click();
  await page.getByRole('heading', { name: 'Workflows' }).waitFor();
  out.landed_on = await page.evaluate(() => location.hash);
});
