// The attribution snippet (infra/web/ref.js) on a landing page in headless Chromium, plus
// a few checks in node:vm for what http://127.0.0.1 cannot show (https → Secure, Domain=).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import vm from 'node:vm';
import { launch } from './lib/browser.mjs';
import { startStubServer, WEB_DIR } from './stub-server.mjs';

const MAX_AGE = 34560000;
let stub;
let chrome;

before(async () => {
  stub = await startStubServer();
  chrome = await launch();
});

after(async () => {
  await chrome?.close();
  await stub?.close();
});

/** A fresh context and page that fails the test on any uncaught page error. */
async function fresh(initScript) {
  const context = await chrome.newContext();
  if (initScript) await context.addInitScript(initScript);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  return { context, page, errors };
}

async function visit(page, pathAndQuery) {
  await page.goto(stub.origin + pathAndQuery);
  await page.waitForFunction(() => typeof window.getReferralCode === 'function');
}

const pathOf = (page) => {
  const u = new URL(page.url());
  return u.pathname + u.search + u.hash;
};

async function state(page) {
  const [code, ls, at, cookies] = await Promise.all([
    page.evaluate(() => window.getReferralCode()),
    page.evaluate(() => localStorage.getItem('referral_code')),
    page.evaluate(() => localStorage.getItem('referral_code_at')),
    page.context().cookies(stub.origin),
  ]);
  const refCookies = cookies.filter((c) => c.name === 'ref');
  assert.ok(refCookies.length <= 1, `at most one ref cookie, got ${JSON.stringify(refCookies)}`);
  return { code, ls, at, cookie: refCookies[0] ?? null };
}

test('?ref= is captured, mirrored to localStorage and cookie, and stripped from the URL', async () => {
  const { context, page, errors } = await fresh();
  try {
    await visit(page, '/landing.html');
    const entries = await page.evaluate(() => history.length);
    assert.equal((await state(page)).code, null);
    const t0 = Date.now();
    await visit(page, '/landing.html?utm_source=x&ref=k7m2xq&b=2#frag');
    assert.equal(pathOf(page), '/landing.html?utm_source=x&b=2#frag');
    const s = await state(page);
    assert.equal(s.code, 'K7M2XQ');
    assert.equal(s.ls, 'K7M2XQ');
    const at = Date.parse(s.at);
    assert.ok(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(s.at) && at >= t0 - 1000 && at <= Date.now() + 1000, `ISO timestamp ${s.at}`);
    assert.ok(s.cookie, 'ref cookie set');
    assert.equal(s.cookie.value, 'K7M2XQ');
    assert.equal(s.cookie.path, '/');
    assert.equal(s.cookie.sameSite, 'Lax');
    assert.equal(s.cookie.secure, false, 'no Secure on http');
    assert.equal(s.cookie.httpOnly, false);
    assert.ok(Math.abs(s.cookie.expires - (Date.now() / 1000 + MAX_AGE)) < 120, `expires in 400 days (${s.cookie.expires})`);
    // replaceState, not pushState: one history entry for the visit, Back goes to the page before.
    assert.equal(await page.evaluate(() => history.length), entries + 1);

    // First touch: a later link with another code changes nothing, but is still stripped.
    await visit(page, '/landing.html?ref=ABCDEF');
    assert.equal(pathOf(page), '/landing.html');
    const s2 = await state(page);
    assert.equal(s2.code, 'K7M2XQ');
    assert.equal(s2.ls, 'K7M2XQ');
    assert.equal(s2.cookie.value, 'K7M2XQ');
    assert.equal(s2.at, s.at, 'timestamp of the first touch kept');

    // last_touch on the same visitor: the newest valid link wins.
    await visit(page, '/landing-last-touch.html?x=1&ref=abcdef');
    assert.equal(pathOf(page), '/landing-last-touch.html?x=1');
    const s3 = await state(page);
    assert.equal(s3.code, 'ABCDEF');
    assert.equal(s3.ls, 'ABCDEF');
    assert.equal(s3.cookie.value, 'ABCDEF');
    assert.ok(Date.parse(s3.at) >= Date.parse(s.at));

    // ... but an invalid code never replaces a valid one, even in last_touch.
    await visit(page, '/landing-last-touch.html?ref=K7M2XI');
    assert.equal(pathOf(page), '/landing-last-touch.html');
    assert.equal((await state(page)).code, 'ABCDEF');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('cookie cleared → restored from localStorage; localStorage cleared → restored from cookie', async () => {
  const { context, page, errors } = await fresh();
  try {
    await visit(page, '/landing.html?ref=K7M2XQ');
    assert.equal((await state(page)).cookie?.value, 'K7M2XQ');

    await context.clearCookies();
    assert.equal((await state(page)).cookie, null);
    await visit(page, '/landing.html');
    const s = await state(page);
    assert.equal(s.cookie?.value, 'K7M2XQ', 'cookie restored from localStorage');
    assert.equal(s.cookie.sameSite, 'Lax');
    assert.ok(Math.abs(s.cookie.expires - (Date.now() / 1000 + MAX_AGE)) < 120);
    assert.equal(s.code, 'K7M2XQ');

    await page.evaluate(() => localStorage.clear());
    await page.reload();
    await page.waitForFunction(() => typeof window.getReferralCode === 'function');
    const s2 = await state(page);
    assert.equal(s2.ls, 'K7M2XQ', 'localStorage restored from the cookie');
    assert.ok(s2.at, 'timestamp written');
    assert.equal(s2.code, 'K7M2XQ');

    // A cookie set by the server (redirect Lambda) before the page ever ran is honoured too.
    await context.clearCookies();
    await page.evaluate(() => localStorage.clear());
    await context.addCookies([{ name: 'ref', value: 'Z9Y8X7', url: stub.origin }]);
    await visit(page, '/landing.html?ref=ABCDEF');
    const s3 = await state(page);
    assert.equal(s3.code, 'Z9Y8X7', 'first touch: the server cookie wins over a later ?ref=');
    assert.equal(s3.ls, 'Z9Y8X7');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('invalid codes are ignored and stripped', async () => {
  const { context, page, errors } = await fresh();
  try {
    for (const [query, rest] of [
      ['?ref=K7M2XI', ''], // I is not in the alphabet
      ['?ref=%3Cscript%3E', ''],
      ['?ref=<script>&keep=1', '?keep=1'],
      ['?a=1&ref=K7M2X&b=2', '?a=1&b=2'], // too short
      ['?ref=K7M2XQQ', ''], // too long
      ['?ref=K7M%202X', ''],
      ['?ref=', ''],
      ['?ref', ''],
    ]) {
      await visit(page, `/landing.html${query}`);
      assert.equal(pathOf(page), `/landing.html${rest}`, `stripped for ${query}`);
      const s = await state(page);
      assert.deepEqual([s.code, s.ls, s.cookie], [null, null, null], `nothing stored for ${query}`);
    }
    // Every ref param goes; the first valid one counts; other params keep order and encoding.
    await visit(page, '/landing.html?ref=bad!&q=a%20b+c&ref=k7m2xq&z=%F0%9F%99%82&ref=ABCDEF#x=1');
    assert.equal(pathOf(page), '/landing.html?q=a%20b+c&z=%F0%9F%99%82#x=1');
    assert.equal((await state(page)).code, 'K7M2XQ');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('clearReferralCode() forgets the code everywhere', async () => {
  const { context, page, errors } = await fresh();
  try {
    await visit(page, '/landing.html?ref=K7M2XQ');
    assert.equal(await page.evaluate(() => window.getReferralCode()), 'K7M2XQ');
    await page.evaluate(() => window.clearReferralCode());
    assert.deepEqual(await state(page), { code: null, ls: null, at: null, cookie: null });
    await visit(page, '/landing.html');
    assert.equal(await page.evaluate(() => window.getReferralCode()), null, 'still gone after a reload');
    // After clearing, a new link is a new first touch.
    await visit(page, '/landing.html?ref=ABCDEF');
    assert.equal((await state(page)).code, 'ABCDEF');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('never throws when storage and cookies are blocked (Safari private mode etc.)', async () => {
  const { context, page, errors } = await fresh(() => {
    const boom = () => { throw new DOMException('blocked', 'SecurityError'); };
    Object.defineProperty(window, 'localStorage', { configurable: true, get: boom });
    Object.defineProperty(document, 'cookie', { configurable: true, get: boom, set: boom });
  });
  try {
    await visit(page, '/landing.html?ref=k7m2xq&b=2');
    assert.equal(pathOf(page), '/landing.html?b=2');
    assert.equal(await page.evaluate(() => window.getReferralCode()), 'K7M2XQ', 'kept in memory for this page');
    await page.evaluate(() => window.clearReferralCode());
    assert.equal(await page.evaluate(() => window.getReferralCode()), null);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

// ------------------------------------------------------------------ node:vm (https, Domain=)

const SRC = await readFile(path.join(WEB_DIR, 'ref.js'), 'utf8');

/** Runs ref.js against a fake window/document; returns what it wrote. */
function runInVm({ href, attrs = {}, cookie = '', storage = {} }) {
  const u = new URL(href);
  const written = [];
  const replaced = [];
  const store = { ...storage };
  const document = {
    currentScript: { getAttribute: (n) => (n in attrs ? attrs[n] : null) },
    querySelector: () => null,
    get cookie() { return cookie; },
    set cookie(v) {
      written.push(v);
      const [pair] = v.split(';');
      const value = pair.slice(4);
      cookie = /Max-Age=0(;|$)/.test(v) || value === '' ? '' : pair;
    },
  };
  const window = {
    location: { protocol: u.protocol, pathname: u.pathname, search: u.search, hash: u.hash },
    history: { state: null, replaceState: (_s, _t, url) => replaced.push(url) },
    localStorage: {
      getItem: (k) => (k in store ? store[k] : null),
      setItem: (k, v) => { store[k] = String(v); },
      removeItem: (k) => { delete store[k]; },
    },
  };
  vm.runInNewContext(SRC, { window, document, Date });
  return { written, replaced, store, window };
}

test('on https the cookie gets Secure; data-cookie-domain adds Domain=', () => {
  const r = runInVm({ href: 'https://www.example.com/pricing?ref=k7m2xq', attrs: { 'data-cookie-domain': '.example.com' } });
  assert.deepEqual(r.written, [
    'ref=; Max-Age=0; Path=/; SameSite=Lax; Secure', // drops a host-only duplicate
    'ref=K7M2XQ; Max-Age=34560000; Path=/; Domain=.example.com; SameSite=Lax; Secure',
  ]);
  assert.deepEqual(r.replaced, ['/pricing']);
  assert.equal(r.window.getReferralCode(), 'K7M2XQ');

  const plain = runInVm({ href: 'https://www.example.com/?ref=K7M2XQ' });
  assert.deepEqual(plain.written, ['ref=K7M2XQ; Max-Age=34560000; Path=/; SameSite=Lax; Secure']);

  // A cookie that already holds the code is not rewritten; no ?ref= → no replaceState.
  const quiet = runInVm({ href: 'https://www.example.com/a?b=1', cookie: 'x=1; ref=K7M2XQ', storage: { referral_code: 'K7M2XQ', referral_code_at: '2026-01-01T00:00:00.000Z' } });
  assert.deepEqual(quiet.written, []);
  assert.deepEqual(quiet.replaced, []);
  assert.equal(quiet.store.referral_code_at, '2026-01-01T00:00:00.000Z');

  // An attribute that would smuggle cookie attributes is ignored.
  const evil = runInVm({ href: 'https://www.example.com/?ref=K7M2XQ', attrs: { 'data-cookie-domain': 'example.com; Path=/x' } });
  assert.deepEqual(evil.written, ['ref=K7M2XQ; Max-Age=34560000; Path=/; SameSite=Lax; Secure']);
});

test('the snippet stays small and plain ES5', () => {
  assert.ok(Buffer.byteLength(SRC) < 4096, `ref.js is ${Buffer.byteLength(SRC)} bytes`);
  const code = SRC.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '').replace(/ \/\/ .*$/gm, '');
  assert.doesNotMatch(code, /=>|\bconst\b|\blet\b|`|\bclass\b|\basync\b|\.\.\./, 'ES5 syntax only');
  assert.doesNotMatch(code, /\bimport\b|\brequire\(|https?:\/\//, 'no dependencies, no network');
});
