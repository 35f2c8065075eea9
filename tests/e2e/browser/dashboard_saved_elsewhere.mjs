// A save, a deploy and a delete of a draft saved elsewhere since the page read it (another tab,
// the CLI): the server refuses each (`If-Match`, 412); the page shows the newer draft and keeps
// the save's text for "Restore my edit", and says the deploy or delete did not happen.
import { args, scenario, signIn, setEditorText, editorText, apiGet, apiPut } from './dashboard_lib.mjs';

const path = `/api/workflows/${args.id}`;

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.id}`);
  await page.locator('.cm-content').waitFor();
  const { draft } = await apiGet(path);

  // A save over a draft saved elsewhere: refused, the edit kept until one chooses.
  await setEditorText(page, JSON.stringify({ ...draft, name: 'Mine from the page' }, null, 2));
  await page.locator('p.note', { hasText: 'Unsaved changes' }).waitFor();
  await apiPut(path, { ...draft, name: 'Saved in another tab' });
  await page.getByRole('button', { name: 'Save draft' }).click();
  const notice = page.locator('#stale-edit');
  await notice.waitFor({ timeout: 10_000 });
  out.save = {
    notice: await notice.textContent(),
    editor_shows_theirs: (await editorText(page)).includes('Saved in another tab'),
    stored_name: (await apiGet(path)).draft.name,
  };
  await page.getByRole('button', { name: 'Restore my edit', exact: true }).click();
  await page.getByRole('button', { name: 'Save draft' }).click();
  await page.locator('p.note', { hasText: 'Draft saved.' }).waitFor();
  out.save.after_restore_stored = (await apiGet(path)).draft.name;

  // A deploy of the page's draft after another save elsewhere: refused, nothing deployed.
  const saved = (await apiGet(path)).draft;
  await apiPut(path, { ...saved, name: 'Saved again elsewhere' });
  await page.getByRole('button', { name: 'Deploy', exact: true }).click();
  const problem = page.locator('#save-problem');
  await problem.waitFor({ timeout: 10_000 });
  const after = await apiGet(path);
  out.deploy = {
    problem: await problem.textContent(),
    editor_shows_theirs: (await editorText(page)).includes('Saved again elsewhere'),
    status: after.status,
    deployed_version: after.deployed_version,
  };
  // Deployed again, it is the draft now shown.
  await page.getByRole('button', { name: 'Deploy', exact: true }).click();
  await page.locator('p.note', { hasText: 'Deployed version 1.' }).waitFor({ timeout: 15_000 });
  const deployed = await apiGet(path);
  out.deploy.then_status = deployed.status;
  out.deploy.then_name = deployed.deployed_definition && deployed.deployed_definition.name;

  // A deploy with unsaved edits saves first: that save refused, the deploy says it did not
  // happen, and the edit is kept for "Restore my edit".
  const current = (await apiGet(path)).draft;
  await setEditorText(page, JSON.stringify({ ...current, name: 'Mine, to deploy' }, null, 2));
  await page.locator('p.note', { hasText: 'Unsaved changes' }).waitFor();
  await apiPut(path, { ...current, name: 'Saved a third time elsewhere' });
  await page.getByRole('button', { name: 'Deploy', exact: true }).click();
  await page.locator('#stale-edit').waitFor({ timeout: 10_000 });
  const last = await apiGet(path);
  out.dirty_deploy = {
    problem: await page.locator('#save-problem').count() ? await page.locator('#save-problem').textContent() : null,
    deployed_version: last.deployed_version,
    deployed_name: last.deployed_definition && last.deployed_definition.name,
  };

  // A delete from the page after a save elsewhere: refused, the workflow kept and shown as it
  // is now; asked again, it is deleted.
  await page.getByRole('button', { name: 'Discard it', exact: true }).click();
  const before = (await apiGet(path)).draft;
  await apiPut(path, { ...before, name: 'Saved before the delete' });
  const actions = page.getByRole('navigation', { name: 'Workflow actions' });
  await actions.getByRole('button', { name: 'Delete', exact: true }).click();
  const warning = await actions.locator('.confirm-warning').textContent();
  await actions.getByRole('button', { name: 'Really delete?' }).click();
  await page.locator('#save-problem', { hasText: 'Not deleted' }).waitFor({ timeout: 10_000 });
  out.delete = {
    warning,
    problem: await page.locator('#save-problem').textContent(),
    editor_shows_theirs: (await editorText(page)).includes('Saved before the delete'),
    stored_name: (await apiGet(path)).draft.name,
  };
  await actions.getByRole('button', { name: 'Delete', exact: true }).click();
  await actions.getByRole('button', { name: 'Really delete?' }).click();
  await page.getByRole('heading', { name: 'Workflows' }).waitFor();
  const gone = await fetch(`${args.base}${path}`, { headers: { authorization: `Bearer ${args.token}` } });
  out.delete.then_status = gone.status;
});
