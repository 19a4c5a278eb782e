// The real-handler fixture's description (PAGES_FIXTURE, printed by the Rust
// `dashboard-fixture`: moto + fake Wellflow + the real dashboard and admin handlers), and
// small helpers shared by pages.test.mjs and admin.test.mjs.

import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ARTIFACTS = path.resolve(HERE, '../../artifacts');

/** The fixture, or null when the tests run without it (then they are skipped). */
export const FIXTURE = process.env.PAGES_FIXTURE ? JSON.parse(process.env.PAGES_FIXTURE) : null;
export const SKIP = FIXTURE ? false : 'needs the real-handler fixture (tests/browser/real-dashboard.sh sets PAGES_FIXTURE)';

/** Cents of an exact decimal string ("1234.50", "$1,234.50"), as a BigInt (no floats on money). */
export function cents(value) {
  const s = String(value ?? '').replace(/[$,\s]/g, '');
  const m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(s);
  if (!m) throw new Error(`not a money value: ${JSON.stringify(value)}`);
  const c = BigInt(m[2]) * 100n + BigInt(((m[3] ?? '') + '00').slice(0, 2));
  return m[1] ? -c : c;
}

/** RFC 4180 parser: quoted fields, doubled quotes, CRLF records. Returns arrays of fields. */
export function parseCsv(text) {
  const records = [];
  let field = '', record = [], i = 0, quoted = false;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i += 2; continue; }
      if (c === '"') { quoted = false; i++; continue; }
      field += c; i++; continue;
    }
    if (c === '"' && field === '') { quoted = true; i++; continue; }
    if (c === ',') { record.push(field); field = ''; i++; continue; }
    if (c === '\r' && text[i + 1] === '\n') { record.push(field); records.push(record); record = []; field = ''; i += 2; continue; }
    if (c === '\n') throw new Error(`bare LF in CSV at ${i} (RFC 4180 wants CRLF)`);
    field += c; i++;
  }
  if (field !== '' || record.length) { record.push(field); records.push(record); }
  return records;
}

/** Opens `url` in a fresh context and waits for the page's `data-loaded`. */
export async function open(chrome, url, contextOptions = {}) {
  const context = await chrome.newContext({ viewport: { width: 1280, height: 900 }, ...contextOptions });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForSelector('body[data-loaded]', { timeout: 20_000 });
  return { context, page, errors };
}

export const text = (page, testid) => page.textContent(`[data-testid="${testid}"]`).then((t) => (t ?? '').trim());

/** A fixture hook (`/__fixture/...`) or an API call with a bearer token, as JSON. */
export async function api(pathAndQuery, { token, method = 'GET', body, headers = {} } = {}) {
  const res = await fetch(FIXTURE.origin + pathAndQuery, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const raw = await res.text();
  let json = null;
  try { json = raw ? JSON.parse(raw) : null; } catch { json = null; }
  return { status: res.status, json, headers: res.headers, raw };
}

/** Desktop and phone screenshots of the page at `url` into tests/artifacts/<name>*.png. */
export async function screenshots(chrome, url, name, ready = async () => {}) {
  await mkdir(ARTIFACTS, { recursive: true });
  const out = [];
  for (const [suffix, options] of [
    ['', { viewport: { width: 1280, height: 900 } }],
    ['-phone', { viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true }],
  ]) {
    const { context, page } = await open(chrome, url, options);
    try {
      await ready(page);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      const file = path.join(ARTIFACTS, `${name}${suffix}.png`);
      await page.screenshot({ path: file, fullPage: true });
      out.push({ file, overflow });
    } finally {
      await context.close();
    }
  }
  return out;
}

/** Tabs through the page from the top; returns the data-testid / id of each focused element. */
export async function tabOrder(page, presses) {
  await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
  await page.focus('body');
  const seen = [];
  for (let i = 0; i < presses; i++) {
    await page.keyboard.press('Tab');
    seen.push(await page.evaluate(() => {
      const a = document.activeElement;
      if (!a || a === document.body) return null;
      return a.getAttribute('data-testid') || a.id || a.getAttribute('aria-label') || a.textContent.trim().slice(0, 30);
    }));
  }
  return seen;
}
