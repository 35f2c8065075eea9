// A failed refresh: the run page keeps the run with a note and clears it on the next good
// answer; a first load that failed is the page until a later one succeeds. The OAuth panel's
// connections do the same.
import { args, scenario, signIn } from './dashboard_lib.mjs';

const unavailable = { status: 503, contentType: 'application/problem+json', body: JSON.stringify({ type: 'about:blank', title: 'Service Unavailable', status: 503 }) };

/** Answers the requests to `url` in turn: 'running' (the real run, shown as still running),
 * 'fail' (503), and the real answer once the list is used up. */
async function script(page, url, steps) {
  const left = [...steps];
  await page.route(url, async (route) => {
    const step = left.shift();
    if (step === 'fail') return route.fulfill(unavailable);
    if (step === 'running') {
      const resp = await route.fetch();
      return route.fulfill({ response: resp, json: { ...(await resp.json()), status: 'running', finished_at: null } });
    }
    return route.continue();
  });
}

await scenario(async (page, out) => {
  await signIn(page);
  const runUrl = `${args.base}/api/runs/${args.run_id}`;
  await script(page, runUrl, ['running', 'fail']);
  await page.goto(`${args.base}/#/runs/${args.run_id}`);
  await page.locator('.run h1').waitFor();
  await page.locator('.stale').waitFor();
  out.during_failure = {
    heading: await page.locator('.run h1').textContent(),
    note: await page.locator('.stale').textContent(),
    full_page_problem: await page.getByText('This run could not be loaded').count(),
  };
  await page.locator('.stale').waitFor({ state: 'detached' });
  out.after_recovery = await page.locator('.run .page-head p.muted .badge').textContent();

  // The first fetch fails: the page says so, and shows the run once a later fetch succeeds.
  await page.unroute(runUrl);
  await script(page, runUrl, ['fail']);
  await page.goto(`${args.base}/#/`);
  await page.goto(`${args.base}/#/runs/${args.run_id}`);
  out.first_failed = await page.getByText('This run could not be loaded').textContent();
  await page.locator('.run h1').waitFor();
  out.first_failed_then = await page.locator('.run h1').textContent();
  out.first_failed_problem_left = await page.getByText('This run could not be loaded').count();

  // The OAuth panel: its connections are fetched every 5 s; the second fetch fails.
  await script(page, `${args.base}/api/workflows/${args.oauth_id}/connections`, ['ok', 'fail']);
  await page.goto(`${args.base}/#/w/${args.oauth_id}`);
  await page.getByText('No connections yet.').waitFor();
  await page.locator('.stale').waitFor({ timeout: 15_000 });
  out.oauth_during_failure = {
    note: await page.locator('.stale').textContent(),
    empty_shown: await page.getByText('No connections yet.').count(),
  };
  await page.locator('.stale').waitFor({ state: 'detached', timeout: 15_000 });
  out.oauth_alerts_after = await page.locator('.panel [role=alert]').count();
});
