/**
 * GraphiQL works with no internet access: the gateway serves the page and everything it loads,
 * and a person can add the Authorization header their token needs. Checked on the HTML, and in
 * a headless Chromium whose every request to another host is refused (as offline).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, testToken, type Gateway } from '../helpers/gateway.js';

/** Debian's chromium (`.ci/run` installs it); another path through HOTCONF_TEST_CHROMIUM. */
const CHROMIUM = process.env.HOTCONF_TEST_CHROMIUM ?? '/usr/bin/chromium';
/** Generous: the page is ~9 MB of inline script, parsed on a loaded 2-core machine. */
const BROWSER_CEILING_MS = 120_000;

let gateway: Gateway;
let page: string;

beforeAll(async () => {
  // GraphiQL is served in development only; the embedded store keeps this test self-contained.
  gateway = await startGateway({ env: { NODE_ENV: 'development' } });
  const response = await fetch(gateway.url, { headers: { accept: 'text/html' } });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/text\/html/);
  page = await response.text();
});

afterAll(async () => {
  await gateway?.stop('SIGKILL');
});

/** Every URL the page itself makes the browser load: element attributes and CSS `url()`/`@import`. */
function loadedUrls(html: string): string[] {
  const urls: string[] = [];
  // Attribute values quoted or not (minified HTML drops the quotes).
  for (const match of html.matchAll(/<(?:script|link|img|iframe|source|style)\b[^>]*?\s(?:src|href)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi)) {
    urls.push(match[1] ?? match[2] ?? match[3]!);
  }
  for (const style of html.matchAll(/<style\b[^>]*>([\s\S]*?)<\/style>/gi)) {
    for (const match of style[1]!.matchAll(/url\(\s*["']?([^"')\s]+)/gi)) urls.push(match[1]!);
    for (const match of style[1]!.matchAll(/@import\s+(?:url\()?\s*["']?([^"')\s;]+)/gi)) urls.push(match[1]!);
  }
  return urls;
}

describe('GraphiQL with no internet', () => {
  it('the page loads nothing from another host: scripts, styles, fonts and workers are inline', () => {
    const urls = loadedUrls(page);
    expect(urls.length).toBeGreaterThan(0); // the favicon and fonts at least
    const external = urls.filter((url) => !/^(data:|blob:|#)/.test(url) && (/^[a-z][a-z0-9+.-]*:/i.test(url) || url.startsWith('//')));
    expect(external).toEqual([]);
    // What the CDN version loaded its code from.
    expect(page).not.toMatch(/unpkg\.com|cdn\.jsdelivr\.net|esm\.sh/);
    expect(page).toContain('<title>hotconf</title>');
  });

  it('renders in a browser cut off from every other host, and runs a query with the Authorization header a person types in', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (.ci/run does), or set HOTCONF_TEST_CHROMIUM`);
    const browser: Browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      timeout: BROWSER_CEILING_MS,
    });
    try {
      const tab = await browser.newPage();
      tab.setDefaultTimeout(BROWSER_CEILING_MS);
      const origin = new URL(gateway.url).origin;
      const refused: string[] = [];
      // Offline: anything not from the gateway (or inline) is refused and remembered.
      await tab.route('**/*', (route) => {
        const url = route.request().url();
        if (url.startsWith(`${origin}/`) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
        refused.push(url);
        return route.abort('internetdisconnected');
      });
      const pageErrors: string[] = [];
      tab.on('pageerror', (error) => pageErrors.push(error.message));

      await tab.goto(gateway.url, { waitUntil: 'load' });
      await tab.locator('.graphiql-container').first().waitFor();
      // The query editor and the headers editor (open by default, with the header to fill in).
      const headers = tab.locator('.graphiql-editor-tool .monaco-editor').last();
      await headers.waitFor();
      expect(await headers.innerText()).toContain('Authorization');

      // What a person does: replace the headers with their own token, then run the query.
      const token = await testToken({ sub: 'graphiql-user' });
      await headers.click();
      await tab.keyboard.press('ControlOrMeta+A');
      await tab.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${token}` }));
      // The editor closes brackets and quotes on its own; drop what it added after the cursor.
      await tab.keyboard.press('Shift+ControlOrMeta+End');
      await tab.keyboard.press('Delete');
      await tab.locator('.graphiql-execute-button').click();
      await tab.locator('.graphiql-response').getByText('"namespaces"').waitFor();
      const response = await tab.locator('.graphiql-response').innerText();
      expect(response).not.toContain('UNAUTHENTICATED');

      expect(refused).toEqual([]);
      expect(pageErrors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 300_000);
});
