// A workflow deleted elsewhere while its page is open (with an unsaved edit): Save says it is
// gone, once, for the whole page; the buttons that write are disabled; the edit stays shown.
import { args, scenario, signIn, setEditorText, editorText, apiGet } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.id}`);
  await page.locator('.cm-content').waitFor();
  const { draft } = await apiGet(`/api/workflows/${args.id}`);
  await setEditorText(page, JSON.stringify({ ...draft, name: 'Edited before the delete' }, null, 2));
  await page.locator('p.note', { hasText: 'Unsaved changes' }).waitFor();
  const r = await fetch(`${args.base}/api/workflows/${args.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${args.token}` } });
  out.deleted = r.status;
  await page.getByRole('button', { name: 'Save draft' }).click();
  await page.locator('#gone').waitFor({ timeout: 10_000 });
  out.problems = await page.locator('.problem').allTextContents();
  out.buttons = await page.getByRole('navigation', { name: 'Workflow actions' }).getByRole('button')
    .evaluateAll((bs) => bs.map((b) => `${b.textContent}${b.disabled ? ' (disabled)' : ''}`));
  out.panels = await page.locator('.col-side .panel').count();
  out.edit_kept = (await editorText(page)).includes('Edited before the delete');
});
