// Headless Chromium signs in as an end user would: opens the Sign-in URL, fills in the
// provider's login page, clicks Allow, and waits to land on the success URL.
// Usage: node tests/e2e/browser/oauth_signin.mjs SIGNIN_URL SUCCESS_URL USERNAME PASSWORD
// Prints one JSON line: {"ok", "url", "heading", "login_page_title", "error"}.
import { chromium } from 'playwright-core';

const [signinUrl, successUrl, username, password] = process.argv.slice(2);
if (!password) {
  console.error('usage: oauth_signin.mjs SIGNIN_URL SUCCESS_URL USERNAME PASSWORD');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  timeout: 60_000,
});
const out = { ok: false };
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(30_000);
  await page.goto(signinUrl);
  out.login_page_title = await page.title();
  await page.fill('#username', username);
  await page.fill('#password', password);
  await Promise.all([
    page.waitForURL((u) => u.toString().startsWith(successUrl)),
    page.click('#allow'),
  ]);
  out.url = page.url();
  out.heading = await page.textContent('h1');
  out.ok = true;
} catch (e) {
  out.error = String(e && e.message || e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
process.exit(out.ok ? 0 : 1);
