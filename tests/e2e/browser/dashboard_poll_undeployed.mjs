// An undeployed poll: its panel says there is no next poll, and the list's health line says it
// is not deployed (it keeps its cursor and its last state).
import { args, scenario, signIn } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.poll_id}`);
  await page.getByRole('heading', { name: 'Poll' }).waitFor();
  out.next_poll = await page.locator('dd.next-poll').textContent();
  out.backoff = await page.locator('dd.poll-backoff').textContent();
  await page.goto(`${args.base}/#/`);
  const health = page.locator(`tr[data-id="${args.poll_id}"] td.poll-health`);
  await health.locator('span').waitFor();
  out.list_health = await health.textContent();
});
