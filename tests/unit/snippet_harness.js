// Runs tracker.js in a fake browser (Node's vm) with a fake clock and network, drives a
// scripted visit, and prints what the snippet sent, phase by phase, as JSON.
// Usage: node snippet_harness.js path/to/tracker.js
'use strict';
const vm = require('vm');
const fs = require('fs');
const { webcrypto } = require('crypto');

const source = fs.readFileSync(process.argv[2], 'utf8');
const START = Date.parse('2026-05-04T09:00:00Z');

function browser(storage, search, dataset) {
  let now = START;
  let seq = 0;
  let timers = [];
  const sent = [];
  const responses = []; // scripted answers of the collector, in order; default 202
  const listeners = {};
  const attrs = { 'data-touchpoint': 'home' };
  const on = (target) => (type, fn) => { (listeners[target + type] = listeners[target + type] || []).push(fn); };
  const fire = (target, type, ev) => (listeners[target + type] || []).forEach((fn) => fn(ev || {}));
  const location = { pathname: '/', search: search || '', host: 'shop.example', href: '' };
  const setUrl = (url) => {
    const u = new URL(url, 'https://shop.example' + location.pathname);
    location.pathname = u.pathname; location.search = u.search; location.href = u.href;
  };
  setUrl('/' + (search || ''));
  let cookieTouched = false;
  const document = {
    currentScript: { src: 'https://collector.example/tracker.js', dataset: dataset || { channel: 'web' } },
    body: { getAttribute: (n) => attrs[n] || null },
    documentElement: { lang: 'de-DE' },
    readyState: 'complete',
    visibilityState: 'visible',
    referrer: 'https://search.example/results?q=boots',
    addEventListener: on('document:'),
    querySelector: () => null,
    get cookie() { cookieTouched = true; return ''; },
    set cookie(v) { cookieTouched = true; },
  };
  class FakeDate extends Date {
    constructor(...args) { if (args.length) super(...args); else super(now); }
    static now() { return now; }
  }
  const addTimer = (fn, ms, every) => { const id = ++seq; timers.push({ id, at: now + (ms || 0), fn, every }); return id; };
  const window = {
    localStorage: {
      getItem: (k) => (k in storage ? storage[k] : null),
      setItem: (k, v) => { storage[k] = String(v); },
      removeItem: (k) => { delete storage[k]; },
    },
    crypto: webcrypto,
    addEventListener: on('window:'),
  };
  const context = {
    window, document, location, console,
    navigator: { userAgent: 'Mozilla/5.0 (harness) Chrome/126.0', sendBeacon: (url, body) => { sent.push({ via: 'beacon', url, body: JSON.parse(body) }); return true; } },
    history: {
      pushState: (s, t, url) => setUrl(url),
      replaceState: (s, t, url) => setUrl(url),
    },
    fetch: (url, init) => {
      const answer = responses.shift() || { status: 202 };
      sent.push({ via: 'fetch', url, body: JSON.parse(init.body), status: answer.status || 'network error',
        contentType: init.headers && init.headers['Content-Type'], credentials: init.credentials, at: now });
      if (answer.fail) return Promise.reject(new TypeError('Failed to fetch'));
      return Promise.resolve({ status: answer.status, headers: { get: (h) => (answer.headers || {})[h] || null } });
    },
    setTimeout: (fn, ms) => addTimer(fn, ms, 0),
    setInterval: (fn, ms) => addTimer(fn, ms, ms),
    clearTimeout: (id) => { timers = timers.filter((t) => t.id !== id); },
    Date: FakeDate, URL, URLSearchParams, Blob, Uint8Array, JSON, Math, Number, String, Object,
  };
  window.window = window;
  Object.setPrototypeOf(window, context);
  vm.createContext(window);
  vm.runInContext(source, window);
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return {
    window, attrs, sent, responses, storage,
    cookieTouched: () => cookieTouched,
    fire, setUrl,
    advance: async (ms) => {
      const end = now + ms;
      for (;;) {
        await settle();
        timers.sort((a, b) => a.at - b.at || a.id - b.id);
        const next = timers[0];
        if (!next || next.at > end) break;
        now = next.at;
        if (next.every) next.at += next.every; else timers.shift();
        next.fn();
      }
      now = end;
      await settle();
    },
    click: (dataset) => fire('document:', 'click', { target: {
      closest: () => ({ dataset, getAttribute: () => dataset.track }),
    } }),
  };
}

async function main() {
  const phases = {};
  const storage = {};
  const b = browser(storage, '?utm_campaign=spring_sale');
  const tracker = b.window.tracker;
  const mark = (name) => { phases[name] = b.sent.splice(0); };

  // Before consent: interactions, orders and time pass, and nothing leaves the page.
  b.click({ track: 'add_to_cart', trackSku: 'x1' });
  tracker.track('search');
  tracker.order({ order_id: 'o0', revenue: 1, currency: 'eur' });
  tracker.identify('known-customer');
  await b.advance(40000);
  b.fire('window:', 'pagehide');
  mark('before_consent');
  phases.storage_before_consent = Object.keys(storage);

  tracker.consent({ analytics: true, marketing: true });
  await b.advance(100);
  mark('consent');
  phases.stored_after_consent = JSON.parse(storage['tracker:v1']);

  b.attrs['data-touchpoint'] = 'product:x1';
  b.window.history.pushState(null, '', '/product/x1');
  b.window.history.replaceState(null, '', '/product/x1'); // same URL: no second view
  await b.advance(1500);
  mark('spa_navigation');

  b.click({ track: 'add_to_cart', trackSku: 'x1', trackSize: '42' });
  await b.advance(1500);
  mark('data_track');

  await b.advance(15000);
  mark('ping');

  b.responses.push({ status: 503, headers: { 'Retry-After': '3' } }, { status: 202 });
  tracker.order({ order_id: 'o1', revenue: '89.90', currency: 'eur' });
  await b.advance(100);
  await b.advance(2000); // still inside Retry-After: no second attempt yet
  phases.retry_first = b.sent.splice(0);
  await b.advance(1500);
  mark('retry_after');

  b.responses.push({ fail: true }, { status: 429 }, { status: 202 });
  tracker.track('share');
  await b.advance(1500);
  await b.advance(5000);
  await b.advance(10000);
  mark('network_error');

  tracker.feedback({ nps: '9', csat: 4, comment: '  Sehr gut!  ' });
  tracker.track('review', { text: 'x'.repeat(3000) });
  b.fire('window:', 'pagehide');
  mark('pagehide');

  const reloaded = browser(storage, ''); // the next page load: consent remembered
  await reloaded.advance(1500);
  phases.reload = reloaded.sent.splice(0);
  phases.reload_state = reloaded.window.tracker.consentState();

  tracker.consent({ analytics: false, marketing: false });
  await b.advance(100);
  tracker.track('search');
  await b.advance(40000);
  mark('withdrawal');
  phases.storage_after_withdrawal = Object.keys(storage);
  phases.state_after_withdrawal = tracker.consentState();
  phases.cookie_touched = b.cookieTouched() || reloaded.cookieTouched();

  // Identity: consent again (a new device id), log in, log out on a shared device.
  tracker.consent({ analytics: true, marketing: false });
  await b.advance(1500);
  phases.device = JSON.parse(storage['tracker:v1']).id;
  b.sent.splice(0);
  phases.identify_result = tracker.identify('cust-42', 'acme');
  tracker.track('search');
  await b.advance(1500);
  mark('identify');
  tracker.identify('cust-42', 'acme'); // already this customer: nothing to link
  await b.advance(1500);
  mark('identify_again');
  phases.stored_after_identify = JSON.parse(storage['tracker:v1']);
  phases.reset_result = tracker.reset();
  tracker.track('search');
  await b.advance(1500);
  mark('reset');
  phases.stored_after_reset = JSON.parse(storage['tracker:v1']);
  tracker.identify('cust-7');
  await b.advance(1500);
  mark('identify_after_reset');

  // A live experiment: the pair on every event that follows, until cleared.
  phases.experiment_result = tracker.experiment('Checkout Button', 'Green');
  tracker.track('search');
  await b.advance(1500);
  mark('experiment');
  phases.experiment_bad = tracker.experiment('checkout-button', '  ');
  tracker.track('search');
  await b.advance(1500);
  mark('experiment_cleared');
  // The next page load assigned by the script tag's data-experiment: its first view has it.
  const tagged = browser({ 'tracker:v1': storage['tracker:v1'] }, '',
    { channel: 'web', experiment: 'checkout-button:blue' });
  await tagged.advance(1500);
  phases.experiment_tagged = tagged.sent.splice(0);
  process.stdout.write(JSON.stringify(phases));
}

main().catch((e) => { console.error(e); process.exit(1); });
