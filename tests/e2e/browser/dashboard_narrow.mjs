// At 375 px wide no page scrolls sideways, nor does a table's box: a run with a long dedup key,
// the runs list, a schedule's preview; the list and a workflow page at 320 px too. Signing in gives the page the focus; a run's input box
// takes it too, so that it scrolls from the keyboard.
import { args, scenario, signIn } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await page.setViewportSize({ width: 375, height: 800 });
  await signIn(page);
  out.focus_after_signin = await page.evaluate(() => document.activeElement && document.activeElement.id);
  const overflow = () => page.evaluate(() => ({
    page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    boxes: [...document.querySelectorAll('.table-wrap')].map((el) => el.scrollWidth - el.clientWidth),
  }));
  await page.goto(`${args.base}/#/runs/${args.run}`);
  await page.getByText('Dedup key:').waitFor();
  out.run_page = await overflow();
  out.input_box_tabindex = await page.locator('pre.json').first().getAttribute('tabindex');
  await page.goto(`${args.base}/#/w/${args.workflow}/runs`);
  await page.locator(`a[href="#/runs/${args.run}"]`).waitFor();
  out.runs_page = await overflow();
  await page.goto(`${args.base}/#/w/${args.schedule}`);
  await page.locator('table.preview tbody tr').first().waitFor();
  out.schedule_page = await overflow();
  out.dst_cells = await page.locator('table.preview td[data-label="DST"]').evaluateAll((tds) => tds.map((td) => getComputedStyle(td).display === 'none' ? 'hidden' : td.textContent));
  // The list (its template picker) and a workflow page (its id), at 375 px and at 320 px.
  for (const width of [375, 320]) {
    await page.setViewportSize({ width, height: 800 });
    await page.goto(`${args.base}/#/`);
    await page.locator(`tr[data-id="${args.workflow}"]`).waitFor();
    out[`list_page_${width}`] = await overflow();
    await page.goto(`${args.base}/#/w/${args.workflow}`);
    await page.locator('.cm-content').waitFor();
    out[`workflow_page_${width}`] = await overflow();
  }
});
