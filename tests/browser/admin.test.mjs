// The admin console (GET /admin, served by the admin function) against the REAL admin handler
// (moto + fake Wellflow, seeded by the Rust fixture, PAGES_FIXTURE): the queue with reasons,
// amounts and ages; single and bulk approve / reject with a note change the rows (asserted in
// DynamoDB through the fixture and in the fake Wellflow's ledger); bonus detail with its
// history; referrer view with rate override and re-attribution; rate tiers with version
// conflicts; reconciliation findings; keyboard use; strict CSP; screenshots.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, waitFor } from './lib/browser.mjs';
import { FIXTURE, SKIP, open, text, api, screenshots, tabOrder } from './lib/fixture.mjs';

let chrome;
const consoleUrl = (token = FIXTURE.admin.token) => `${FIXTURE.origin}/admin#token=${encodeURIComponent(token)}`;
const row = (page, id) => page.locator(`[data-testid="queue-row"][data-payment-id="${id}"]`);

before(async () => { if (FIXTURE) chrome = await launch(); });
after(async () => { await chrome?.close(); });

/** The bonus as DynamoDB holds it, and what the fake Wellflow holds for it. */
async function truth(payment) {
  const [bonus, ledger] = await Promise.all([api(`/__fixture/bonus/${payment}`), api(`/__fixture/wellflow/${payment}`)]);
  return { status: bonus.json.status, bonus: bonus.json, net: ledger.json.net };
}

async function queueReady(page) {
  await page.waitForSelector('[data-testid="queue"][data-ready="true"]', { timeout: 10_000 });
}

test('the page and its assets come from the admin function under the strict CSP', { skip: SKIP }, async () => {
  const res = await fetch(`${FIXTURE.origin}/admin`);
  assert.equal(res.status, 200);
  const csp = res.headers.get('content-security-policy');
  assert.match(csp, /script-src 'self'/);
  assert.ok(!csp.includes('unsafe'), csp);
  const html = await res.text();
  assert.ok(!/<script(?![^>]*\bsrc=)[^>]*>/.test(html), 'no inline script');
  assert.ok(!/\sstyle=/.test(html) && !/<style/.test(html), 'no inline style');
  for (const asset of ['/admin/console.js', '/admin/console.css']) {
    const a = await fetch(FIXTURE.origin + asset);
    assert.equal(a.status, 200, asset);
    assert.equal(a.headers.get('x-content-type-options'), 'nosniff');
  }
  const slash = await fetch(`${FIXTURE.origin}/admin/`, { redirect: 'manual' });
  assert.equal(slash.status, 308);
  assert.equal(new URL(slash.headers.get('location'), `${FIXTURE.origin}/admin/`).pathname, '/admin');
});

test('queue: held bonuses with reasons, amounts and ages; filters; the failed queue', { skip: SKIP }, async () => {
  const { context, page, errors } = await open(chrome, consoleUrl());
  try {
    await queueReady(page);
    const r = row(page, 'p_mal_0');
    const cells = (await r.locator('td').allTextContents()).map((t) => t.trim());
    assert.deepEqual(cells.slice(1, 6), ['p_mal_0', 'mallory', 'Same IP as the referrer', '$20.00', '$1.00']);
    assert.match(cells[6], /^\d+ (min|h|d)$/, 'age');
    // Filter by referrer (client-side, over the loaded page) and by minimum bonus.
    await page.fill('[data-testid="queue-referrer"]', 'mallory');
    await waitFor(async () => {
      const refs = await page.$$eval('[data-testid="queue-row"] td:nth-child(3)', (t) => t.map((x) => x.textContent));
      return refs.length === 6 && refs.every((x) => x === 'mallory');
    }, { message: 'only mallory' });
    await page.fill('[data-testid="queue-min"]', '3.00');
    await waitFor(async () => (await page.locator('[data-testid="queue-row"]').count()) === 2, { message: 'bonus ≥ $3' });
    await page.fill('[data-testid="queue-min"]', '');
    await page.selectOption('[data-testid="queue-status"]', 'failed');
    await waitFor(async () => (await row(page, 'p_erin').count()) === 1 || (await page.isVisible('[data-testid="queue-empty"]')), { message: 'failed queue' });
    assert.equal(await row(page, 'p_mal_0').count(), 0);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('approve and reject one bonus with a note: DynamoDB and the Wellflow ledger follow', { skip: SKIP }, async () => {
  const { context, page } = await open(chrome, consoleUrl());
  try {
    await queueReady(page);
    assert.equal((await truth('p_mal_0')).status, 'pending');
    await page.fill('[data-testid="decision-note"]', 'checked the payer, genuine');
    await row(page, 'p_mal_0').getByRole('button', { name: 'Approve p_mal_0' }).click();
    await waitFor(async () => (await row(page, 'p_mal_0').count()) === 0, { message: 'approved row leaves the queue' });
    assert.match(await text(page, 'queue-result'), /p_mal_0: credited/);
    const approved = await truth('p_mal_0');
    assert.equal(approved.status, 'credited');
    assert.equal(approved.net, '1.00', 'Wellflow credited the bonus');
    assert.ok(approved.bonus.history.some((h) => h.actor === 'admin:root' && h.note === 'checked the payer, genuine'));

    await page.selectOption('[data-testid="decision-reason"]', 'fraud');
    await row(page, 'p_mal_1').getByRole('button', { name: 'Reject p_mal_1' }).click();
    await waitFor(async () => (await row(page, 'p_mal_1').count()) === 0, { message: 'rejected row leaves the queue' });
    const rejected = await truth('p_mal_1');
    assert.equal(rejected.status, 'reversed');
    assert.equal(rejected.net, '0', 'nothing moved in Wellflow');
  } finally {
    await context.close();
  }
});

test('bulk approve and bulk reject the selected rows', { skip: SKIP }, async () => {
  const { context, page } = await open(chrome, consoleUrl());
  try {
    await queueReady(page);
    await page.fill('[data-testid="decision-note"]', 'bulk review');
    for (const id of ['p_mal_2', 'p_mal_3']) await row(page, id).locator('[data-testid="queue-select"]').check();
    assert.equal(await text(page, 'bulk-approve'), 'Approve 2 selected');
    await page.click('[data-testid="bulk-approve"]');
    await waitFor(async () => /Bulk approve: 2 credited/.test(await text(page, 'queue-result'))
      && (await row(page, 'p_mal_2').count()) + (await row(page, 'p_mal_3').count()) === 0, { message: 'bulk approve result' });
    for (const [id, net] of [['p_mal_2', '2.00'], ['p_mal_3', '2.50']]) {
      const t = await truth(id);
      assert.deepEqual([t.status, t.net], ['credited', net], id);
    }
    for (const id of ['p_mal_4', 'p_mal_5']) await row(page, id).locator('[data-testid="queue-select"]').check();
    await page.selectOption('[data-testid="decision-reason"]', 'duplicate_account');
    await page.click('[data-testid="bulk-reject"]');
    await waitFor(async () => /Bulk reject: 2 rejected/.test(await text(page, 'queue-result'))
      && (await row(page, 'p_mal_4').count()) + (await row(page, 'p_mal_5').count()) === 0, { message: 'bulk reject result' });
    for (const id of ['p_mal_4', 'p_mal_5']) {
      const t = await truth(id);
      assert.deepEqual([t.status, t.net], ['reversed', '0'], id);
    }
  } finally {
    await context.close();
  }
});

test('bonus detail shows the full history and the Wellflow moves', { skip: SKIP }, async () => {
  const { context, page } = await open(chrome, consoleUrl());
  try {
    await page.fill('[data-testid="referrer-id"]', 'alice');
    await page.click('[data-testid="referrer-open"]');
    await page.waitForSelector('[data-testid="referrer-view"]:not([hidden])');
    await page.getByRole('button', { name: 'Show bonus p_dave' }).click();
    await page.waitForSelector('[data-testid="detail"]:not([hidden])');
    const entries = await page.$$eval('[data-testid="detail-history-entry"]', (li) => li.map((x) => x.textContent));
    assert.ok(entries.some((e) => /created/.test(e)) && entries.some((e) => /refunded/.test(e)), entries.join('\n'));
    assert.ok((await page.locator('[data-testid="detail-moves"] tbody tr').count()) >= 2, 'credit and debit');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'detail-section', 'focus moves to the detail');
  } finally {
    await context.close();
  }
});

test('referrer view: rate override and re-attribution through the admin API', { skip: SKIP }, async () => {
  const { context, page } = await open(chrome, consoleUrl());
  try {
    await page.fill('[data-testid="referrer-id"]', 'mallory');
    await page.click('[data-testid="referrer-open"]');
    await page.waitForSelector('[data-testid="referrer-view"]:not([hidden])');
    await page.fill('[data-testid="rate-value"]', '0.08');
    await page.fill('[data-testid="rate-note"]', 'partner deal');
    await page.click('[data-testid="rate-save"]');
    await waitFor(async () => /set to 0.08/.test(await text(page, 'referrer-status')), { message: 'rate saved' });
    await waitFor(async () => (await page.textContent('[data-fact="Rate override"]')) === '0.08', { message: 'rate shown' });
    assert.ok((await page.$$eval('[data-testid="audit-entry"]', (l) => l.map((x) => x.textContent))).some((t) => /partner deal/.test(t)));
    // A bad rate gets the API's refusal.
    await page.fill('[data-testid="rate-value"]', '0.9');
    await page.click('[data-testid="rate-save"]');
    await waitFor(async () => (await page.getAttribute('[data-testid="referrer-status"]', 'class')).includes('warn'), { message: 'refusal' });

    // Re-attribute one of mallory's referred users to the ambassador.
    await page.fill('[data-testid="referrer-id"]', 'm-puppet-5');
    await page.click('[data-testid="referrer-open"]');
    await waitFor(async () => (await page.textContent('[data-fact="Referred by"]')) === 'mallory', { message: 'puppet view' });
    await page.fill('[data-testid="attr-to"]', 'ambassador');
    await page.fill('[data-testid="attr-note"]', 'signed up through the ambassador first');
    await page.click('[data-testid="attr-save"]');
    await waitFor(async () => (await page.textContent('[data-fact="Referred by"]')) === 'ambassador', { message: 're-attributed' });
    const view = await api('/admin/referrers/m-puppet-5', { token: FIXTURE.admin.token });
    assert.equal(view.json.referrer_id, 'ambassador');
    assert.equal(view.json.attribution_history.at(-1).note, 'signed up through the ambassador first');
  } finally {
    await context.close();
  }
});

test('rate tiers: edit and save, a concurrent change is a conflict, reload and reset', { skip: SKIP }, async () => {
  const { context, page } = await open(chrome, consoleUrl());
  try {
    await page.waitForSelector('[data-testid="tiers"][data-version]');
    const v0 = Number(await page.getAttribute('[data-testid="tiers"]', 'data-version'));
    await page.fill('[data-testid="tier-row"] >> nth=0 >> .tier-up', '1000.00');
    await page.click('[data-testid="tier-add"]');
    await page.fill('[data-testid="tier-row"] >> nth=1 >> .tier-rate', '0.07');
    await page.click('[data-testid="tiers-save"]');
    await waitFor(async () => Number(await page.getAttribute('[data-testid="tiers"]', 'data-version')) === v0 + 1, { message: 'saved' });
    // Someone else saves meanwhile (the same admin API).
    const other = await api('/admin/rate-tiers', { token: FIXTURE.admin.token, method: 'PUT',
      body: { tiers: [{ up_to: '500.00', rate: '0.05' }, { up_to: null, rate: '0.06' }], expected_version: v0 + 1 } });
    assert.equal(other.status, 200);
    await page.fill('[data-testid="tier-row"] >> nth=1 >> .tier-rate', '0.09');
    await page.click('[data-testid="tiers-save"]');
    await page.waitForSelector('[data-testid="tiers-status"][data-conflict="true"]');
    assert.match(await text(page, 'tiers-status'), /changed the rate tiers meanwhile/);
    assert.equal((await api('/admin/rate-tiers', { token: FIXTURE.admin.token })).json.tiers[1].rate, '0.06', 'nothing overwritten');
    await page.click('[data-testid="tiers-reload"]');
    await waitFor(async () => Number(await page.getAttribute('[data-testid="tiers"]', 'data-version')) === v0 + 2, { message: 'reloaded' });
    assert.equal(await page.inputValue('[data-testid="tier-row"] >> nth=0 >> .tier-up'), '500.00');
    await page.click('[data-testid="tiers-reset"]');
    await waitFor(async () => /flat default/.test(await text(page, 'tiers-status')), { message: 'reset' });
    assert.equal((await api('/admin/rate-tiers', { token: FIXTURE.admin.token })).json.source, 'default');
  } finally {
    await context.close();
  }
});

test('reconciliation: an open finding is resolved with a note through the console', { skip: SKIP }, async () => {
  const { context, page } = await open(chrome, consoleUrl());
  try {
    const finding = page.locator('[data-testid="recon-row"]').filter({ hasText: 'alice' });
    await finding.waitFor();
    const cells = (await finding.locator('td').allTextContents()).map((t) => t.trim());
    assert.match(cells[0], /^rf_[0-9a-f]{24}$/);
    assert.deepEqual(cells.slice(1, 5), ['alice', 'unknown transaction', '—', 'credit $10.00']);
    page.once('dialog', (d) => d.accept('manual goodwill credit, approved by finance'));
    await finding.getByRole('button', { name: `Resolve finding ${cells[0]}` }).click();
    await page.waitForSelector('[data-testid="recon-empty"]:not([hidden])');
    const resolved = await api('/admin/reconciliation?status=resolved', { token: FIXTURE.admin.token });
    const f = resolved.json.items.find((x) => x.finding_id === cells[0]);
    assert.deepEqual([f.status, f.resolved_by, f.resolution_note], ['resolved', 'admin:root', 'manual goodwill credit, approved by finance']);
    await page.click('[data-recon="resolved"]');
    await page.locator('[data-testid="recon-row"]').filter({ hasText: cells[0] }).waitFor();
  } finally {
    await context.close();
  }
});

test('keyboard: the queue is usable with Tab, Space and Enter', { skip: SKIP }, async () => {
  const { context, page } = await open(chrome, consoleUrl());
  try {
    await queueReady(page);
    const order = await tabOrder(page, 25);
    for (const id of ['Skip to content', 'sign-out', 'queue-status', 'queue-referrer', 'queue-reason', 'queue-min', 'queue-apply',
      'decision-reason', 'decision-note', 'select-all']) {
      assert.ok(order.includes(id), `${id} reachable (order: ${order.join(' | ')})`);
    }
    const first = page.locator('[data-testid="queue-select"]').first();
    await first.focus();
    await page.keyboard.press('Space');
    assert.equal(await first.isChecked(), true);
    assert.equal(await page.isDisabled('[data-testid="bulk-approve"]'), false, 'bulk actions enabled by the selection');
    await page.keyboard.press('Space');
    const outline = await first.evaluate((b) => getComputedStyle(b).outlineStyle);
    assert.notEqual(outline, 'none');
    const unlabelled = await page.$$eval('input, select', (els) => els.filter((e) => !e.labels?.length && !e.getAttribute('aria-label'))
      .map((e) => e.id || e.outerHTML.slice(0, 60)));
    assert.deepEqual(unlabelled, []);
  } finally {
    await context.close();
  }
});

test('a non-admin token gets the sign-in state, with SIGN_IN_URL', { skip: SKIP }, async () => {
  const { context, page } = await open(chrome, consoleUrl(FIXTURE.user.token));
  try {
    assert.equal(await page.getAttribute('body', 'data-loaded'), 'signed-out');
    assert.match(await text(page, 'alert-text'), /not an admin/);
    assert.equal(await page.getAttribute('[data-testid="sign-in"]', 'href'), FIXTURE.sign_in_url);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('admin_token')), null);
  } finally {
    await context.close();
  }
});

test('screenshots: console on desktop and phone', { skip: SKIP }, async () => {
  const shots = await screenshots(chrome, consoleUrl(), 'admin-console', queueReady);
  for (const s of shots) assert.ok(s.overflow <= 0, `${s.file}: no horizontal page scroll (overflow ${s.overflow}px)`);
});
