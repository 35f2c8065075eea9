// An unsaved edit kept through a refused token, while the draft is saved elsewhere (another tab,
// the CLI): signing in again shows that newer draft and asks — "Restore my edit" puts the kept
// text back as unsaved changes; in a second pass "Discard it" drops it and leaves the draft.
import { args, scenario, signIn, setEditorText, editorText, apiGet, apiPut } from './dashboard_lib.mjs';

const shelf = `/api/workflows/${args.id}/test-requests`;

/** Edits the name to `mine`, has the token refused once, saves a draft named `theirs` through
 * the API meanwhile, signs in again; answers what the workflow page shows then. */
async function keepThenChange(page, mine, theirs) {
  const { draft } = await apiGet(`/api/workflows/${args.id}`);
  await setEditorText(page, JSON.stringify({ ...draft, name: mine }, null, 2));
  await page.locator('p.note', { hasText: 'Unsaved changes' }).waitFor();
  let refused = false;
  const refuse = (route) => {
    if (refused) return route.continue();
    refused = true;
    return route.fulfill({ status: 401, contentType: 'application/problem+json',
      body: JSON.stringify({ type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'token refused' }) });
  };
  await page.route((url) => url.pathname === shelf, refuse);
  await page.evaluate(() => dispatchEvent(new Event('focus')));
  await page.getByLabel('Admin token').waitFor();
  await page.unroute((url) => url.pathname === shelf, refuse);
  await apiPut(`/api/workflows/${args.id}`, { ...draft, name: theirs });
  await page.getByLabel('Admin token').fill(args.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('.cm-content').waitFor();
  const notice = page.locator('#stale-edit');
  await notice.waitFor({ timeout: 10_000 });
  const text = await editorText(page);
  return {
    notice: await notice.textContent(),
    notice_role: await notice.getAttribute('role'),
    editor_shows_theirs: text.includes(theirs),
    editor_shows_mine: text.includes(mine),
    note: await page.locator('p.note').textContent(),
  };
}

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.id}`);
  await page.locator('.cm-content').waitFor();

  out.restore = await keepThenChange(page, 'My kept edit', 'Saved elsewhere');
  await page.getByRole('button', { name: 'Restore my edit', exact: true }).click();
  await page.locator('p.note', { hasText: 'Unsaved changes' }).waitFor();
  out.restore.after_notice = await page.locator('#stale-edit').count();
  out.restore.after_note = await page.locator('p.note').textContent();
  const restored = await editorText(page);
  out.restore.after_mine = restored.includes('My kept edit');
  out.restore.after_theirs = restored.includes('Saved elsewhere');
  out.restore.stored_name = (await apiGet(`/api/workflows/${args.id}`)).draft.name;
  // Saved, so the second pass starts from a clean page.
  await page.getByRole('button', { name: 'Save draft' }).click();
  await page.locator('p.note', { hasText: 'Draft saved.' }).waitFor();

  out.discard = await keepThenChange(page, 'Second kept edit', 'Saved elsewhere again');
  await page.getByRole('button', { name: 'Discard it', exact: true }).click();
  await page.locator('#stale-edit').waitFor({ state: 'detached' });
  out.discard.after_note = await page.locator('p.note').textContent();
  const kept = await editorText(page);
  out.discard.after_mine = kept.includes('Second kept edit');
  out.discard.after_theirs = kept.includes('Saved elsewhere again');
  out.discard.kept_in_tab = await page.evaluate((id) => sessionStorage.getItem(`tripline.unsaved.${id}`), args.id);
  // Opened again: nothing left to ask about.
  await page.reload();
  await page.locator('.cm-content').waitFor();
  out.discard.notice_after_reload = await page.locator('#stale-edit').count();
  out.discard.stored_name = (await apiGet(`/api/workflows/${args.id}`)).draft.name;
});
