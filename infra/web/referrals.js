/**
 * referrals.js - the signed-in user's Referrals page (no framework, no build step).
 *
 * Auth: a bearer JWT taken from the fragment `#token=<jwt>` on first load (the fragment is
 * then removed with history.replaceState and the token kept in sessionStorage
 * `referrals_token`), else from sessionStorage. API calls go to `${base}/referrals/...`
 * where base is `data-api-base` on <html> or <body> (default ""). Every string that comes
 * from the API is written with textContent, never as HTML.
 */
(function () {
  'use strict';

  var TOKEN_KEY = 'referrals_token';
  var PAGE_SIZE = 20;

  var STATUS_LABELS = { credited: 'Credited', pending: 'Pending', failed: 'Failed', reversed: 'Reversed' };
  var REASON_LABELS = {
    same_ip: 'Held for review: signed up from your IP address',
    velocity_cap: 'Held for review: many new referrals in a short time',
    amount_review: 'Held for review: large bonus',
    refund: 'Top-up was refunded',
    refunded: 'Top-up was refunded',
    chargeback: 'Top-up was charged back',
    rejected: 'Rejected after review',
    admin_rejected: 'Rejected after review',
    self_referral: 'Self-referral is not eligible',
    credit_failed: 'Crediting failed, retrying automatically',
    wellflow_error: 'Crediting failed, retrying automatically'
  };

  function $(id) { return document.getElementById(id); }

  // ---------------------------------------------------------------- configuration & auth

  function apiBase() {
    var raw = document.documentElement.getAttribute('data-api-base');
    if (!raw && document.body) raw = document.body.getAttribute('data-api-base');
    return (raw || '').replace(/\/+$/, '');
  }

  function storage() {
    try { return window.sessionStorage; } catch (e) { return null; }
  }

  var memoryToken = null;

  /** Takes `token` from the fragment (then strips it), else sessionStorage. */
  function takeToken() {
    var hash = window.location.hash.replace(/^#/, '');
    var fromHash = null;
    if (hash) {
      var rest = [];
      hash.split('&').forEach(function (part) {
        var eq = part.indexOf('=');
        var name = eq < 0 ? part : part.slice(0, eq);
        if (name === 'token') {
          try { fromHash = decodeURIComponent(part.slice(eq + 1)); } catch (e) { fromHash = part.slice(eq + 1); }
        } else if (part) {
          rest.push(part);
        }
      });
      if (fromHash !== null) {
        try {
          history.replaceState(history.state, '',
            window.location.pathname + window.location.search + (rest.length ? '#' + rest.join('&') : ''));
        } catch (e) { /* the token still works; it just stays visible */ }
      }
    }
    var store = storage();
    if (fromHash) {
      memoryToken = fromHash;
      try { store && store.setItem(TOKEN_KEY, fromHash); } catch (e) { /* private mode */ }
      return fromHash;
    }
    try { memoryToken = (store && store.getItem(TOKEN_KEY)) || null; } catch (e) { memoryToken = null; }
    return memoryToken;
  }

  function forgetToken() {
    memoryToken = null;
    try { var s = storage(); s && s.removeItem(TOKEN_KEY); } catch (e) { /* ignore */ }
  }

  // ---------------------------------------------------------------- API

  function ApiError(status, code, message) {
    this.status = status;
    this.code = code;
    this.message = message;
  }

  /** fetch with the bearer token; resolves to the Response for 2xx, rejects with ApiError. */
  function request(path) {
    if (!memoryToken) return Promise.reject(new ApiError(401, 'missing_token', 'No sign-in token.'));
    return fetch(apiBase() + path, {
      headers: { Authorization: 'Bearer ' + memoryToken, Accept: 'application/json, image/*' },
      credentials: 'same-origin',
      cache: 'no-store'
    }).then(function (res) {
      if (res.ok) return res;
      return res.text().then(function (body) {
        var code = 'http_' + res.status, message = 'The server answered ' + res.status + '.';
        try {
          var err = JSON.parse(body).error;
          if (err && typeof err.code === 'string') code = err.code;
          if (err && typeof err.message === 'string' && err.message) message = err.message;
        } catch (e) { /* not our JSON envelope */ }
        throw new ApiError(res.status, code, message);
      });
    }, function () {
      throw new ApiError(0, 'network', 'Could not reach the server. Check your connection.');
    });
  }

  function getJson(path) {
    return request(path).then(function (res) {
      return res.json().catch(function () {
        throw new ApiError(res.status, 'bad_json', 'The server sent an unreadable answer.');
      });
    });
  }

  // ---------------------------------------------------------------- formatting

  /** "1234.5" -> "$1,234.50" without going through floating point. */
  function formatMoney(value, currency) {
    var s = String(value == null ? '' : value).trim();
    var m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(s);
    if (!m) return s || '—';
    var whole = m[2].replace(/^0+(?=\d)/, '').replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    var frac = (m[3] || '');
    while (frac.length < 2) frac += '0';
    var amount = whole + '.' + frac;
    if (!currency || currency === 'USD') return m[1] + '$' + amount;
    return m[1] + amount + ' ' + currency;
  }

  /** "0.05" -> "5%", "0.075" -> "7.5%" (decimal-point shift on the string). */
  function formatRate(value) {
    var m = /^(\d+)(?:\.(\d+))?$/.exec(String(value == null ? '' : value).trim());
    if (!m) return String(value == null ? '—' : value);
    var frac = (m[2] || '') + '00';
    var pct = (m[1] + frac.slice(0, 2)).replace(/^0+(?=\d)/, '');
    var rest = frac.slice(2).replace(/0+$/, '');
    return pct + (rest ? '.' + rest : '') + '%';
  }

  function formatCount(n) {
    if (typeof n !== 'number' || !isFinite(n)) return n == null ? '—' : String(n);
    try { return n.toLocaleString('en-US'); } catch (e) { return String(n); }
  }

  var dateFmt = null;
  try {
    dateFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  } catch (e) { dateFmt = null; }

  function formatDate(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return String(iso == null ? '—' : iso);
    return dateFmt ? dateFmt.format(d) : d.toISOString().slice(0, 16).replace('T', ' ');
  }

  function humanReason(reason) {
    if (reason == null || reason === '') return '';
    reason = String(reason);
    if (Object.prototype.hasOwnProperty.call(REASON_LABELS, reason)) return REASON_LABELS[reason];
    var words = reason.replace(/[_-]+/g, ' ').trim();
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  // ---------------------------------------------------------------- UI helpers

  /** Column name for the stacked (phone) layout, where the table header is hidden. */
  function labelled(td, label) { td.setAttribute('data-label', label); return td; }

  function show(el, on) { if (el) el.hidden = !on; }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  var signedOut = false;

  function showAlert(message, retry) {
    $('alert-text').textContent = message;
    show($('alert-retry'), !!retry);
    show($('alert'), true);
  }

  function showSignIn() {
    if (signedOut) return;
    signedOut = true;
    forgetToken();
    show($('content'), false);
    var alertBox = $('alert');
    alertBox.classList.add('alert-auth');
    showAlert('Your session has expired or you are not signed in. Please sign in again to see your referrals.', false);
    $('main').setAttribute('aria-busy', 'false');
  }

  /** Routes an error: 401 → sign-in state, else the section's own error line. */
  function handleError(err, target, what) {
    if (err && err.status === 401) { showSignIn(); return; }
    var msg = 'Could not load ' + what + '. ' + (err && err.message ? err.message : '');
    if (target) { target.textContent = msg; show(target, true); }
    showAlert('Some information could not be loaded.', true);
  }

  // ---------------------------------------------------------------- link + copy

  var linkUrl = '';

  function loadLink() {
    return getJson('/referrals/link').then(function (data) {
      linkUrl = typeof data.url === 'string' ? data.url : '';
      $('ref-link').value = linkUrl;
      $('ref-code').textContent = typeof data.code === 'string' ? data.code : '—';
      $('copy-btn').disabled = !linkUrl;
    }, function (err) {
      $('ref-link').placeholder = 'Link unavailable';
      handleError(err, $('copy-status'), 'your link');
    });
  }

  var copyTimer = null;

  function copyFallback(text) {
    var input = $('ref-link');
    input.focus();
    input.select();
    try { input.setSelectionRange(0, text.length); } catch (e) { /* ignore */ }
    var ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    return ok;
  }

  function copyLink() {
    if (!linkUrl) return;
    var status = $('copy-status');
    var btn = $('copy-btn');
    function done(ok) {
      status.textContent = ok ? 'Copied!' : 'Press Ctrl+C (⌘C on Mac) to copy the selected link.';
      status.className = 'hint ' + (ok ? 'ok' : 'warn');
      btn.textContent = ok ? 'Copied!' : 'Copy';
      if (!ok) { $('ref-link').select(); }
      clearTimeout(copyTimer);
      copyTimer = setTimeout(function () {
        btn.textContent = 'Copy';
        status.textContent = '';
        status.className = 'hint';
      }, 2500);
    }
    if (navigator.clipboard && navigator.clipboard.writeText && window.isSecureContext !== false) {
      navigator.clipboard.writeText(linkUrl).then(function () { done(true); }, function () { done(copyFallback(linkUrl)); });
    } else {
      done(copyFallback(linkUrl));
    }
  }

  // ---------------------------------------------------------------- QR

  var qrObjectUrl = null;

  function loadQr() {
    return request('/referrals/qr.svg').then(function (res) { return res.blob(); }).then(function (blob) {
      // Shown through <img>, so any script inside the SVG never runs.
      var svg = blob.type === 'image/svg+xml' ? blob : new Blob([blob], { type: 'image/svg+xml' });
      if (qrObjectUrl) URL.revokeObjectURL(qrObjectUrl);
      qrObjectUrl = URL.createObjectURL(svg);
      var img = $('qr-img');
      img.onload = function () { show(img, true); show($('qr-placeholder'), false); };
      img.onerror = function () { $('qr-placeholder').textContent = 'QR code unavailable'; };
      img.src = qrObjectUrl;
      $('qr-download').disabled = false;
    }, function (err) {
      $('qr-placeholder').textContent = 'QR code unavailable';
      if (err && err.status === 401) { showSignIn(); return; }
      $('qr-download').disabled = false; // the PNG may still work
    });
  }

  function downloadPng() {
    var btn = $('qr-download');
    var status = $('qr-status');
    btn.disabled = true;
    status.textContent = 'Preparing…';
    status.className = 'hint';
    request('/referrals/qr.png?size=512').then(function (res) { return res.blob(); }).then(function (blob) {
      var url = URL.createObjectURL(blob.type === 'image/png' ? blob : new Blob([blob], { type: 'image/png' }));
      var a = document.createElement('a');
      a.href = url;
      a.download = 'referral-qr.png';
      a.rel = 'noopener';
      a.style.display = 'none';
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(url); a.remove(); }, 1000);
      status.textContent = 'Downloaded referral-qr.png';
      status.className = 'hint ok';
    }).catch(function (err) {
      if (err && err.status === 401) { showSignIn(); return; }
      status.textContent = 'Download failed. ' + (err && err.message ? err.message : '');
      status.className = 'hint warn';
    }).then(function () { btn.disabled = false; });
  }

  // ---------------------------------------------------------------- KPIs

  function loadKpis() {
    var errorLine = $('kpi-error');
    show(errorLine, false);
    return getJson('/referrals/kpis').then(function (k) {
      var currency = typeof k.currency === 'string' ? k.currency : 'USD';
      var values = {
        total_earned: formatMoney(k.total_earned, currency),
        earned_last_30_days: formatMoney(k.earned_last_30_days, currency),
        signups: formatCount(k.signups),
        active_referred_users: formatCount(k.active_referred_users),
        clicks: formatCount(k.clicks)
      };
      Array.prototype.forEach.call(document.querySelectorAll('[data-kpi]'), function (dd) {
        var key = dd.getAttribute('data-kpi');
        dd.textContent = values[key] != null ? values[key] : '—';
      });
    }, function (err) { handleError(err, errorLine, 'your results'); }).then(function () {
      Array.prototype.forEach.call(document.querySelectorAll('[data-kpi]'), function (dd) { dd.classList.remove('skeleton'); });
    });
  }

  // ---------------------------------------------------------------- history

  var nextCursor = null;
  var rowsShown = 0;
  var historyLoading = false;

  function historyRow(item) {
    var tr = el('tr');
    tr.setAttribute('data-testid', 'history-row');
    tr.setAttribute('data-payment-id', String(item.payment_id == null ? '' : item.payment_id));

    var date = el('td', 'date');
    var time = el('time', null, formatDate(item.created_at));
    if (typeof item.created_at === 'string') time.setAttribute('datetime', item.created_at);
    date.appendChild(time);
    tr.appendChild(date);

    tr.appendChild(labelled(el('td', 'num topup', formatMoney(item.topup_amount)), 'Top-up'));
    tr.appendChild(labelled(el('td', 'num rate', formatRate(item.rate)), 'Rate'));
    tr.appendChild(labelled(el('td', 'num strong bonus', formatMoney(item.bonus_amount)), 'Bonus'));

    var status = String(item.status == null ? 'unknown' : item.status);
    var known = Object.prototype.hasOwnProperty.call(STATUS_LABELS, status);
    var badgeCell = el('td', 'status');
    var badge = el('span', 'badge badge-' + (known ? status : 'unknown'), known ? STATUS_LABELS[status] : humanReason(status));
    badge.setAttribute('data-testid', 'status-badge');
    badge.setAttribute('data-status', status);
    badgeCell.appendChild(badge);
    tr.appendChild(badgeCell);

    // `failed` also means "not confirmed by the billing service yet": the backend retries it.
    var words = humanReason(item.reason) || (status === 'failed' ? 'Not credited yet; retried automatically' : '');
    var reason = el('td', 'reason' + (words ? '' : ' empty'), words || '—');
    reason.setAttribute('data-testid', 'reason');
    if (item.reason) reason.setAttribute('data-reason', String(item.reason));
    tr.appendChild(reason);
    return tr;
  }

  function loadHistory(cursor) {
    if (historyLoading) return Promise.resolve();
    historyLoading = true;
    var more = $('load-more');
    var errorLine = $('history-error');
    show(errorLine, false);
    if (cursor) {
      more.disabled = true;
      more.textContent = 'Loading…';
    } else {
      show($('history-loading'), true);
    }
    var path = '/referrals/history?limit=' + PAGE_SIZE + (cursor ? '&cursor=' + encodeURIComponent(cursor) : '');
    return getJson(path).then(function (page) {
      var items = Array.isArray(page.items) ? page.items : [];
      var body = $('history-rows');
      var frag = document.createDocumentFragment();
      items.forEach(function (item) { if (item && typeof item === 'object') frag.appendChild(historyRow(item)); });
      body.appendChild(frag);
      rowsShown += items.length;
      nextCursor = typeof page.next_cursor === 'string' && page.next_cursor ? page.next_cursor : null;
      show($('history-empty'), rowsShown === 0);
      $('history-count').textContent = !rowsShown ? '' : nextCursor ? 'Showing ' + rowsShown : 'Showing all ' + rowsShown;
      show(more, !!nextCursor);
    }, function (err) {
      handleError(err, errorLine, cursor ? 'more history' : 'your history');
      show(more, !!cursor);
    }).then(function () {
      historyLoading = false;
      more.disabled = false;
      more.textContent = 'Load more';
      show($('history-loading'), false);
    });
  }

  // ---------------------------------------------------------------- start

  function loadAll() {
    show($('alert'), false);
    var main = $('main');
    main.setAttribute('aria-busy', 'true');
    var jobs = [loadLink(), loadQr(), loadKpis()];
    if (rowsShown === 0) jobs.push(loadHistory(null)); // "Load more" retries later pages
    return Promise.all(jobs).then(function () {
      main.setAttribute('aria-busy', 'false');
      document.body.setAttribute('data-loaded', signedOut ? 'signed-out' : 'true');
    });
  }

  function start() {
    if (!takeToken()) {
      showSignIn();
      document.body.setAttribute('data-loaded', 'signed-out');
      return;
    }
    $('copy-btn').addEventListener('click', copyLink);
    $('ref-link').addEventListener('focus', function () { this.select(); });
    $('qr-download').addEventListener('click', downloadPng);
    $('load-more').addEventListener('click', function () { if (nextCursor) loadHistory(nextCursor); });
    $('alert-retry').addEventListener('click', function () { loadAll(); });
    loadAll();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
