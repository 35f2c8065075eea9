// Text typed while a save is under way is not what was saved: it stays an unsaved change.
import { args, scenario, signIn, setEditorText, editorText, apiGet } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.id}`);
  await page.locator('.cm-content').waitFor();
  const { draft } = await apiGet(`/api/workflows/${args.id}`);
  await setEditorText(page, JSON.stringify({ ...draft, name: 'Sent with the save' }, null, 2));
  // The PUT is held until the late edit is typed.
  let release;
  const gate = new Promise((r) => { release = r; });
  let seen;
  const sent = new Promise((r) => { seen = r; });
  await page.route((url) => url.pathname === `/api/workflows/${args.id}`, async (route) => {
    if (route.request().method() !== 'PUT') return route.continue();
    seen();
    await gate;
    return route.continue();
  });
  await page.getByRole('button', { name: /^Save/ }).click();
  await sent;
  await setEditorText(page, JSON.stringify({ ...draft, name: 'Typed during the save' }, null, 2));
  await page.waitForTimeout(300);
  release();
  await page.getByText('Draft saved.').waitFor();
  await page.waitForTimeout(300);
  out.note = await page.locator('p.note').textContent();
  out.save_button = await page.getByRole('button', { name: /^Save/ }).textContent();
  out.editor_has_late_edit = (await editorText(page)).includes('Typed during the save');
  out.stored_name = (await apiGet(`/api/workflows/${args.id}`)).draft.name;
});
