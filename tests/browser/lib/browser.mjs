// Launches Debian's Chromium through playwright-core (Playwright's own browser download is
// not used).

import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Returns { browser, newContext(options), close() }. Playwright starts Chromium with a fresh
 * temporary --user-data-dir of its own (it refuses one in `args`) and deletes it on close;
 * every newContext() is an isolated context with its own cookies and storage.
 */
export async function launch() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: run tests/browser/run.sh (it installs Debian's chromium)`);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    timeout: 30_000,
  });
  return {
    browser,
    newContext: (options = {}) => browser.newContext({ acceptDownloads: true, ...options }),
    close: () => browser.close().catch(() => {}),
  };
}

/** Polls fn until it returns a truthy value (no fixed sleeps); throws with the last value. */
export async function waitFor(fn, { timeout = 5000, interval = 25, message = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) throw new Error(`timed out waiting for ${message} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, interval));
  }
}
