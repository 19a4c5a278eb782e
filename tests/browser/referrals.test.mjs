// The Referrals page (infra/web/referrals.html) in headless Chromium.
//
// Default: against stub-server.mjs (seeded data, exact assertions).
// Real server: set REFERRALS_PAGE_URL (full page URL including #token=<jwt>) and
// REFERRALS_EXPECT (JSON, the strings the page must show), e.g.
//   REFERRALS_EXPECT='{"total_earned":"$67.75","earned_last_30_days":"$17.75","signups":"3",
//                      "active_referred_users":"2","clicks":"41"}'
// optional keys: "link" (exact URL), "code", "history_rows" (rows after all "Load more").
// Stub-only checks (seeded rows, request log, error injection) are skipped then.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { launch, waitFor } from './lib/browser.mjs';
import { startStubServer, EXPECTED_KPIS, LINK, HISTORY } from './stub-server.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = path.resolve(HERE, '../artifacts');
const KPI_KEYS = ['total_earned', 'earned_last_30_days', 'signups', 'active_referred_users', 'clicks'];
const CODE_RE = /^[0-9A-HJKMNP-TV-Z]{6}$/;

const REAL_URL = process.env.REFERRALS_PAGE_URL || '';
const REAL = REAL_URL !== '';
const STUB_ONLY = REAL ? 'stub-only check (REFERRALS_PAGE_URL is set)' : false;

let stub = null;
let pageUrl;
let expected;
let chrome;

before(async () => {
  if (REAL) {
    const raw = process.env.REFERRALS_EXPECT;
    if (!raw) throw new Error('REFERRALS_PAGE_URL is set: REFERRALS_EXPECT (JSON of expected KPI strings) is required too');
    expected = JSON.parse(raw);
    for (const k of KPI_KEYS) {
      if (typeof expected[k] !== 'string') throw new Error(`REFERRALS_EXPECT.${k} must be a string such as "$67.75" or "3"`);
    }
    if (!new URL(REAL_URL).hash.includes('token=')) throw new Error('REFERRALS_PAGE_URL must end with #token=<jwt>');
    pageUrl = REAL_URL;
  } else {
    stub = await startStubServer();
    pageUrl = stub.pageUrl;
    expected = { ...EXPECTED_KPIS, link: LINK.url, code: LINK.code, history_rows: HISTORY.length };
  }
  chrome = await launch();
});

after(async () => {
  await chrome?.close();
  await stub?.close();
});

const origin = () => new URL(pageUrl).origin;

/** Same page URL with another fragment token (or none). */
function urlWithToken(token) {
  const u = new URL(pageUrl);
  u.hash = token == null ? '' : `token=${encodeURIComponent(token)}`;
  return u.toString();
}

async function openPage(url = pageUrl, contextOptions = {}) {
  const context = await chrome.newContext({ viewport: { width: 1280, height: 800 }, ...contextOptions });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForSelector('body[data-loaded]', { timeout: 15_000 });
  return { context, page, errors };
}

const text = (page, testid) => page.textContent(`[data-testid="${testid}"]`).then((t) => (t ?? '').trim());
const rowCount = (page) => page.locator('[data-testid="history-row"]').count();

test('shows the link, QR and KPIs; the token leaves the address bar', async () => {
  const { context, page, errors } = await openPage();
  try {
    assert.equal(await page.getAttribute('body', 'data-loaded'), 'true');
    assert.equal(await page.isVisible('[data-testid="alert"]'), false, 'no error banner');

    const link = await page.inputValue('[data-testid="ref-link"]');
    if (expected.link) assert.equal(link, expected.link);
    const code = new URL(link).searchParams.get('ref');
    assert.match(code ?? '', CODE_RE, `link ${link} carries a valid ?ref= code`);
    assert.equal(await text(page, 'ref-code'), expected.code ?? code);
    assert.equal(await page.getAttribute('[data-testid="ref-link"]', 'readonly'), '');

    for (const k of KPI_KEYS) assert.equal(await text(page, `kpi-${k}`), expected[k], `KPI ${k}`);

    const qr = page.locator('[data-testid="qr"]');
    await qr.waitFor({ state: 'visible' });
    assert.match((await qr.getAttribute('src')) ?? '', /^blob:/);
    assert.ok(await qr.evaluate((img) => img.complete && img.naturalWidth > 0), 'QR image decoded');

    // The JWT is gone from the address bar but kept for this tab.
    assert.ok(!page.url().includes('token='), `fragment removed: ${page.url()}`);
    const stored = await page.evaluate(() => sessionStorage.getItem('referrals_token'));
    assert.equal(stored, decodeURIComponent(new URL(pageUrl).hash.replace(/^#token=/, '')));

    // A reload has no fragment any more: the token comes from sessionStorage.
    await page.reload();
    await page.waitForSelector('body[data-loaded="true"]');
    assert.equal(await text(page, `kpi-${KPI_KEYS[0]}`), expected[KPI_KEYS[0]]);

    if (stub) {
      const api = stub.requests.filter((r) => r.path.startsWith('/referrals/'));
      for (const p of ['/referrals/link', '/referrals/kpis', '/referrals/qr.svg', '/referrals/history']) {
        assert.ok(api.some((r) => r.path === p), `${p} requested`);
      }
      for (const r of api) assert.equal(r.authorization, `Bearer ${stub.token}`, `${r.path} sent the bearer token`);
    }
    assert.deepEqual(errors, [], 'no uncaught page errors');
  } finally {
    await context.close();
  }
});

test('history: rows with status badges, Load more appends the rest', async () => {
  const { context, page, errors } = await openPage();
  try {
    const first = await rowCount(page);
    const more = page.locator('[data-testid="load-more"]');
    if (stub) {
      assert.equal(first, 20);
      assert.ok(await more.isVisible(), 'Load more shown while next_cursor is set');
      const row0 = page.locator('[data-testid="history-row"]').first();
      const cells = (await row0.locator('td').allTextContents()).map((t) => t.trim());
      assert.deepEqual(cells.slice(1), ['$50.00', '5%', '$2.50', 'Credited', '—']);
      assert.equal(await row0.locator('time').getAttribute('datetime'), HISTORY[0].created_at);
      const row3 = page.locator('[data-payment-id="pay_22"]');
      assert.deepEqual((await row3.locator('td').allTextContents()).slice(1, 5).map((t) => t.trim()),
        ['$300.00', '7.5%', '$22.50', 'Processing']);
      const big = page.locator('[data-payment-id="pay_20"] td');
      assert.deepEqual((await big.allTextContents()).slice(1, 4), ['$1,500.00', '5%', '$75.00']);
      const pending = page.locator('[data-payment-id="pay_24"]');
      assert.equal(await pending.locator('[data-testid="status-badge"]').textContent(), 'On hold');
      assert.match(await pending.locator('[data-testid="reason"]').textContent(), /many new referrals/);
      const sameIp = page.locator('[data-payment-id="pay_19"] [data-testid="reason"]');
      assert.match(await sameIp.textContent(), /signed up from your IP address/);
      // Hostile API text is shown as text, not parsed as markup.
      const hostile = page.locator('[data-payment-id="pay_16"] [data-testid="reason"]');
      assert.match(await hostile.textContent(), /<img src=x onerror/);
      assert.equal(await page.evaluate(() => window.__xss), undefined);
    } else {
      assert.ok(first >= 0);
    }

    // Every row has exactly one badge; a credit still in flight (pending/crediting) or being
    // retried (failed) reads "Processing", never a red failure; a held bonus reads "On hold".
    const badges = await page.$$eval('[data-testid="status-badge"]', (els) => els.map((b) => ({
      status: b.dataset.status, text: b.textContent, bg: getComputedStyle(b).backgroundColor,
      reason: b.closest('tr').querySelector('[data-testid="reason"]').dataset.reason ?? null })));
    assert.equal(badges.length, first);
    const label = (b) => ({ credited: 'Credited', reversed: 'Reversed', failed: 'Processing' })[b.status]
      ?? (b.reason === 'crediting' ? 'Processing' : b.reason ? 'On hold' : 'Pending');
    const colours = new Map();
    for (const b of badges) {
      assert.ok(['credited', 'pending', 'failed', 'reversed'].includes(b.status), `known status ${b.status}`);
      assert.equal(b.text, label(b), `${b.status}/${b.reason}`);
      if (colours.has(b.text)) assert.equal(colours.get(b.text), b.bg);
      colours.set(b.text, b.bg);
    }
    assert.equal(new Set(colours.values()).size, colours.size, 'distinct colour per label');
    assert.ok(!colours.has('Failed'));
    if (stub) {
      assert.equal(colours.size, 4, 'Credited, On hold, Processing, Reversed on page one');
      const inFlight = page.locator('[data-payment-id="pay_9"]');
      assert.equal(await inFlight.locator('[data-testid="status-badge"]').textContent(), 'Processing');
    }

    // Load more until the server says there is no next page.
    let rows = first;
    for (let i = 0; i < 50 && (await more.isVisible()); i++) {
      await more.click();
      rows = await waitFor(async () => {
        const n = await rowCount(page);
        return n > rows && !(await more.isDisabled()) ? n : 0;
      }, { message: 'Load more to append rows', timeout: 10_000 });
    }
    if (expected.history_rows != null) assert.equal(rows, expected.history_rows);
    assert.equal(await more.isVisible(), false, 'Load more hidden after the last page');
    if (stub) {
      const ids = await page.$$eval('[data-testid="history-row"]', (els) => els.map((e) => e.dataset.paymentId));
      assert.deepEqual(ids, HISTORY.map((h) => h.payment_id), 'newest first, no duplicates, nothing lost');
      assert.equal(await text(page, 'history-count'), 'Showing all 25');
      const last = page.locator('[data-payment-id="pay_1"] td');
      assert.deepEqual((await last.allTextContents()).slice(1, 5), ['$20.00', '5%', '$1.00', 'Reversed']);
      // The holding period has its own words.
      assert.match(await page.locator('[data-payment-id="pay_4"] [data-testid="reason"]').textContent(), /Holding period/);
      assert.ok(stub.requests.some((r) => r.path === '/referrals/history' && /cursor=/.test(r.search)));
    }
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('Copy puts the exact link in the clipboard', async () => {
  const { context, page } = await openPage();
  try {
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: origin() });
    const link = await page.inputValue('[data-testid="ref-link"]');
    await page.click('[data-testid="copy"]');
    await page.waitForFunction(() => document.querySelector('[data-testid="copy-status"]').textContent === 'Copied!');
    assert.equal(await text(page, 'copy'), 'Copied!');
    const clip = await page.evaluate(() => navigator.clipboard.readText());
    assert.equal(clip, link);
    if (expected.link) assert.equal(clip, expected.link);
  } finally {
    await context.close();
  }
});

test('Copy falls back to execCommand when the Clipboard API is missing', async () => {
  const context = await chrome.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    await context.addInitScript(() => {
      const real = navigator.clipboard;
      window.__readClipboard = () => real.readText();
      Object.defineProperty(Navigator.prototype, 'clipboard', { configurable: true, get: () => undefined });
    });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: origin() });
    const page = await context.newPage();
    await page.goto(pageUrl);
    await page.waitForSelector('body[data-loaded="true"]');
    const link = await page.inputValue('[data-testid="ref-link"]');
    await page.click('[data-testid="copy"]');
    await page.waitForFunction(() => document.querySelector('[data-testid="copy-status"]').textContent === 'Copied!');
    assert.equal(await page.evaluate(() => window.__readClipboard()), link);
  } finally {
    await context.close();
  }
});

test('Download PNG saves referral-qr.png', async () => {
  const { context, page } = await openPage();
  try {
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: 10_000 }),
      page.click('[data-testid="qr-download"]'),
    ]);
    assert.equal(download.suggestedFilename(), 'referral-qr.png');
    const bytes = await readFile(await download.path());
    assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG file');
    if (stub) {
      const png = stub.requests.filter((r) => r.path === '/referrals/qr.png');
      assert.ok(png.some((r) => r.search === '?size=512' && r.authorization === `Bearer ${stub.token}`));
      assert.deepEqual(bytes, await readFile(new URL('./fixtures/qr.png', import.meta.url)), 'the real QR rendering');
    }
  } finally {
    await context.close();
  }
});

test('a rejected token (401) asks to sign in again', async () => {
  const { context, page } = await openPage(urlWithToken('not-a-valid-token'));
  try {
    assert.equal(await page.getAttribute('body', 'data-loaded'), 'signed-out');
    await page.waitForSelector('[data-testid="alert"]', { state: 'visible' });
    assert.match(await text(page, 'alert-text'), /sign in again/i);
    assert.equal(await page.isVisible('[data-testid="content"]'), false);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('referrals_token')), null, 'bad token forgotten');
  } finally {
    await context.close();
  }
});

test('no token at all asks to sign in without calling the API', async () => {
  const before = stub ? stub.requests.length : 0;
  const { context, page } = await openPage(urlWithToken(null));
  try {
    assert.match(await text(page, 'alert-text'), /sign in again/i);
    if (stub) assert.equal(stub.requests.length, before, 'no API call without a token');
  } finally {
    await context.close();
  }
});

test('data-api-base prefixes every API call', { skip: STUB_ONLY }, async () => {
  const start = stub.requests.length;
  const { context, page } = await openPage(`${stub.origin}/api-base/referrals#token=${encodeURIComponent(stub.token)}`);
  try {
    assert.equal(await text(page, 'kpi-total_earned'), EXPECTED_KPIS.total_earned);
    const paths = stub.requests.slice(start).map((r) => r.path);
    assert.ok(paths.length >= 4);
    assert.ok(paths.every((p) => p.startsWith('/api/referrals/')), paths.join(', '));
  } finally {
    await context.close();
  }
});

test('API errors show the envelope message and a working Try again', { skip: STUB_ONLY }, async () => {
  const failing = await startStubServer({ kpis: null });
  // kpis: null makes the stub answer {"error":...} 503 for /referrals/kpis until healed.
  try {
    const { context, page } = await openPage(failing.pageUrl);
    try {
      await page.waitForSelector('[data-testid="kpi-error"]', { state: 'visible' });
      assert.match(await text(page, 'kpi-error'), /Could not load your results\. Statistics are being recalculated/);
      assert.equal(await text(page, 'kpi-total_earned'), '—');
      assert.ok(await page.isVisible('[data-testid="retry"]'));
      assert.equal(await rowCount(page), 20, 'the rest of the page still works');
      failing.heal();
      await page.click('[data-testid="retry"]');
      await page.waitForFunction(() => document.querySelector('[data-testid="kpi-total_earned"]').textContent === '$67.75');
      assert.equal(await page.isVisible('[data-testid="alert"]'), false);
      assert.equal(await page.isVisible('[data-testid="kpi-error"]'), false);
      assert.equal(await rowCount(page), 20, 'retry does not duplicate history rows');
    } finally {
      await context.close();
    }
  } finally {
    await failing.close();
  }
});

test('screenshots (desktop and mobile)', async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  const desktop = await openPage();
  try {
    await desktop.page.locator('[data-testid="qr"]').waitFor({ state: 'visible' });
    await desktop.page.screenshot({ path: path.join(ARTIFACTS, 'referrals.png'), fullPage: true });
  } finally {
    await desktop.context.close();
  }
  const mobile = await openPage(pageUrl, { viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true });
  try {
    await mobile.page.locator('[data-testid="qr"]').waitFor({ state: 'visible' });
    const overflow = await mobile.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `no horizontal page scroll on a phone (overflow ${overflow}px)`);
    await mobile.page.screenshot({ path: path.join(ARTIFACTS, 'referrals-mobile.png'), fullPage: true });
  } finally {
    await mobile.context.close();
  }
});

test('the page works at /referrals/ too (redirected to /referrals, token kept)', { skip: REAL ? false : 'real dashboard only: the redirect is the handler\'s' }, async () => {
  const slashed = new URL(pageUrl);
  slashed.pathname = slashed.pathname.replace(/\/referrals$/, '/referrals/');
  const { context, page, errors } = await openPage(slashed.toString());
  try {
    assert.equal(new URL(page.url()).pathname.endsWith('/referrals'), true, `landed on ${page.url()}`);
    assert.equal(await page.isVisible('[data-testid="alert"]'), false, 'no error banner: assets and API resolved');
    for (const k of KPI_KEYS) assert.equal(await text(page, `kpi-${k}`), expected[k], `KPI ${k}`);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
