// The stub (stub-server.mjs) must not drift from the real API: every answer it gives is
// validated against the OpenAPI document the REAL dashboard serves (GET /openapi.json on the
// fixture, PAGES_FIXTURE) — status documented for the operation, JSON body matching the
// documented schema, content types as documented. Skipped without the fixture.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStubServer, QR_SIZES } from './stub-server.mjs';
import { FIXTURE, SKIP } from './lib/fixture.mjs';

let doc;
let stub;
before(async () => {
  if (!FIXTURE) return;
  doc = await (await fetch(`${FIXTURE.origin}/openapi.json`)).json();
  stub = await startStubServer();
});
after(async () => { await stub?.close(); });

function resolve(schema) {
  while (schema && schema.$ref) {
    schema = schema.$ref.replace(/^#\//, '').split('/').reduce((node, key) => node[key], doc);
  }
  return schema;
}

/** The JSON-Schema subset infra/openapi.yaml uses; returns the list of violations. */
function validate(schema, value, at = '$') {
  schema = resolve(schema);
  if (!schema) return [];
  const errors = [];
  if (schema.oneOf) {
    const ok = schema.oneOf.filter((s) => validate(s, value, at).length === 0).length;
    if (ok !== 1) errors.push(`${at}: matches ${ok} of oneOf`);
    return errors;
  }
  if ('const' in schema && value !== schema.const) errors.push(`${at}: ${JSON.stringify(value)} !== const ${schema.const}`);
  if (schema.enum && !schema.enum.includes(value)) errors.push(`${at}: ${JSON.stringify(value)} not in ${schema.enum}`);
  if (schema.type) {
    const types = [].concat(schema.type);
    const actual = value === null ? 'null' : Array.isArray(value) ? 'array'
      : typeof value === 'number' ? (Number.isInteger(value) ? 'integer' : 'number') : typeof value;
    if (!types.includes(actual) && !(actual === 'integer' && types.includes('number'))) {
      errors.push(`${at}: ${actual} is not ${types.join('|')}`);
      return errors;
    }
  }
  if (typeof value === 'string') {
    if (schema.pattern && !new RegExp(schema.pattern, 'u').test(value)) errors.push(`${at}: ${JSON.stringify(value)} !~ ${schema.pattern}`);
    if (schema.minLength != null && value.length < schema.minLength) errors.push(`${at}: shorter than ${schema.minLength}`);
    if (schema.maxLength != null && value.length > schema.maxLength) errors.push(`${at}: longer than ${schema.maxLength}`);
    if (schema.format === 'date-time' && !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value)) errors.push(`${at}: not a date-time`);
  }
  if (typeof value === 'number') {
    if (schema.minimum != null && value < schema.minimum) errors.push(`${at}: < ${schema.minimum}`);
    if (schema.maximum != null && value > schema.maximum) errors.push(`${at}: > ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems != null && value.length < schema.minItems) errors.push(`${at}: fewer than ${schema.minItems} items`);
    if (schema.maxItems != null && value.length > schema.maxItems) errors.push(`${at}: more than ${schema.maxItems} items`);
    if (schema.items) value.forEach((v, i) => errors.push(...validate(schema.items, v, `${at}[${i}]`)));
  }
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const k of schema.required ?? []) if (!(k in value)) errors.push(`${at}: missing ${k}`);
    for (const [k, v] of Object.entries(value)) {
      if (schema.properties?.[k]) errors.push(...validate(schema.properties[k], v, `${at}.${k}`));
      else if (schema.additionalProperties === false) errors.push(`${at}: unexpected property ${k}`);
    }
  }
  return errors;
}

/** Calls the stub and checks the answer against the documented operation. */
async function check(pathAndQuery, { auth = true, template } = {}) {
  const url = new URL(stub.origin + pathAndQuery);
  const res = await fetch(url, { headers: auth ? { authorization: `Bearer ${stub.token}` } : {} });
  const op = doc.paths[template ?? url.pathname]?.get;
  assert.ok(op, `GET ${url.pathname} is documented`);
  let response = op.responses[String(res.status)];
  assert.ok(response, `GET ${pathAndQuery}: status ${res.status} is documented`);
  response = resolve(response);
  const type = (res.headers.get('content-type') ?? '').split(';')[0];
  const content = response.content ?? {};
  assert.ok(Object.keys(content).length === 0 || type in content, `GET ${pathAndQuery}: ${type} documented (${Object.keys(content)})`);
  const schema = content['application/json']?.schema;
  if (schema) {
    const body = await res.json();
    assert.deepEqual(validate(schema, body), [], `GET ${pathAndQuery} ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
  }
  return res;
}

test('every answer of the stub matches the real API document', { skip: SKIP }, async () => {
  for (const p of ['/referrals/link', '/referrals/kpis', '/referrals/history', '/referrals/history?limit=100',
    '/referrals/history?status=failed', '/referrals/stats', '/referrals/stats?granularity=month',
    '/referrals/stats?granularity=week', '/referrals/leaderboard', '/referrals/campaigns', '/referrals/api-keys',
    '/referrals/webhook', '/referrals/webhook/deliveries', '/referrals/qr.svg', '/referrals/qr.png',
    '/referrals/history?limit=0']) {
    await check(p);
  }
  const page1 = await (await fetch(`${stub.origin}/referrals/history`, { headers: { authorization: `Bearer ${stub.token}` } })).json();
  await check(`/referrals/history?cursor=${page1.next_cursor}`);
  await check('/referrals/kpis', { auth: false });
});

test('the stub QR sizes are the real bounds', { skip: SKIP }, async () => {
  const doc_size = doc.paths['/referrals/qr.png'].get.parameters.find((p) => p.name === 'size').schema;
  assert.deepEqual([doc_size.minimum, doc_size.maximum, doc_size.default], [QR_SIZES.min, QR_SIZES.max, QR_SIZES.default]);
  for (const [size, status] of [[QR_SIZES.min, 200], [QR_SIZES.max, 200], [QR_SIZES.min - 1, 400], [QR_SIZES.max + 1, 400], ['abc', 400]]) {
    const res = await check(`/referrals/qr.png?size=${size}`);
    assert.equal(res.status, status, `size=${size}`);
  }
});
