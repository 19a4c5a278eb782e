// The Referrals page against the REAL dashboard handler (moto + fake Wellflow, seeded by the
// Rust fixture, PAGES_FIXTURE): every section renders from the real API, the chart's plotted
// totals equal the KPIs, the CSV of 1,000 rows adds up to the KPIs to the cent, every
// dashboard feature (filters, export, leaderboard + public name, campaigns, API keys, partner
// webhook, sign-in / sign-out) works from the page, by keyboard too. Screenshots of desktop
// and phone go to tests/artifacts/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { launch, waitFor } from './lib/browser.mjs';
import { FIXTURE, SKIP, cents, parseCsv, open, text, api, screenshots, tabOrder } from './lib/fixture.mjs';

let chrome;
const pageOf = (who) => `${FIXTURE.origin}/referrals#token=${encodeURIComponent(FIXTURE[who].token)}`;

before(async () => { if (FIXTURE) chrome = await launch(); });
after(async () => { await chrome?.close(); });

/** The plotted values of one chart series (the bars' data-value), summed exactly. */
async function plotted(page, series) {
  const values = await page.$$eval(`[data-testid="chart-${series}"] rect`, (rs) => rs.map((r) => r.getAttribute('data-value')));
  return series === 'earned' ? values.reduce((a, v) => a + cents(v), 0n) : values.reduce((a, v) => a + Number(v), 0);
}

async function chartReady(page) {
  await page.waitForSelector('[data-testid="chart"][data-ready="true"]', { timeout: 10_000 });
}

test('every section renders from the real API; the chart plots the KPI figures', { skip: SKIP }, async () => {
  const { context, page, errors } = await open(chrome, pageOf('alice'));
  try {
    assert.equal(await page.getAttribute('body', 'data-loaded'), 'true');
    assert.equal(await page.isVisible('[data-testid="alert"]'), false, 'no error banner');
    for (const section of ['share', 'kpis', 'chart', 'history', 'leaderboard', 'campaigns', 'api-keys', 'webhook']) {
      assert.ok(await page.isVisible(`[data-testid="${section}"]`), `${section} shown`);
    }
    const k = FIXTURE.alice.kpis;
    assert.equal(await text(page, 'kpi-total_earned'), `$${k.total_earned}`);
    await chartReady(page);
    // Daily (90 days) and monthly (12 months): the bars add up to the KPIs (all seeded today).
    for (const granularity of ['day', 'month']) {
      await page.click(`[data-testid="chart-${granularity}"]`);
      await chartReady(page);
      const bars = await page.locator('[data-testid="chart-earned"] rect').count();
      assert.equal(bars, granularity === 'day' ? 90 : 12, `${granularity}: one bar per bucket`);
      assert.equal(await plotted(page, 'earned'), cents(k.total_earned), `${granularity}: plotted earnings = KPI`);
      assert.equal(await plotted(page, 'signups'), k.signups, `${granularity}: plotted signups = KPI`);
      assert.equal(await plotted(page, 'clicks'), k.clicks, `${granularity}: plotted clicks = KPI`);
      assert.equal(cents(await text(page, 'chart-total-earned')), cents(k.total_earned));
      assert.equal(await page.getAttribute(`[data-testid="chart-${granularity}"]`, 'aria-pressed'), 'true');
    }
    // History: the in-flight / retried credit is "Processing" (not a red failure), the hold is labelled.
    assert.equal(await page.locator('[data-testid="history-row"]').count(), FIXTURE.alice.history_rows);
    const chips = await page.$$eval('[data-testid="history-row"]', (rows) => rows.map((r) => ({
      id: r.dataset.paymentId,
      chip: r.querySelector('[data-testid="status-badge"]').textContent,
      status: r.querySelector('[data-testid="status-badge"]').dataset.status,
      colour: getComputedStyle(r.querySelector('[data-testid="status-badge"]')).color,
      reason: r.querySelector('[data-testid="reason"]').textContent,
    })));
    const byId = Object.fromEntries(chips.map((c) => [c.id, c]));
    assert.equal(byId.p_erin.status, 'failed');
    assert.equal(byId.p_erin.chip, 'Processing');
    assert.notEqual(byId.p_erin.colour, 'rgb(185, 28, 28)', 'not the danger red');
    assert.equal(byId.p_puppet.chip, 'On hold');
    assert.match(byId.p_puppet.reason, /signed up from your IP/);
    assert.equal(byId.p_dave.chip, 'Reversed');
    assert.equal(byId.p_carol.chip, 'Credited');
    // Leaderboard: your rank, a highlighted row of yours.
    assert.match(await text(page, 'lb-rank'), /^#\d+$/);
    assert.equal(cents(await text(page, 'lb-earned')), cents(k.total_earned));
    assert.equal(await page.locator('[data-testid="lb-row"].you').count(), 1);
    // Empty states of the sections without data yet.
    assert.ok(await page.isVisible('[data-testid="delivery-empty"]'));
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('CSV of 1,000 rows: downloads in parts, parses, and adds up to the KPIs to the cent', { skip: SKIP }, async () => {
  const amb = FIXTURE.ambassador;
  const { context, page, errors } = await open(chrome, pageOf('ambassador'));
  try {
    const kpiTotal = cents(await text(page, 'kpi-total_earned'));
    const kpi30 = cents(await text(page, 'kpi-earned_last_30_days'));
    assert.equal(kpiTotal, cents(amb.total_earned));
    assert.equal(kpi30, cents(amb.earned_last_30_days));
    const parts = [];
    page.on('request', (r) => { if (new URL(r.url()).pathname.endsWith('/referrals/history.csv')) parts.push(r.url()); });
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: 30_000 }),
      page.click('[data-testid="csv-download"]'),
    ]);
    assert.equal(parts.length, amb.csv_parts, `followed X-Next-Cursor over ${amb.csv_parts} parts`);
    assert.ok(parts.slice(1).every((u) => /[?&]cursor=/.test(u)));
    assert.match(download.suggestedFilename(), /^referral-bonuses-\d{4}-\d{2}-\d{2}\.csv$/);
    const records = parseCsv(await readFile(await download.path(), 'utf8'));
    const [header, ...rows] = records;
    assert.deepEqual(header.slice(0, 3), ['payment_id', 'created_at', 'status']);
    assert.equal(rows.length, amb.rows, 'every row, the header once (parts joined)');
    assert.equal(new Set(rows.map((r) => r[0])).size, amb.rows, 'no row twice');
    const col = (name) => header.indexOf(name);
    const paid = rows.reduce((a, r) => a + cents(r[col('paid_amount')]), 0n);
    assert.equal(paid, kpiTotal, 'sum of paid_amount = Total earned, to the cent');
    const start = new Date(Date.now() - 29 * 86400_000).toISOString().slice(0, 10);
    const last30 = rows.filter((r) => r[col('credited_at')] && r[col('credited_at')].slice(0, 10) >= start)
      .reduce((a, r) => a + cents(r[col('paid_amount')]), 0n);
    assert.equal(last30, kpi30, 'credited in the last 30 UTC days = Earned last 30 days, to the cent');
    for (const r of rows) assert.match(r[col('paid_amount')], /^\d+\.\d{2}$/, 'exact decimals');
    assert.match(await text(page, 'csv-status'), new RegExp(`Downloaded ${amb.rows.toLocaleString('en-US')} rows`));
    // The chart of the same referrer plots the same money (60 days of history < 90-day window).
    await chartReady(page);
    assert.equal(await plotted(page, 'earned'), kpiTotal, 'plotted daily earnings = Total earned');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('history filters: status and dates select the rows, in the page and in the CSV alike', { skip: SKIP }, async () => {
  const { context, page } = await open(chrome, pageOf('ambassador'));
  try {
    await page.selectOption('[data-testid="filter-status"]', 'reversed');
    await page.click('[data-testid="filter-apply"]');
    await waitFor(async () => {
      const statuses = await page.$$eval('[data-testid="status-badge"]', (b) => b.map((x) => x.dataset.status));
      return statuses.length > 0 && statuses.every((s) => s === 'reversed');
    }, { message: 'only reversed rows', timeout: 10_000 });
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="csv-download"]')]);
    const [header, ...rows] = parseCsv(await readFile(await download.path(), 'utf8'));
    assert.ok(rows.length > 0 && rows.every((r) => r[header.indexOf('status')] === 'reversed'), 'CSV filtered alike');
    // A date range in the future: the empty state names the filters.
    await page.selectOption('[data-testid="filter-status"]', '');
    const future = new Date(Date.now() + 5 * 86400_000).toISOString().slice(0, 10);
    await page.fill('[data-testid="filter-from"]', future);
    await page.click('[data-testid="filter-apply"]');
    await page.waitForSelector('[data-testid="history-empty"]:not([hidden])');
    assert.equal(await text(page, 'history-empty'), 'No bonuses match these filters.');
  } finally {
    await context.close();
  }
});

test('leaderboard: month and all time, the public-name opt-in', { skip: SKIP }, async () => {
  const { context, page } = await open(chrome, pageOf('ambassador'));
  try {
    await page.fill('[data-testid="public-name"]', 'Amb Assador');
    await page.click('[data-testid="public-name-save"]');
    await waitFor(async () => (await page.locator('[data-testid="lb-row"].you').textContent())?.includes('Amb Assador'),
      { message: 'public name on the board' });
    await page.click('[data-testid="lb-all"]');
    await waitFor(async () => (await page.getAttribute('[data-testid="lb-all"]', 'aria-pressed')) === 'true'
      && (await page.locator('[data-testid="lb-row"].you').textContent())?.includes('Amb Assador'), { message: 'all-time board' });
    assert.match(await text(page, 'lb-rank'), /^#1$/);
    // Others see the name too (the real leaderboard route, as alice).
    const board = await api('/referrals/leaderboard?period=all', { token: FIXTURE.alice.token });
    assert.ok(board.json.items.some((i) => i.name === 'Amb Assador'));
    // Opt out again: masked.
    await page.fill('[data-testid="public-name"]', '');
    await page.click('[data-testid="public-name-save"]');
    await waitFor(async () => /masked/.test(await text(page, 'profile-status')), { message: 'opt-out' });
    const again = await api('/referrals/leaderboard?period=all', { token: FIXTURE.alice.token });
    assert.ok(!again.json.items.some((i) => i.name === 'Amb Assador'));
  } finally {
    await context.close();
  }
});

test('campaigns: create, list with clicks, copy the link', { skip: SKIP }, async () => {
  const { context, page } = await open(chrome, pageOf('ambassador'));
  try {
    assert.ok(await page.isVisible('[data-testid="campaign-empty"]'), 'empty state first');
    await page.fill('[data-testid="campaign-name"]', 'newsletter-dec');
    await page.click('[data-testid="campaign-create"]');
    const row = page.locator('[data-testid="campaign-row"][data-campaign="newsletter-dec"]');
    await row.waitFor();
    assert.equal((await row.locator('[data-testid="campaign-clicks"]').textContent()).trim(), '0');
    // Two clicks on the campaign link through the real redirect handler (the ambassador's: alice's
    // click KPI is asserted by the other tests).
    for (let i = 0; i < 2; i++) assert.equal((await api('/__fixture/click?user=ambassador&campaign=newsletter-dec', {})).json.status, 302);
    await page.reload();
    await page.waitForSelector('body[data-loaded="true"]');
    await waitFor(async () => (await row.locator('[data-testid="campaign-clicks"]').textContent())?.trim() === '2', { message: 'clicks counted' });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: FIXTURE.origin });
    await row.locator('[data-testid="campaign-copy"]').click();
    await waitFor(async () => /copied/.test(await text(page, 'campaign-status')), { message: 'copied' });
    const clip = await page.evaluate(() => navigator.clipboard.readText());
    assert.match(clip, /\?ref=[0-9A-Z]{6}&utm_campaign=newsletter-dec$/);
    // A bad name gets the API's envelope message.
    await page.fill('[data-testid="campaign-name"]', 'newsletter-dec');
    await page.click('[data-testid="campaign-create"]');
    await waitFor(async () => (await page.getAttribute('[data-testid="campaign-status"]', 'class')).includes('warn'), { message: 'refusal shown' });
  } finally {
    await context.close();
  }
});

test('API keys: created and shown once, listed, working, revoked', { skip: SKIP }, async () => {
  const { context, page } = await open(chrome, pageOf('alice'));
  try {
    await page.fill('[data-testid="key-name"]', 'Spreadsheet');
    await page.click('[data-testid="key-create"]');
    await page.waitForSelector('[data-testid="key-once"]:not([hidden])');
    const key = await page.inputValue('[data-testid="key-secret"]');
    assert.match(key, /^rk_live_[a-z0-9]{12}_[A-Za-z0-9]{40}$/);
    const row = page.locator('[data-testid="key-row"]').filter({ hasText: 'Spreadsheet' });
    await row.waitFor();
    assert.equal((await row.locator('[data-testid="key-state"]').textContent()).trim(), 'Active');
    assert.equal((await api('/referrals/kpis', { headers: { 'x-api-key': key } })).status, 200, 'the key works');
    page.once('dialog', (d) => d.accept());
    await row.locator('[data-testid="key-revoke"]').click();
    await waitFor(async () => (await row.locator('[data-testid="key-state"]').textContent())?.trim() === 'Revoked', { message: 'revoked' });
    assert.equal((await api('/referrals/kpis', { headers: { 'x-api-key': key } })).status, 401, 'revoked at once');
    // Shown once: a fresh page has no secret anywhere.
    await page.reload();
    await page.waitForSelector('body[data-loaded="true"]');
    assert.equal(await page.isVisible('[data-testid="key-once"]'), false);
    assert.ok(!(await page.content()).includes(key));
  } finally {
    await context.close();
  }
});

test('partner webhook: register, rotate the secret, delete', { skip: SKIP }, async () => {
  const { context, page } = await open(chrome, pageOf('ambassador'));
  try {
    assert.equal(await page.isDisabled('[data-testid="webhook-rotate"]'), true, 'nothing to rotate yet');
    await page.fill('[data-testid="webhook-url"]', 'https://hooks.example.com/referrals');
    await page.click('[data-testid="webhook-save"]');
    await page.waitForSelector('[data-testid="webhook-once"]:not([hidden])');
    const first = await text(page, 'webhook-secret');
    assert.match(first, /^whsec_[0-9a-f]{64}$/);
    const stored = await api('/referrals/webhook', { token: FIXTURE.ambassador.token });
    assert.equal(stored.json.url, 'https://hooks.example.com/referrals');
    assert.equal(stored.json.secret, undefined, 'the secret is never read back');
    // The delivery log: two attempts of one event as the sender records them, newest first.
    assert.equal(await page.isVisible('[data-testid="delivery-empty"]'), true, 'no deliveries yet');
    assert.equal((await api('/__fixture/deliveries?user=ambassador', {})).json.recorded, 2);
    await page.reload();
    await page.waitForSelector('[data-testid="delivery-row"]');
    const rows = page.locator('[data-testid="delivery-row"]');
    assert.equal(await rows.count(), 2);
    const newest = await rows.nth(0).innerText();
    assert.match(newest, /bonus\.credited/);
    assert.match(newest, /p_fixture_hook/);
    assert.match(newest, /Delivered \(200\)/);
    assert.match(newest, /87 ms/);
    assert.match(await rows.nth(1).innerText(), /connection refused/);
    assert.equal(await page.isVisible('[data-testid="delivery-empty"]'), false);
    page.once('dialog', (d) => d.accept());
    await page.click('[data-testid="webhook-rotate"]');
    await waitFor(async () => { const s = await text(page, 'webhook-secret'); return s !== first && /^whsec_/.test(s); }, { message: 'rotated' });
    page.once('dialog', (d) => d.accept());
    await page.click('[data-testid="webhook-delete"]');
    await waitFor(async () => /deleted/.test(await text(page, 'webhook-status')), { message: 'deleted' });
    assert.equal((await api('/referrals/webhook', { token: FIXTURE.ambassador.token })).status, 404);
  } finally {
    await context.close();
  }
});

test('keyboard: every control is reachable with Tab, focus is visible, toggles work with Enter', { skip: SKIP }, async () => {
  const { context, page } = await open(chrome, pageOf('alice'));
  try {
    const order = await tabOrder(page, 60);
    assert.equal(order[0], 'Skip to content', 'skip link first');
    for (const id of ['sign-out', 'ref-link', 'copy', 'qr-download', 'chart-day', 'chart-month', 'filter-status', 'filter-from',
      'filter-to', 'filter-apply', 'csv-download', 'lb-month', 'lb-all', 'public-name', 'public-name-save', 'campaign-name',
      'campaign-create', 'key-name', 'key-scope-read', 'key-create', 'webhook-url', 'webhook-save']) {
      assert.ok(order.includes(id), `${id} reachable by Tab (order: ${order.join(' | ')})`);
    }
    await page.focus('[data-testid="chart-month"]');
    const outline = await page.$eval('[data-testid="chart-month"]', (b) => getComputedStyle(b).outlineStyle);
    assert.notEqual(outline, 'none', 'visible focus ring');
    await page.keyboard.press('Enter');
    await waitFor(async () => (await page.getAttribute('[data-testid="chart-month"]', 'aria-pressed')) === 'true', { message: 'Enter toggles' });
    // Every input has a label.
    const unlabelled = await page.$$eval('input, select', (els) => els.filter((e) => e.type !== 'hidden'
      && !e.labels?.length && !e.getAttribute('aria-label')).map((e) => e.id || e.outerHTML.slice(0, 60)));
    assert.deepEqual(unlabelled, []);
  } finally {
    await context.close();
  }
});

test('signed out: the 401 state links SIGN_IN_URL; Sign out forgets the token', { skip: SKIP }, async () => {
  const bad = await open(chrome, `${FIXTURE.origin}/referrals#token=not-a-token`);
  try {
    assert.equal(await bad.page.getAttribute('body', 'data-loaded'), 'signed-out');
    assert.equal(await bad.page.getAttribute('[data-testid="sign-in"]', 'href'), FIXTURE.sign_in_url);
    assert.ok(await bad.page.isVisible('[data-testid="sign-in"]'));
  } finally {
    await bad.context.close();
  }
  const { context, page } = await open(chrome, pageOf('alice'));
  try {
    assert.ok(await page.evaluate(() => sessionStorage.getItem('referrals_token')));
    await page.click('[data-testid="sign-out"]');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('referrals_token')), null, 'token cleared');
    assert.match(await text(page, 'alert-text'), /signed out/);
    assert.equal(await page.isVisible('[data-testid="content"]'), false);
    await page.reload();
    await page.waitForSelector('body[data-loaded="signed-out"]');
    // The trailing-slash address reaches the same page.
    const slash = await fetch(`${FIXTURE.origin}/referrals/`, { redirect: 'manual' });
    assert.ok([200, 301, 308].includes(slash.status), `/referrals/ answered ${slash.status}`);
  } finally {
    await context.close();
  }
});

test('screenshots: desktop and phone, no horizontal scroll on a phone', { skip: SKIP }, async () => {
  for (const who of ['alice', 'ambassador']) {
    const shots = await screenshots(chrome, pageOf(who), `referrals-${who}`, chartReady);
    for (const s of shots) assert.ok(s.overflow <= 0, `${s.file}: no horizontal page scroll (overflow ${s.overflow}px)`);
  }
});
