/**
 * console.js - the admin console (GET /admin): moderation queue, bonus detail, referrer view,
 * rate tiers and reconciliation findings. No framework, no build step; every change goes
 * through the admin API (`${base}/admin/...`) with the admin's bearer JWT, taken from the
 * fragment `#token=<jwt>` (then removed from the address bar) or sessionStorage `admin_token`.
 * Every string from the API is written with textContent, never as HTML.
 */
(function () {
  'use strict';

  var TOKEN_KEY = 'admin_token';
  var REASONS = {
    same_ip: 'Same IP as the referrer', velocity_cap: 'Many referrals in a short time', amount_review: 'Large bonus',
    holding: 'Holding period', crediting: 'Being credited', credit_failed: 'Crediting failed', refunded: 'Refunded',
    disputed: 'Disputed'
  };

  function $(id) { return document.getElementById(id); }
  function show(node, on) { if (node) node.hidden = !on; }
  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text != null) n.textContent = text;
    return n;
  }
  function button(text, cls, onClick, label) {
    var b = el('button', 'btn ' + cls, text);
    b.type = 'button';
    if (label) b.setAttribute('aria-label', label);
    b.addEventListener('click', onClick);
    return b;
  }
  /** The API's prefix: `data-api-base` when the server sets one, else the page's own address
   * without its trailing `/admin` (the admin function serves the page and the API alike). */
  function apiBase() {
    var raw = document.documentElement.getAttribute('data-api-base');
    if (!raw) raw = window.location.pathname.replace(/\/admin\/?$/, '');
    return raw.replace(/\/+$/, '');
  }

  // ---------------------------------------------------------------- auth

  var token = null;
  function storage() { try { return window.sessionStorage; } catch (e) { return null; } }
  function takeToken() {
    var m = /(?:^|[#&])token=([^&]+)/.exec(window.location.hash);
    var s = storage();
    if (m) {
      try { token = decodeURIComponent(m[1]); } catch (e) { token = m[1]; }
      try { history.replaceState(history.state, '', window.location.pathname + window.location.search); } catch (e) { /* ignore */ }
      try { s && s.setItem(TOKEN_KEY, token); } catch (e) { /* private mode */ }
    } else {
      try { token = (s && s.getItem(TOKEN_KEY)) || null; } catch (e) { token = null; }
    }
    return token;
  }
  function forgetToken() { token = null; try { var s = storage(); s && s.removeItem(TOKEN_KEY); } catch (e) { /* ignore */ } }

  var signedOut = false;
  function showSignIn(message) {
    if (signedOut) return;
    signedOut = true;
    forgetToken();
    show($('content'), false);
    show($('sign-out'), false);
    var raw = document.documentElement.getAttribute('data-sign-in-url') || '';
    var url = /^https?:\/\//i.test(raw) ? raw : '';
    $('alert-text').textContent = message || 'Your session has expired or you are not signed in as an admin. Sign in again.';
    var link = $('sign-in');
    if (url) { link.href = url; show(link, true); } else { show(link, false); }
    show($('alert'), true);
    $('main').setAttribute('aria-busy', 'false');
    document.body.setAttribute('data-loaded', 'signed-out');
  }

  // ---------------------------------------------------------------- API

  function ApiError(status, code, message) { this.status = status; this.code = code; this.message = message; }

  function call(method, path, body) {
    if (!token) return Promise.reject(new ApiError(401, 'missing_token', 'Not signed in.'));
    var headers = { Authorization: 'Bearer ' + token, Accept: 'application/json' };
    var init = { method: method, headers: headers, cache: 'no-store', credentials: 'same-origin' };
    if (body !== undefined) { headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
    return fetch(apiBase() + path, init).then(function (res) {
      return res.text().then(function (text) {
        var json = null;
        try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
        if (res.ok) return json;
        var err = json && json.error ? json.error : {};
        throw new ApiError(res.status, err.code || 'http_' + res.status, err.message || 'The server answered ' + res.status + '.');
      });
    }, function () { throw new ApiError(0, 'network', 'Could not reach the server.'); });
  }

  function failed(err, line) {
    if (err && (err.status === 401 || err.status === 403)) {
      showSignIn(err.status === 403 ? 'This account is not an admin.' : null);
      return;
    }
    line.textContent = (err && err.message) || 'That did not work.';
    line.className = line.className.replace(/\b(ok|warn)\b/g, '').trim() + ' warn';
    show(line, true);
  }
  function said(line, text) {
    line.textContent = text;
    line.className = line.className.replace(/\b(ok|warn)\b/g, '').trim() + ' ok';
    show(line, true);
  }

  // ---------------------------------------------------------------- formatting

  function money(v) {
    var m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(String(v == null ? '' : v));
    if (!m) return v == null ? '—' : String(v);
    var frac = ((m[3] || '') + '00').slice(0, 2);
    return m[1] + '$' + m[2].replace(/\B(?=(\d{3})+(?!\d))/g, ',') + '.' + frac;
  }
  function cents(v) {
    var m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(String(v == null ? '' : v).trim());
    if (!m) return null;
    var c = parseInt(m[2], 10) * 100 + parseInt(((m[3] || '') + '00').slice(0, 2), 10);
    return m[1] ? -c : c;
  }
  var dateFmt = null;
  try { dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' }); } catch (e) { dateFmt = null; }
  function when(iso) {
    var d = new Date(iso);
    if (!iso || isNaN(d.getTime())) return iso == null ? '—' : String(iso);
    return dateFmt ? dateFmt.format(d) : d.toISOString();
  }
  function age(iso) {
    var ms = Date.now() - new Date(iso).getTime();
    if (isNaN(ms)) return '—';
    var min = Math.max(0, Math.round(ms / 60000));
    if (min < 60) return min + ' min';
    var h = Math.round(min / 60);
    if (h < 48) return h + ' h';
    return Math.round(h / 24) + ' d';
  }
  function reasonLabel(r) {
    if (!r) return '—';
    return REASONS[r] || String(r).replace(/_/g, ' ');
  }
  function timeCell(iso, text) {
    var td = el('td', 'num');
    var t = el('time', null, text);
    if (iso) { t.setAttribute('datetime', iso); t.title = when(iso); }
    td.appendChild(t);
    return td;
  }

  // ---------------------------------------------------------------- queue

  var queue = [];
  var queueCursor = null;

  function visibleQueue() {
    var who = $('queue-referrer').value.trim().toLowerCase();
    var reason = $('queue-reason').value;
    var min = cents($('queue-min').value);
    return queue.filter(function (b) {
      if (who && String(b.referrer_id).toLowerCase().indexOf(who) < 0) return false;
      if (reason && (b.reason || '') !== reason) return false;
      if (min != null && (cents(b.bonus_amount) || 0) < min) return false;
      return true;
    });
  }

  function selectedIds() {
    return Array.prototype.filter.call(document.querySelectorAll('[data-testid="queue-select"]'), function (c) { return c.checked; })
      .map(function (c) { return c.value; });
  }

  function syncBulk() {
    var n = selectedIds().length;
    $('bulk-approve').disabled = n === 0;
    $('bulk-reject').disabled = n === 0;
    $('bulk-approve').textContent = n ? 'Approve ' + n + ' selected' : 'Approve selected';
    $('bulk-reject').textContent = n ? 'Reject ' + n + ' selected' : 'Reject selected';
  }

  function renderQueue() {
    var rows = visibleQueue();
    var body = $('queue-rows');
    body.textContent = '';
    var reasons = {};
    queue.forEach(function (b) { if (b.reason) reasons[b.reason] = true; });
    var sel = $('queue-reason'), current = sel.value;
    while (sel.options.length > 1) sel.remove(1);
    Object.keys(reasons).sort().forEach(function (r) {
      var o = el('option', null, reasonLabel(r)); o.value = r; sel.appendChild(o);
    });
    sel.value = reasons[current] ? current : '';
    rows.forEach(function (b) {
      var tr = el('tr');
      tr.setAttribute('data-testid', 'queue-row');
      tr.setAttribute('data-payment-id', b.payment_id);
      var pick = el('td');
      var box = el('input');
      box.type = 'checkbox';
      box.value = b.payment_id;
      box.setAttribute('aria-label', 'Select payment ' + b.payment_id);
      box.setAttribute('data-testid', 'queue-select');
      box.addEventListener('change', syncBulk);
      pick.appendChild(box);
      tr.appendChild(pick);
      var idCell = el('td');
      idCell.appendChild(button(b.payment_id, 'btn-link mono', function () { openBonus(b.payment_id); }, 'Show bonus ' + b.payment_id));
      tr.appendChild(idCell);
      var refCell = el('td');
      refCell.appendChild(button(b.referrer_id, 'btn-link', function () { openReferrer(b.referrer_id); }, 'Show referrer ' + b.referrer_id));
      tr.appendChild(refCell);
      var reason = el('td', null, reasonLabel(b.reason || (b.review && b.review.reason)));
      reason.setAttribute('data-testid', 'queue-reason-cell');
      if (b.last_error) reason.title = b.last_error;
      tr.appendChild(reason);
      tr.appendChild(el('td', 'num', money(b.topup_amount)));
      tr.appendChild(el('td', 'num strong', money(b.bonus_amount)));
      tr.appendChild(timeCell(b.created_at, age(b.created_at)));
      var act = el('td', 'actions');
      act.appendChild(button('Approve', 'btn-primary btn-small', function () { decideOne(b.payment_id, 'approve'); }, 'Approve ' + b.payment_id));
      act.appendChild(button('Reject', 'btn-danger btn-small', function () { decideOne(b.payment_id, 'reject'); }, 'Reject ' + b.payment_id));
      tr.appendChild(act);
      body.appendChild(tr);
    });
    $('select-all').checked = false;
    show($('queue-empty'), rows.length === 0);
    $('queue-empty').textContent = queue.length ? 'No bonus in the queue matches these filters.' : 'Nothing waiting. The queue is empty.';
    $('queue-count').textContent = rows.length + ' shown' + (queueCursor ? ' (more to load)' : '');
    show($('queue-more'), !!queueCursor);
    syncBulk();
  }

  function loadQueue(more) {
    var status = $('queue-status').value;
    var path = '/admin/bonuses?status=' + status + '&limit=50' + (more && queueCursor ? '&cursor=' + encodeURIComponent(queueCursor) : '');
    var table = document.querySelector('[data-testid="queue"]');
    table.setAttribute('data-ready', 'false');
    return call('GET', path).then(function (page) {
      var items = page && Array.isArray(page.items) ? page.items : [];
      queue = more ? queue.concat(items) : items;
      queueCursor = page && page.next_cursor ? page.next_cursor : null;
      renderQueue();
      table.setAttribute('data-ready', 'true');
    }, function (err) { failed(err, $('queue-status-line')); });
  }

  function decisionBody(action) {
    var note = $('decision-note').value.trim();
    var body = {};
    if (note) body.note = note;
    if (action === 'reject') body.reason = $('decision-reason').value;
    return body;
  }

  function decideOne(id, action) {
    var line = $('queue-status-line');
    call('POST', '/admin/bonuses/' + encodeURIComponent(id) + '/' + action, decisionBody(action)).then(function (d) {
      said(line, id + ': ' + (d && d.outcome ? d.outcome.replace(/_/g, ' ') : 'done') + (d && d.message ? ' (' + d.message + ')' : '') + '.');
      return loadQueue(false);
    }, function (err) { failed(err, line); });
  }

  function decideBulk(action) {
    var ids = selectedIds();
    if (!ids.length) return;
    var line = $('queue-status-line');
    var body = decisionBody(action);
    body.action = action;
    body.payment_ids = ids;
    $('bulk-approve').disabled = $('bulk-reject').disabled = true;
    call('POST', '/admin/bonuses/bulk', body).then(function (r) {
      var counts = {};
      (r && r.results || []).forEach(function (x) { counts[x.outcome] = (counts[x.outcome] || 0) + 1; });
      said(line, 'Bulk ' + action + ': ' + Object.keys(counts).map(function (k) { return counts[k] + ' ' + k.replace(/_/g, ' '); }).join(', ') + '.');
      return loadQueue(false);
    }, function (err) { failed(err, line); syncBulk(); });
  }

  // ---------------------------------------------------------------- bonus detail

  function fact(dl, name, value) {
    var div = el('div');
    div.appendChild(el('dt', null, name));
    var dd = el('dd', null, value == null || value === '' ? '—' : String(value));
    dd.setAttribute('data-fact', name);
    div.appendChild(dd);
    dl.appendChild(div);
  }

  function openBonus(id) {
    var section = $('detail-section');
    return call('GET', '/admin/bonuses/' + encodeURIComponent(id)).then(function (r) {
      var b = r.bonus;
      $('detail-id').textContent = b.payment_id;
      var dl = $('detail-facts');
      dl.textContent = '';
      fact(dl, 'Status', b.status);
      fact(dl, 'Reason', reasonLabel(b.reason));
      fact(dl, 'Referrer', b.referrer_id);
      fact(dl, 'Referred user', b.referred_user_id);
      fact(dl, 'Top-up', money(b.topup_amount));
      fact(dl, 'Rate', b.rate);
      fact(dl, 'Bonus', money(b.bonus_amount));
      fact(dl, 'Net', money(b.net_amount));
      fact(dl, 'Paid (Wellflow)', money(b.paid_amount));
      fact(dl, 'Refunded', money(b.refunded_amount));
      fact(dl, 'Review', b.review ? b.review.state + (b.review.by ? ' by ' + b.review.by : '') : '—');
      fact(dl, 'Created', when(b.created_at));
      fact(dl, 'Last error', b.last_error);
      var ol = $('detail-history');
      ol.textContent = '';
      (b.history || []).forEach(function (h) {
        var li = el('li');
        li.setAttribute('data-testid', 'detail-history-entry');
        var t = el('time', null, when(h.at));
        t.setAttribute('datetime', h.at);
        li.appendChild(t);
        li.appendChild(document.createTextNode(' ' + h.change + ' → ' + h.status + ' by ' + h.actor +
          (h.reason ? ' (' + h.reason + ')' : '') + (h.note ? ': “' + h.note + '”' : '') + (h.net_amount ? ', net ' + money(h.net_amount) : '')));
        ol.appendChild(li);
      });
      var rows = $('detail-move-rows');
      rows.textContent = '';
      (b.moves || []).forEach(function (m) {
        var tr = el('tr');
        tr.appendChild(el('td', 'num', String(m.seq)));
        tr.appendChild(el('td', null, m.kind));
        tr.appendChild(el('td', 'num', money(m.amount)));
        tr.appendChild(el('td', null, m.state + (m.attempts ? ' (' + m.attempts + ' attempts)' : '')));
        tr.appendChild(el('td', 'mono', m.transaction_id || '—'));
        tr.appendChild(el('td', null, m.settled_at ? when(m.settled_at) : '—'));
        rows.appendChild(tr);
      });
      show($('detail-no-moves'), !(b.moves || []).length);
      show(section, true);
      section.focus();
    }, function (err) { failed(err, $('queue-status-line')); });
  }

  // ---------------------------------------------------------------- referrer

  var referrerId = null;

  function openReferrer(id) {
    $('referrer-id').value = id;
    referrerId = id;
    show($('referrer-error'), false);
    return call('GET', '/admin/referrers/' + encodeURIComponent(id)).then(function (v) {
      var dl = $('referrer-facts');
      dl.textContent = '';
      fact(dl, 'User', v.user_id);
      fact(dl, 'Code', v.code);
      fact(dl, 'Rate override', v.rate_override || 'none (tiers / default)');
      fact(dl, 'Public name', v.public_name || 'masked');
      fact(dl, 'Referred by', v.referrer_id || 'nobody');
      fact(dl, 'Attributed', v.attributed_at ? when(v.attributed_at) : '—');
      fact(dl, 'Same IP as referrer', v.same_ip ? 'yes' : 'no');
      fact(dl, 'Earned (all time)', money(v.totals.earned_total));
      fact(dl, 'Signups', v.totals.signups);
      fact(dl, 'Credited / reversed', v.totals.credited_count + ' / ' + v.totals.reversed_count);
      $('rate-value').value = v.rate_override || '';
      var audit = $('referrer-audit');
      audit.textContent = '';
      var entries = (v.rate_history || []).map(function (e) { return { e: e, what: 'rate' }; })
        .concat((v.attribution_history || []).map(function (e) { return { e: e, what: 'attribution' }; }))
        .sort(function (a, b) { return String(b.e.at).localeCompare(String(a.e.at)); });
      entries.forEach(function (x) {
        var li = el('li');
        li.setAttribute('data-testid', 'audit-entry');
        var t = el('time', null, when(x.e.at));
        t.setAttribute('datetime', x.e.at);
        li.appendChild(t);
        var detail = Object.keys(x.e).filter(function (k) { return ['at', 'actor', 'note'].indexOf(k) < 0; })
          .map(function (k) { return k + ' ' + x.e[k]; }).join(', ');
        li.appendChild(document.createTextNode(' ' + x.what + ' by ' + x.e.actor + (detail ? ': ' + detail : '') + (x.e.note ? ' — “' + x.e.note + '”' : '')));
        audit.appendChild(li);
      });
      if (!entries.length) audit.appendChild(el('li', 'hint', 'No admin change recorded.'));
      var rows = $('referrer-bonus-rows');
      rows.textContent = '';
      var items = v.bonuses && v.bonuses.items || [];
      items.forEach(function (b) {
        var tr = el('tr');
        var c = el('td');
        c.appendChild(button(b.payment_id, 'btn-link mono', function () { openBonus(b.payment_id); }, 'Show bonus ' + b.payment_id));
        tr.appendChild(c);
        tr.appendChild(el('td', null, b.referred_user_id));
        tr.appendChild(el('td', null, b.status + (b.reason ? ' (' + reasonLabel(b.reason) + ')' : '')));
        tr.appendChild(el('td', 'num', money(b.net_amount)));
        tr.appendChild(timeCell(b.created_at, when(b.created_at)));
        rows.appendChild(tr);
      });
      show($('referrer-no-bonuses'), items.length === 0);
      show($('referrer-view'), true);
      document.querySelector('[data-testid="referrer"]').setAttribute('data-user', v.user_id);
    }, function (err) {
      show($('referrer-view'), false);
      failed(err, $('referrer-error'));
    });
  }

  function saveRate(ev) {
    ev.preventDefault();
    var raw = $('rate-value').value.trim();
    var note = $('rate-note').value.trim();
    var body = { rate: raw || null };
    if (note) body.note = note;
    call('PUT', '/admin/referrers/' + encodeURIComponent(referrerId) + '/rate', body).then(function (r) {
      said($('referrer-status'), 'Rate override ' + (r.rate_override ? 'set to ' + r.rate_override : 'cleared') + '.');
      return openReferrer(referrerId);
    }, function (err) { failed(err, $('referrer-status')); });
  }

  function saveAttribution(ev) {
    ev.preventDefault();
    var body = { referrer_id: $('attr-to').value.trim(), note: $('attr-note').value.trim() };
    call('POST', '/admin/attributions/' + encodeURIComponent(referrerId), body).then(function (r) {
      said($('referrer-status'), r.user_id + ' now attributed to ' + r.to + (r.from ? ' (was ' + r.from + ')' : '') + '.');
      return openReferrer(referrerId);
    }, function (err) { failed(err, $('referrer-status')); });
  }

  // ---------------------------------------------------------------- rate tiers

  var tierVersion = 0;

  function tierRow(t, last) {
    var tr = el('tr');
    tr.setAttribute('data-testid', 'tier-row');
    var up = el('td');
    var upInput = el('input');
    upInput.type = 'text';
    upInput.inputMode = 'decimal';
    upInput.className = 'tier-up';
    upInput.value = t.up_to || '';
    upInput.placeholder = last ? 'no upper bound' : 'e.g. 1000.00';
    upInput.setAttribute('aria-label', 'Volume up to (USD)');
    up.appendChild(upInput);
    tr.appendChild(up);
    var rate = el('td');
    var rateInput = el('input');
    rateInput.type = 'text';
    rateInput.inputMode = 'decimal';
    rateInput.className = 'tier-rate';
    rateInput.value = t.rate || '';
    rateInput.required = true;
    rateInput.setAttribute('aria-label', 'Rate');
    rate.appendChild(rateInput);
    tr.appendChild(rate);
    var act = el('td');
    act.appendChild(button('Remove', 'btn-secondary btn-small', function () { tr.remove(); }, 'Remove this tier'));
    tr.appendChild(act);
    return tr;
  }

  function showTiers(t) {
    tierVersion = t.version || 0;
    var body = $('tier-rows');
    body.textContent = '';
    (t.tiers || []).forEach(function (tier, i) { body.appendChild(tierRow(tier, i === t.tiers.length - 1)); });
    $('tiers-version').textContent = (t.source === 'default' ? 'Flat default' : 'Table') + ', version ' + tierVersion +
      (t.updated_by ? ', by ' + t.updated_by + ' on ' + when(t.updated_at) : '');
    document.querySelector('[data-testid="tiers"]').setAttribute('data-version', String(tierVersion));
  }

  function loadTiers() {
    return call('GET', '/admin/rate-tiers').then(showTiers, function (err) { failed(err, $('tiers-status')); });
  }

  function conflictOr(err, line) {
    if (err && err.status === 409) {
      line.textContent = 'Someone else changed the rate tiers meanwhile: your edits were not saved. Reload to see the current table, then apply your change again.';
      line.className = 'hint pad warn';
      line.setAttribute('data-conflict', 'true');
      $('tiers-reload').focus();
      return;
    }
    failed(err, line);
  }

  function saveTiers(ev) {
    ev.preventDefault();
    var tiers = Array.prototype.map.call(document.querySelectorAll('[data-testid="tier-row"]'), function (tr) {
      var up = tr.querySelector('.tier-up').value.trim();
      return { up_to: up || null, rate: tr.querySelector('.tier-rate').value.trim() };
    });
    var line = $('tiers-status');
    line.removeAttribute('data-conflict');
    call('PUT', '/admin/rate-tiers', { tiers: tiers, expected_version: tierVersion }).then(function (t) {
      showTiers(t);
      said(line, 'Saved: version ' + t.version + '.');
    }, function (err) { conflictOr(err, line); });
  }

  function resetTiers() {
    var line = $('tiers-status');
    call('DELETE', '/admin/rate-tiers?expected_version=' + tierVersion).then(function (t) {
      showTiers(t);
      said(line, 'The flat default rate applies again.');
    }, function (err) { conflictOr(err, line); });
  }

  // ---------------------------------------------------------------- reconciliation

  var reconStatus = 'open';

  function side(s) { return s ? s.kind + ' ' + money(s.amount) : '—'; }

  function loadRecon() {
    document.querySelectorAll('[data-recon]').forEach(function (b) {
      b.setAttribute('aria-pressed', String(b.getAttribute('data-recon') === reconStatus));
    });
    return call('GET', '/admin/reconciliation?status=' + reconStatus + '&limit=50').then(function (page) {
      var body = $('recon-rows');
      body.textContent = '';
      var items = page && page.items || [];
      items.forEach(function (f) {
        var tr = el('tr');
        tr.setAttribute('data-testid', 'recon-row');
        tr.appendChild(el('td', 'mono', f.finding_id));
        tr.appendChild(el('td', null, f.referrer_id));
        var kind = el('td', null, f.kind.replace(/_/g, ' '));
        kind.title = f.detail;
        tr.appendChild(kind);
        tr.appendChild(el('td', 'num', side(f.expected)));
        tr.appendChild(el('td', 'num', side(f.actual)));
        tr.appendChild(timeCell(f.last_seen_at, when(f.last_seen_at)));
        var act = el('td');
        if (f.status === 'open') {
          act.appendChild(button('Resolve', 'btn-secondary btn-small', function () {
            var note = window.prompt('What was done about ' + f.finding_id + ', and why?');
            if (!note) return;
            call('POST', '/admin/reconciliation/' + encodeURIComponent(f.finding_id) + '/resolve', { note: note })
              .then(function () { said($('recon-status'), f.finding_id + ' resolved.'); return loadRecon(); },
                function (err) { failed(err, $('recon-status')); });
          }, 'Resolve finding ' + f.finding_id));
        } else {
          act.textContent = 'by ' + (f.resolved_by || '—');
        }
        tr.appendChild(act);
        body.appendChild(tr);
      });
      show($('recon-empty'), items.length === 0);
    }, function (err) { failed(err, $('recon-status')); });
  }

  // ---------------------------------------------------------------- start

  function start() {
    if (!takeToken()) { showSignIn('Sign in as an admin to use the console.'); return; }
    show($('sign-out'), true);
    $('sign-out').addEventListener('click', function () { forgetToken(); showSignIn('You are signed out.'); });
    $('queue-filters').addEventListener('submit', function (ev) { ev.preventDefault(); loadQueue(false); });
    ['queue-referrer', 'queue-reason', 'queue-min'].forEach(function (id) { $(id).addEventListener('input', renderQueue); });
    $('queue-status').addEventListener('change', function () { loadQueue(false); });
    $('queue-more').addEventListener('click', function () { loadQueue(true); });
    $('select-all').addEventListener('change', function () {
      var on = this.checked;
      document.querySelectorAll('[data-testid="queue-select"]').forEach(function (c) { c.checked = on; });
      syncBulk();
    });
    $('bulk-approve').addEventListener('click', function () { decideBulk('approve'); });
    $('bulk-reject').addEventListener('click', function () { decideBulk('reject'); });
    $('detail-close').addEventListener('click', function () { show($('detail-section'), false); });
    $('referrer-form').addEventListener('submit', function (ev) { ev.preventDefault(); openReferrer($('referrer-id').value.trim()); });
    $('rate-form').addEventListener('submit', saveRate);
    $('attr-form').addEventListener('submit', saveAttribution);
    $('tiers-form').addEventListener('submit', saveTiers);
    $('tier-add').addEventListener('click', function () { $('tier-rows').appendChild(tierRow({}, true)); });
    $('tiers-reset').addEventListener('click', resetTiers);
    $('tiers-reload').addEventListener('click', function () { $('tiers-status').textContent = ''; loadTiers(); });
    document.querySelectorAll('[data-recon]').forEach(function (b) {
      b.addEventListener('click', function () { reconStatus = b.getAttribute('data-recon'); loadRecon(); });
    });
    Promise.all([loadQueue(false), loadTiers(), loadRecon()]).then(function () {
      $('main').setAttribute('aria-busy', 'false');
      document.body.setAttribute('data-loaded', signedOut ? 'signed-out' : 'true');
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
