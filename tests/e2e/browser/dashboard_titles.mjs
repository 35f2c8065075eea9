// An answer that arrives after its page was left does not set the tab's title.
import { args, scenario, signIn } from './dashboard_lib.mjs';

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
});
