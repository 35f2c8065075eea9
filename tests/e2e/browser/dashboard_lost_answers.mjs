// Writes that were done, whose answer was a problem or lost, or whose re-read failed: a save
// answered "Draft saved, test URL not updated" counts as saved (its tag is the next save's
// `If-Match`: saving again is no conflict); a deploy whose re-read of the workflow fails says
// it deployed; a replay whose answer never arrives, pressed again, makes no second run (the
// same `Idempotency-Key`).
import { args, scenario, signIn, setEditorText, apiGet } from './dashboard_lib.mjs';

const path = `/api/workflows/${args.id}`;
const workflow = (url) => url.pathname === path;
const workflowOrDeploy = (url) => url.pathname === path || url.pathname === `${path}/deploy`;

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.id}`);
  await page.locator('.cm-content').waitFor();

  // The save is stored; its answer is the 503 of a test URL not updated, with the draft's tag
  // (as the server answers when the workflow's object cannot be told).
  const { draft } = await apiGet(path);
  await setEditorText(page, JSON.stringify({ ...draft, name: 'Saved, copy not handed' }, null, 2));
  await page.route(workflow, async (route) => {
    if (route.request().method() !== 'PUT') return route.continue();
    const stored = await route.fetch();
    return route.fulfill({
      status: 503,
      headers: { 'content-type': 'application/problem+json', etag: stored.headers()['etag'], 'retry-after': '1' },
      body: JSON.stringify({ type: 'urn:tripline:problem:unavailable', title: 'Draft saved, test URL not updated', status: 503, detail: 'the draft was saved; save the same draft again to update it' }),
    });
  });
  await page.getByRole('button', { name: 'Save draft' }).click();
  await page.locator('#save-problem', { hasText: 'Draft saved, test URL not updated' }).waitFor();
  out.after_503 = {
    note: await page.locator('p.note').first().textContent(),
    stored_name: (await apiGet(path)).draft.name,
  };
  await page.unroute(workflow);
  // Saved again, as the problem asks: no conflict with itself.
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.locator('p.note', { hasText: 'Draft saved.' }).waitFor({ timeout: 10_000 });
  out.after_503.saved_again = true;
  out.after_503.stale_notice = await page.locator('#stale-edit').count();

  // The deploy is done; the page's reads of the workflow fail for the next 3 s.
  let deployedAt = 0;
  let failedReads = 0;
  await page.route(workflowOrDeploy, async (route) => {
    const req = route.request();
    if (req.method() === 'POST') {
      const answer = await route.fetch();
      if (answer.ok()) deployedAt = Date.now();
      return route.fulfill({ response: answer });
    }
    if (req.method() === 'GET' && deployedAt && Date.now() - deployedAt < 3000) {
      failedReads += 1;
      return route.abort('connectionreset');
    }
    return route.continue();
  });
  await page.getByRole('button', { name: 'Deploy', exact: true }).click();
  await page.locator('#save-problem').waitFor({ timeout: 15_000 });
  await page.locator('p.note', { hasText: 'Deployed version' }).waitFor();
  out.deploy = {
    failed_reads: failedReads,
    note: await page.locator('p.note').first().textContent(),
    problem: await page.locator('#save-problem').textContent(),
  };
  await page.unroute(workflowOrDeploy);

  // A run, then its replay: the first answer is lost after the server made the replay.
  const hook = await fetch(`${args.base}/hooks/${args.id}?source=website`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'lost@example.com' }),
  });
  out.run_id = (await hook.json()).run_id;
  await page.goto(`${args.base}/#/runs/${out.run_id}`);
  await page.getByRole('button', { name: 'Replay' }).waitFor();
  out.replay_keys = [];
  out.replay_answers = [];
  await page.route((url) => url.pathname.endsWith('/replay'), async (route) => {
    out.replay_keys.push(route.request().headers()['idempotency-key'] || null);
    const answer = await route.fetch();
    out.replay_answers.push({ status: answer.status(), replayed: answer.headers()['idempotent-replayed'] || null, run_id: (await answer.json()).run_id });
    if (out.replay_answers.length === 1) return route.abort('connectionreset');
    return route.fulfill({ response: answer });
  });
  await page.getByRole('button', { name: 'Replay' }).click();
  const lost = page.locator('.problem', { hasText: 'could not be replayed' });
  await lost.waitFor({ timeout: 15_000 });
  out.replay_problem = await lost.textContent();
  await page.getByRole('button', { name: 'Replay' }).click();
  await page.waitForURL((u) => u.hash.startsWith('#/runs/') && !u.hash.includes(out.run_id), { timeout: 15_000 });
  out.replay_page = new URL(page.url()).hash.slice('#/runs/'.length);
});
