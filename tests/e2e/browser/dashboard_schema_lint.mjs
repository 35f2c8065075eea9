// The definition schema's check while typing marks a mistake inside a trigger or a step where it
// is (a misspelled field at its name, an unknown type at the type), with a message naming it,
// and the completion inside a trigger or a step offers only the fields of its type.
import { args, scenario, signIn, setEditorText } from './dashboard_lib.mjs';

/** Every schema mark in the editor: its line (1-based), its text and the messages its tooltip
 * shows when hovered. */
async function diagnostics(page) {
  await page.locator('.cm-lintRange-error').first().waitFor();
  await page.waitForTimeout(800); // the linter's delay: every mark drawn
  const ranges = page.locator('.cm-lintRange-error');
  const out = [];
  for (let i = 0; i < await ranges.count(); i++) {
    const r = ranges.nth(i);
    const at = await r.evaluate((el) => {
      const root = el.getRootNode();
      return { line: [...root.querySelectorAll('.cm-content > .cm-line')].indexOf(el.closest('.cm-line')) + 1, text: el.textContent };
    });
    await r.hover();
    await page.locator('.cm-tooltip-lint').first().waitFor();
    at.messages = await page.locator('.cm-tooltip-lint .cm-diagnostic').allTextContents();
    await page.mouse.move(1, 1);
    await page.locator('.cm-tooltip-lint').first().waitFor({ state: 'detached' });
    out.push(at);
  }
  return out;
}

const lineOf = (text, needle) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

/** The completions offered with the cursor inside the empty key `""` of the line holding it. */
async function completionsAt(page, text) {
  await setEditorText(page, text);
  const line = lineOf(text, '""');
  await page.keyboard.press('Control+Home');
  for (let i = 1; i < line; i++) await page.keyboard.press('ArrowDown');
  await page.keyboard.press('End');
  if (text.split('\n')[line - 1].trimEnd().endsWith(',')) await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('Control+Space');
  await page.locator('.cm-tooltip-autocomplete').waitFor();
  const labels = await page.locator('.cm-tooltip-autocomplete .cm-completionLabel').allTextContents();
  await page.keyboard.press('Escape');
  return labels;
}

await scenario(async (page, out) => {
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.id}`);
  await page.locator('.cm-content').waitFor();

  // A misspelled field in a schedule trigger and in a log step.
  const misspelled = JSON.stringify({
    name: 'Schema marks',
    trigger: { type: 'schedule', schedule: { kind: 'daily', every: 1, at: '09:00' }, timezon: 'UTC' },
    steps: [{ type: 'log', name: 'note', mesage: 'hello' }],
  }, null, 2);
  out.misspelled_lines = { timezon: lineOf(misspelled, '"timezon"'), mesage: lineOf(misspelled, '"mesage"') };
  await setEditorText(page, misspelled);
  out.misspelled = await diagnostics(page);

  // A step type that does not exist, and a schedule kind that does not.
  const unknown = JSON.stringify({
    name: 'Schema marks',
    trigger: { type: 'schedule', schedule: { kind: 'dayly', every: 1, at: '09:00' } },
    steps: [{ type: 'sms', name: 'note', message: 'hello' }],
  }, null, 2);
  out.unknown_lines = { sms: lineOf(unknown, '"sms"'), dayly: lineOf(unknown, '"dayly"') };
  await setEditorText(page, unknown);
  out.unknown = await diagnostics(page);

  // In an endpoint's `verify` (an object of one kind or null): a misspelled field, and a
  // scheme that does not exist, each at its place.
  const verify = JSON.stringify({
    name: 'Schema marks',
    trigger: { type: 'endpoint', verify: { scheme: 'standard-webhooks', secret_env: 'WH_SECRET', tolerence_seconds: 5 } },
    steps: [],
  }, null, 2);
  out.verify_lines = { tolerence: lineOf(verify, '"tolerence_seconds"') };
  await setEditorText(page, verify);
  out.verify = await diagnostics(page);
  const scheme = JSON.stringify({
    name: 'Schema marks',
    trigger: { type: 'endpoint', verify: { scheme: 'svix', secret_env: 'WH_SECRET' } },
    steps: [],
  }, null, 2);
  out.scheme_lines = { svix: lineOf(scheme, '"svix"') };
  await setEditorText(page, scheme);
  out.scheme = await diagnostics(page);

  // Completion of a field name in a schedule trigger, and in a log step.
  out.trigger_completions = await completionsAt(page, '{\n  "name": "Schema marks",\n  "trigger": {\n    "type": "schedule",\n    "schedule": {"kind": "daily", "every": 1, "at": "09:00"},\n    ""\n  },\n  "steps": []\n}');
  out.step_completions = await completionsAt(page, '{\n  "name": "Schema marks",\n  "trigger": {"type": "endpoint"},\n  "steps": [\n    {\n      "type": "log",\n      ""\n    }\n  ]\n}');
  // A step's type completes with every step type still.
  out.type_completions = await completionsAt(page, '{\n  "name": "Schema marks",\n  "trigger": {"type": "endpoint"},\n  "steps": [\n    {\n      "type": ""\n    }\n  ]\n}');
});
