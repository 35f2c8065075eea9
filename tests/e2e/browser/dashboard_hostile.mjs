// A workflow named like markup is shown as text and runs nothing; the CSP forbids inline script.
// Also saves the list at 390 px in dark mode.
import { args, scenario, signIn, shot } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  const resp = await page.goto(`${args.base}/`);
  out.csp = resp.headers()['content-security-policy'] || null;
  await signIn(page);
  const link = page.locator(`tr[data-id="${args.id}"] a.wf-name`);
  await link.waitFor();
  out.list_name = await link.textContent();
  // The list's details (last run, next fire) arrive after the rows.
  await page.waitForFunction(() => [...document.querySelectorAll('td.next-fire, td.poll-health')].every((td) => td.textContent !== '…'));
  out.with_run_last_run = await page.locator(`tr[data-id="${args.with_run}"] td.last-run`).textContent();
  out.with_run_last_run_at = await page.locator(`tr[data-id="${args.with_run}"] td.last-run time`).getAttribute('datetime');
  out.hostile_last_run = await page.locator(`tr[data-id="${args.id}"] td.last-run`).textContent();
  out.schedule_next_fire = await page.locator(`tr[data-id="${args.schedule}"] td.next-fire`).textContent();
  await page.getByLabel('Filter').fill('onerror');
  out.filtered_rows = await page.locator('tr[data-id]').evaluateAll((rows) => rows.map((r) => r.dataset.id));
  // A last run's status is matched too.
  await page.getByLabel('Filter').fill('succeeded');
  out.succeeded_rows = await page.locator('tr[data-id]').evaluateAll((rows) => rows.map((r) => r.dataset.id));
  await page.getByLabel('Filter').fill('');
  await shot(page, 'workflows');
  await link.click();
  await page.locator('.wf-title').waitFor();
  await page.locator('.cm-content').waitFor();
  out.title_name = await page.locator('.wf-title').textContent();
  out.img_elements = await page.evaluate(() => document.querySelectorAll('img').length
    + document.querySelector('.editor').shadowRoot.querySelectorAll('img').length);
  out.pwned = await page.evaluate(() => window.__pwned === true);
  // Every form control and button on the page has a name a screen reader can say.
  out.unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')]
    .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
    .map((el) => el.outerHTML));
  // An inline script added to the page must be refused by the CSP.
  out.inline_script_ran = await page.evaluate(async () => {
    const s = document.createElement('script');
    s.textContent = 'window.__inline_ran = true';
    document.head.appendChild(s);
    await new Promise((r) => setTimeout(r, 50));
    return window.__inline_ran === true;
  });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(`${args.base}/#/`);
  await page.locator(`tr[data-id="${args.id}"]`).waitFor();
  out.narrow_scroll_width = await page.evaluate(() => document.documentElement.scrollWidth);
  out.dark_background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await shot(page, 'workflows-390-dark');
  await page.goto(`${args.base}/#/w/${args.id}`);
  await page.locator('.cm-content').waitFor();
  out.narrow_workflow_scroll_width = await page.evaluate(() => document.documentElement.scrollWidth);
  await shot(page, 'workflow-390-dark');
  // A schedule whose own resource cannot be read: its next fire says why, not "—".
  await page.route(`${args.base}/api/workflows/${args.schedule}`, (route) => route.fulfill({
    status: 503, contentType: 'application/problem+json',
    body: JSON.stringify({ type: 'urn:tripline:problem:not-configured', title: 'Not configured', status: 503, detail: 'the store is not bound' }),
  }));
  await page.goto(`${args.base}/#/`);
  const failedCell = page.locator(`tr[data-id="${args.schedule}"] td.next-fire`);
  await failedCell.locator('.problem-mark').waitFor();
  out.schedule_next_fire_failed = await failedCell.textContent();
});
