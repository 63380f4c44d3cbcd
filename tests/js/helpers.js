'use strict';
// Test doubles for the client core: storage, a scripted transport, a manual clock and a
// minimal element tree with the DOM methods the tag scraper uses.

const path = require('node:path');

const client = require(path.join(__dirname, '..', '..', 'src', 'shopevents', 'client', 'shopevents.js'));

function memoryStorage(initial) {
  const data = new Map(Object.entries(initial || {}));
  return {
    data,
    get: (k) => (data.has(k) ? data.get(k) : null),
    set: (k, v) => data.set(k, String(v)),
    remove: (k) => data.delete(k),
    json: (k) => (data.has(k) ? JSON.parse(data.get(k)) : undefined),
  };
}

function manualClock(start) {
  let now = start || 1_000_000;
  let seq = 0;
  const timers = new Map();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = ++seq;
      timers.set(id, { at: now + Math.max(0, ms || 0), fn });
      return id;
    },
    clearTimeout(id) {
      timers.delete(id);
    },
    pendingTimers: () => timers.size,
    nextTimerAt() {
      let at = Infinity;
      for (const t of timers.values()) at = Math.min(at, t.at);
      return at;
    },
    // Moves time forward, running due timers in order, letting promises settle between them.
    async advance(ms) {
      const target = now + ms;
      for (;;) {
        await settle();
        let next = null;
        let nextId = null;
        for (const [id, t] of timers) {
          if (t.at <= target && (next === null || t.at < next.at)) {
            next = t;
            nextId = id;
          }
        }
        if (!next) break;
        timers.delete(nextId);
        now = Math.max(now, next.at);
        next.fn();
      }
      now = target;
      await settle();
    },
  };
}

async function settle() {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}

// A transport whose answers the test scripts: each call takes the next answer, or the
// default. An answer is {status, data, retryAfter} or 'network' (the promise rejects) or
// 'hang' (never settles).
function scriptedTransport(defaultAnswer) {
  const calls = [];
  const answers = [];
  const beacons = [];
  const fallback = defaultAnswer || { status: 200, data: { trackerId: 'T'.repeat(24), results: [] } };
  return {
    calls,
    beacons,
    answers,
    send(url, body, keepalive) {
      calls.push({ url, body: JSON.parse(body), keepalive });
      const a = answers.length ? answers.shift() : fallback;
      if (a === 'network') return Promise.reject(new TypeError('Failed to fetch'));
      if (a === 'hang') return new Promise(() => {});
      return Promise.resolve({ status: a.status, data: a.data || null, retryAfter: a.retryAfter || 0 });
    },
    beacon(url, body) {
      beacons.push({ url, body: JSON.parse(body) });
      return true;
    },
  };
}

function makeQueue({ storage, transport, clock, random, options, onData }) {
  const received = [];
  const queue = client.createQueue(
    {
      storage,
      send: transport.send,
      beacon: transport.beacon,
      setTimeout: clock.setTimeout,
      clearTimeout: clock.clearTimeout,
      now: clock.now,
      random: random || (() => 0.5),
      onData: onData || ((d) => received.push(d)),
      log: () => {},
    },
    options,
  );
  queue.received = received;
  return queue;
}

// --- a minimal element tree ---------------------------------------------------------------

class El {
  constructor(tag, className, children, attrs) {
    this.tagName = tag;
    this.className = className || '';
    this.children = [];
    this.attrs = attrs || {};
    this.id = this.attrs.id || '';
    this._text = '';
    for (const c of children || []) {
      if (typeof c === 'string') this._text += c;
      else this.children.push(c);
    }
  }
  get textContent() {
    return this._text + this.children.map((c) => c.textContent).join('');
  }
  getAttribute(name) {
    return name in this.attrs ? this.attrs[name] : null;
  }
  getElementsByClassName(cls) {
    const out = [];
    const walk = (el) => {
      for (const c of el.children) {
        if (c.className.split(/\s+/).includes(cls)) out.push(c);
        walk(c);
      }
    };
    walk(this);
    return out;
  }
  querySelector(sel) {
    const m = /^meta\[name="([^"]+)"\]$/.exec(sel);
    if (!m) return null;
    const walk = (el) => {
      for (const c of el.children) {
        if (c.tagName === 'meta' && c.attrs.name === m[1]) return c;
        const r = walk(c);
        if (r) return r;
      }
      return null;
    };
    return walk(this);
  }
}

function h(tag, className, ...children) {
  let attrs;
  if (children.length && children[0] && children[0].constructor === Object) attrs = children.shift();
  return new El(tag, className, children.flat(), attrs);
}

// "cls:text" spans, for compact tag fixtures.
function spans(obj) {
  return Object.entries(obj).flatMap(([k, v]) =>
    (Array.isArray(v) ? v : [v]).map((x) => h('span', k, String(x))),
  );
}

function doc(title, ...children) {
  const d = h('html', '', ...children);
  d.title = title || '';
  return d;
}

module.exports = { client, memoryStorage, manualClock, settle, scriptedTransport, makeQueue, h, spans, doc };
