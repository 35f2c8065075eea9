// Direction controls in data (a workflow's name, a webhook's body) are shown written out
// (`\u202e`), not applied: they cannot reorder what the page shows around them.
import { args, scenario, signIn } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await signIn(page);
  const link = page.locator(`tr[data-id="${args.id}"] a.wf-name`);
  await link.waitFor();
  out.list_name = await link.textContent();
  await link.click();
  await page.locator('.wf-title').waitFor();
  out.title_name = await page.locator('.wf-title').textContent();
  out.document_title = await page.title();
  // The editor marks each of them (the name holds U+202E and U+202C).
  await page.locator('.cm-content').waitFor();
  out.editor_marks = await page.evaluate(() => document.querySelector('.editor').shadowRoot.querySelectorAll('.cm-specialChar').length);
  await page.goto(`${args.base}/#/runs/${args.run}`);
  const input = page.getByRole('region', { name: 'Run input' });
  await input.waitFor();
  out.run_input = await input.textContent();
  out.page_text_has_controls = await page.evaluate(() => /[\u200e\u200f\u202a-\u202e\u2066-\u2069]/.test(document.body.innerText));
});
