'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { client, memoryStorage, manualClock, settle, scriptedTransport, makeQueue } = require('./helpers');

const CONF = { token: 'store-1', baseUrl: 'http://srv:8000/', webTrackingEnabled: true, allowedDomains: [] };
const INGEST = 'http://srv:8000/integration-type/system/scrippet-notification/store-1';

function setup(conf, page) {
  const storage = memoryStorage();
  const transport = scriptedTransport();
  const clock = manualClock();
  const queue = makeQueue({ storage, transport, clock });
  const deferred = [];
  page = Object.assign({ href: 'https://shop.example/p/1', entityInfo: {}, cart: undefined }, page);
  let n = 0;
  const managed = client.createManaged(
    Object.assign({}, CONF, conf),
    queue,
    storage,
    {
      href: () => page.href,
      entityInfo: () => page.entityInfo,
      cart: () => page.cart,
      pageInfo: () => ({ title: 'T', categories: [], tags: [] }),
      browserInfo: () => ({ url: encodeURIComponent(page.href) }),
      bannerPlaceholders: () => [],
      defer: (fn) => deferred.push(fn),
    },
    () => 'req-' + ++n,
  );
  return { storage, transport, clock, queue, managed, page, deferred };
}

const cart = (quantity) => ({
  cartId: 'c1',
  totalQuantity: quantity,
  totalPrice: 10 * quantity,
  products: quantity ? [{ productId: 'p1', name: 'P', productDetailUrl: 'u', unitPrice: 10, quantity, price: 10 * quantity }] : [],
});

test('the seed call: events, entityInfo, wire envelope with a request id, to the ingest URL', async () => {
  const { transport, managed } = setup();
  const entityInfo = { primaryKey: 'jane@example.com', _name: 'Jane', _surname: 'Doe' };
  const events = [{ type: 'purchase', purchase: { purchaseId: 'p-1', totalQuantity: 1, totalPrice: 51.88, products: [] } }, { type: 'page-visit' }];
  const p = managed.sendEvents(events, { entityInfo });
  assert.ok(p instanceof Promise);
  assert.equal(await p, undefined);
  assert.equal(transport.calls.length, 1);
  const { url, body } = transport.calls[0];
  assert.equal(url, INGEST);
  assert.deepEqual(body.events, events);
  assert.deepEqual(body.entityInfo, entityInfo);
  assert.equal(body.requestId, 'req-1');
  assert.deepEqual(Object.keys(body).sort(), ['bannerPlaceholders', 'browserInfo', 'entityInfo', 'events', 'pageInfo', 'requestId']);
  assert.deepEqual(entityInfo, { primaryKey: 'jane@example.com', _name: 'Jane', _surname: 'Doe' }, 'caller object untouched');
});

test('onResponded is called with the answer; the tracker is stored', async () => {
  const storage = memoryStorage();
  const transport = scriptedTransport();
  const clock = manualClock();
  const queue = makeQueue({
    storage, transport, clock,
    onData: (d) => storage.set('cn_tracker', JSON.stringify({ id: d.trackerId })),
  });
  const managed = client.createManaged(CONF, queue, storage, {
    href: () => 'https://shop.example/', entityInfo: () => ({}), cart: () => undefined,
    pageInfo: () => ({}), browserInfo: () => ({}), bannerPlaceholders: () => [], defer: (f) => f(),
  }, () => 'r');
  transport.answers.push({ status: 200, data: { trackerId: 'abcdefabcdefabcdefabcdef', results: [{ index: 0, type: 'page-visit', status: 'accepted' }] } });
  const seen = [];
  managed.sendEvents([{ type: 'page-visit' }], { onResponded: (info) => seen.push(info) });
  await settle();
  assert.equal(seen.length, 1);
  assert.equal(seen[0].results[0].status, 'accepted');
  assert.deepEqual(storage.json('cn_tracker'), { id: 'abcdefabcdefabcdefabcdef' });
  // The next request carries it.
  managed.sendEvents([{ type: 'page-visit' }]);
  await settle();
  assert.equal(transport.calls[1].body.entityInfo.trackerId, 'abcdefabcdefabcdefabcdef');
});

test('tracker precedence: entityInfo.trackerId over the stored one, cut to 24 characters', async () => {
  const { storage, transport, managed } = setup();
  storage.set('cn_tracker', JSON.stringify({ id: 'stored-tracker' }));
  managed.sendEvents([{ type: 'page-visit' }], { entityInfo: { trackerId: 'x'.repeat(30) } });
  managed.sendEvents([{ type: 'page-visit' }]);
  await settle();
  assert.equal(transport.calls[0].body.entityInfo.trackerId, 'x'.repeat(24));
  assert.equal(transport.calls[1].body.entityInfo.trackerId, 'stored-tracker');
});

test('nothing new to say: no request, onResponded still called (asynchronously)', async () => {
  const { transport, managed, deferred } = setup({}, { entityInfo: { primaryKey: 'a@b.c' }, cart: cart(1) });
  managed.sendEvents([]);
  await settle();
  assert.equal(transport.calls.length, 1, 'first call: entity and cart are new');
  let called = 0;
  managed.sendEvents([], { onResponded: () => called++ });
  await settle();
  assert.equal(transport.calls.length, 1, 'same entity, same cart: skipped');
  assert.equal(called, 0);
  deferred.forEach((f) => f());
  assert.equal(called, 1);
});

test('an unchanged cart is removed from a request that goes out for other reasons', async () => {
  const { transport, managed, page } = setup({}, { cart: cart(1) });
  managed.sendEvents([{ type: 'page-visit' }]);
  managed.sendEvents([{ type: 'page-visit' }]);
  page.cart = cart(2);
  managed.sendEvents([{ type: 'page-visit' }]);
  await settle();
  assert.deepEqual(transport.calls.map((c) => c.body.cart && c.body.cart.totalQuantity), [1, undefined, 2]);
});

test('sendEvents([]) re-reads the cart tag and sends only a changed cart, including an emptied one', async () => {
  const { transport, managed, page } = setup({}, { cart: cart(2) });
  managed.sendEvents([]);
  page.cart = cart(0);
  managed.sendEvents([]);
  managed.sendEvents([]);
  await settle();
  assert.equal(transport.calls.length, 2);
  assert.deepEqual(transport.calls[1].body.events, []);
  assert.deepEqual(transport.calls[1].body.cart.products, []);
});

test('options.cart and options.entityInfo take precedence over the tags', async () => {
  const { transport, managed } = setup({}, { entityInfo: { primaryKey: 'tag@x.y' }, cart: cart(1) });
  managed.sendEvents([{ type: 'page-visit' }], { entityInfo: { primaryKey: 'js@x.y' }, cart: cart(3) });
  await settle();
  assert.equal(transport.calls[0].body.entityInfo.primaryKey, 'js@x.y');
  assert.equal(transport.calls[0].body.cart.totalQuantity, 3);
});

test('bad arguments are tolerated as in the reference: events not an array, options not an object', async () => {
  const { transport, managed } = setup({}, { entityInfo: { primaryKey: 'a@b.c' } });
  await managed.sendEvents('nope', 'nope');
  await settle();
  assert.equal(transport.calls.length, 1);
  assert.deepEqual(transport.calls[0].body.events, []);
});

test('gates: tracking off, domain not authorised, excluded page: nothing sent, onResponded called', async () => {
  const cases = [
    [{ webTrackingEnabled: false }, 'https://shop.example/'],
    [{ allowedDomains: ['other.example'] }, 'https://shop.example/'],
    [{ excludeTracking: ['^/account'] }, 'https://shop.example/account/orders'],
  ];
  for (const [conf, href] of cases) {
    const { transport, managed, deferred, storage } = setup(conf, { href });
    let called = 0;
    await managed.sendEvents([{ type: 'purchase', purchase: {} }], { onResponded: () => called++ });
    deferred.forEach((f) => f());
    await settle();
    assert.equal(transport.calls.length, 0, JSON.stringify(conf));
    assert.equal(called, 1);
    assert.equal(storage.get('cn_queue'), null);
  }
  const ok = setup({ allowedDomains: ['shop.example'], excludeTracking: ['^/account'] }, { href: 'https://www.shop.example/p/2' });
  ok.managed.sendEvents([{ type: 'page-visit' }]);
  assert.equal(ok.transport.calls.length, 1);
});

test('every call gets its own request id', async () => {
  const { transport, managed } = setup();
  managed.sendEvents([{ type: 'page-visit' }]);
  managed.sendEvents([{ type: 'page-visit' }]);
  await settle();
  assert.deepEqual(transport.calls.map((c) => c.body.requestId), ['req-1', 'req-2']);
});

test('a caller mutating its objects after the call does not change what is sent', async () => {
  const { transport, managed, storage } = setup();
  transport.answers.push('hang');
  managed.sendEvents([{ type: 'page-visit' }]);
  const events = [{ type: 'purchase', purchase: { purchaseId: 'a' } }];
  managed.sendEvents(events);
  events[0].purchase.purchaseId = 'changed';
  const waiting = storage.json('cn_queue')[1];
  assert.equal(waiting.body.events[0].purchase.purchaseId, 'a');
});
