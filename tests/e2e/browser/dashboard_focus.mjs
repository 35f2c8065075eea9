// Where the keyboard focus goes when the control it was on goes away: Cancel of a Delete
// question → Delete; Apply or Dismiss of a detected schema → Detect schema; a new page → its
// content (main).
import { execFileSync } from 'node:child_process';
import { args, scenario, signIn } from './dashboard_lib.mjs';

/** The focused element (its id, or its text), once it is not the body (up to 2 s). */
const focused = async (page) => {
  await page.waitForFunction(() => document.activeElement !== document.body, null, { timeout: 2000 }).catch(() => {});
  return focusedNow(page);
};
const focusedNow = (page) => page.evaluate(() => {
  const a = document.activeElement;
  return a === document.body ? 'body' : a.id ? `#${a.id}` : a.textContent;
});

await scenario(async (page, out) => {
  execFileSync('curl', ['-s', '-X', 'POST', `${args.base}/hooks/${args.id}/test?source=focus`,
    '-H', 'content-type: application/json', '-d', '{"email":"ada@example.com"}']);
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.id}`);
  await page.locator('.test-request').first().waitFor();

  // Delete → Cancel (Tab, Enter), and Delete → Escape.
  const actions = page.getByRole('navigation', { name: 'Workflow actions' });
  await actions.getByRole('button', { name: 'Delete', exact: true }).focus();
  await page.keyboard.press('Enter');
  await actions.getByRole('button', { name: 'Cancel' }).waitFor();
  await page.keyboard.press('Tab');
  out.before_cancel = await focused(page);
  await page.keyboard.press('Enter');
  await actions.getByRole('button', { name: 'Cancel' }).waitFor({ state: 'detached' });
  out.after_cancel = await focused(page);
  await page.keyboard.press('Enter');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Escape');
  await actions.getByRole('button', { name: 'Cancel' }).waitFor({ state: 'detached' });
  out.after_escape = await focused(page);

  // Detect schema → Dismiss; Detect schema → Apply.
  const detect = page.getByRole('button', { name: 'Detect schema' });
  await detect.focus();
  await page.keyboard.press('Enter');
  await page.locator('.proposal').waitFor();
  await page.getByRole('button', { name: 'Dismiss' }).focus();
  await page.keyboard.press('Enter');
  await page.locator('.proposal').waitFor({ state: 'detached' });
  out.after_dismiss = await focused(page);
  await detect.focus();
  await page.keyboard.press('Enter');
  await page.locator('.proposal').waitFor();
  await page.getByRole('button', { name: 'Apply' }).focus();
  await page.keyboard.press('Enter');
  await page.locator('.proposal').waitFor({ state: 'detached' });
  out.after_apply = await focused(page);

  // A link to another page: the focus goes to the new page's content.
  await page.getByRole('link', { name: 'Runs', exact: true }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Runs' }).waitFor();
  out.after_route_change = await focused(page);
});
