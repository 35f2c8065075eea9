// Unsaved edits are not dropped by leaving the page: a link or Sign out asks first (Discard /
// Stay, in the page), and closing the tab is asked by the browser (beforeunload).
import { args, scenario, signIn, setEditorText, editorText, apiGet } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.id}`);
  await page.locator('.cm-content').waitFor();
  const { draft } = await apiGet(`/api/workflows/${args.id}`);
  await setEditorText(page, JSON.stringify({ ...draft, name: 'Edited, not saved' }, null, 2));
  await page.locator('p.note', { hasText: 'Unsaved changes' }).waitFor();
  // Whether a beforeunload handler would make the browser ask.
  const unloadAsks = () => page.evaluate(() => {
    const e = new Event('beforeunload', { cancelable: true });
    dispatchEvent(e);
    return e.defaultPrevented;
  });
  out.unload_asks_while_dirty = await unloadAsks();

  const bar = page.locator('.leave-bar');
  await page.getByRole('link', { name: 'Runs', exact: true }).click();
  await bar.waitFor();
  out.bar_text = await bar.textContent();
  out.bar_has_focus = await page.evaluate(() => !!document.activeElement.closest('.leave-bar'));
  out.hash_while_asking = await page.evaluate(() => location.hash);
  await bar.getByRole('button', { name: 'Stay' }).click();
  await bar.waitFor({ state: 'detached' });
  out.hash_after_stay = await page.evaluate(() => location.hash);
  out.edit_kept_after_stay = (await editorText(page)).includes('Edited, not saved');
  // The next Back goes where it went before the link was held: it asks (the list is a step away).
  await page.goBack();
  out.back_after_stay_asks = await bar.waitFor({ timeout: 10_000 }).then(() => true, () => false);
  if (out.back_after_stay_asks) {
    await bar.getByRole('button', { name: 'Stay' }).click();
    await bar.waitFor({ state: 'detached' });
  }
  out.hash_after_back_stay = await page.evaluate(() => location.hash);

  // Sign out asks the same way.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await bar.waitFor();
  await bar.getByRole('button', { name: 'Stay' }).click();
  await bar.waitFor({ state: 'detached' });
  out.signed_in_after_stay = (await page.getByLabel('Admin token').count()) === 0;
  out.edit_kept_after_signout_stay = (await editorText(page)).includes('Edited, not saved');

  // Discard goes on to the runs page; nothing is asked any more.
  await page.getByRole('link', { name: 'Runs', exact: true }).click();
  await bar.getByRole('button', { name: 'Discard' }).click();
  await page.getByRole('heading', { name: 'Runs' }).waitFor();
  out.hash_after_discard = await page.evaluate(() => location.hash);
  out.unload_asks_after_discard = await unloadAsks();
  out.stored_name = (await apiGet(`/api/workflows/${args.id}`)).draft.name;
  // Back on the workflow: the saved draft, not the discarded edit.
  await page.getByRole('link', { name: draft.name }).click();
  await page.locator('.cm-content').waitFor();
  out.edit_after_return = (await editorText(page)).includes('Edited, not saved');
});
