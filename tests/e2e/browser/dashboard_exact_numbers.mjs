// A draft with a number past JavaScript's exact integers is shown and saved as stored; a key
// typed twice is sent as typed, so the server's refusal is shown and nothing is saved.
import { args, scenario, signIn, setEditorText, editorText } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.id}`);
  await page.locator('.cm-content').waitFor();
  out.shown_number = (await editorText(page)).includes(args.number);
  // An edit elsewhere in the text, saved.
  await setEditorText(page, args.edited);
  await page.getByRole('button', { name: /^Save/ }).click();
  await page.getByText('Draft saved.').or(page.locator('#save-problem')).waitFor();
  if (await page.locator('#save-problem').count()) throw new Error(`the save was refused: ${await page.locator('#save-problem').textContent()}`);
  // A key written twice.
  await setEditorText(page, args.edited.replace('{', '{\n  "name": "Written twice",'));
  await page.getByRole('button', { name: /^Save/ }).click();
  await page.locator('#save-problem').waitFor();
  out.problem = await page.locator('#save-problem').textContent();
  out.note = await page.locator('p.note').textContent();
});
