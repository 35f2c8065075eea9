// A workflow whose draft reads secrets the Worker lacks says which and where (a link to the line);
// a saved draft that reads none says nothing.
import { args, scenario, signIn, setEditorText, editorText } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.id}`);
  const box = page.locator('#missing-secrets');
  await box.waitFor();
  out.title = await box.locator('strong').textContent();
  out.items = await box.locator('li').evaluateAll((els) => els.map((e) => e.textContent.replace(/\s+/g, ' ').trim()));
  out.lines_with_secret = (await editorText(page)).split('\n').filter((l) => l.includes('DASH_UNSET_TOKEN'));
  await box.locator('li[data-secret="DASH_UNSET_TOKEN"] button').click();
  // The editor (in a shadow root, which the locator pierces) has the focus on that line.
  out.focused_line = await page.locator('.cm-activeLine').first().textContent();
  await setEditorText(page, JSON.stringify(args.fixed, null, 2));
  await page.getByRole('button', { name: 'Save draft' }).click();
  await box.waitFor({ state: 'detached' });
  out.after_save = await page.locator('#missing-secrets').count();
});
