// A failed Undeploy shows its own errors, not those of an earlier failed save.
import { args, scenario, signIn, setEditorText, apiGet } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.id}`);
  await page.locator('.cm-content').waitFor();
  const { draft } = await apiGet(`/api/workflows/${args.id}`);
  const broken = structuredClone(draft);
  broken.steps[0].message = 'hello {{nope.value}}';
  await setEditorText(page, JSON.stringify(broken, null, 2));
  await page.getByRole('button', { name: /^Save/ }).click();
  await page.locator('.error-list li').first().waitFor();
  out.save_errors = await page.locator('.error-list li').allTextContents();
  await page.route((url) => url.pathname === `/api/workflows/${args.id}/undeploy`, (route) => route.fulfill({
    status: 409, contentType: 'application/problem+json',
    body: JSON.stringify({ type: 'about:blank', title: 'Undeploy refused', status: 409, detail: 'Answered by the test.',
      errors: [{ location: 'trigger', message: 'the one error of the undeploy' }] }),
  }));
  await page.getByRole('button', { name: 'Undeploy' }).click();
  await page.locator('#save-problem', { hasText: 'Undeploy refused' }).waitFor();
  out.undeploy_problem = await page.locator('#save-problem').textContent();
  out.undeploy_errors = await page.locator('#save-problem li').allTextContents();
});
