// The editor in dark mode: the lint tooltip, the completion list and its info box, and the line
// numbers are drawn in the dark colours, readable (each text's contrast against the background
// it is drawn on, computed in the page as WCAG does); switched to light mode while open, it follows.
import { args, scenario, signIn, setEditorText, completeAt } from './dashboard_lib.mjs';

/** In the page: the contrast of the text of the editor's first element matching `sel` against
 * the colour behind it (its own background and its ancestors', across the shadow root,
 * blended), and that background's luminance; null when there is no such element. */
function measure(sel) {
  const el = document.querySelector('.editor').shadowRoot.querySelector(sel);
  if (!el) return null;
  const parse = (c) => {
    let m = /rgba?\(([^)]*)\)/.exec(c);
    if (m) { const p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p[3] ?? 1]; }
    m = /color\(srgb ([^)]*)\)/.exec(c);
    if (m) { const p = m[1].split(/[\s/]+/).filter(Boolean).map(Number); return [p[0] * 255, p[1] * 255, p[2] * 255, p[3] ?? 1]; }
    return [0, 0, 0, 0];
  };
  const over = (top, below) => [0, 1, 2].map((i) => top[i] * top[3] + below[i] * (1 - top[3])).concat(1);
  const chain = [];
  for (let n = el; n; n = n.parentElement || (n.getRootNode() && n.getRootNode().host)) chain.push(n);
  let bg = [255, 255, 255, 1];
  for (const n of chain.reverse()) bg = over(parse(getComputedStyle(n).backgroundColor), bg);
  const fg = over(parse(getComputedStyle(el).color), bg);
  const lum = ([r, g, b]) => {
    const c = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * c(r) + 0.7152 * c(g) + 0.0722 * c(b);
  };
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return { contrast: Math.round(((a + 0.05) / (b + 0.05)) * 100) / 100, background_luminance: Math.round(lum(bg) * 1000) / 1000 };
}

await scenario(async (page, out) => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await signIn(page);
  await page.goto(`${args.base}/#/w/${args.id}`);
  await page.locator('.cm-content').waitFor();
  const inEditor = (sel) => page.evaluate(measure, sel);

  // A schema error (an empty name), hovered: its tooltip.
  await setEditorText(page, JSON.stringify({ name: '', trigger: { type: 'endpoint' }, steps: [] }, null, 2));
  await page.locator('.cm-lintRange-error').first().waitFor();
  await page.locator('.cm-lintRange-error').first().hover();
  await page.locator('.cm-tooltip-lint').first().waitFor();
  out.lint_tooltip = await inEditor('.cm-tooltip-lint .cm-diagnostic');
  out.line_number = await inEditor('.cm-lineNumbers .cm-gutterElement:not(:first-child)');
  out.editor_text = await inEditor('.cm-line');
  // Selected text: on a selection background of the scheme's.
  await page.locator('.cm-content').click();
  await page.keyboard.press('Control+a');
  await page.locator('.cm-selectionBackground').first().waitFor();
  out.selection = await inEditor('.cm-selectionBackground');

  // Completion of a top-level field: the list, its selected entry, and the entry's description.
  const text = '{\n  "name": "Dark",\n  "trigger": {"type": "endpoint"},\n  "steps": [],\n  "sha"\n}';
  await setEditorText(page, text);
  await page.keyboard.press('Control+End');
  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('End');
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('Control+Space');
  await page.locator('.cm-tooltip-autocomplete').waitFor();
  out.completions = await page.locator('.cm-tooltip-autocomplete .cm-completionLabel').allTextContents();
  out.completion_selected = await inEditor('.cm-tooltip-autocomplete li[aria-selected] .cm-completionLabel');
  await page.locator('.cm-completionInfo').waitFor({ timeout: 5000 }).catch(() => {});
  out.completion_info = await inEditor('.cm-completionInfo');
  await page.keyboard.press('Escape');
  // An entry not selected: a list of two or more (the step kinds).
  const blank = JSON.stringify({ name: 'Dark', trigger: { type: 'endpoint' }, steps: [{ type: '' }] }, null, 2);
  await completeAt(page, blank, '"type": ""', '"type": "'.length);
  out.completion_other = await inEditor('.cm-tooltip-autocomplete li:not([aria-selected]) .cm-completionLabel');
  await page.keyboard.press('Escape');

  // The system turns to light mode while the page is open: the editor follows.
  await page.emulateMedia({ colorScheme: 'light' });
  await page.waitForTimeout(200);
  out.line_number_light = await inEditor('.cm-lineNumbers .cm-gutterElement:not(:first-child)');
  await page.locator('.cm-content').click();
  await page.keyboard.press('Control+a');
  await page.locator('.cm-selectionBackground').first().waitFor();
  out.selection_light = await inEditor('.cm-selectionBackground');
});
