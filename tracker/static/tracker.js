/* tracker.js - consent-aware touchpoint events (schema_version 1). No cookies. Hand-written,
 * except the web-vitals library between its begin/end lines (`make vitals-bundle`).
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
  var timer = 0, timerAt = 0, shown = null, exp = null;
  try { store = w.localStorage; state = JSON.parse(store.getItem(KEY)); } catch (e) {}
  if (!state || !state.id || !state.consent || !state.consent.analytics) state = null;
  if (cfg.experiment) experiment.apply(null, cfg.experiment.split(':')); // before the first view

  function experiment(name, variant) {
    // The site's A/B assignment, sent with every event that follows (never stored: each
    // page sets it again). Names as the contract's slugs; null clears it.
    function slug(s) {
      return s == null ? '' : String(s).toLowerCase().replace(/[^a-z0-9_.-]+/g, '-').replace(/^[-_.]+|[-_.]+$/g, '').slice(0, 64);
    }
    var n = slug(name), v = slug(variant);
    exp = n && v ? { experiment: n, variant: v } : null;
    return !!exp;
  }

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
    if (exp) { e.experiment = exp.experiment; e.variant = exp.variant; }
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
      vitals();
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

  // web-vitals:begin
  /*! web-vitals 6.2.3 (c) Google LLC, Apache-2.0: tracker/static/web-vitals.LICENSE.txt; bundled by `make vitals-bundle` */
  var webVitals=(()=>{var M=Object.defineProperty,fe=Object.defineProperties,ue=Object.getOwnPropertyDescriptor,me=Object.getOwnPropertyDescriptors,pe=Object.getOwnPropertyNames,V=Object.getOwnPropertySymbols;var X=Object.prototype.hasOwnProperty,Te=Object.prototype.propertyIsEnumerable;var R=(t,e,a)=>e in t?M(t,e,{enumerable:!0,configurable:!0,writable:!0,value:a}):t[e]=a,N=(t,e)=>{for(var a in e||(e={}))X.call(e,a)&&R(t,a,e[a]);if(V)for(var a of V(e))Te.call(e,a)&&R(t,a,e[a]);return t},Y=(t,e)=>fe(t,me(e));var Ie=(t,e)=>{for(var a in e)M(t,a,{get:e[a],enumerable:!0})},ye=(t,e,a,n)=>{if(e&&typeof e=="object"||typeof e=="function")for(let i of pe(e))!X.call(t,i)&&i!==a&&M(t,i,{get:()=>e[i],enumerable:!(n=ue(e,i))||n.enumerable});return t};var Ce=t=>ye(M({},"__esModule",{value:!0}),t);var u=(t,e,a)=>R(t,typeof e!="symbol"?e+"":e,a);var Le={};Ie(Le,{onCLS:()=>ce,onFCP:()=>Q,onINP:()=>ge,onLCP:()=>he,onTTFB:()=>ve});var ae=-1,L=()=>ae,w=t=>{addEventListener("pageshow",e=>{e.persisted&&(ae=e.timeStamp,t(e))},!0)},f=(t,e,a,n)=>{let i,r;return o=>{e.value>=0&&(o||n)&&(r=e.value-(i!=null?i:0),(r||i===void 0)&&(i=e.value,e.delta=r,e.rating=((c,g)=>c>g[1]?"poor":c>g[0]?"needs-improvement":"good")(e.value,a),t(e)))}},J=t=>{requestAnimationFrame(()=>requestAnimationFrame(()=>t()))},K=()=>{let t=performance.getEntriesByType("navigation")[0];if(t&&t.responseStart>0&&t.responseStart<performance.now())return t},S=()=>{var t,e;return(e=(t=K())==null?void 0:t.activationStart)!=null?e:0},C=-1,oe=new Set,Z=()=>document.visibilityState!=="hidden"||document.prerendering?1/0:0,O=t=>{if(document.visibilityState==="hidden"){if(t.type==="visibilitychange")for(let e of oe)e();isFinite(C)||(C=t.type==="visibilitychange"?t.timeStamp:0,removeEventListener("prerenderingchange",O,!0))}},E=(t=!1)=>{var e;if(t&&(C=1/0),C<0){let a=S(),n=document.prerendering||(e=globalThis.performance.getEntriesByType("visibility-state").find(i=>i.name==="hidden"&&i.startTime>=a))==null?void 0:e.startTime;C=n!=null?n:Z(),addEventListener("visibilitychange",O,!0),addEventListener("prerenderingchange",O,!0),w(()=>{setTimeout(()=>{C=Z()})})}return{get firstHiddenTime(){return C},onHidden(a){oe.add(a)}}},m=(t,e=-1,a,n=0,i,r,o)=>{let c=K(),g=(c==null?void 0:c.navigationId)||0,d="navigate";return a?d=a:L()>=0?d="back-forward-cache":c&&(document.prerendering||S()>0?d="prerender":document.wasDiscarded?d="restore":c.type&&(d=c.type.replace(/_/g,"-"))),{name:t,value:e,rating:"good",delta:0,entries:[],id:`v6-${Date.now()}-${Math.floor(8999999999999*Math.random())+1e12}`,navigationType:d,navigationId:n||g,navigationInteractionId:i,navigationURL:r||(c==null?void 0:c.name),navigationStartTime:o||0}},ee=new WeakMap;function F(t,e){let a=ee.get(e);return a||(a=new WeakMap,ee.set(e,a)),a.get(t)||a.set(t,new e),a.get(t)}var D=class{constructor(){u(this,"t");u(this,"i",0);u(this,"o",[])}h(e){var i;if(e.hadRecentInput)return;let a=this.o[0],n=this.o.at(-1);this.i&&a&&n&&e.startTime-n.startTime<1e3&&e.startTime-a.startTime<5e3?(this.i+=e.value,this.o.push(e)):(this.i=e.value,this.o=[e]),(i=this.t)==null||i.call(this,e)}},P=(t,e,a={})=>{try{let n=t.filter(i=>PerformanceObserver.supportedEntryTypes.includes(i));if(n.length>0){let i=new PerformanceObserver(r=>{queueMicrotask(()=>{let o=r.getEntries();n.length>1&&o.sort((c,g)=>c.startTime+c.duration-(g.startTime+g.duration)),e(o)})});for(let r of n)i.observe(N({type:r,buffered:!0},a));return i}}catch(n){}},k=t=>{var e,a,n,i;return((a=(e=globalThis.PerformanceObserver)==null?void 0:e.supportedEntryTypes)==null?void 0:a.includes("soft-navigation"))&&typeof((i=(n=globalThis.PerformanceSoftNavigation)==null?void 0:n.prototype)==null?void 0:i.getLargestInteractionContentfulPaint)=="function"&&t&&t.reportSoftNavs},re=(t,e)=>{if(t.set(e.navigationId,e),t.size>2){let a=t.keys().next().value;a!==void 0&&t.delete(a)}},se=t=>{let e=!1;return()=>{e||(t(),e=!0)}},W=class{constructor(){u(this,"l")}},x=t=>{document.prerendering?addEventListener("prerenderingchange",t,!0):t()},U=[1800,3e3],Q=(t,e={})=>{let a=k(e);x(()=>{let n=F(e,W),i=E(),r,o=m("FCP"),c=P(["paint"],g=>{for(let d of g)d.name==="first-contentful-paint"&&(c.disconnect(),d.startTime<i.firstHiddenTime&&(o.value=Math.max(d.startTime-S(),0),o.entries.push(d),o.navigationId=d.navigationId||o.navigationId,r(!0)))});c&&(r=f(t,o,U,e.reportAllChanges),w(g=>{o=m("FCP",-1,"back-forward-cache",o.navigationId,o.navigationInteractionId,o.navigationURL,L()),r=f(t,o,U,e.reportAllChanges),J(()=>{o.value=performance.now()-g.timeStamp,r(!0)})})),a&&P(["soft-navigation"],g=>{g.forEach(d=>{n.l&&d.navigationId&&re(n.l,d);let T=Math.max((d.presentationTime||d.paintTime||0)-d.startTime,0);o=m("FCP",T,"soft-navigation",d.navigationId,d.interactionId,d.name,d.startTime),r=f(t,o,U,e.reportAllChanges),r(!0)})},e)})},te=[.1,.25],ce=(t,e={})=>{let a=E();Q(se(()=>{let n,i=m("CLS",0),r=F(e,D),o=(h,s,v,l,p)=>{i=m("CLS",0,h,s,v,l,p),r.i=0,n=f(t,i,te,e.reportAllChanges)},c=(h=!1)=>{r.i>i.value&&(i.value=r.i,i.entries=r.o),n(h)},g=h=>{c(!0),o("soft-navigation",h.navigationId,h.interactionId,h.name,h.startTime)},d=h=>{for(let s of h)s.entryType!=="soft-navigation"?r.h(s):g(s);c()},T=["layout-shift"];k(e)&&T.push("soft-navigation");let y=P(T,d);y&&(n=f(t,i,te,e.reportAllChanges),a.onHidden(()=>{d(y.takeRecords()),n(!0)}),w(()=>{o("back-forward-cache",i.navigationId,i.navigationInteractionId,i.navigationURL,L()),J(n)}),setTimeout(n))}))},de=0,q=1/0,A=0,Pe=t=>{for(let e of t)e.interactionId&&(q=Math.min(q,e.interactionId),A=Math.max(A,e.interactionId),de=A?(A-q)/7+1:0)},$,ne=()=>{var t;return $?de:(t=performance.interactionCount)!=null?t:0},be=()=>{"interactionCount"in performance||$||($=P(["event"],Pe,{durationThreshold:0}))},z=class{constructor(){u(this,"u",0);u(this,"v",[]);u(this,"m",new Map);u(this,"p");u(this,"T")}_(){return ne()-this.u}M(){this.u=ne(),this.v.length=0,this.m.clear()}L(e){let a=this._(),n=Math.min(this.v.length-1,Math.floor(a/50));return!a||n!==-1||e!=="soft-navigation"&&e!=="back-forward-cache"?this.v[n]:{P:8,id:-1,entries:[]}}h(e){var i,r;if((i=this.p)==null||i.call(this,e),!e.interactionId)return;let a=this.v.at(-1),n=this.m.get(e.interactionId);if(n||this.v.length<10||e.duration>a.P){if(n?e.duration>n.P?(n.entries=[e],n.P=e.duration):e.duration===n.P&&e.startTime===n.entries[0].startTime&&n.entries.push(e):(n={id:e.interactionId,entries:[e],P:e.duration},this.m.set(n.id,n),this.v.push(n)),this.v.sort((o,c)=>c.P-o.P),this.v.length>10){let o=this.v.splice(10);for(let c of o)this.m.delete(c.id)}(r=this.T)==null||r.call(this,n)}}},le=t=>{let e="requestIdleCallback"in globalThis?1e3:0,a=globalThis.requestIdleCallback||setTimeout,n=globalThis.cancelIdleCallback||clearTimeout;if(document.visibilityState==="hidden")t();else{let i=se(t),r=-1,o=()=>{n(r),i()};addEventListener("visibilitychange",o,{once:!0,capture:!0}),r=a(()=>{removeEventListener("visibilitychange",o,{capture:!0}),i()},{timeout:e})}},ie=[200,500],ge=(t,e={})=>{if(!globalThis.PerformanceEventTiming||!("interactionId"in PerformanceEventTiming.prototype))return;let a=E();x(()=>{var h;be();let n,i=m("INP"),r=F(e,z),o=(s,v,l,p,I)=>{r.M(),i=m("INP",-1,s,v,l,p,I),n=f(t,i,ie,e.reportAllChanges)},c=()=>{let s=r.L(i.navigationType);s&&s.P!==i.value&&(i.value=s.P,i.entries=s.entries,n())},g=s=>{c(),n(!0),o("soft-navigation",s.navigationId,s.interactionId,s.name,s.startTime)},d=(s,v=!1)=>{le(()=>{for(let l of s)l.entryType!=="soft-navigation"?r.h(l):g(l);c(),v&&n(!0)})},T=["event","first-input"];k(e)&&T.push("soft-navigation");let y=P(T,d,Y(N({},e),{durationThreshold:(h=e.durationThreshold)!=null?h:40}));n=f(t,i,ie,e.reportAllChanges),y&&(a.onHidden(()=>{d(y.takeRecords(),!0)}),w(()=>{o("back-forward-cache",i.navigationId,i.navigationInteractionId,i.navigationURL,L())}))})},j=class{constructor(){u(this,"p");u(this,"l")}h(e){var a;(a=this.p)==null||a.call(this,e)}},H=[2500,4e3],he=(t,e={})=>{let a=!1,n=k(e);x(()=>{let i,r=E(),o=m("LCP"),c=F(e,j),g=(s,v,l,p,I)=>{o=m("LCP",-1,s,v,l,p,I),i=f(t,o,H,e.reportAllChanges),a=!1,s==="soft-navigation"&&(r=E(!0))},d=s=>{var l;c.l&&s.navigationId&&re(c.l,s),a||i(!0),g("soft-navigation",s.navigationId,s.interactionId,s.name,s.startTime);let v=(l=s.getLargestInteractionContentfulPaint)==null?void 0:l.call(s);v&&T([v])},T=s=>{var v;e.reportAllChanges||n||(s=s.slice(-1));for(let l of s){if(!l)continue;if(l.entryType==="soft-navigation"){d(l);continue}let p=0,I=[],B=l.startTime;if(l.entryType==="largest-contentful-paint")p=Math.max(l.startTime-S(),0),c.h(l),I=[l];else if(l.entryType==="interaction-contentful-paint"){let b=l;if(!o.navigationId||"interactionId"in b&&b.interactionId!=o.navigationInteractionId)continue;B=((v=b.largestContentfulPaint)==null?void 0:v.renderTime)||0,p=Math.max(B-l.startTime,0),b.largestContentfulPaint&&(c.h(b.largestContentfulPaint),I=[b.largestContentfulPaint])}B<r.firstHiddenTime&&(o.value=p,o.entries=I,i())}},y=["largest-contentful-paint"];n&&y.push("interaction-contentful-paint","soft-navigation");let h=P(y,T);if(h){i=f(t,o,H,e.reportAllChanges);let s=["keydown","click","visibilitychange"],v=l=>{if(l.isTrusted&&!a){let p=o.id;le(()=>{if(!a){if(!n){h.disconnect();for(let I of s)removeEventListener(I,v,{capture:!0})}p===o.id&&(a=!0,i(!0))}})}};for(let l of s)addEventListener(l,v,{capture:!0});w(l=>{g("back-forward-cache",o.navigationId,o.navigationInteractionId,o.navigationURL,L()),i=f(t,o,H,e.reportAllChanges),J(()=>{o.value=performance.now()-l.timeStamp,a=!0,i(!0)})})}})},_=[800,1800],G=t=>{document.prerendering?x(()=>G(t)):document.readyState!=="complete"?addEventListener("load",()=>G(t),!0):setTimeout(t)},ve=(t,e={})=>{let a=k(e),n=m("TTFB"),i=f(t,n,_,e.reportAllChanges);G(()=>{let r=K();if(r){let o=r.responseStart;n.value=Math.max(o-S(),0),n.entries=[r],i(!0),w(()=>{n=m("TTFB",0,"back-forward-cache",n.navigationId,n.navigationInteractionId,n.navigationURL,L()),i=f(t,n,_,e.reportAllChanges),i(!0)}),a&&P(["soft-navigation"],c=>{c.forEach(g=>{g.navigationId&&(n=m("TTFB",0,"soft-navigation",g.navigationId,g.interactionId,g.name,g.startTime),n.entries=[g],i=f(t,n,_,e.reportAllChanges),i(!0))})},e)}})};return Ce(Le);})();
  // web-vitals:end

  var measuring = false, landing = '';
  function land() { landing = landing || touchpoint(); } // the page load the vitals measure

  function vitals() {
    // Load times by web-vitals, started only with consent: it reads the browser's buffered
    // entries, so the page's own LCP, FCP and TTFB are still measured after the banner.
    if (measuring || !state || !webVitals) return;
    measuring = true;
    try {
      ['onLCP', 'onINP', 'onCLS', 'onFCP', 'onTTFB'].forEach(function (on) {
        webVitals[on](function (m) {
          if (!(m.value >= 0 && m.value <= 3600000)) return; // the contract's range
          push('web_vital', {
            name: m.name, value: m.value, rating: m.rating, navigation_type: m.navigationType,
            touchpoint: landing || touchpoint() // not where a single-page app has got to since
          });
        });
      });
    } catch (e) {} // a browser without the Performance APIs: no vitals, everything else works
  }

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
  if (d.readyState == 'loading') d.addEventListener('DOMContentLoaded', land);
  else land();
  if (d.readyState == 'loading') d.addEventListener('DOMContentLoaded', pageView);
  else pageView();
  vitals();

  function track(action, properties) {
    return push('interaction', { action: String(action).slice(0, 64), properties: props(properties) });
  }

  w.tracker = {
    version: 1,
    consent: consent,
    consentState: function () { return state && { analytics: true, marketing: state.consent.marketing }; },
    track: track,
    page: pageView,
    experiment: experiment,
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
