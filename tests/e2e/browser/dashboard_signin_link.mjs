// OAuth: "Create a test sign-in link" makes a one-time Sign-in link for the user id typed, shown
// with a Copy button; for a workflow that is not deployed the API's problem is shown instead.
import { args, scenario, signIn } from './dashboard_lib.mjs';

async function create(page, user) {
  await page.getByLabel('User id').fill(user);
  await page.getByRole('button', { name: 'Create a test sign-in link' }).click();
}

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.undeployed_id}`);
  await page.getByRole('heading', { name: 'OAuth' }).waitFor();
  await create(page, args.user);
  const refused = page.locator('.problem', { hasText: 'The sign-in link could not be created' });
  await refused.waitFor();
  out.undeployed_problem = await refused.textContent();
  out.undeployed_links = await page.locator('code[data-url="One-time sign-in link"]').count();

  await page.goto(`${args.base}/#/w/${args.oauth_id}`);
  await page.getByRole('heading', { name: 'OAuth' }).waitFor();
  await create(page, args.user);
  const link = page.locator('code[data-url="One-time sign-in link"]');
  await link.waitFor();
  out.link = await link.textContent();
  out.note = await page.locator('.signin-link-made p').textContent();
  await page.getByRole('button', { name: 'Copy One-time sign-in link' }).click();
  out.copied = await page.evaluate(() => navigator.clipboard.readText());
  out.problems = await page.locator('.signin-link .problem').count();
});
