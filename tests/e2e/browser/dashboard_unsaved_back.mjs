// Back with unsaved edits asks first; Stay keeps the page and the history as it was: the next
// Back asks again, and Discard then goes back to the list.
import { args, scenario, signIn, setEditorText, apiGet } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await signIn(page);
  out.list_url = page.url();
  const { draft } = await apiGet(`/api/workflows/${args.id}`);
  // By its address: another test may have made a workflow of the same name meanwhile.
  await page.locator(`a[href="#/w/${args.id}"]`).first().click();
  await page.locator('.cm-content').waitFor();
  await setEditorText(page, JSON.stringify({ ...draft, name: 'Edited, then Back' }, null, 2));
  await page.locator('p.note', { hasText: 'Unsaved changes' }).waitFor();
  const bar = page.locator('.leave-bar');
  await page.evaluate(() => history.back());
  await bar.waitFor();
  await bar.getByRole('button', { name: 'Stay' }).click();
  await bar.waitFor({ state: 'detached' });
  await page.waitForTimeout(500);
  out.hash_after_stay = await page.evaluate(() => location.hash);
  await page.evaluate(() => history.back());
  out.asked_again = await bar.waitFor({ timeout: 5000 }).then(() => true, () => false);
  if (out.asked_again) await bar.getByRole('button', { name: 'Discard' }).click();
  out.back_on_list = await page.getByRole('heading', { name: 'Workflows' }).waitFor({ timeout: 5000 }).then(() => true, () => false);
  out.url_after_back = page.url();
  // Forward goes to the workflow again (the entries are as they were).
  await page.evaluate(() => history.forward());
  out.forward_to_workflow = await page.locator('.cm-content').waitFor({ timeout: 5000 }).then(() => true, () => false);
  out.hash_after_forward = await page.evaluate(() => location.hash);
});
