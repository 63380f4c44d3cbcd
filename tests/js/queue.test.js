'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { memoryStorage, manualClock, settle, scriptedTransport, makeQueue } = require('./helpers');

const URL = 'http://srv/integration-type/system/scrippet-notification/store-1';
const body = (id, events) => ({ requestId: id, events: events || [{ type: 'page-visit' }], entityInfo: {} });
const purchase = (id) => body(id, [{ type: 'purchase', purchase: { purchaseId: 'o-' + id } }]);

function setup(opts) {
  const storage = (opts && opts.storage) || memoryStorage();
  const transport = scriptedTransport();
  const clock = manualClock();
  const queue = makeQueue({ storage, transport, clock, options: opts && opts.options });
  return { storage, transport, clock, queue };
}

test('a request is stored, then sent at once, with keepalive, before enqueue returns', async () => {
  const { storage, transport, queue } = setup();
  transport.answers.push('hang');
  queue.enqueue(URL, body('r1'));
  assert.equal(transport.calls.length, 1);
  assert.equal(transport.calls[0].keepalive, true);
  assert.equal(transport.calls[0].body.requestId, 'r1');
  assert.equal(storage.json('cn_queue').length, 1);
});

test('a 200 removes the request, hands the answer over and calls the callback once', async () => {
  const { storage, transport, queue } = setup();
  const outcomes = [];
  transport.answers.push({ status: 200, data: { trackerId: 'abc', results: [{ index: 0, status: 'accepted' }] } });
  queue.enqueue(URL, body('r1'), (info) => outcomes.push(info));
  await settle();
  assert.deepEqual(storage.json('cn_queue'), []);
  assert.equal(queue.received.length, 1);
  assert.equal(queue.received[0].trackerId, 'abc');
  assert.equal(outcomes.length, 1);
  assert.equal(outcomes[0].status, 200);
  assert.equal(outcomes[0].requestId, 'r1');
  assert.equal(outcomes[0].results[0].status, 'accepted');
});

test('no answer: kept, retried with backoff under the same request id until it arrives', async () => {
  const { storage, transport, clock, queue } = setup();
  const outcomes = [];
  transport.answers.push('network', 'network', { status: 503, retryAfter: 0 });
  queue.enqueue(URL, purchase('r1'), (info) => outcomes.push(info));
  await settle();
  // The page is told the request is safe in the queue, so it may go on.
  assert.deepEqual(outcomes, [{ status: 0, queued: true, requestId: 'r1' }]);
  const stored = storage.json('cn_queue');
  assert.equal(stored.length, 1);
  assert.equal(stored[0].n, 1);
  // random() = 0.5 gives 3/4 of the window: 750 ms, then 1500 ms, then 3000 ms.
  assert.equal(stored[0].at - clock.now(), 750);
  await clock.advance(749);
  assert.equal(transport.calls.length, 1);
  await clock.advance(1);
  assert.equal(transport.calls.length, 2);
  await clock.advance(1500);
  assert.equal(transport.calls.length, 3);
  await clock.advance(3000);
  assert.equal(transport.calls.length, 4);
  assert.deepEqual(new Set(transport.calls.map((c) => c.body.requestId)), new Set(['r1']));
  assert.deepEqual(transport.calls[3].body, transport.calls[0].body);
  assert.deepEqual(storage.json('cn_queue'), []);
  assert.equal(outcomes.length, 1, 'the callback is called once only');
  assert.equal(clock.pendingTimers(), 0);
});

test('the backoff is capped', async () => {
  const { storage, transport, clock, queue } = setup({ options: { retryBaseMs: 1000, retryCapMs: 8000 } });
  for (let i = 0; i < 12; i++) transport.answers.push('network');
  queue.enqueue(URL, body('r1'));
  await settle();
  const gaps = [];
  for (let i = 0; i < 10; i++) {
    const at = storage.json('cn_queue')[0].at;
    gaps.push(at - clock.now());
    await clock.advance(at - clock.now());
  }
  assert.deepEqual(gaps, [750, 1500, 3000, 6000, 6000, 6000, 6000, 6000, 6000, 6000]);
});

test('429 and 503 honour Retry-After', async () => {
  const { storage, transport, clock, queue } = setup();
  transport.answers.push({ status: 429, retryAfter: 20000 });
  queue.enqueue(URL, body('r1'));
  await settle();
  assert.equal(storage.json('cn_queue')[0].at - clock.now(), 20000);
  await clock.advance(19999);
  assert.equal(transport.calls.length, 1);
  await clock.advance(1);
  assert.equal(transport.calls.length, 2);
  assert.deepEqual(storage.json('cn_queue'), []);
});

test('400, 403 and 413 are final: not retried', async () => {
  for (const status of [400, 403, 413]) {
    const { storage, transport, clock, queue } = setup();
    const outcomes = [];
    transport.answers.push({ status, data: { status, code: 'x', message: 'no' } });
    queue.enqueue(URL, body('r1'), (i) => outcomes.push(i));
    await clock.advance(120000);
    assert.equal(transport.calls.length, 1, `status ${status}`);
    assert.deepEqual(storage.json('cn_queue'), []);
    assert.equal(outcomes[0].status, status);
  }
});

test('requests are sent one at a time, in order', async () => {
  const { transport, queue } = setup();
  queue.enqueue(URL, body('r1'));
  queue.enqueue(URL, body('r2'));
  queue.enqueue(URL, body('r3'));
  assert.equal(transport.calls.length, 1);
  await settle();
  assert.deepEqual(transport.calls.map((c) => c.body.requestId), ['r1', 'r2', 'r3']);
});

test('the tracker learnt from an earlier answer is added to a queued anonymous request', async () => {
  const { storage, transport, queue } = setup();
  transport.answers.push('hang');
  queue.enqueue(URL, body('r1'));
  queue.enqueue(URL, body('r2'));
  storage.set('cn_tracker', JSON.stringify({ id: 'tracker-from-r1' }));
  const q2 = makeQueue({ storage, transport, clock: manualClock(1_005_000) });
  // A later page: r1 is leased by the page that sent it, r2 is free.
  q2.pump();
  await settle();
  assert.equal(transport.calls[1].body.requestId, 'r2');
  assert.equal(transport.calls[1].body.entityInfo.trackerId, 'tracker-from-r1');
});

test('a later page flushes what an earlier page left, and waits for another page\'s lease', async () => {
  const storage = memoryStorage();
  const clock = manualClock();
  const t1 = scriptedTransport();
  t1.answers.push('hang'); // the first page goes away while r1 is on the wire
  makeQueue({ storage, transport: t1, clock }).enqueue(URL, purchase('r1'));
  assert.equal(storage.json('cn_queue')[0].l, clock.now() + 15000);

  await clock.advance(1000);
  const t2 = scriptedTransport();
  const page2 = makeQueue({ storage, transport: t2, clock });
  page2.pump();
  await settle();
  assert.equal(t2.calls.length, 0, 'not resent while the first page may still be sending it');
  await clock.advance(14000);
  assert.equal(t2.calls.length, 1);
  assert.equal(t2.calls[0].body.requestId, 'r1');
  assert.deepEqual(storage.json('cn_queue'), []);
});

test('pagehide: what is waiting goes out by beacon and stays stored until answered', async () => {
  const { storage, transport, clock, queue } = setup();
  transport.answers.push('hang');
  queue.enqueue(URL, body('r1')); // on the wire with keepalive
  queue.enqueue(URL, purchase('r2')); // waiting behind it
  queue.unload();
  assert.deepEqual(transport.beacons.map((b) => b.body.requestId), ['r2']);
  assert.equal(transport.beacons[0].url, URL);
  const stored = storage.json('cn_queue');
  assert.deepEqual(stored.map((i) => i.id), ['r1', 'r2']);
  assert.equal(stored[1].l, clock.now() + 15000);
  // A second pagehide (bfcache) does not beacon it again while leased.
  queue.unload();
  assert.equal(transport.beacons.length, 1);
});

test('pagehide leaves alone requests that are backing off', async () => {
  const { transport, queue } = setup();
  transport.answers.push({ status: 429, retryAfter: 60000 });
  queue.enqueue(URL, body('r1'));
  await settle();
  queue.unload();
  assert.equal(transport.beacons.length, 0);
});

test('large bodies are sent without keepalive and never by beacon', async () => {
  const { transport, queue } = setup({ options: { keepaliveMaxBytes: 100 } });
  transport.answers.push('hang');
  queue.enqueue(URL, body('r1', [{ type: 'page-visit', pad: 'x'.repeat(200) }]));
  queue.enqueue(URL, body('r2', [{ type: 'page-visit', pad: 'x'.repeat(200) }]));
  assert.equal(transport.calls[0].keepalive, false);
  queue.unload();
  assert.equal(transport.beacons.length, 0);
});

test('the queue is capped; purchases are the last to be dropped', async () => {
  const { storage, transport, queue } = setup({ options: { maxQueue: 3 } });
  transport.answers.push('hang');
  queue.enqueue(URL, purchase('p1'));
  queue.enqueue(URL, body('v1'));
  queue.enqueue(URL, purchase('p2'));
  queue.enqueue(URL, body('v2'));
  assert.deepEqual(storage.json('cn_queue').map((i) => i.id), ['p1', 'p2', 'v2']);
});

test('requests older than the maximum age are dropped', async () => {
  const { storage, transport, clock, queue } = setup({ options: { maxAgeMs: 10000 } });
  for (let i = 0; i < 40; i++) transport.answers.push('network');
  queue.enqueue(URL, body('r1'));
  await clock.advance(20000);
  assert.deepEqual(storage.json('cn_queue'), []);
  const sent = transport.calls.length;
  await clock.advance(60000);
  assert.equal(transport.calls.length, sent);
});

test('a corrupt stored queue is ignored, not fatal', async () => {
  const storage = memoryStorage({ cn_queue: '{not json' });
  const { transport, queue } = setup({ storage });
  queue.enqueue(URL, body('r1'));
  await settle();
  assert.equal(transport.calls.length, 1);
  assert.deepEqual(storage.json('cn_queue'), []);
});

test('a transport that throws is treated as no answer', async () => {
  const { storage, clock, queue } = (() => {
    const storage = memoryStorage();
    const clock = manualClock();
    let n = 0;
    const transport = {
      send() {
        n += 1;
        if (n === 1) throw new Error('boom');
        return Promise.resolve({ status: 200, data: {} });
      },
      beacon: () => true,
    };
    return { storage, clock, queue: makeQueue({ storage, transport, clock }) };
  })();
  queue.enqueue(URL, body('r1'));
  assert.equal(storage.json('cn_queue').length, 1);
  await clock.advance(1000);
  assert.deepEqual(storage.json('cn_queue'), []);
});

test('an answer that never comes counts as no answer after the request timeout', async () => {
  const { storage, transport, clock, queue } = setup({ options: { requestTimeoutMs: 30000 } });
  const outcomes = [];
  transport.answers.push('hang');
  queue.enqueue(URL, purchase('r1'), (i) => outcomes.push(i));
  queue.enqueue(URL, body('r2'));
  await clock.advance(29999);
  assert.equal(transport.calls.length, 1, 'r2 waits behind the hung request');
  await clock.advance(1);
  assert.deepEqual(outcomes, [{ status: 0, queued: true, requestId: 'r1' }]);
  assert.deepEqual(transport.calls.map((c) => c.body.requestId), ['r1', 'r2'], 'the queue moves on');
  await clock.advance(60000);
  assert.deepEqual(storage.json('cn_queue'), []);
  assert.equal(transport.calls.filter((c) => c.body.requestId === 'r1').length, 2);
});

test('flush() tries now what waits for its backoff, but honours Retry-After and leases', async () => {
  const { storage, transport, clock, queue } = setup();
  transport.answers.push('network', { status: 503, retryAfter: 60000 });
  queue.enqueue(URL, body('backoff'));
  await settle();
  assert.ok(storage.json('cn_queue')[0].at > clock.now());
  queue.flush(); // e.g. the browser is back online
  await settle();
  assert.equal(transport.calls.length, 2);
  const item = storage.json('cn_queue')[0];
  assert.equal(item.ra - clock.now(), 60000);
  queue.flush();
  await settle();
  assert.equal(transport.calls.length, 2, 'the server asked for a minute');

  const other = memoryStorage();
  other.set('cn_queue', JSON.stringify([{ id: 'leased', url: URL, body: body('leased'), t: clock.now(), n: 1, at: 0, l: clock.now() + 5000 }]));
  const t2 = scriptedTransport();
  const q2 = makeQueue({ storage: other, transport: t2, clock });
  q2.flush();
  await settle();
  assert.equal(t2.calls.length, 0, 'another page is sending it');
});
