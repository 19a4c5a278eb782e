/**
 * referrals.js - the signed-in user's Referrals page (no framework, no build step).
 *
 * Auth: a bearer JWT taken from the fragment `#token=<jwt>` on first load (the fragment is
 * then removed with history.replaceState and the token kept in sessionStorage
 * `referrals_token`), else from sessionStorage. API calls go to `${base}/referrals/...`
 * where base is `data-api-base` on <html> or <body> (default ""). Every string that comes
 * from the API is written with textContent, never as HTML.
 *
 * Sections: link + QR, KPIs, the earnings chart (GET /referrals/stats), the bonus history with
 * filters and CSV export (GET /referrals/history, /referrals/history.csv), the leaderboard and
 * the public-name opt-in, campaign links, API keys and the partner webhook.
 *
 * The chart is inline SVG built here: three bar series of at most 90 points need no charting
 * library (nothing to vendor or keep patched, nothing more for the CSP to allow).
 *
 * Signed out (no token, or a 401): the alert links to `data-sign-in-url` (SIGN_IN_URL) when the
 * function is configured with one; "Sign out" forgets the token.
 */
(function () {
  'use strict';

  var TOKEN_KEY = 'referrals_token';
  var PAGE_SIZE = 20;

  var STATUS_LABELS = { credited: 'Credited', pending: 'Pending', failed: 'Retrying', reversed: 'Reversed' };
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
    holding: 'Holding period: released once the top-up can no longer be refunded',
    crediting: 'Being credited to your balance',
    disputed: 'Top-up is disputed',
    credit_failed: 'Crediting delayed, retried automatically',
    wellflow_error: 'Crediting delayed, retried automatically'
  };

  /** The chip of a bonus: an in-flight credit is "Processing", never a red failure. */
  function chipOf(status, reason) {
    if (status === 'pending' && reason === 'crediting') return { cls: 'processing', label: 'Processing' };
    if (status === 'failed') return { cls: 'processing', label: 'Processing' };
    if (status === 'pending' && reason) return { cls: 'pending', label: 'On hold' };
    if (Object.prototype.hasOwnProperty.call(STATUS_LABELS, status)) return { cls: status, label: STATUS_LABELS[status] };
    return { cls: 'unknown', label: humanReason(status) };
  }

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
  function request(path, method, body) {
    if (!memoryToken) return Promise.reject(new ApiError(401, 'missing_token', 'No sign-in token.'));
    var headers = { Authorization: 'Bearer ' + memoryToken, Accept: 'application/json, image/*, text/csv' };
    var init = { method: method || 'GET', headers: headers, credentials: 'same-origin', cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(apiBase() + path, init).then(function (res) {
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

  /** A JSON call that changes something; resolves to the parsed body (null for 204). */
  function send(method, path, body) {
    return request(path, method, body).then(function (res) {
      if (res.status === 204) return null;
      return res.json().catch(function () { return null; });
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

  function signInUrl() {
    var raw = document.documentElement.getAttribute('data-sign-in-url') || '';
    return /^https?:\/\//i.test(raw) ? raw : '';
  }

  function showSignIn(message) {
    if (signedOut) return;
    signedOut = true;
    forgetToken();
    show($('content'), false);
    show($('sign-out'), false);
    var alertBox = $('alert');
    alertBox.classList.add('alert-auth');
    var url = signInUrl();
    showAlert(message || ('Your session has expired or you are not signed in. ' +
      (url ? 'Sign in again to see your referrals.' : 'Please sign in again to see your referrals.')), false);
    var link = $('sign-in');
    if (url) { link.href = url; show(link, true); } else { show(link, false); }
    $('main').setAttribute('aria-busy', 'false');
    document.body.setAttribute('data-loaded', 'signed-out');
  }

  function signOut() {
    forgetToken();
    showSignIn('You are signed out.');
    var link = $('sign-in');
    if (!link.hidden) link.focus();
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
    var chip = chipOf(status, item.reason == null ? '' : String(item.reason));
    var badgeCell = labelled(el('td', 'status'), 'Status');
    var badge = el('span', 'badge badge-' + chip.cls, chip.label);
    badge.setAttribute('data-testid', 'status-badge');
    badge.setAttribute('data-status', status);
    badgeCell.appendChild(badge);
    tr.appendChild(badgeCell);

    // `failed` also means "not confirmed by the billing service yet": the backend retries it.
    var words = humanReason(item.reason) || (status === 'failed' ? 'Crediting delayed, retried automatically' : '');
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
    var path = '/referrals/history?limit=' + PAGE_SIZE + filterQuery() + (cursor ? '&cursor=' + encodeURIComponent(cursor) : '');
    return getJson(path).then(function (page) {
      var items = Array.isArray(page.items) ? page.items : [];
      var body = $('history-rows');
      var frag = document.createDocumentFragment();
      items.forEach(function (item) { if (item && typeof item === 'object') frag.appendChild(historyRow(item)); });
      body.appendChild(frag);
      rowsShown += items.length;
      nextCursor = typeof page.next_cursor === 'string' && page.next_cursor ? page.next_cursor : null;
      var empty = $('history-empty');
      empty.textContent = filterQuery() ? 'No bonuses match these filters.' : 'No bonuses yet. Share your link to start earning.';
      show(empty, rowsShown === 0);
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

  // ---------------------------------------------------------------- history filters + CSV

  /** `&status=…&from=…&to=…` of the filter form (dates are the viewer's calendar days, sent as
   * UTC instants: from = local midnight, to = the next local midnight, exclusive). */
  function filterQuery() {
    var q = '';
    var status = $('filter-status').value;
    if (status) q += '&status=' + encodeURIComponent(status);
    var from = $('filter-from').value, to = $('filter-to').value;
    if (from) { var f = new Date(from + 'T00:00:00'); if (!isNaN(f)) q += '&from=' + encodeURIComponent(f.toISOString().replace(/\.\d{3}Z$/, 'Z')); }
    if (to) {
      var t = new Date(to + 'T00:00:00');
      if (!isNaN(t)) { t.setDate(t.getDate() + 1); q += '&to=' + encodeURIComponent(t.toISOString().replace(/\.\d{3}Z$/, 'Z')); }
    }
    return q;
  }

  function applyFilters(ev) {
    if (ev) ev.preventDefault();
    $('history-rows').textContent = '';
    rowsShown = 0;
    nextCursor = null;
    show($('load-more'), false);
    return loadHistory(null);
  }

  /** Follows the CSV parts (X-Next-Cursor) and saves one file: the header line once. */
  function downloadCsv() {
    var btn = $('csv-download'), status = $('csv-status');
    btn.disabled = true;
    status.textContent = 'Preparing the CSV…';
    status.className = 'hint pad';
    var parts = [], rows = 0;
    var base = '/referrals/history.csv?' + filterQuery().replace(/^&/, '');
    function part(cursor) {
      var path = base + (cursor ? (base.slice(-1) === '?' ? '' : '&') + 'cursor=' + encodeURIComponent(cursor) : '');
      return request(path).then(function (res) {
        var next = res.headers.get('x-next-cursor');
        rows += parseInt(res.headers.get('x-row-count') || '0', 10) || 0;
        return res.text().then(function (text) {
          if (parts.length) text = text.slice(text.indexOf('\n') + 1); // later parts repeat the header
          parts.push(text);
          status.textContent = 'Preparing the CSV… ' + formatCount(rows) + ' rows';
          return next ? part(next) : null;
        });
      });
    }
    part(null).then(function () {
      var blob = new Blob(parts, { type: 'text/csv;charset=utf-8' });
      var url = URL.createObjectURL(blob);
      var a = document.createElement('a');
      a.href = url;
      a.download = 'referral-bonuses-' + new Date().toISOString().slice(0, 10) + '.csv';
      a.style.display = 'none';
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(url); a.remove(); }, 1000);
      status.textContent = 'Downloaded ' + formatCount(rows) + ' rows.';
      status.className = 'hint pad ok';
    }).catch(function (err) {
      if (err && err.status === 401) { showSignIn(); return; }
      status.textContent = 'CSV download failed. ' + (err && err.message ? err.message : '');
      status.className = 'hint pad warn';
    }).then(function () { btn.disabled = false; });
  }

  // ---------------------------------------------------------------- chart (inline SVG)

  var SVG_NS = 'http://www.w3.org/2000/svg';
  var granularity = 'day';
  var utcDay = null, utcMonth = null;
  try {
    utcDay = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
    utcMonth = new Intl.DateTimeFormat(undefined, { month: 'short', year: 'numeric', timeZone: 'UTC' });
  } catch (e) { utcDay = utcMonth = null; }

  function periodLabel(period) {
    var d = new Date(period.length === 7 ? period + '-01T00:00:00Z' : period + 'T00:00:00Z');
    if (isNaN(d.getTime())) return period;
    var fmt = period.length === 7 ? utcMonth : utcDay;
    return fmt ? fmt.format(d) : period;
  }

  /** Cents of a decimal string, exactly (no floating point on money). */
  function cents(value) {
    var m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(String(value == null ? '' : value).trim());
    if (!m) return 0;
    var c = parseInt(m[2], 10) * 100 + parseInt(((m[3] || '') + '00').slice(0, 2), 10);
    return m[1] ? -c : c;
  }

  function centsToDecimal(c) {
    var neg = c < 0; c = Math.abs(c);
    var frac = String(c % 100); if (frac.length < 2) frac = '0' + frac;
    return (neg ? '-' : '') + Math.floor(c / 100) + '.' + frac;
  }

  function svg(tag, attrs) {
    var node = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }

  /** One bar series: `values` are numbers (money in cents), `labels` the periods. */
  function drawBars(figure, series, values, labels, format) {
    var holder = figure.querySelector('.chart-svg');
    holder.textContent = '';
    var W = 640, H = 160, padL = 4, padB = 18, padT = 8;
    var max = 0;
    values.forEach(function (v) { if (v > max) max = v; });
    var root = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', preserveAspectRatio: 'none', 'class': 'bars bars-' + series });
    var total = values.reduce(function (a, b) { return a + b; }, 0);
    var title = svg('title');
    title.textContent = figure.querySelector('figcaption').textContent + ': ' + format(total) + ' in total';
    root.appendChild(title);
    root.appendChild(svg('line', { x1: 0, x2: W, y1: H - padB + 0.5, y2: H - padB + 0.5, 'class': 'axis' }));
    var slot = (W - padL) / Math.max(values.length, 1);
    values.forEach(function (v, i) {
      var h = max > 0 ? Math.max(v > 0 ? 1 : 0, (H - padB - padT) * v / max) : 0;
      var bar = svg('rect', {
        x: (padL + i * slot + slot * 0.15).toFixed(2), y: (H - padB - h).toFixed(2),
        width: Math.max(slot * 0.7, 1).toFixed(2), height: h.toFixed(2),
        'data-period': labels[i], 'data-value': series === 'earned' ? centsToDecimal(v) : String(v)
      });
      var tip = svg('title');
      tip.textContent = periodLabel(labels[i]) + ': ' + format(v);
      bar.appendChild(tip);
      root.appendChild(bar);
    });
    [0, values.length - 1].forEach(function (i, n) {
      if (!labels[i]) return;
      var text = svg('text', { x: n ? W - 2 : 2, y: H - 4, 'text-anchor': n ? 'end' : 'start', 'class': 'tick' });
      text.textContent = periodLabel(labels[i]);
      root.appendChild(text);
    });
    holder.appendChild(root);
    figure.setAttribute('data-total', series === 'earned' ? centsToDecimal(total) : String(total));
  }

  function loadStats() {
    var errorLine = $('chart-error');
    show(errorLine, false);
    document.querySelectorAll('[data-granularity]').forEach(function (b) {
      b.setAttribute('aria-pressed', String(b.getAttribute('data-granularity') === granularity));
    });
    var chart = document.querySelector('[data-testid="chart"]');
    chart.setAttribute('data-ready', 'false');
    return getJson('/referrals/stats?granularity=' + granularity).then(function (s) {
      var buckets = Array.isArray(s.buckets) ? s.buckets : [];
      var labels = buckets.map(function (b) { return String(b.period); });
      var earned = buckets.map(function (b) { return cents(b.earned); });
      var signups = buckets.map(function (b) { return Number(b.signups) || 0; });
      var clicks = buckets.map(function (b) { return Number(b.clicks) || 0; });
      drawBars(document.querySelector('[data-testid="chart-earned"]'), 'earned', earned, labels, function (c) { return formatMoney(centsToDecimal(c)); });
      drawBars(document.querySelector('[data-testid="chart-signups"]'), 'signups', signups, labels, formatCount);
      drawBars(document.querySelector('[data-testid="chart-clicks"]'), 'clicks', clicks, labels, formatCount);
      var t = s.totals || {};
      $('chart-totals-earned').textContent = formatMoney(t.earned);
      $('chart-totals-signups').textContent = formatCount(t.signups);
      $('chart-totals-clicks').textContent = formatCount(t.clicks);
      var none = !cents(t.earned) && !t.signups && !t.clicks;
      show($('chart-empty'), none);
      chart.setAttribute('data-ready', 'true');
    }, function (err) { handleError(err, errorLine, 'the chart'); });
  }

  // ---------------------------------------------------------------- leaderboard + public name

  var lbPeriod = 'month';

  function loadLeaderboard() {
    var errorLine = $('lb-error');
    show(errorLine, false);
    document.querySelectorAll('[data-period]').forEach(function (b) {
      b.setAttribute('aria-pressed', String(b.getAttribute('data-period') === lbPeriod));
    });
    return getJson('/referrals/leaderboard?period=' + lbPeriod + '&limit=10').then(function (lb) {
      var body = $('lb-rows');
      body.textContent = '';
      var items = Array.isArray(lb.items) ? lb.items : [];
      items.forEach(function (it) {
        var tr = el('tr');
        tr.setAttribute('data-testid', 'lb-row');
        if (it.you) { tr.className = 'you'; tr.setAttribute('aria-current', 'true'); }
        tr.appendChild(labelled(el('td', 'num', String(it.rank)), 'Rank'));
        tr.appendChild(labelled(el('td', null, String(it.name) + (it.you ? ' (you)' : '')), 'Referrer'));
        tr.appendChild(labelled(el('td', 'num strong', formatMoney(it.earned)), 'Earned'));
        body.appendChild(tr);
      });
      show($('lb-empty'), items.length === 0);
      var me = lb.me || {};
      $('lb-rank').textContent = me.rank == null ? 'not ranked yet' : '#' + me.rank;
      $('lb-earned').textContent = formatMoney(me.earned);
    }, function (err) { handleError(err, errorLine, 'the leaderboard'); });
  }

  function saveProfile(ev) {
    ev.preventDefault();
    var raw = $('public-name').value.trim();
    var status = $('profile-status');
    status.textContent = 'Saving…';
    send('PUT', '/referrals/profile', { public_name: raw || null }).then(function (body) {
      var name = body && body.public_name;
      $('public-name').value = name || '';
      status.textContent = name ? 'Shown on the leaderboard as “' + name + '”.' : 'You are masked on the leaderboard.';
      status.className = 'hint pad ok';
      return loadLeaderboard();
    }, function (err) { formError(err, status); });
  }

  function formError(err, status) {
    if (err && err.status === 401) { showSignIn(); return; }
    status.textContent = (err && err.message) || 'That did not work.';
    status.className = 'hint pad warn';
  }

  // ---------------------------------------------------------------- campaigns

  function copyText(text, status, what) {
    function done(ok) {
      status.textContent = ok ? what + ' copied.' : 'Select the text and press Ctrl+C (⌘C) to copy.';
      status.className = 'hint pad ' + (ok ? 'ok' : 'warn');
    }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(false); });
    } else { done(false); }
  }

  function loadCampaigns() {
    return getJson('/referrals/campaigns').then(function (list) {
      var body = $('campaign-rows');
      body.textContent = '';
      var items = Array.isArray(list.items) ? list.items : [];
      items.forEach(function (c) {
        var tr = el('tr');
        tr.setAttribute('data-testid', 'campaign-row');
        tr.setAttribute('data-campaign', String(c.campaign));
        tr.appendChild(labelled(el('td', 'strong', String(c.campaign)), 'Campaign'));
        tr.appendChild(labelled(el('td', 'mono wrap', String(c.url)), 'Link'));
        var clicks = labelled(el('td', 'num', formatCount(c.clicks)), 'Clicks');
        clicks.setAttribute('data-testid', 'campaign-clicks');
        tr.appendChild(clicks);
        tr.appendChild(labelled(el('td', 'date', formatDate(c.created_at)), 'Created'));
        var td = el('td');
        var btn = el('button', 'btn btn-secondary btn-small', 'Copy link');
        btn.type = 'button';
        btn.setAttribute('aria-label', 'Copy the link of campaign ' + c.campaign);
        btn.setAttribute('data-testid', 'campaign-copy');
        btn.addEventListener('click', function () { copyText(String(c.url), $('campaign-status'), 'Link'); });
        td.appendChild(btn);
        tr.appendChild(td);
        body.appendChild(tr);
      });
      show($('campaign-empty'), items.length === 0);
    }, function (err) { handleError(err, $('campaign-status'), 'your campaigns'); });
  }

  function createCampaign(ev) {
    ev.preventDefault();
    var input = $('campaign-name'), status = $('campaign-status');
    send('POST', '/referrals/campaigns', { campaign: input.value.trim() }).then(function (c) {
      status.textContent = 'Created ' + (c && c.campaign) + '.';
      status.className = 'hint pad ok';
      input.value = '';
      return loadCampaigns();
    }, function (err) { formError(err, status); });
  }

  // ---------------------------------------------------------------- API keys

  function loadKeys() {
    return getJson('/referrals/api-keys').then(function (list) {
      var body = $('key-rows');
      body.textContent = '';
      var items = Array.isArray(list.items) ? list.items : [];
      items.forEach(function (k) {
        var tr = el('tr');
        tr.setAttribute('data-testid', 'key-row');
        tr.setAttribute('data-key-id', String(k.key_id));
        tr.appendChild(labelled(el('td', 'strong', String(k.name)), 'Name'));
        tr.appendChild(labelled(el('td', 'mono', String(k.hint) + '…'), 'Key'));
        tr.appendChild(labelled(el('td', null, (k.scopes || []).join(', ')), 'Scopes'));
        tr.appendChild(labelled(el('td', 'date', formatDate(k.created_at)), 'Created'));
        var state = labelled(el('td'), 'State');
        var chip = el('span', 'badge badge-' + (k.revoked_at ? 'reversed' : 'credited'), k.revoked_at ? 'Revoked' : 'Active');
        chip.setAttribute('data-testid', 'key-state');
        state.appendChild(chip);
        tr.appendChild(state);
        var td = el('td');
        if (!k.revoked_at) {
          var btn = el('button', 'btn btn-danger btn-small', 'Revoke');
          btn.type = 'button';
          btn.setAttribute('aria-label', 'Revoke key ' + k.name);
          btn.setAttribute('data-testid', 'key-revoke');
          btn.addEventListener('click', function () { revokeKey(k); });
          td.appendChild(btn);
        }
        tr.appendChild(td);
        body.appendChild(tr);
      });
      show($('key-empty'), items.length === 0);
    }, function (err) { handleError(err, $('key-status'), 'your API keys'); });
  }

  function createKey(ev) {
    ev.preventDefault();
    var status = $('key-status');
    var scopes = Array.prototype.filter.call(document.querySelectorAll('input[name="scope"]'), function (c) { return c.checked; })
      .map(function (c) { return c.value; });
    send('POST', '/referrals/api-keys', { name: $('key-name').value.trim(), scopes: scopes }).then(function (k) {
      $('key-secret').value = k && k.key ? k.key : '';
      show($('key-once'), true);
      $('key-secret').focus();
      $('key-secret').select();
      $('key-name').value = '';
      status.textContent = 'Key created.';
      status.className = 'hint pad ok';
      return loadKeys();
    }, function (err) { formError(err, status); });
  }

  function revokeKey(k) {
    if (!window.confirm('Revoke the key “' + k.name + '”? Calls made with it stop working at once.')) return;
    var status = $('key-status');
    send('DELETE', '/referrals/api-keys/' + encodeURIComponent(k.key_id)).then(function () {
      status.textContent = 'Key ' + k.name + ' revoked.';
      status.className = 'hint pad ok';
      return loadKeys();
    }, function (err) { formError(err, status); });
  }

  // ---------------------------------------------------------------- partner webhook

  var hasEndpoint = false;

  function showEndpoint(ep) {
    hasEndpoint = !!ep;
    $('webhook-rotate').disabled = !ep;
    $('webhook-delete').disabled = !ep;
    if (ep) {
      $('webhook-url').value = ep.url || '';
      var events = ep.events || [];
      document.querySelectorAll('input[name="event"]').forEach(function (c) { c.checked = events.indexOf(c.value) >= 0; });
      if (ep.secret) { $('webhook-secret').textContent = ep.secret; show($('webhook-once'), true); }
    }
  }

  function loadWebhook() {
    return getJson('/referrals/webhook').then(showEndpoint, function (err) {
      if (err && err.status === 404) { showEndpoint(null); return; }
      handleError(err, $('webhook-status'), 'your webhook');
    }).then(loadDeliveries);
  }

  function loadDeliveries() {
    return getJson('/referrals/webhook/deliveries?limit=20').then(function (page) {
      var body = $('delivery-rows');
      body.textContent = '';
      var items = Array.isArray(page.items) ? page.items : [];
      items.forEach(function (d) {
        var tr = el('tr');
        tr.setAttribute('data-testid', 'delivery-row');
        tr.appendChild(labelled(el('td', 'date', formatDate(d.at)), 'Time'));
        tr.appendChild(labelled(el('td', 'mono', String(d.type)), 'Event'));
        tr.appendChild(labelled(el('td', 'mono', String(d.payment_id)), 'Payment'));
        tr.appendChild(labelled(el('td', 'num', String(d.attempt)), 'Attempt'));
        var res = labelled(el('td'), 'Result');
        var ok = d.delivered === true;
        res.appendChild(el('span', 'badge badge-' + (ok ? 'credited' : 'failed'),
          ok ? 'Delivered (' + d.status_code + ')' : (d.status_code ? 'HTTP ' + d.status_code : (d.error || 'Failed'))));
        tr.appendChild(res);
        tr.appendChild(labelled(el('td', 'num', String(d.duration_ms) + ' ms'), 'Duration'));
        body.appendChild(tr);
      });
      show($('delivery-empty'), items.length === 0);
    }, function (err) { handleError(err, $('webhook-status'), 'the deliveries'); });
  }

  function saveWebhook(ev) {
    ev.preventDefault();
    var status = $('webhook-status');
    var events = Array.prototype.filter.call(document.querySelectorAll('input[name="event"]'), function (c) { return c.checked; })
      .map(function (c) { return c.value; });
    send('PUT', '/referrals/webhook', { url: $('webhook-url').value.trim(), events: events }).then(function (ep) {
      showEndpoint(ep);
      status.textContent = 'Endpoint saved.';
      status.className = 'hint pad ok';
    }, function (err) { formError(err, status); });
  }

  function rotateSecret() {
    if (!window.confirm('Rotate the signing secret? The old one stops signing immediately.')) return;
    var status = $('webhook-status');
    send('POST', '/referrals/webhook/rotate-secret').then(function (ep) {
      showEndpoint(ep);
      status.textContent = 'Secret rotated: update your receiver now.';
      status.className = 'hint pad ok';
    }, function (err) { formError(err, status); });
  }

  function deleteWebhook() {
    if (!window.confirm('Delete the webhook endpoint? Queued events are dropped.')) return;
    var status = $('webhook-status');
    send('DELETE', '/referrals/webhook').then(function () {
      showEndpoint(null);
      $('webhook-url').value = '';
      show($('webhook-once'), false);
      status.textContent = 'Endpoint deleted.';
      status.className = 'hint pad ok';
    }, function (err) { formError(err, status); });
  }

  // ---------------------------------------------------------------- start

  function loadAll() {
    show($('alert'), false);
    var main = $('main');
    main.setAttribute('aria-busy', 'true');
    var jobs = [loadLink(), loadQr(), loadKpis(), loadStats(), loadLeaderboard(), loadCampaigns(), loadKeys(), loadWebhook()];
    if (rowsShown === 0) jobs.push(loadHistory(null)); // "Load more" retries later pages
    return Promise.all(jobs).then(function () {
      main.setAttribute('aria-busy', 'false');
      document.body.setAttribute('data-loaded', signedOut ? 'signed-out' : 'true');
    });
  }

  function start() {
    if (!takeToken()) {
      showSignIn();
      return;
    }
    show($('sign-out'), true);
    $('sign-out').addEventListener('click', signOut);
    $('history-filters').addEventListener('submit', applyFilters);
    $('csv-download').addEventListener('click', downloadCsv);
    document.querySelectorAll('[data-granularity]').forEach(function (b) {
      b.addEventListener('click', function () { granularity = b.getAttribute('data-granularity'); loadStats(); });
    });
    document.querySelectorAll('[data-period]').forEach(function (b) {
      b.addEventListener('click', function () { lbPeriod = b.getAttribute('data-period'); loadLeaderboard(); });
    });
    $('profile-form').addEventListener('submit', saveProfile);
    $('campaign-form').addEventListener('submit', createCampaign);
    $('key-form').addEventListener('submit', createKey);
    $('key-copy').addEventListener('click', function () { copyText($('key-secret').value, $('key-status'), 'Key'); });
    $('webhook-form').addEventListener('submit', saveWebhook);
    $('webhook-rotate').addEventListener('click', rotateSecret);
    $('webhook-delete').addEventListener('click', deleteWebhook);
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
