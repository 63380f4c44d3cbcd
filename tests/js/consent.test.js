'use strict';
// The visitor's consent in the client core: shopevents.consent(true|false) is remembered in
// storage, false forgets the tracker, the de-duplication state and the queue, and a store that
// requires consent (or honours the browser's privacy signal) is sent nothing without it.
const test = require('node:test');
const assert = require('node:assert/strict');
const { client, memoryStorage, manualClock, scriptedTransport, makeQueue } = require('./helpers');

const CONF = { token: 'store-1', baseUrl: 'http://srv:8000/', webTrackingEnabled: true, allowedDomains: [] };

function setup(conf, opts) {
  opts = opts || {};
  const storage = opts.storage || memoryStorage();
  const transport = scriptedTransport();
  const queue = makeQueue({ storage, transport, clock: manualClock() });
  let n = 0;
  const managed = client.createManaged(Object.assign({}, CONF, conf), queue, storage, {
    href: () => 'https://shop.example/p/1',
    entityInfo: () => ({ primaryKey: 'jane@example.com' }),
    cart: () => undefined,
    pageInfo: () => ({}),
    browserInfo: () => ({}),
    bannerPlaceholders: () => [],
    privacySignal: () => !!opts.signal,
    defer: (fn) => fn(),
  }, () => 'req-' + ++n);
  return { storage, transport, managed };
}

function send(managed, events) {
  let info;
  managed.sendEvents(events || [{ type: 'page-visit' }], { onResponded: (i) => { info = i; } });
  return info;
}

test('a store that does not ask for consent is sent what it was before, with no consent field', () => {
  const { transport, managed } = setup();
  assert.equal(managed.consent(), undefined);
  send(managed);
  assert.equal(transport.calls.length, 1);
  assert.equal('consent' in transport.calls[0].body, false);
});

test('consent required: nothing is sent until consent(true), then every request says so', () => {
  const { storage, transport, managed } = setup({ consentRequired: true });
  const info = send(managed);
  assert.deepEqual(info, { status: 0, skipped: true, consent: false });
  assert.equal(transport.calls.length, 0);
  assert.equal(storage.get('cn_queue'), null, 'nothing queued either');
  assert.equal(managed.consent(true), true);
  assert.equal(storage.json('cn_consent'), true, 'remembered in the browser');
  send(managed);
  assert.equal(transport.calls.length, 1);
  assert.equal(transport.calls[0].body.consent, true);
  // another page of the same browser remembers the choice
  const again = setup({ consentRequired: true }, { storage });
  assert.equal(again.managed.consent(), true);
  send(again.managed, [{ type: 'login' }]);
  assert.equal(again.transport.calls[0].body.consent, true);
});

test('consent(false) forgets the tracker, the last contact and cart, and the queue; nothing more is sent', () => {
  const storage = memoryStorage({
    cn_tracker: JSON.stringify({ id: 'T'.repeat(24) }),
    cn_previous_entity_info: JSON.stringify({ primaryKey: 'jane@example.com' }),
    cn_previous_cart: JSON.stringify({ cartId: 'c1' }),
    cn_queue: JSON.stringify([{ id: 'old', url: 'u', body: {} }]),
  });
  const { transport, managed } = setup({}, { storage });
  assert.equal(managed.consent(false), false);
  for (const key of ['cn_tracker', 'cn_previous_entity_info', 'cn_previous_cart', 'cn_queue']) {
    assert.equal(storage.get(key), null, key + ' is forgotten');
  }
  assert.equal(storage.json('cn_consent'), false);
  // even in a store that does not require consent, the visitor said no
  assert.deepEqual(send(managed), { status: 0, skipped: true, consent: false });
  assert.equal(transport.calls.length, 0);
  // and only `true` is a yes
  assert.equal(managed.consent('yes'), false);
  assert.equal(managed.consent(true), true);
  send(managed);
  assert.equal(transport.calls.length, 1);
  assert.equal(transport.calls[0].body.entityInfo.trackerId, undefined, 'the old tracker is gone');
});

test('a store that honours privacy signals sends nothing from a browser with GPC/DNT, unless consent(true)', () => {
  const signalled = setup({ honourGpc: true }, { signal: true });
  assert.deepEqual(send(signalled.managed), { status: 0, skipped: true, consent: false });
  assert.equal(signalled.transport.calls.length, 0);
  signalled.managed.consent(true);
  send(signalled.managed);
  assert.equal(signalled.transport.calls.length, 1);

  const quiet = setup({ honourGpc: true }, { signal: false });
  send(quiet.managed);
  assert.equal(quiet.transport.calls.length, 1, 'no signal: tracked as before');
  const ignored = setup({ honourGpc: false }, { signal: true });
  send(ignored.managed);
  assert.equal(ignored.transport.calls.length, 1, 'a store that does not honour signals');
});

// --- the public call, connectif.shopevents.consent, on a booted page -----------------------

const { doc, h, spans, settle } = require('./helpers');

function page(conf, { gpc, stored } = {}) {
  const ls = new Map(Object.entries(stored || {}));
  const posts = [];
  const d = doc('Shoes', h('div', 'cn_page_visit'), h('div', 'cn_search', ...spans({ search_text: 'red shoes' })));
  Object.assign(d, {
    readyState: 'complete', referrer: '', visibilityState: 'visible',
    addEventListener() {}, dispatchEvent() { return true; },
  });
  const win = {
    document: d,
    location: { href: 'https://shop.example/search?q=red', search: '?q=red', pathname: '/search', hash: '' },
    history: { state: null, replaceState() {} },
    navigator: { userAgent: 'node', language: 'en', platform: 'test', globalPrivacyControl: !!gpc },
    screen: {},
    localStorage: { getItem: (k) => (ls.has(k) ? ls.get(k) : null), setItem: (k, v) => ls.set(k, String(v)), removeItem: (k) => ls.delete(k) },
    crypto: globalThis.crypto,
    setTimeout: (fn, ms) => setTimeout(fn, Math.min(ms, 5)),
    clearTimeout: (t) => clearTimeout(t),
    addEventListener() {},
    fetch(url, init) {
      posts.push(JSON.parse(init.body));
      const answer = JSON.stringify({ trackerId: 'S'.repeat(24), results: [] });
      return Promise.resolve({ status: 200, headers: { get: () => null }, text: () => Promise.resolve(answer) });
    },
  };
  client.boot(win, Object.assign({ token: 's', baseUrl: 'http://srv/', webTrackingEnabled: true, allowedDomains: [], autoSendEventsOnInit: true }, conf));
  return { win, ls, posts };
}

test('connectif.shopevents.consent: a tag-mode page held back for consent sends its tags once it is given', async () => {
  const { win, ls, posts } = page({ consentRequired: true });
  await settle();
  assert.equal(posts.length, 0, 'no consent yet: nothing sent on load');
  assert.equal(win.connectif.shopevents.consent(), undefined);
  assert.equal(win.connectif.shopevents.consent(true), true);
  await settle();
  assert.equal(posts.length, 1);
  assert.equal(posts[0].consent, true);
  assert.deepEqual(posts[0].events.map((e) => e.type), ['search', 'page-visit']);
  assert.equal(JSON.parse(ls.get('cn_tracker')).id, 'S'.repeat(24), 'the answer\'s tracker is kept');
  win.connectif.shopevents.consent(true);
  await settle();
  assert.equal(posts.length, 1, 'consenting again sends nothing more');
  assert.equal(win.connectif.shopevents.consent(false), false);
  assert.equal(ls.has('cn_tracker'), false, 'false forgets the tracker');
  assert.equal(ls.get('cn_consent'), 'false');
  let info;
  await win.connectif.managed.sendEvents([{ type: 'page-visit' }], { onResponded: (i) => { info = i; } });
  await new Promise((r) => setTimeout(r, 20)); // onResponded is deferred with setTimeout(fn, 0)
  assert.equal(posts.length, 1);
  assert.deepEqual(info, { status: 0, skipped: true, consent: false });
});

test('a browser with Global Privacy Control on a store that honours it sends nothing on load; a store that does not is tracked', async () => {
  const honoured = page({ honourGpc: true }, { gpc: true });
  const ignored = page({ honourGpc: false }, { gpc: true });
  const remembered = page({ honourGpc: true }, { gpc: true, stored: { cn_consent: 'true' } });
  await settle();
  assert.equal(honoured.posts.length, 0);
  assert.equal(ignored.posts.length, 1);
  assert.equal('consent' in ignored.posts[0], false, 'no choice made: no consent field');
  assert.equal(remembered.posts.length, 1, 'consent given on an earlier page wins over the signal');
  assert.equal(remembered.posts[0].consent, true);
});
