// A refused token while the editor has unsaved changes: the sign-in form, then the workflow with
// those changes back in the editor, and a note saying so.
import { args, scenario, signIn, setEditorText, editorText, apiGet } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.id}`);
  await page.locator('.cm-content').waitFor();
  const { draft } = await apiGet(`/api/workflows/${args.id}`);
  await setEditorText(page, JSON.stringify({ ...draft, name: 'Kept through a sign-in' }, null, 2));
  await page.locator('p.note', { hasText: 'Unsaved changes' }).waitFor();
  // The next fetch of the test shelf is answered 401, once.
  let refused = false;
  await page.route((url) => url.pathname === `/api/workflows/${args.id}/test-requests`, (route) => {
    if (refused) return route.continue();
    refused = true;
    return route.fulfill({ status: 401, contentType: 'application/problem+json',
      body: JSON.stringify({ type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'token refused' }) });
  });
  // A focused window fetches the shelf at once.
  await page.evaluate(() => dispatchEvent(new Event('focus')));
  await page.getByLabel('Admin token').waitFor();
  out.signed_out_message = await page.getByRole('alert').textContent();
  await page.getByLabel('Admin token').fill(args.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('.cm-content').waitFor();
  await page.locator('p.note', { hasText: 'Unsaved changes' }).waitFor();
  out.hash = await page.evaluate(() => location.hash);
  out.note = await page.locator('p.note').textContent();
  out.editor_kept_edit = (await editorText(page)).includes('Kept through a sign-in');
  out.stored_name = (await apiGet(`/api/workflows/${args.id}`)).draft.name;
});
