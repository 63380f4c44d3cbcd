'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { client } = require('./helpers');

test('deepEquals ignores key order and undefined values', () => {
  assert.ok(client.deepEquals({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 }));
  assert.ok(client.deepEquals({ a: 1, b: undefined }, { a: 1 }));
  assert.ok(!client.deepEquals({ a: 1 }, { a: '1' }));
  assert.ok(!client.deepEquals({ a: [1, 2] }, { a: [2, 1] }));
  assert.ok(!client.deepEquals({}, undefined));
});

test('cartsEqual follows the reference rule: id, totals, count and lines on id/quantity/price', () => {
  const line = (productId, quantity, price, extra) => ({ productId, quantity, price, ...extra });
  const a = { cartId: 'c1', totalQuantity: 3, totalPrice: 30, products: [line('p1', 1, 10), line('p2', 2, 20)] };
  assert.ok(client.cartsEqual(a, { ...a, products: [line('p2', 2, 20, { name: 'renamed' }), line('p1', 1, 10)] }));
  assert.ok(!client.cartsEqual(a, { ...a, cartId: 'c2' }));
  assert.ok(!client.cartsEqual(a, { ...a, totalPrice: 31 }));
  assert.ok(!client.cartsEqual(a, { ...a, products: [line('p1', 1, 10), line('p2', 1, 20)] }));
  assert.ok(!client.cartsEqual(a, { ...a, products: [line('p1', 1, 10)] }));
  assert.ok(!client.cartsEqual(a, undefined));
  const empty = { cartId: 'c1', totalQuantity: 0, totalPrice: 0, products: [] };
  assert.ok(client.cartsEqual(empty, { ...empty }));
});

test('backoff grows exponentially with jitter and is capped', () => {
  const base = 1000;
  const cap = 60000;
  for (const r of [0, 0.5, 0.999]) {
    for (let attempt = 1; attempt <= 20; attempt++) {
      const d = client.backoffDelay(attempt, () => r, base, cap);
      const ceiling = Math.min(cap, base * 2 ** (attempt - 1));
      assert.ok(d >= ceiling / 2 && d <= ceiling, `attempt ${attempt}: ${d} not in [${ceiling / 2}, ${ceiling}]`);
    }
  }
  assert.equal(client.backoffDelay(30, () => 1, base, cap), cap);
  assert.notEqual(client.backoffDelay(3, () => 0, base, cap), client.backoffDelay(3, () => 0.9, base, cap));
});

test('status classes: retry on no answer, 408, 429 and 5xx; drop other 4xx', () => {
  const expect = { 0: 'retry', 200: 'ok', 204: 'ok', 400: 'drop', 403: 'drop', 404: 'drop', 408: 'retry',
    413: 'drop', 422: 'drop', 429: 'retry', 500: 'retry', 502: 'retry', 503: 'retry', 504: 'retry' };
  for (const [status, kind] of Object.entries(expect)) {
    assert.equal(client.classifyStatus(Number(status)), kind, `status ${status}`);
  }
});

test('Retry-After in seconds or as an HTTP date', () => {
  assert.equal(client.parseRetryAfter('5', 0), 5000);
  assert.equal(client.parseRetryAfter(null, 0), 0);
  assert.equal(client.parseRetryAfter('junk', 0), 0);
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(client.parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now), 30000);
});

test('request ids are v7 UUIDs, with and without crypto, ordered by the millisecond', () => {
  const re = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  const now = () => Date.parse('2026-11-27T04:30:00.123Z');
  assert.match(client.uuid7(globalThis.crypto, Math.random, now), re);
  assert.match(client.uuid7({ getRandomValues: (a) => globalThis.crypto.getRandomValues(a) }, Math.random, now), re);
  assert.match(client.uuid7(undefined, Math.random, now), re);
  assert.equal(client.uuid7(undefined, Math.random, now).slice(0, 13), '01a21b44-71bb');
  const seen = new Set();
  for (let i = 0; i < 1000; i++) seen.add(client.uuid7(undefined, Math.random, now));
  assert.equal(seen.size, 1000);
  let t = 1_700_000_000_000;
  let last = '';
  for (let i = 0; i < 200; i++) {
    const id = client.uuid7(globalThis.crypto, Math.random, () => t);
    assert.ok(id > last, `${id} after ${last}`);
    last = id;
    t += 1 + (i % 7) * 997;
  }
});

test('authorised domains: host names (subdomains included, ports ignored) or URL prefixes (as the server)', () => {
  const ok = client.isAllowedDomain;
  assert.ok(ok('https://anything.example/x', []));
  assert.ok(ok('https://anything.example/x', undefined));
  assert.ok(ok('https://shop.example/p/1', ['shop.example']));
  assert.ok(ok('https://www.shop.example/p/1', ['shop.example']));
  assert.ok(ok('https://www.shop.example/p/1', ['.shop.example']));
  assert.ok(ok('https://www.shop.example/p/1', ['*.shop.example']));
  assert.ok(ok('https://SHOP.example:8443/p', ['shop.example']));
  assert.ok(!ok('https://evilshop.example/p/1', ['shop.example']));
  assert.ok(!ok('https://shop.example.evil.test/', ['shop.example']));
  assert.ok(ok('http://127.0.0.1:9000/demo/', ['127.0.0.1:8000']));
  // a URL prefix is Connectif's form: the address must start with it (scheme and host in any case)
  assert.ok(ok('https://shop.example/es/p', ['https://shop.example/es/']));
  assert.ok(ok('HTTPS://Shop.Example/es/p', ['https://shop.example/es/']));
  assert.ok(!ok('https://shop.example/fr/p', ['https://shop.example/es/']));
  assert.ok(!ok('http://shop.example/es/p', ['https://shop.example/es/']));
  assert.ok(!ok('https://other.example/es/p', ['https://shop.example/es/']));
  assert.ok(ok('https://user@shop.example/', ['other.example', 'shop.example']));
  assert.ok(!ok('https://shop.example/', ['', '  ']));
});

test('page exclusions are regexes on the URL or the path', () => {
  const conf = { excludeTracking: ['^/checkout', 'private=1', '[invalid'] };
  assert.ok(client.isExcludedPage('https://s.example/checkout/pay', conf));
  assert.ok(client.isExcludedPage('https://s.example/p?private=1', conf));
  assert.ok(!client.isExcludedPage('https://s.example/p/checkout', conf));
  assert.ok(!client.isExcludedPage('https://s.example/', {}));
  const only = { trackAllByDefault: false, includeTracking: ['/shop/'] };
  assert.ok(!client.isExcludedPage('https://s.example/shop/1', only));
  assert.ok(client.isExcludedPage('https://s.example/blog/1', only));
});
