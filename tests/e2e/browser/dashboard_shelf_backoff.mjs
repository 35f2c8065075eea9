// The test shelf is fetched less and less often while it does not change, and a new request
// still appears by itself.
import { execFileSync } from 'node:child_process';
import { args, scenario, signIn } from './dashboard_lib.mjs';

await scenario(async (page, out) => {
  await signIn(page);
  const fetches = [];
  const t0 = Date.now();
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === `/api/workflows/${args.id}/test-requests`) fetches.push(Date.now());
  });
  await page.goto(`${args.base}/#/w/${args.id}`);
  await page.getByText('No test requests yet').waitFor();
  await page.waitForTimeout(14_000);
  out.fetches_idle = fetches.length;
  out.fetches_idle_at_ms = fetches.map((t) => t - t0);
  const sent = Date.now();
  execFileSync('curl', ['-s', '-X', 'POST', `${args.base}/hooks/${args.id}/test`,
    '-H', 'content-type: application/json', '-d', '{"email":"late@example.com"}']);
  await page.locator('.test-request').first().waitFor({ timeout: 20_000 });
  const appeared = Date.now();
  out.appeared_after_ms = appeared - sent;
  // A change starts over at the short interval.
  await page.waitForTimeout(3_500);
  const next = fetches.find((t) => t > appeared);
  out.next_fetch_after_change_ms = next === undefined ? null : next - appeared;
});
