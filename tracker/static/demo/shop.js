/* The demo shop: a single-page app whose only analytics code is the tracker calls below.
 * Links change the URL with history.pushState; the snippet sees that and sends page_view. */
(function () {
  'use strict';
  var PRODUCTS = {
    'trail-runner': { name: 'Trail Runner', category: 'shoes', price: 89.9, color: '#6b8f71' },
    'city-sneaker': { name: 'City Sneaker', category: 'shoes', price: 74.5, color: '#3d5a80' },
    'day-pack': { name: 'Day Pack 22 l', category: 'bags', price: 59.0, color: '#c8553d' },
    'weekender': { name: 'Weekender Duffel', category: 'bags', price: 129.0, color: '#8d6a9f' }
  };
  // The shop's A/B test of its checkout button (TRACKER_EXPERIMENTS' default): the arm is
  // drawn once per browser session and put on the snippet's tag before the snippet runs,
  // so the first page view carries it too (README, "Live experiments").
  var ARMS = ['control', 'green', 'blue'];
  var arm = sessionStorage.getItem('demo-arm') || ARMS[Math.floor(Math.random() * ARMS.length)];
  sessionStorage.setItem('demo-arm', arm);
  var tag = document.querySelector('script[src="/tracker.js"]');
  if (tag) tag.setAttribute('data-experiment', 'checkout-button:' + arm);
  var view = document.getElementById('view');
  var cart = JSON.parse(sessionStorage.getItem('demo-cart') || '[]');

  function euro(n) { return '\u20ac' + n.toFixed(2); }
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) { return '&#' + c.charCodeAt(0) + ';'; }); }
  function total() { return cart.reduce(function (s, sku) { return s + PRODUCTS[sku].price; }, 0); }
  function saveCart() {
    sessionStorage.setItem('demo-cart', JSON.stringify(cart));
    document.getElementById('cart-count').textContent = cart.length;
  }
  function card(sku) {
    var p = PRODUCTS[sku];
    return '<div class="card"><a href="/demo/product/' + sku + '" data-link>' +
      '<div class="swatch" style="background:' + p.color + '"></div><div>' + esc(p.name) +
      '</div><div class="price">' + euro(p.price) + '</div></a></div>';
  }

  var pages = {
    home: function () {
      return ['home', '<div class="hero"><h1>Gear for the long way round</h1>' +
        '<p>Shoes and bags for trails and cities.</p>' +
        '<form id="search"><input name="q" placeholder="Search the shop" aria-label="search">' +
        '</form></div><div class="grid">' + Object.keys(PRODUCTS).map(card).join('') + '</div>'];
    },
    category: function (name) {
      var skus = Object.keys(PRODUCTS).filter(function (s) { return PRODUCTS[s].category == name; });
      return ['category:' + name, '<h1>' + esc(name.charAt(0).toUpperCase() + name.slice(1)) +
        '</h1><div class="grid">' + skus.map(card).join('') + '</div>'];
    },
    product: function (sku) {
      var p = PRODUCTS[sku];
      if (!p) return pages.home();
      return ['product:' + sku, '<div class="card"><div class="swatch" style="background:' + p.color +
        '"></div><h1>' + esc(p.name) + '</h1><p class="price">' + euro(p.price) + '</p>' +
        '<button id="add-to-cart" data-track="add_to_cart" data-track-sku="' + sku + '">Add to cart</button>' +
        '<button class="secondary" data-track="wishlist_add" data-track-sku="' + sku + '">Wishlist</button>' +
        '</div>'];
    },
    cart: function () {
      var rows = cart.map(function (sku) {
        return '<tr><td>' + esc(PRODUCTS[sku].name) + '</td><td>' + euro(PRODUCTS[sku].price) + '</td></tr>';
      }).join('');
      return ['cart', '<h1>Your cart</h1>' + (cart.length
        ? '<table>' + rows + '<tr><th>Total</th><th>' + euro(total()) + '</th></tr></table>' +
          '<p><a href="/demo/checkout" data-link id="to-checkout"><button class="arm-' + arm + '">Checkout</button></a></p>'
        : '<p>Your cart is empty.</p>')];
    },
    checkout: function () {
      return ['checkout', '<h1>Checkout</h1><p>Total: <span class="price">' + euro(total()) +
        '</span></p><form id="checkout-form"><label>Name<input name="name" value="Demo Customer">' +
        '</label><p><button id="buy">Buy now</button></p></form>'];
    },
    thanks: function () {
      var nps = '';
      for (var i = 0; i <= 10; i++) nps += '<option' + (i == 9 ? ' selected' : '') + '>' + i + '</option>';
      return ['survey', '<h1>Thank you for your order!</h1><div class="card"><form id="feedback">' +
        '<label>How likely are you to recommend us (0-10)?<select name="nps">' + nps + '</select></label>' +
        '<label>How satisfied are you (1-5)?<select name="csat"><option>1</option><option>2</option>' +
        '<option>3</option><option selected>4</option><option>5</option></select></label>' +
        '<label>Anything to tell us?<textarea name="comment" rows="3"></textarea></label>' +
        '<label>Language<select name="language"><option value="en">English</option>' +
        '<option value="de">Deutsch</option></select></label>' +
        '<p><button id="send-feedback">Send feedback</button></p></form></div>'];
    }
  };

  function render() {
    var parts = location.pathname.replace(/^\/demo\/?/, '').split('/');
    var page = pages[parts[0]] ? pages[parts[0]](parts[1]) : pages.home();
    document.body.setAttribute('data-touchpoint', page[0]);
    view.innerHTML = page[1];
    window.scrollTo(0, 0);
  }

  function go(path) {
    if (path == location.pathname) return;
    history.pushState(null, '', path); // the snippet sends the page_view after this
    render();
  }

  document.addEventListener('click', function (ev) {
    var link = ev.target.closest('a[data-link]');
    if (link) { ev.preventDefault(); go(link.getAttribute('href')); return; }
    if (ev.target.id == 'add-to-cart') {
      cart.push(ev.target.getAttribute('data-track-sku')); // data-track sent the interaction
      saveCart();
      ev.target.textContent = 'Added \u2713';
    }
  });

  document.addEventListener('submit', function (ev) {
    var form = ev.target, data = new FormData(form);
    ev.preventDefault();
    if (form.id == 'search') {
      var q = String(data.get('q') || '').toLowerCase();
      var hits = Object.keys(PRODUCTS).filter(function (s) { return PRODUCTS[s].name.toLowerCase().indexOf(q) >= 0; });
      window.tracker.track('search', { results: hits.length }); // the count, not the query
      view.querySelector('.grid').innerHTML = hits.map(card).join('') || '<p>No match.</p>';
    } else if (form.id == 'checkout-form' && cart.length) {
      window.tracker.order({
        order_id: 'demo-' + Date.now().toString(36), revenue: total().toFixed(2), currency: 'EUR',
        properties: { items: cart.length }
      });
      cart = [];
      saveCart();
      go('/demo/thanks');
    } else if (form.id == 'feedback') {
      window.tracker.feedback({
        nps: data.get('nps'), csat: data.get('csat'), comment: data.get('comment'),
        language: data.get('language')
      });
      form.outerHTML = '<p class="notice" id="feedback-thanks">Thanks for your feedback!</p>';
    }
  });

  window.addEventListener('popstate', render);

  // Consent banner: the snippet sends nothing before one of these buttons is pressed.
  var banner = document.getElementById('consent-banner');
  function showState() {
    var s = window.tracker.consentState();
    document.getElementById('tracking-state').textContent =
      'Tracking: ' + (s ? (s.marketing ? 'analytics + marketing' : 'analytics only') : 'off');
    document.getElementById('consent-withdraw').hidden = !s;
  }
  function decide(consent) {
    window.tracker.consent(consent);
    banner.hidden = true;
    showState();
  }
  document.getElementById('consent-accept').onclick = function () { decide({ analytics: true, marketing: true }); };
  document.getElementById('consent-analytics').onclick = function () { decide({ analytics: true, marketing: false }); };
  document.getElementById('consent-decline').onclick = function () { decide({ analytics: false, marketing: false }); };
  document.getElementById('consent-withdraw').onclick = function () { decide({ analytics: false, marketing: false }); };
  document.getElementById('privacy-settings').onclick = function (ev) { ev.preventDefault(); banner.hidden = false; };

  render();
  saveCart();
  document.addEventListener('DOMContentLoaded', function () { // the snippet has loaded by now
    banner.hidden = !!window.tracker.consentState();
    showState();
  });
})();
