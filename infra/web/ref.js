/**
 * ref.js - referral attribution snippet (no dependencies, never throws).
 *
 * <script src="/ref.js" data-attribution="first_touch|last_touch"
 *         data-cookie-domain=".example.com"></script>
 *
 * On load: a valid ?ref=CODE (6 chars, Crockford base32 without I/L/O/U, any case,
 * uppercased), else the `ref` cookie, else localStorage `referral_code`. First touch by
 * default: a stored code beats a new ?ref= (data-attribution="last_touch" flips that).
 * The winner is mirrored to localStorage (`referral_code`, `referral_code_at`) and to the
 * cookie (server attributes; Secure only on https), so either survives the other being
 * cleared. Every `ref` param is removed from the address bar (others keep their order).
 * API: window.getReferralCode() -> code|null, window.clearReferralCode() after signup.
 */
(function (w, d) {
  var KEY = 'referral_code', AT = 'referral_code_at', mem = null;
  var s = d.currentScript || d.querySelector('script[src*="ref.js"]');
  function attr(n) { try { return s ? s.getAttribute(n) : null; } catch (e) { return null; } }
  var lastTouch = attr('data-attribution') === 'last_touch';
  var dom = attr('data-cookie-domain');
  if (!/^\.?[A-Za-z0-9.-]+$/.test(dom || '')) dom = null;
  function norm(v) {
    return typeof v === 'string' && /^[0-9A-Za-z]{6}$/.test(v) &&
      /^[0-9A-HJKMNP-TV-Z]{6}$/.test(v = v.toUpperCase()) ? v : null;
  }
  function ls(k, v) {
    try {
      var st = w.localStorage;
      if (v === undefined) return st.getItem(k);
      if (v === null) st.removeItem(k); else st.setItem(k, v);
    } catch (e) {}
    return null;
  }
  function getCookie() {
    try {
      var m = /(?:^|;\s*)ref=([^;]*)/.exec(d.cookie);
      return m ? norm(decodeURIComponent(m[1])) : null;
    } catch (e) { return null; }
  }
  function setCookie(v, age, domain) {
    try {
      d.cookie = 'ref=' + v + '; Max-Age=' + age + '; Path=/' + (domain ? '; Domain=' + domain : '') +
        '; SameSite=Lax' + (w.location.protocol === 'https:' ? '; Secure' : '');
    } catch (e) {}
  }
  function stored() { return getCookie() || norm(ls(KEY)); }
  function save(code) {
    mem = code;
    if (getCookie() !== code) {
      if (dom) setCookie('', 0); // drop a host-only duplicate so one cookie remains
      setCookie(code, 34560000, dom);
    }
    if (ls(KEY) !== code || !ls(AT)) { ls(KEY, code); ls(AT, new Date().toISOString()); }
  }
  w.getReferralCode = function () { return stored() || mem; };
  w.clearReferralCode = function () {
    mem = null;
    setCookie('', 0);
    if (dom) setCookie('', 0, dom);
    ls(KEY, null); ls(AT, null);
  };
  try {
    var loc = w.location, q = loc.search.replace(/^\?/, ''), parts = q ? q.split('&') : [];
    var keep = [], fromUrl = null, hadRef = false, i, eq, name;
    for (i = 0; i < parts.length; i++) {
      eq = parts[i].indexOf('=');
      name = eq < 0 ? parts[i] : parts[i].slice(0, eq);
      try { name = decodeURIComponent(name.replace(/\+/g, ' ')); } catch (e) {}
      if (name !== 'ref') { keep.push(parts[i]); continue; }
      hadRef = true;
      if (!fromUrl && eq >= 0) {
        try { fromUrl = norm(decodeURIComponent(parts[i].slice(eq + 1).replace(/\+/g, ' '))); } catch (e) {}
      }
    }
    var old = stored(), code = fromUrl && (lastTouch || !old) ? fromUrl : old;
    if (code) save(code);
    if (hadRef && w.history && w.history.replaceState) {
      w.history.replaceState(w.history.state, '',
        loc.pathname + (keep.length ? '?' + keep.join('&') : '') + loc.hash);
    }
  } catch (e) {}
})(window, document);
