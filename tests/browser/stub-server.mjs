// Static + stub API server for the browser tests (node:http, 127.0.0.1, port 0).
//
// Serves infra/web/* (the page at /referrals, like the dashboard Lambda), the test landing
// pages from fixtures/, and the referrals API contract with fixed seeded data. The API is
// mounted at /referrals/* and again at /api/referrals/* (for the data-api-base test; the page
// is served with data-api-base="/api" at /api-base/referrals). Every API call must carry
// `Authorization: Bearer <TOKEN>` or gets the 401 error envelope.
//
//   node stub-server.mjs            # standalone, prints the page URL (with #token=...)

import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { deflateSync } from 'node:zlib';
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
    items.push({
      payment_id: `pay_${25 - i}`,
      created_at: created.toISOString(),
      topup_amount: cents(topup),
      rate: ratePermille === 75 ? '0.075' : '0.05',
      bonus_amount: cents(bonus),
      status,
      reason: pool[i % pool.length],
    });
  }
  // Decimal strings without cents must still be shown with cents.
  Object.assign(items[24], { topup_amount: '20', bonus_amount: '1' });
  // A hostile string must come out as text, never as markup.
  items[9].reason = '<img src=x onerror="window.__xss=1">';
  return items;
})();

const SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 21 21" shape-rendering="crispEdges">
<rect width="21" height="21" fill="#fff"/><path fill="#000" d="M0 0h7v7H0zM14 0h7v7h-7zM0 14h7v7H0z"/>
<path fill="#fff" d="M1 1h5v5H1zM15 1h5v5h-5zM1 15h5v5H1z"/><path fill="#000" d="M2 2h3v3H2zM16 2h3v3h-3zM2 16h3v3H2zM8 8h2v2H8zM11 9h2v3h-2zM9 12h3v2H9zM14 10h2v2h-2zM16 14h3v2h-3zM10 16h2v3h-2zM14 17h2v2h-2z"/>
</svg>`;

function crc32(buf) {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A size×size greyscale PNG with a checker pattern (stands in for the QR). */
export function makePng(size = 64) {
  const rows = [];
  for (let y = 0; y < size; y++) {
    const row = Buffer.alloc(size + 1);
    for (let x = 0; x < size; x++) row[x + 1] = ((x >> 3) + (y >> 3)) % 2 ? 0 : 255;
    rows.push(row);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

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
        return send(res, 200, 'image/svg+xml', SVG);
      case '/referrals/qr.png': {
        const size = Number(url.searchParams.get('size') ?? '256');
        if (!Number.isInteger(size) || size < 64 || size > 2048) {
          return apiError(res, 400, 'invalid_size', 'size must be an integer between 64 and 2048.');
        }
        return send(res, 200, 'image/png', makePng(64), { 'X-Requested-Size': String(size) });
      }
      case '/referrals/history': {
        const limit = Number(url.searchParams.get('limit') ?? '20');
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
        const items = history.slice(offset, offset + limit);
        const next = offset + limit < history.length ? Buffer.from(`o:${offset + limit}`).toString('base64url') : null;
        return sendJson(res, 200, { items, next_cursor: next });
      }
      default:
        return apiError(res, 404, 'not_found', 'No such endpoint.');
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
