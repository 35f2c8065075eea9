// Schedule preview over a DST change: every fire time in the zone and in UTC, the shifted one marked.
import { args, scenario, signIn, shot } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.id}`);
  await page.locator('table.preview').waitFor();
  out.fromLabel = await page.locator('label[for="preview-from"]').textContent();
  await page.getByLabel(/^From \(date, in /).fill(args.from);
  await page.getByLabel('Count').fill(String(args.count));
  await page.getByRole('button', { name: 'Preview' }).click();
  await page.locator(`table.preview tbody tr td:first-child >> text=/^${args.from}/`).waitFor();
  out.caption = await page.locator('table.preview caption').textContent();
  out.rows = await page.locator('table.preview tbody tr').evaluateAll((rows) => rows.map((r) => ({
    at: r.cells[0].textContent,
    utc: r.cells[1].textContent,
    dst: r.dataset.dst,
    mark: r.cells[2].textContent,
  })));
  if (args.shot === false) return;
  await page.locator('tr[data-dst="shifted"]').first().scrollIntoViewIfNeeded();
  await shot(page, 'schedule-dst');
});
