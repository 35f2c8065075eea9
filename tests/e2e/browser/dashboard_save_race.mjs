// Text typed while a save is under way is not what was saved: it stays an unsaved change; and
// when that save is refused (the draft was saved elsewhere meanwhile), the edit kept for
// "Restore my edit" is the editor's text, with what was typed during the save.
import { args, scenario, signIn, setEditorText, editorText, apiGet, apiPut } from './dashboard_lib.mjs';

const workflow = (url) => url.pathname === `/api/workflows/${args.id}`;

/** Holds the page's next PUT of the workflow: `sent` resolves once it is made, `release()` lets
 * it go on to the server. */
async function holdSave(page) {
  await page.unroute(workflow);
  let release;
  const gate = new Promise((r) => { release = r; });
  let seen;
  const sent = new Promise((r) => { seen = r; });
  await page.route(workflow, async (route) => {
    if (route.request().method() !== 'PUT') return route.continue();
    seen();
    await gate;
    return route.continue();
  });
  return { sent, release };
}

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.id}`);
  await page.locator('.cm-content').waitFor();
  const { draft } = await apiGet(`/api/workflows/${args.id}`);
  await setEditorText(page, JSON.stringify({ ...draft, name: 'Sent with the save' }, null, 2));
  // The PUT is held until the late edit is typed.
  const first = await holdSave(page);
  await page.getByRole('button', { name: /^Save/ }).click();
  await first.sent;
  await setEditorText(page, JSON.stringify({ ...draft, name: 'Typed during the save' }, null, 2));
  await page.waitForTimeout(300);
  first.release();
  await page.getByText('Draft saved.').waitFor();
  await page.waitForTimeout(300);
  out.note = await page.locator('p.note').textContent();
  out.save_button = await page.getByRole('button', { name: /^Save/ }).textContent();
  out.editor_has_late_edit = (await editorText(page)).includes('Typed during the save');
  out.stored_name = (await apiGet(`/api/workflows/${args.id}`)).draft.name;

  // Saved again, held; saved elsewhere meanwhile; a late edit typed: the save gets a 412.
  await setEditorText(page, JSON.stringify({ ...draft, name: 'Sent with the refused save' }, null, 2));
  const second = await holdSave(page);
  await page.getByRole('button', { name: /^Save/ }).click();
  await second.sent;
  await apiPut(`/api/workflows/${args.id}`, { ...draft, name: 'Saved in another tab' });
  await setEditorText(page, JSON.stringify({ ...draft, name: 'Typed during the refused save' }, null, 2));
  await page.waitForTimeout(300);
  second.release();
  await page.locator('#stale-edit').waitFor({ timeout: 10_000 });
  out.refused = { editor_shows_theirs: (await editorText(page)).includes('Saved in another tab') };
  await page.getByRole('button', { name: 'Restore my edit', exact: true }).click();
  out.refused.restored_late_edit = (await editorText(page)).includes('Typed during the refused save');
  out.refused.stored_name = (await apiGet(`/api/workflows/${args.id}`)).draft.name;
});
