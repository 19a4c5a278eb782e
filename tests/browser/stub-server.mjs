// Static + stub API server for the browser tests (node:http, 127.0.0.1, port 0).
//
// Serves infra/web/* (the page at /referrals, like the dashboard Lambda), the test landing
// pages from fixtures/, and the referrals API contract with fixed seeded data. It exists for
// the states the real stack cannot easily produce (a 503 on one route, a path prefix,
// hostile text); everything else is tested against the real handlers (pages.test.mjs).
// Kept honest: stub-contract.test.mjs validates every answer below against the OpenAPI
// document the real dashboard serves, and the QR codes are the real renderer's output for
// LINK.url (fixtures/qr.*, checked by the dashboard crate's `qr` tests). The API is
// mounted at /referrals/* and again at /api/referrals/* (for the data-api-base test; the page
// is served with data-api-base="/api" at /api-base/referrals). Every API call must carry
// `Authorization: Bearer <TOKEN>` or gets the 401 error envelope.
//
//   node stub-server.mjs            # standalone, prints the page URL (with #token=...)

import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const WEB_DIR = path.resolve(HERE, '../../infra/web');
export const FIXTURES_DIR = path.join(HERE, 'fixtures');
export const TOKEN = 'test-jwt.eyJzdWIiOiJ1c3JfMSJ9.sig';

export const LINK = { code: 'K7M2XQ', url: 'https://www.example.com/?ref=K7M2XQ' };
export const KPIS = {
  currency: 'USD',
  total_earned: '67.75',
  earned_last_30_days: '17.75',
  signups: 3,
  active_referred_users: 2,
  clicks: 41,
};
/** What the page must show for KPIS. */
export const EXPECTED_KPIS = {
  total_earned: '$67.75',
  earned_last_30_days: '$17.75',
  signups: '3',
  active_referred_users: '2',
  clicks: '41',
};

const cents = (c) => `${Math.floor(c / 100)}.${String(c % 100).padStart(2, '0')}`;

/** 25 bonuses, newest first, across all four statuses (deterministic). */
export const HISTORY = (() => {
  const statuses = ['credited', 'pending', 'credited', 'failed', 'reversed'];
  const reasons = { pending: ['same_ip', 'velocity_cap', 'amount_review'], failed: [null], reversed: ['chargeback'], credited: [null] };
  const topups = [5000, 12000, 2500, 30000, 1000, 150000]; // cents
  const items = [];
  for (let i = 0; i < 25; i++) {
    const status = statuses[i % statuses.length];
    const topup = topups[i % topups.length];
    const ratePermille = i === 3 ? 75 : 50; // one per-referrer override at 7.5 %
    const bonus = Math.round((topup * ratePermille) / 1000);
    const created = new Date(Date.UTC(2026, 10, 25, 9, 0, 0) - i * 36 * 3600 * 1000);
    const pool = reasons[status];
    const net = status === 'credited' ? cents(bonus) : '0.00';
    items.push({
      payment_id: `pay_${25 - i}`,
      created_at: created.toISOString().replace('.000Z', 'Z'),
      topup_amount: cents(topup),
      rate: ratePermille === 75 ? '0.075' : '0.05',
      bonus_amount: cents(bonus),
      net_amount: net,
      paid_amount: net,
      refunded_amount: status === 'reversed' ? cents(topup) : '0.00',
      status,
      reason: pool[i % pool.length],
      credited_at: status === 'credited' || status === 'reversed' ? created.toISOString().replace('.000Z', 'Z') : null,
      release_at: null,
    });
  }
  // A small reversed top-up (the last row).
  Object.assign(items[24], { topup_amount: '20.00', bonus_amount: '1.00', refunded_amount: '20.00' });
  // An in-flight credit and a bonus in its holding period.
  items[16].reason = 'crediting';
  items[21].reason = 'holding';
  // A hostile string must come out as text, never as markup.
  items[9].reason = '<img src=x onerror="window.__xss=1">';
  return items;
})();

/** The real QR codes of LINK.url (written by the dashboard's qr tests, checked there). */
const QR_SVG = await readFile(path.join(FIXTURES_DIR, 'qr.svg'), 'utf8');
const QR_PNG = await readFile(path.join(FIXTURES_DIR, 'qr.png'));
/** The real answer's bounds (`functions/dashboard/src/qr.rs`, infra/openapi.yaml). */
export const QR_SIZES = { min: 128, max: 1024, default: 512 };

/** The earnings chart's answer for `granularity` (the last 90 days / 12 months, UTC). */
function stats(granularity) {
  const today = new Date(Date.UTC(2026, 10, 25));
  const buckets = [];
  const n = granularity === 'month' ? 12 : 90;
  for (let i = n - 1; i >= 0; i--) {
    const d = granularity === 'month'
      ? new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - i, 1))
      : new Date(today.getTime() - i * 86400_000);
    const period = d.toISOString().slice(0, granularity === 'month' ? 7 : 10);
    buckets.push({ period, clicks: i % 7 === 0 ? 2 : 0, signups: i % 30 === 0 ? 1 : 0, earned: i % 10 === 0 ? '2.50' : '0.00' });
  }
  const sum = (k) => buckets.reduce((a, b) => a + b[k], 0);
  const earned = buckets.reduce((a, b) => a + Math.round(Number(b.earned) * 100), 0);
  return {
    granularity, from: buckets[0].period, to: buckets[n - 1].period, time_zone: 'UTC', currency: 'USD', buckets,
    totals: { clicks: sum('clicks'), signups: sum('signups'), earned: cents(earned) },
  };
}

/** The empty answers of the sections the stub has no data for (shapes of the real API). */
const EMPTY = {
  '/referrals/leaderboard': { period: 'month', month: '2026-11', items: [], next_cursor: null, me: { rank: null, earned: '0.00' } },
  '/referrals/campaigns': { items: [] },
  '/referrals/api-keys': { items: [] },
  '/referrals/webhook/deliveries': { items: [], next_cursor: null },
};

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** URL path → file on disk (a fixed map: nothing else is served). */
const STATIC = {
  '/referrals': path.join(WEB_DIR, 'referrals.html'),
  '/referrals.html': path.join(WEB_DIR, 'referrals.html'),
  '/referrals.js': path.join(WEB_DIR, 'referrals.js'),
  '/referrals.css': path.join(WEB_DIR, 'referrals.css'),
  '/ref.js': path.join(WEB_DIR, 'ref.js'),
  '/landing.html': path.join(FIXTURES_DIR, 'landing.html'),
  '/landing-last-touch.html': path.join(FIXTURES_DIR, 'landing-last-touch.html'),
  '/api-base/referrals': path.join(WEB_DIR, 'referrals.html'),
  '/api-base/referrals.js': path.join(WEB_DIR, 'referrals.js'),
  '/api-base/referrals.css': path.join(WEB_DIR, 'referrals.css'),
};

function send(res, status, type, body, extra = {}) {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', ...extra });
  res.end(body);
}

function sendJson(res, status, value) {
  send(res, status, 'application/json', JSON.stringify(value));
}

function apiError(res, status, code, message) {
  sendJson(res, status, { error: { code, message } });
}

/**
 * Starts the server. Options: token (accepted bearer), history (items), kpis (null: 503
 * until heal()), link, delayMs (added to every API answer, for loading states). Returns
 * { origin, pageUrl, token, requests, heal(), close() }; requests logs every API call.
 */
export async function startStubServer(opts = {}) {
  const token = opts.token ?? TOKEN;
  const history = opts.history ?? HISTORY;
  // kpis: null → /referrals/kpis answers 503 (error envelope) until heal() is called.
  let kpis = opts.kpis === undefined ? KPIS : opts.kpis;
  const link = opts.link ?? LINK;
  const requests = [];

  async function api(req, res, url, route) {
    requests.push({ method: req.method, path: url.pathname, search: url.search, authorization: req.headers.authorization ?? null });
    if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
    if (req.method !== 'GET') return apiError(res, 405, 'method_not_allowed', 'Only GET is supported.');
    if (req.headers.authorization !== `Bearer ${token}`) {
      return apiError(res, 401, 'unauthorized', 'Missing or invalid bearer token.');
    }
    switch (route) {
      case '/referrals/link':
        return sendJson(res, 200, link);
      case '/referrals/kpis':
        if (!kpis) return apiError(res, 503, 'unavailable', 'Statistics are being recalculated. Try again in a minute.');
        return sendJson(res, 200, kpis);
      case '/referrals/qr.svg':
        return send(res, 200, 'image/svg+xml', QR_SVG);
      case '/referrals/qr.png': {
        const raw = url.searchParams.get('size');
        const size = raw === null ? QR_SIZES.default : /^\d+$/.test(raw) ? Number(raw) : NaN;
        if (!Number.isInteger(size) || size < QR_SIZES.min || size > QR_SIZES.max) {
          return apiError(res, 400, 'invalid_size', `size must be ${QR_SIZES.min} to ${QR_SIZES.max} pixels`);
        }
        // The fixture is the real 512 px rendering; other sizes get the same code, recorded.
        return send(res, 200, 'image/png', QR_PNG, { 'X-Requested-Size': String(size) });
      }
      case '/referrals/stats': {
        const g = url.searchParams.get('granularity') ?? 'day';
        if (g !== 'day' && g !== 'month') return apiError(res, 400, 'invalid_granularity', 'granularity must be day or month');
        return sendJson(res, 200, stats(g));
      }
      case '/referrals/webhook':
        return apiError(res, 404, 'webhook_not_found', 'No webhook endpoint is registered.');
      case '/referrals/history': {
        const limit = Number(url.searchParams.get('limit') ?? '20');
        const status = url.searchParams.get('status');
        if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
          return apiError(res, 400, 'invalid_limit', 'limit must be an integer between 1 and 100.');
        }
        let offset = 0;
        const cursor = url.searchParams.get('cursor');
        if (cursor !== null) {
          const m = /^o:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
          if (!m) return apiError(res, 400, 'invalid_cursor', 'The cursor is not valid.');
          offset = Number(m[1]);
        }
        const rows = status ? history.filter((h) => h.status === status) : history;
        const items = rows.slice(offset, offset + limit);
        const next = offset + limit < rows.length ? Buffer.from(`o:${offset + limit}`).toString('base64url') : null;
        return sendJson(res, 200, { items, next_cursor: next });
      }
      default:
        if (EMPTY[route]) return sendJson(res, 200, EMPTY[route]);
        return apiError(res, 404, 'route_not_found', 'No such endpoint.');
    }
  }

  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://127.0.0.1');
      const p = url.pathname;
      if (p.startsWith('/referrals/')) return await api(req, res, url, p);
      if (p.startsWith('/api/referrals/')) return await api(req, res, url, p.slice('/api'.length));
      const file = STATIC[p];
      if (!file || req.method !== 'GET') return send(res, 404, 'text/plain', 'not found');
      let body = await readFile(file, 'utf8');
      if (p === '/api-base/referrals') body = body.replace('data-api-base=""', 'data-api-base="/api"');
      return send(res, 200, TYPES[path.extname(file)] ?? 'application/octet-stream', body);
    } catch (err) {
      if (!res.headersSent) send(res, 500, 'text/plain', String(err && err.stack));
      else res.destroy();
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    token,
    pageUrl: `${origin}/referrals#token=${encodeURIComponent(token)}`,
    requests,
    heal: () => { kpis = opts.kpis || KPIS; },
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const s = await startStubServer({ delayMs: Number(process.env.STUB_DELAY_MS || 0) });
  console.log(`referrals page: ${s.pageUrl}`);
  console.log(`landing page:   ${s.origin}/landing.html?ref=K7M2XQ`);
}
