// OAuth connections while the list refreshes itself: a Delete that asks stays with its own
// connection when a new one comes in above it, and the focus is not taken from where the user
// went while a delete was under way (no Delete of another connection is armed by typing).
import { args, scenario, signIn } from './dashboard_lib.mjs';

const users = (page) => page.locator('.connection').evaluateAll((items) => items.map((c) => c.dataset.user));

await scenario(async (page, out) => {
  const path = `/api/workflows/${args.id}/connections`;
  // Once `hold` is set, the next refresh of the first page waits for `release`, and from then
  // on every first page also lists `args.added` (a connection made meanwhile), in user order.
  let hold = false;
  let added = false;
  let caught;
  const held = new Promise((r) => { caught = r; });
  let release;
  const released = new Promise((r) => { release = r; });
  const deletes = [];
  await page.route((url) => url.pathname.startsWith(path), async (route) => {
    const req = route.request();
    if (req.method() === 'DELETE') {
      deletes.push(new URL(req.url()).pathname.slice(path.length + 1));
      // The second delete is slow: the user goes on elsewhere meanwhile.
      if (deletes.length === 2) await new Promise((r) => setTimeout(r, 1000));
      return route.continue();
    }
    if (new URL(req.url()).searchParams.has('cursor') || (!hold && !added)) return route.continue();
    if (hold) {
      hold = false;
      caught();
      await released;
      added = true;
    }
    const res = await route.fetch();
    const body = await res.json();
    const model = body.connections[0];
    // The added one's refreshes keep failing and its access token has expired.
    const failing = {
      last_refresh_error: 'the token endpoint failed (HTTP 500)', expires_at: '2026-01-01T00:00:00.000Z',
      refresh_failures: 3, next_refresh_attempt_at: new Date(Date.now() + 240_000).toISOString(),
    };
    if (model) body.connections = [...body.connections, { ...model, ...failing, user_id: args.added }].sort((a, b) => (a.user_id < b.user_id ? -1 : 1));
    return route.fulfill({ response: res, json: body });
  });
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.id}`);
  await page.locator('.connection').first().waitFor();
  out.before = await users(page);

  // Delete on the second connection asks; then the refresh brings in one above it.
  hold = true;
  await held;
  const [, second] = out.before;
  const row = page.locator(`.connection[data-user="${second}"]`);
  await row.getByRole('button', { name: `Delete connection of ${second}` }).focus();
  await page.keyboard.press('Enter');
  await row.getByRole('button', { name: `Really delete connection of ${second}?` }).waitFor();
  release();
  await page.locator(`.connection[data-user="${args.added}"]`).waitFor();
  out.with_added = await users(page);
  out.added_text = await page.locator(`.connection[data-user="${args.added}"]`).textContent();
  out.healthy_text = await page.locator(`.connection[data-user="${out.before[0]}"]`).textContent();
  out.asking = await page.locator('.connection').evaluateAll((items) => items
    .filter((c) => c.querySelector('button.danger').textContent === 'Really delete?').map((c) => c.dataset.user));
  await page.keyboard.press('Enter');
  await page.waitForFunction((u) => !document.querySelector(`.connection[data-user="${u}"]`), second, { timeout: 10_000 }).catch(() => {});
  await page.waitForTimeout(1000);
  out.first_deletes = [...deletes];
  out.after_first_delete = await users(page);

  // Delete on the first connection; while its DELETE is under way, the user types in the editor.
  const [first] = out.after_first_delete;
  const firstRow = page.locator(`.connection[data-user="${first}"]`);
  await firstRow.getByRole('button', { name: `Delete connection of ${first}` }).focus();
  await page.keyboard.press('Enter');
  await firstRow.getByRole('button', { name: `Really delete connection of ${first}?` }).waitFor();
  await page.keyboard.press('Enter');
  await page.locator('.cm-content').click();
  await page.keyboard.type('  ');
  await firstRow.waitFor({ state: 'detached' });
  await page.keyboard.type('    ');
  await page.waitForTimeout(1000);
  out.focus_in_editor = await page.evaluate(() => !!document.activeElement.closest('.editor'));
  out.deletes = [...deletes];
  out.after_second_delete = await users(page);
});
