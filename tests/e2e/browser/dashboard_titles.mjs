// An answer that arrives after its page was left does not set the tab's title; a rename saved
// in the editor does.
import { args, scenario, signIn, setEditorText } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await signIn(page);
  // Every read of A's resource answers 2.5 s late.
  await page.route((url) => url.pathname === `/api/workflows/${args.a}`, async (route) => {
    await new Promise((r) => setTimeout(r, 2500));
    return route.continue();
  });
  await page.goto(`${args.base}/#/w/${args.a}`);
  await page.goto(`${args.base}/#/w/${args.b}`);
  await page.locator('.wf-title', { hasText: args.b_name }).waitFor();
  await page.waitForTimeout(4000);
  out.workflow_page_title = await page.title();
  await page.goto(`${args.base}/#/w/${args.a}/runs`);
  await page.goto(`${args.base}/#/`);
  await page.getByRole('heading', { name: 'Workflows' }).waitFor();
  await page.waitForTimeout(4000);
  out.list_title = await page.title();
  // B renamed in its editor and saved: the title follows.
  await page.goto(`${args.base}/#/w/${args.b}`);
  await page.locator('.cm-content').waitFor();
  await page.locator('.wf-title', { hasText: args.b_name }).waitFor();
  await setEditorText(page, args.b_renamed);
  await page.getByRole('button', { name: /^Save/ }).click();
  await page.getByText('Draft saved.').or(page.locator('#save-problem')).waitFor();
  await page.waitForFunction((t) => document.title === t, `${args.b_name} renamed · Tripline`, { timeout: 10_000 }).catch(() => {});
  out.renamed_title = await page.title();
  // The Save button was disabled while it saved: the focus came back to it.
  out.focus_after_save = await page.evaluate(() => document.activeElement && document.activeElement.textContent);
});
