/*! shopevents client script: the connectif.managed API, self-hosted. MIT licence. */
(function (global) {
  'use strict';

  var VERSION = '1.0.0';
  var QUEUE_KEY = 'cn_queue';
  var TRACKER_KEY = 'cn_tracker';
  var PREV_ENTITY_KEY = 'cn_previous_entity_info';
  var PREV_CART_KEY = 'cn_previous_cart';
  var CONSENT_KEY = 'cn_consent';
  var INGEST_PATH = 'integration-type/system/scrippet-notification/';

  var DEFAULTS = {
    retryBaseMs: 1000, // first retry after about a second
    retryCapMs: 60000, // backoff never waits longer than a minute...
    retryAfterCapMs: 600000, // ...unless the server's Retry-After asks for more (up to 10 min)
    leaseMs: 15000, // a request being sent is not resent by another page for this long
    requestTimeoutMs: 30000, // no answer by then counts as no answer
    maxAgeMs: 7 * 24 * 3600 * 1000, // undelivered requests are kept for a week
    maxQueue: 100, // most requests kept waiting
    keepaliveMaxBytes: 60000 // keepalive and sendBeacon share a 64 KB budget
  };

  // ---------------------------------------------------------------------------------------
  // Core: knows nothing of window or document. Everything it touches is passed in.
  // ---------------------------------------------------------------------------------------

  function isObject(v) {
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  }

  function canonical(v) {
    if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']';
    if (isObject(v)) {
      return '{' + Object.keys(v).sort().filter(function (k) {
        return v[k] !== undefined && typeof v[k] !== 'function';
      }).map(function (k) {
        return JSON.stringify(k) + ':' + canonical(v[k]);
      }).join(',') + '}';
    }
    return v === undefined ? 'null' : JSON.stringify(v);
  }

  function deepEquals(a, b) {
    return canonical(a) === canonical(b);
  }

  // Two carts are equal when id, totals and product count match and every line matches a
  // line of the other cart on productId, quantity and price (the reference script's rule).
  function cartsEqual(a, b) {
    if (!isObject(a) || !isObject(b)) return false;
    var pa = a.products || [], pb = b.products || [];
    if (a.cartId !== b.cartId || a.totalPrice !== b.totalPrice ||
        a.totalQuantity !== b.totalQuantity || pa.length !== pb.length) return false;
    function covered(x, y) {
      return x.every(function (p) {
        return y.some(function (q) {
          return p && q && p.productId === q.productId && p.quantity === q.quantity && p.price === q.price;
        });
      });
    }
    return covered(pa, pb) && covered(pb, pa);
  }

  function backoffDelay(attempt, random, baseMs, capMs) {
    var d = Math.min(capMs, baseMs * Math.pow(2, Math.max(0, attempt - 1)));
    return Math.round(d / 2 + random() * d / 2);
  }

  // 'ok': delivered. 'retry': keep and try again later. 'drop': the server will never take it.
  function classifyStatus(status) {
    if (status >= 200 && status < 300) return 'ok';
    if (!status || status === 408 || status === 425 || status === 429 || status >= 500) return 'retry';
    return 'drop';
  }

  function parseRetryAfter(value, nowMs) {
    if (value === null || value === undefined || value === '') return 0;
    var s = Number(value);
    if (!isNaN(s)) return Math.max(0, s * 1000);
    var t = Date.parse(value);
    return isNaN(t) ? 0 : Math.max(0, t - nowMs);
  }

  // Request ids are version 7 UUIDs: 48 bits of milliseconds first, then random bits, so ids
  // made later sort later and the server's request-key index grows at its end.
  function uuid7(cryptoObj, random, nowMs) {
    var b = [], i;
    if (cryptoObj && typeof cryptoObj.getRandomValues === 'function') {
      b = Array.prototype.slice.call(cryptoObj.getRandomValues(new Uint8Array(16)));
    } else {
      for (i = 0; i < 16; i++) b.push(Math.floor(random() * 256));
    }
    var ms = Math.max(0, Math.floor(nowMs()));
    for (i = 5; i >= 0; i--) {
      b[i] = ms % 256;
      ms = Math.floor(ms / 256);
    }
    b[6] = (b[6] & 15) | 112;
    b[8] = (b[8] & 63) | 128;
    var h = b.map(function (x) { return (x + 256).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  function splitUrl(href) {
    var m = /^([a-z][a-z0-9+.-]*:)?\/\/([^\/?#]*)([^?#]*)([^#]*)/i.exec(String(href || '')) || [];
    var host = (m[2] || '').replace(/^.*@/, '').toLowerCase();
    return { host: host, hostname: host.replace(/:\d+$/, ''), path: (m[3] || '/') + (m[4] || '') };
  }

  // The address with its scheme and host lowercased.
  function lowerOrigin(href) {
    return String(href || '').replace(/^([a-z][a-z0-9+.-]*:\/\/[^\/?#]*)/i, function (o) {
      return o.toLowerCase();
    });
  }

  // An authorised domain is a host name ("shop.example" also covers its subdomains; a port
  // in it is ignored) or, in Connectif's form, a URL prefix ("https://shop.example/es/": the
  // page's address must start with it). The server's Origin check follows the same rule.
  function isAllowedDomain(href, allowed) {
    if (!allowed || !allowed.length) return true;
    var host = splitUrl(href).hostname;
    return allowed.some(function (d) {
      d = String(d || '').trim();
      if (d.indexOf('//') >= 0) return !!d && lowerOrigin(href).indexOf(lowerOrigin(d)) === 0;
      d = d.toLowerCase().split('/')[0].replace(/:\d+$/, '').replace(/^\*?\.+/, '');
      return !!d && (host === d || host.slice(-d.length - 1) === '.' + d);
    });
  }

  // Our own rules (both forms) if served, else Connectif's prefixes.
  function domainRules(conf) {
    return conf.allowedDomainRules || conf.allowedDomains;
  }

  function matchesAny(patterns, href) {
    var path = splitUrl(href).path;
    return (patterns || []).some(function (p) {
      try {
        var re = new RegExp(p);
        return re.test(href) || re.test(path);
      } catch (e) {
        return false;
      }
    });
  }

  // Each pattern is a regular expression tried on the full URL and on the path + query.
  function isExcludedPage(href, conf) {
    if (conf.trackAllByDefault === false) return !matchesAny(conf.includeTracking, href);
    return matchesAny(conf.excludeTracking, href);
  }

  function readJSON(storage, key) {
    try {
      var s = storage.get(key);
      return s === null || s === undefined ? undefined : JSON.parse(s);
    } catch (e) {
      return undefined;
    }
  }

  function writeJSON(storage, key, value) {
    try {
      if (value === undefined) storage.remove(key);
      else storage.set(key, JSON.stringify(value));
    } catch (e) { /* storage full or disabled: the adapter falls back to memory */ }
  }

  function hasPurchase(item) {
    return ((item.body && item.body.events) || []).some(function (e) { return e && e.type === 'purchase'; });
  }

  /**
   * The delivery queue. Every request is written to storage before it is sent and removed
   * only when the server has answered it for good, so a failure, a reload or a navigation
   * loses nothing; the request id lets the server recognise a resend.
   *
   * deps: storage {get,set,remove}; send(url, body, keepalive) -> Promise<{status,
   * retryAfter, data}> (rejects on network failure); beacon(url, body) -> boolean;
   * setTimeout, clearTimeout, now, random; onData(data) for every 2xx answer; log(level, msg).
   */
  function createQueue(deps, options) {
    var o = {};
    Object.keys(DEFAULTS).forEach(function (k) {
      o[k] = options && options[k] !== undefined ? options[k] : DEFAULTS[k];
    });
    var inflight = {}; // id -> true while this page is sending it
    var callbacks = {}; // id -> function, called once with the outcome
    var busy = false, timer = null;
    var log = deps.log || function () {};

    function load() {
      var q = readJSON(deps.storage, QUEUE_KEY);
      return Array.isArray(q) ? q.filter(function (it) { return it && it.id && it.url; }) : [];
    }

    function save(q) {
      writeJSON(deps.storage, QUEUE_KEY, q);
    }

    function trim(q, now) {
      var fresh = q.filter(function (it) { return !(now - (it.t || 0) > o.maxAgeMs); });
      while (fresh.length > o.maxQueue) {
        var i = 0;
        while (i < fresh.length - 1 && hasPurchase(fresh[i])) i++;
        log('warn', 'delivery queue full, dropping request ' + fresh[i].id);
        fresh.splice(i, 1);
      }
      return fresh;
    }

    function respond(id, info) {
      var cb = callbacks[id];
      delete callbacks[id];
      if (cb) {
        try { cb(info); } catch (e) { log('error', e); }
      }
    }

    function schedule(at) {
      if (timer !== null) deps.clearTimeout(timer);
      timer = null;
      if (at < Infinity) {
        timer = deps.setTimeout(function () { timer = null; pump(); }, Math.max(0, at - deps.now()));
      }
    }

    function settle(id, res) {
      var now = deps.now();
      var q = load(), idx = -1;
      for (var i = 0; i < q.length; i++) if (q[i].id === id) idx = i;
      var kind = res ? classifyStatus(res.status) : 'retry';
      if (kind === 'retry') {
        if (idx >= 0) {
          var delay = backoffDelay(q[idx].n || 1, deps.random, o.retryBaseMs, o.retryCapMs);
          var asked = res && res.retryAfter ? Math.min(res.retryAfter, o.retryAfterCapMs) : 0;
          q[idx].at = now + Math.max(delay, asked);
          q[idx].ra = asked ? now + asked : 0; // the server's own wait is kept even by flush()
          q[idx].l = 0;
          save(q);
        }
        // The request is safe in the queue: the page may go on (and navigate).
        respond(id, { status: res ? res.status : 0, queued: true, requestId: id });
        return;
      }
      if (idx >= 0) {
        q.splice(idx, 1);
        save(q);
      }
      if (kind === 'ok') {
        if (res.data) deps.onData(res.data);
      } else {
        log('warn', 'request ' + id + ' refused with status ' + res.status +
          (res.data && res.data.message ? ': ' + res.data.message : ''));
      }
      var info = isObject(res.data) ? res.data : {};
      info.status = res.status;
      info.requestId = id;
      respond(id, info);
    }

    // force: try now what is only waiting for its backoff (page load, back online, tab
    // shown); a Retry-After from the server and another page's lease are still honoured.
    function pump(force) {
      if (busy) return;
      var now = deps.now(), q = load(), n = q.length, item = null, wake = Infinity;
      q = trim(q, now);
      for (var i = 0; i < q.length; i++) {
        if (inflight[q[i].id]) continue;
        var at = force === true ? (q[i].ra || 0) : (q[i].at || 0);
        var ready = Math.max(at, q[i].l || 0);
        if (ready <= now) { item = q[i]; break; }
        wake = Math.min(wake, ready);
      }
      if (!item) {
        if (q.length !== n) save(q);
        schedule(wake);
        return;
      }
      item.n = (item.n || 0) + 1;
      item.l = now + o.leaseMs;
      save(q);
      busy = true;
      inflight[item.id] = true;
      var body = item.body;
      var tracker = readJSON(deps.storage, TRACKER_KEY);
      if (isObject(body.entityInfo) && !body.entityInfo.trackerId && tracker && tracker.id) {
        body.entityInfo.trackerId = String(tracker.id).slice(0, 24);
      }
      var json = JSON.stringify(body);
      var id = item.id, finished = false;
      var watchdog = deps.setTimeout(function () { done(null); }, o.requestTimeoutMs);
      var done = function (res) {
        if (finished) return;
        finished = true;
        deps.clearTimeout(watchdog);
        busy = false;
        delete inflight[id];
        settle(id, res);
        pump();
      };
      try {
        deps.send(item.url, json, json.length <= o.keepaliveMaxBytes).then(done, function () { done(null); });
      } catch (e) {
        done(null);
      }
    }

    function enqueue(url, body, onOutcome) {
      var now = deps.now();
      var q = load();
      q.push({ id: body.requestId, url: url, body: body, t: now, n: 0, at: now, l: 0 });
      save(trim(q, now));
      if (onOutcome) callbacks[body.requestId] = onOutcome;
      pump();
    }

    // The page is going away: hand what is still waiting to the browser with sendBeacon.
    // Items stay stored until a later page sees them answered; a resend is a 'duplicate'.
    function unload() {
      var now = deps.now(), q = load(), changed = false;
      q.forEach(function (it) {
        if (inflight[it.id] || (it.l || 0) > now || (it.n && (it.at || 0) > now)) return;
        var json = JSON.stringify(it.body);
        if (json.length > o.keepaliveMaxBytes) return;
        var sent = false;
        try { sent = deps.beacon(it.url, json); } catch (e) { sent = false; }
        if (sent) {
          it.n = (it.n || 0) + 1;
          it.l = now + o.leaseMs;
          changed = true;
        }
      });
      if (changed) save(q);
    }

    return {
      enqueue: enqueue,
      pump: pump,
      flush: function () { pump(true); },
      unload: unload,
      pending: function () { return load().length; },
      options: o
    };
  }

  /**
   * connectif.managed.sendEvents: gate, tracker, entity and cart de-duplication, then the
   * queue. env supplies what the page knows: href(), entityInfo(), cart(), pageInfo(),
   * browserInfo(), bannerPlaceholders(), defer(fn).
   */
  function createManaged(conf, queue, storage, env, makeId) {
    var base = String(conf.baseUrl || '/');
    if (base.charAt(base.length - 1) !== '/') base += '/';
    var url = base + INGEST_PATH + encodeURIComponent(conf.token);

    function allowed() {
      var href = env.href();
      return conf.webTrackingEnabled !== false && isAllowedDomain(href, domainRules(conf)) &&
        !isExcludedPage(href, conf);
    }

    // The visitor's choice (true, false or undefined); false forgets the tracker and the queue.
    function consent(given) {
      if (arguments.length) {
        writeJSON(storage, CONSENT_KEY, given === true);
        if (given !== true) [TRACKER_KEY, PREV_ENTITY_KEY, PREV_CART_KEY, QUEUE_KEY].forEach(function (k) { writeJSON(storage, k); });
      }
      return readJSON(storage, CONSENT_KEY);
    }

    function consented() {
      var c = consent();
      return c === undefined ? !conf.consentRequired && !(conf.honourGpc && env.privacySignal && env.privacySignal()) : c;
    }

    function sendEvents(events, options) {
      if (!isObject(options)) options = {};
      if (!Array.isArray(events)) events = [];
      var cb = typeof options.onResponded === 'function' ? options.onResponded : null;
      var skip = function (no) {
        if (cb) env.defer(function () { cb(no ? { status: 0, skipped: true, consent: false } : { status: 0, skipped: true }); });
        return Promise.resolve();
      };
      if (!allowed()) return skip();
      if (!consented()) return skip(1);

      var entity = isObject(options.entityInfo) ? options.entityInfo : env.entityInfo();
      entity = JSON.parse(JSON.stringify(entity || {}));
      var cart = isObject(options.cart) ? options.cart : env.cart();
      if (cart) cart = JSON.parse(JSON.stringify(cart));
      var stored = readJSON(storage, TRACKER_KEY);
      var tracker = entity.trackerId || (stored && stored.id);
      if (tracker) entity.trackerId = String(tracker).slice(0, 24);

      var entityChanged = !deepEquals(entity, readJSON(storage, PREV_ENTITY_KEY));
      if (cart) {
        var same = cartsEqual(cart, readJSON(storage, PREV_CART_KEY));
        writeJSON(storage, PREV_CART_KEY, cart);
        if (same) cart = undefined;
      }
      if (!entityChanged && !cart && !events.length) return skip();
      writeJSON(storage, PREV_ENTITY_KEY, entity);

      var body = {
        events: events,
        entityInfo: entity,
        pageInfo: env.pageInfo(),
        browserInfo: env.browserInfo(),
        bannerPlaceholders: env.bannerPlaceholders(),
        requestId: makeId()
      };
      if (cart) body.cart = cart;
      if (consent()) body.consent = true;
      queue.enqueue(url, JSON.parse(JSON.stringify(body)), cb);
      return Promise.resolve();
    }

    return {
      sendEvents: sendEvents,
      consent: consent,
      consented: consented,
      isAllowedDomain: function () { return isAllowedDomain(env.href(), domainRules(conf)); },
      isExcludedPage: function () { return isExcludedPage(env.href(), conf); },
      deepEquals: deepEquals,
      url: url
    };
  }

  // ---------------------------------------------------------------------------------------
  // Tag scraping. Works on any object with the DOM's getElementsByClassName / children /
  // className / textContent, so it runs on a real document or on a test double.
  // ---------------------------------------------------------------------------------------

  var CLIENT_RENAMES = {
    primary_key: 'primaryKey',
    tracker_id: 'trackerId',
    _email_status: '_emailStatus',
    _newsletter_subscription_status: '_newsletterSubscriptionStatus'
  };
  var PRODUCT_TEXT = {
    product_id: 'productId', name: 'name', url: 'productDetailUrl', description: 'description',
    image_url: 'imageUrl', thumbnail_url: 'thumbnailUrl', availability: 'availability',
    brand: 'brand', published_at: 'publishedAt', custom_field_1: 'customField1',
    custom_field_2: 'customField2', custom_field_3: 'customField3'
  };
  var PRODUCT_FLOAT = {
    unit_price: 'unitPrice', rating_value: 'rating', unit_price_original: 'unitPriceOriginal',
    unit_price_without_vat: 'unitPriceWithoutVAT', discounted_amount: 'discountedAmount',
    discounted_percentage: 'discountedPercentage'
  };
  var PRODUCT_INT = { review_count: 'reviewCount', rating_count: 'ratingCount', priority: 'priority' };
  var PRODUCT_LIST = { category: 'categories', tag: 'tags', related_external_product_id: 'relatedExternalProductIds' };

  function list(root, cls) {
    return root ? Array.prototype.slice.call(root.getElementsByClassName(cls)) : [];
  }

  function text(el) {
    return el ? String(el.textContent || '').trim() : '';
  }

  function first(root, cls) {
    return list(root, cls)[0];
  }

  function num(s, parse) {
    var n = parse(s, 10);
    return isNaN(n) ? undefined : n;
  }

  // Reads classes into target: map of class -> key, each parsed with fn.
  function readInto(target, root, map, fn) {
    Object.keys(map).forEach(function (cls) {
      var el = first(root, cls);
      if (!el) return;
      var v = fn(text(el));
      if (v !== undefined && v !== '') target[map[cls]] = v;
    });
    return target;
  }

  function asText(s) { return s; }
  function asFloat(s) { return num(s, parseFloat); }
  function asInt(s) { return num(s, parseInt); }

  function validProduct(p) {
    return !!(p.name && p.productDetailUrl && p.productId && p.unitPrice >= 0);
  }

  function scrapeProduct(el) {
    var p = {};
    readInto(p, el, PRODUCT_TEXT, asText);
    readInto(p, el, PRODUCT_FLOAT, asFloat);
    readInto(p, el, PRODUCT_INT, asInt);
    Object.keys(PRODUCT_LIST).forEach(function (cls) {
      var values = list(el, cls).map(text).filter(Boolean);
      if (values.length) p[PRODUCT_LIST[cls]] = values;
    });
    return p;
  }

  function scrapeBasket(el) {
    return list(el, 'product_basket_item').map(function (item) {
      var p = scrapeProduct(item);
      readInto(p, item, { quantity: 'quantity' }, asInt);
      readInto(p, item, { price: 'price' }, asFloat);
      return p;
    }).filter(validProduct);
  }

  function scrapeClientInfo(doc) {
    var root = first(doc, 'cn_client_info'), info = {};
    if (!root) return info;
    Array.prototype.slice.call(root.children || []).forEach(function (child) {
      var cls = String(child.className || '').trim().split(/\s+/)[0];
      var v = text(child);
      if (cls && v) info[CLIENT_RENAMES[cls] || cls] = v;
    });
    return info;
  }

  function scrapeCart(doc) {
    var root = first(doc, 'cn_cart');
    if (!root) return undefined;
    var cart = readInto({}, root, { cart_id: 'cartId', cart_recovery_url: 'cartRecoveryUrl' }, asText);
    readInto(cart, root, { total_quantity: 'totalQuantity' }, asInt);
    readInto(cart, root, { total_price: 'totalPrice' }, asFloat);
    cart.products = scrapeBasket(root);
    if (!cart.cartId || !(cart.totalQuantity >= 0) || !(cart.totalPrice >= 0)) return undefined;
    return cart;
  }

  function scrapePurchase(el) {
    var p = readInto({}, el, {
      purchase_id: 'purchaseId', cart_id: 'cartId', purchase_date: 'purchaseDate',
      payment_method: 'paymentMethod', source_type: 'source_type', source_name: 'source_name'
    }, asText);
    readInto(p, el, { total_quantity: 'totalQuantity' }, asInt);
    readInto(p, el, { total_price: 'totalPrice' }, asFloat);
    p.products = scrapeBasket(el);
    return p.purchaseId && p.totalQuantity >= 0 && p.totalPrice >= 0 ? p : undefined;
  }

  // Every event tag on the page, in the reference order, ending with the page visit.
  function scrapeEvents(doc) {
    var events = [];
    function products(cls, type) {
      list(doc, cls).forEach(function (el) {
        var p = scrapeProduct(el);
        if (validProduct(p)) events.push({ type: type, product: p });
      });
    }
    products('cn_product_visited', 'product-visited');
    products('cn_product_searched', 'product-searched');
    list(doc, 'cn_product_not_found').forEach(function (el) {
      var id = text(first(el, 'product_id'));
      if (id) events.push({ type: 'product-not-found', productId: id });
    });
    if (first(doc, 'cn_login')) events.push({ type: 'login' });
    if (first(doc, 'cn_register')) events.push({ type: 'register' });
    var search = text(first(first(doc, 'cn_search'), 'search_text'));
    if (search) events.push({ type: 'search', searchText: search });
    var news = first(doc, 'cn_newsletter_subscribe');
    if (news) {
      var ev = { type: 'newsletter-subscribe' }, email = text(first(news, 'email'));
      if (email) ev.email = email;
      events.push(ev);
    }
    list(doc, 'cn_purchase').forEach(function (el) {
      var p = scrapePurchase(el);
      if (p) events.push({ type: 'purchase', purchase: p });
    });
    events.push({ type: 'page-visit' });
    return events;
  }

  function scrapePageInfo(doc) {
    var info = {
      categories: list(doc, 'cn_page_category').map(text).filter(Boolean).slice(0, 10),
      title: String(doc.title || '').slice(0, 50),
      tags: list(doc, 'cn_page_tag').map(function (el) { return text(el).slice(0, 25); })
        .filter(Boolean).slice(0, 10)
    };
    var meta = doc.querySelector && doc.querySelector('meta[name="keywords"]');
    var kw = meta && meta.getAttribute('content');
    if (kw) info.keywords = kw.split(',').map(function (s) { return s.trim(); }).filter(Boolean);
    return info;
  }

  function scrapeBannerPlaceholders(doc) {
    return list(doc, 'cn_banner_placeholder').map(function (el) { return el.id; }).filter(Boolean);
  }

  // ---------------------------------------------------------------------------------------
  // Browser adapter: localStorage, fetch keepalive, sendBeacon, DOM, URL, lifecycle events.
  // ---------------------------------------------------------------------------------------

  function browserStorage(win) {
    var mem = {}, ls = null;
    try {
      ls = win.localStorage;
      ls.setItem('cn_probe', '1');
      ls.removeItem('cn_probe');
    } catch (e) {
      ls = null;
    }
    return {
      get: function (k) {
        if (Object.prototype.hasOwnProperty.call(mem, k)) return mem[k];
        try { return ls ? ls.getItem(k) : null; } catch (e) { return null; }
      },
      set: function (k, v) {
        try {
          if (ls) { ls.setItem(k, v); delete mem[k]; return; }
        } catch (e) { /* quota: keep it in memory for this page */ }
        mem[k] = v;
      },
      remove: function (k) {
        delete mem[k];
        try { if (ls) ls.removeItem(k); } catch (e) { /* ignore */ }
      }
    };
  }

  function fetchTransport(win) {
    return function (url, body, keepalive) {
      return win.fetch(url, {
        method: 'POST',
        body: body,
        headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
        keepalive: keepalive,
        credentials: 'omit',
        mode: 'cors'
      }).then(function (r) {
        var retryAfter = parseRetryAfter(r.headers.get('Retry-After'), Date.now());
        return r.text().then(function (t) {
          var data = null;
          try { data = JSON.parse(t); } catch (e) { data = null; }
          return { status: r.status, retryAfter: retryAfter, data: data };
        });
      });
    };
  }

  function browserInfo(win) {
    var nav = win.navigator || {}, scr = win.screen || {}, doc = win.document;
    var mobile = false;
    try { mobile = win.matchMedia('(max-width: 760px)').matches; } catch (e) { mobile = false; }
    return {
      windowWidth: win.innerWidth,
      windowHeight: win.innerHeight,
      screenHeight: scr.height,
      screenWidth: scr.width,
      colorDepth: scr.colorDepth,
      cookieEnabled: nav.cookieEnabled,
      language: nav.language,
      platform: nav.platform,
      url: encodeURIComponent(win.location.href),
      referer: doc.referrer || '',
      device: mobile ? 'mobile' : 'desktop'
    };
  }

  function fire(doc, name, detail) {
    try {
      doc.dispatchEvent(new CustomEvent(name, { detail: detail }));
    } catch (e) { /* very old browser */ }
  }

  // Takes __cn_tracker from the URL into storage and removes it from the address bar.
  function takeTrackerParam(win, storage) {
    var loc = win.location, m = /[?&]__cn_tracker=([^&#]*)/.exec(loc.search);
    if (!m) return;
    var id = '';
    try { id = decodeURIComponent(m[1].replace(/\+/g, ' ')); } catch (e) { id = m[1]; }
    if (id && readJSON(storage, CONSENT_KEY) !== false) writeJSON(storage, TRACKER_KEY, { id: id.slice(0, 24) });
    var search = loc.search.replace(/([?&])__cn_tracker=[^&#]*&?/, '$1').replace(/[?&]$/, '');
    try {
      win.history.replaceState(win.history.state, '', loc.pathname + search + loc.hash);
    } catch (e) { /* sandboxed frame */ }
  }

  function boot(win, conf) {
    var doc = win.document, prior = win.connectif;
    if (prior && prior.managed && typeof prior.managed.isInitialized === 'function') return;
    var pending = (prior && prior.managed && prior.managed._q) || [];
    var storage = browserStorage(win);
    var log = function (level, msg) {
      if (win.console && win.console[level]) win.console[level]('shopevents:', msg);
    };
    takeTrackerParam(win, storage);

    var queue = createQueue({
      storage: storage,
      send: fetchTransport(win),
      beacon: function (url, body) {
        return !!(win.navigator.sendBeacon && win.navigator.sendBeacon(url, body));
      },
      setTimeout: function (fn, ms) { return win.setTimeout(fn, ms); },
      clearTimeout: function (t) { win.clearTimeout(t); },
      now: function () { return Date.now(); },
      random: Math.random,
      log: log,
      onData: function (data) {
        if (data.trackerId && managed.consent() !== false) {
          var before = readJSON(storage, TRACKER_KEY);
          writeJSON(storage, TRACKER_KEY, { id: String(data.trackerId) });
          if (!before || before.id !== String(data.trackerId)) {
            fire(doc, 'connectif.managed.tracker_changed', { trackerId: String(data.trackerId) });
          }
        }
        (data.results || []).forEach(function (r) {
          if (r && r.status === 'rejected') log('warn', 'event ' + r.index + ' (' + r.type + ') rejected: ' + (r.message || JSON.stringify(r.errors || r)));
        });
        fire(doc, 'shopevents.responded', data);
      }
    }, conf.delivery);

    var managed = createManaged(conf, queue, storage, {
      href: function () { return win.location.href; },
      entityInfo: function () { return scrapeClientInfo(doc); },
      cart: function () { return scrapeCart(doc); },
      pageInfo: function () { return scrapePageInfo(doc); },
      browserInfo: function () { return browserInfo(win); },
      bannerPlaceholders: function () { return scrapeBannerPlaceholders(doc); },
      privacySignal: function () {
        var n = win.navigator;
        return n.globalPrivacyControl === true || n.doNotTrack === '1' || win.doNotTrack === '1';
      },
      defer: function (fn) { win.setTimeout(fn, 0); }
    }, function () { return uuid7(win.crypto, Math.random, Date.now); });

    var ready = false, held = false;
    var cn = {
      version: '1.3.0',
      managed: {
        sendEvents: managed.sendEvents,
        isInitialized: function () { return ready; },
        getAllEvents: function () { return scrapeEvents(doc); },
        getAllEventsAsync: function () { return Promise.resolve(scrapeEvents(doc)); },
        isAllowedDomain: managed.isAllowedDomain,
        isExcludedPage: managed.isExcludedPage,
        deepEquals: deepEquals
      },
      shopevents: {
        version: VERSION,
        flush: queue.flush,
        pending: queue.pending,
        consent: function (given) {
          if (!arguments.length) return managed.consent();
          var c = managed.consent(given);
          if (c && held) { held = false; managed.sendEvents(scrapeEvents(doc)); }
          return c;
        }
      }
    };
    win.connectif = cn;
    fire(doc, 'connectif.loaded');

    win.addEventListener('pagehide', queue.unload);
    win.addEventListener('online', queue.flush);
    doc.addEventListener('visibilitychange', function () {
      if (doc.visibilityState === 'visible') queue.flush();
    });

    function start() {
      fire(doc, 'connectif.initialized');
      queue.flush();
      ready = true;
      if (conf.autoSendEventsOnInit) {
        held = !managed.consented();
        managed.sendEvents(scrapeEvents(doc));
      }
      pending.forEach(function (call) {
        var p = managed.sendEvents(call[0], call[1]);
        if (typeof call[2] === 'function') call[2](p);
      });
      fire(doc, 'connectif.managed.initialized');
    }
    if (doc.readyState === 'loading') doc.addEventListener('DOMContentLoaded', start);
    else start();
  }

  var api = {
    VERSION: VERSION,
    DEFAULTS: DEFAULTS,
    deepEquals: deepEquals,
    cartsEqual: cartsEqual,
    backoffDelay: backoffDelay,
    classifyStatus: classifyStatus,
    parseRetryAfter: parseRetryAfter,
    uuid7: uuid7,
    isAllowedDomain: isAllowedDomain,
    isExcludedPage: isExcludedPage,
    createQueue: createQueue,
    createManaged: createManaged,
    scrapeClientInfo: scrapeClientInfo,
    scrapeCart: scrapeCart,
    scrapeEvents: scrapeEvents,
    scrapePageInfo: scrapePageInfo,
    scrapeBannerPlaceholders: scrapeBannerPlaceholders,
    boot: boot
  };

  // The server replaces the null below with the store's configuration when it serves the file.
  var CONF = /*SHOPEVENTS_CONF*/null;

  if (typeof module !== 'undefined' && module.exports) module.exports = api;
  else if (CONF && global && global.document) boot(global, CONF);
})(typeof window !== 'undefined' ? window : this);
