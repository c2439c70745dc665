/* tracker.js - consent-aware touchpoint events (schema_version 1). No cookies, no build.
 * <script src="https://collector.example/tracker.js" data-channel="web" defer></script>
 * Nothing is sent, stored or identified until tracker.consent({analytics: true}). */
(function (w, d) {
  'use strict';
  if (w.tracker && w.tracker.version) return;
  var el = d.currentScript || d.querySelector('script[src*="tracker.js"]') || {};
  var cfg = el.dataset || {};
  var endpoint = cfg.endpoint || new URL('/v1/events', el.src || location.href).href;
  var channel = cfg.channel || 'web';
  // Sent with every event: the worker drops bots by it, then forgets it.
  var agent = String((w.navigator || {}).userAgent || '').slice(0, 1024);
  var KEY = 'tracker:v1', PING = 15000, WAIT = 1000, BATCH = 50, BYTES = 48000, CAP = 500;
  var store = null, state = null, queue = [], busy = false, fails = 0, hold = 0;
  var timer = 0, timerAt = 0, shown = null;
  try { store = w.localStorage; state = JSON.parse(store.getItem(KEY)); } catch (e) {}
  if (!state || !state.id || !state.consent || !state.consent.analytics) state = null;

  function save() {
    // Only with consent: without it nothing of ours is left in the browser.
    try { state ? store.setItem(KEY, JSON.stringify(state)) : store.removeItem(KEY); } catch (e) {}
  }

  function uuid() {
    var c = w.crypto, b = new Uint8Array(16), h = '', i;
    if (c && c.randomUUID) return c.randomUUID(); // secure contexts only
    if (c && c.getRandomValues) c.getRandomValues(b);
    else for (i = 0; i < 16; i++) b[i] = Math.random() * 256;
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    for (i = 0; i < 16; i++) h += (i == 4 || i == 6 || i == 8 || i == 10 ? '-' : '') + (b[i] + 256).toString(16).slice(1);
    return h;
  }

  function touchpoint() {
    var t = (d.body && d.body.getAttribute('data-touchpoint')) ||
      location.pathname.replace(/^\/+|\/+$/g, '') || 'home';
    return t.toLowerCase().replace(/[^a-z0-9_.\/:-]/g, '_').slice(0, 64);
  }

  function props(p) {
    if (!p || typeof p != 'object') return;
    // The contract caps properties at 2 KiB of JSON; bigger ones would be rejected.
    return new Blob([JSON.stringify(p)]).size <= 2048 ? p : { truncated: true };
  }

  function make(type, fields, consent) {
    var e = {
      schema_version: 1, event_id: uuid(), event_type: type, customer_id: state.id,
      occurred_at: new Date().toISOString(), channel: channel, touchpoint: touchpoint(),
      consent: consent || state.consent, user_agent: agent
    };
    if (state.account) e.account_id = state.account;
    for (var k in fields) if (fields[k] != null) e[k] = fields[k];
    return e;
  }

  function push(type, fields) {
    if (!state) return false;
    queue.push(make(type, fields));
    if (queue.length > CAP) queue.shift();
    schedule(queue.length >= BATCH ? 0 : WAIT);
    return true;
  }

  function schedule(ms) {
    var at = Math.max(Date.now() + ms, hold);
    if (timer && timerAt <= at) return;
    clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(function () { timer = 0; send(); }, at - Date.now());
  }

  function take() {
    var batch = [], size = 2, now = new Date().toISOString(), e;
    while (queue.length && batch.length < BATCH) {
      e = queue[0];
      e.sent_at = now; // per attempt: the worker corrects clock skew with it
      size += new Blob([JSON.stringify(e)]).size + 1; // bytes: keepalive and the collector cap
      if (batch.length && size > BYTES) break;
      batch.push(queue.shift());
    }
    return batch;
  }

  function send() {
    if (busy || !queue.length) return;
    if (Date.now() < hold) return schedule(0);
    var batch = take();
    busy = true;
    // text/plain is a CORS-simple type: no preflight, same as sendBeacon.
    fetch(endpoint, {
      method: 'POST', body: JSON.stringify(batch), headers: { 'Content-Type': 'text/plain' },
      keepalive: true, credentials: 'omit'
    }).then(function (r) {
      if (r.status == 429 || r.status >= 500) retry(batch, r.headers.get('Retry-After'));
      else {
        fails = 0;
        if (r.status >= 400) console.warn('tracker: events refused', r.status);
      }
    }, function () { retry(batch); }).then(function () {
      busy = false;
      if (queue.length) schedule(0);
    });
  }

  function retry(batch, after) {
    // Exponential backoff with jitter, or the server's Retry-After; ids stay, so the
    // worker counts a batch that did arrive before only once.
    var ms = after > 0 ? after * 1000 : Math.min(60000, 1000 * Math.pow(2, fails)) * (0.5 + Math.random() / 2);
    fails++;
    hold = Date.now() + ms;
    queue = batch.concat(queue).slice(-CAP);
  }

  function beacon() {
    // The page is going away: hand everything to the browser, which sends it after unload.
    var batch, body;
    while (queue.length) {
      batch = take();
      body = JSON.stringify(batch);
      if (!(navigator.sendBeacon && navigator.sendBeacon(endpoint, body))) {
        fetch(endpoint, { method: 'POST', body: body, keepalive: true, credentials: 'omit' });
      }
    }
  }

  function pageView() {
    var url = location.pathname + location.search, f = {}, ref, q;
    if (!state || url == shown) return;
    if (state.consent.marketing) {
      // Attribution data, so only with marketing consent: external referrer, utm_campaign.
      ref = shown == null && d.referrer;
      if (ref && new URL(ref).host != location.host) f.referrer = ref.slice(0, 2048);
      q = new URLSearchParams(location.search).get('utm_campaign');
      if (q) f.campaign = q.slice(0, 64);
    }
    shown = url;
    push('page_view', f);
  }

  function consent(c) {
    var next = { analytics: !!(c && c.analytics), marketing: !!(c && c.marketing) };
    var prev = state && state.consent;
    if (prev && prev.analytics == next.analytics && prev.marketing == next.marketing) return;
    if (next.analytics) {
      state = state || device({});
      state.consent = next;
      save();
      push('consent');
      if (!prev) { shown = null; pageView(); }
    } else if (prev) {
      // A withdrawal is sent (the worker erases the customer), then everything is forgotten.
      queue.push(make('consent', null, next));
      state = null;
      save();
    }
    schedule(0);
  }

  function device(s) {
    // The device id: the customer id until identify(), what identify() links to the customer.
    s.id = s.device = uuid();
    s.account = undefined;
    return s;
  }

  function num(v) { return v === '' || v == null ? undefined : Number(v); }

  ['pushState', 'replaceState'].forEach(function (m) {
    var orig = history[m];
    history[m] = function () {
      var r = orig.apply(this, arguments);
      setTimeout(pageView, 0); // after the app has rendered and set data-touchpoint
      return r;
    };
  });
  w.addEventListener('popstate', function () { setTimeout(pageView, 0); });
  w.addEventListener('pagehide', beacon);
  d.addEventListener('visibilitychange', function () { if (d.visibilityState == 'hidden') beacon(); });
  d.addEventListener('click', function (ev) {
    var t = ev.target && ev.target.closest && ev.target.closest('[data-track]'), p = {}, n = 0, k;
    if (!t) return;
    for (k in t.dataset) {
      if (k.length > 5 && k.indexOf('track') == 0) { p[k.charAt(5).toLowerCase() + k.slice(6)] = t.dataset[k]; n++; }
    }
    track(t.getAttribute('data-track'), n ? p : null);
  }, true);
  setInterval(function () {
    if (shown != null && d.visibilityState == 'visible') push('page_ping');
  }, PING);
  if (d.readyState == 'loading') d.addEventListener('DOMContentLoaded', pageView);
  else pageView();

  function track(action, properties) {
    return push('interaction', { action: String(action).slice(0, 64), properties: props(properties) });
  }

  w.tracker = {
    version: 1,
    consent: consent,
    consentState: function () { return state && { analytics: true, marketing: state.consent.marketing }; },
    track: track,
    page: pageView,
    order: function (o) {
      var ok = push('order', {
        order_id: String(o.order_id), revenue: o.revenue,
        currency: String(o.currency || '').toUpperCase(), properties: props(o.properties)
      });
      schedule(0);
      return ok;
    },
    feedback: function (f) {
      var comment = f.comment && String(f.comment).trim().slice(0, 2000) || undefined;
      var lang = f.language || (d.documentElement.lang.slice(0, 2) == 'de' ? 'de' : 'en');
      return push('feedback', {
        nps: num(f.nps), csat: num(f.csat), ces: num(f.ces), comment: comment,
        language: comment ? lang : undefined
      });
    },
    identify: function (id, account) {
      if (!state) return false; // an identity is personal data: only with consent
      var anon = state.device || state.id;
      id = String(id).slice(0, 128);
      state.account = account ? String(account).slice(0, 128) : undefined;
      // The worker links this device's id to the customer: one person, one session.
      if (id != state.id && id != anon) { state.id = id; push('identify', { anonymous_id: anon }); }
      state.id = id;
      state.device = anon;
      save();
      schedule(0);
      return true;
    },
    reset: function () {
      // Logout on a shared device: a new device id, nothing of the last customer's.
      if (!state) return false;
      device(state);
      save();
      return true;
    },
    flush: function () { schedule(0); }
  };
})(window, document);
