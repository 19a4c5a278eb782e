//! Hostile input. Property tests (proptest) for the parsers — webhook body, signature header,
//! redirect planner, referral code — and for every HTTP handler (webhook, signup, admin,
//! dashboard, redirect) given arbitrary bodies, paths and headers against moto: always a
//! 2xx/3xx/4xx, never a panic, never a 5xx for garbage, and the redirect always a 302 to the
//! configured origin. Then the named attacks: huge bodies, deeply nested JSON, unicode and control
//! characters in codes, SQL/NoSQL-looking strings, header injection in the redirect, replayed
//! signatures. (Forged, expired, `alg: none` and other-user JWTs: see `authz.rs`.)

use std::collections::HashMap;

use adapters::domain::code::ALPHABET;
use adapters::domain::signature::{sign, verify, SignatureError};
use adapters::domain::RefCode;
use base64::Engine;
use integration_tests::billing::{token, BillingHarness, REFERRER_IP, SIGNUP_SECRET, WEBHOOK_SECRET};
use integration_tests::requests::request;
use integration_tests::{body_json, header, header_all};
use lambda_http::http::{HeaderName, HeaderValue, Method};
use lambda_http::{Body, Request, Response};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use redirect::plan::{plan, RefParam};
use serde_json::{json, Value};
use url::Url;

const NOW: i64 = 1_795_000_000;
const ORIGIN: &str = "https://www.example.com";

fn config(cases: u32) -> Config {
    Config { cases, failure_persistence: None, ..Config::default() }
}

fn secrets() -> Vec<String> {
    vec![WEBHOOK_SECRET.to_string()]
}

/// Pieces attackers like, mixed with arbitrary characters.
fn nasty() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "/",
        "//",
        "\\",
        "%2F",
        "%2f",
        "%5C",
        "%0D%0A",
        "%0d%0a",
        "\r\n",
        "\n",
        "\t",
        "%00",
        "\u{0}",
        "?",
        "#",
        "&",
        "=",
        "+",
        "@",
        ":",
        ".",
        "..",
        "%2e%2e",
        "ref=",
        "ref",
        "K7M2XQ",
        "k7m2xq",
        "evil.com",
        "https://evil.com",
        "javascript:",
        "Set-Cookie: a=b",
        "Location: x",
        "' OR 1=1 --",
        "{\"$ne\":null}",
        "\u{202e}",
        "\u{200b}",
        "é",
        "К",
        "\u{212a}",
        "ſ",
        "𝕂",
        " ",
        "%",
        "%%",
        "%ZZ",
        "<script>",
        ";",
        ",",
    ]);
    prop::collection::vec(
        prop_oneof![3 => pieces.prop_map(str::to_string), 1 => any::<char>().prop_map(String::from)],
        0..16,
    )
    .prop_map(|parts| parts.concat())
}

fn url_of(path: &str, query: &str) -> String {
    let mut url = Url::parse(ORIGIN).unwrap();
    url.set_path(path);
    url.set_query(Some(query));
    url[url::Position::BeforePath..].to_string()
}

/// A request with arbitrary header bytes (invalid header values are skipped, as no HTTP stack
/// would deliver them).
fn raw_request(method: &str, uri: &str, headers: &[(String, Vec<u8>)], body: Body) -> Option<Request> {
    let method = Method::from_bytes(method.as_bytes()).ok()?;
    let mut req = lambda_http::http::Request::builder().method(method).uri(uri).body(body).ok()?;
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(value)) {
            req.headers_mut().append(n, v);
        }
    }
    Some(req)
}

fn status(resp: &Response<Body>) -> u16 {
    resp.status().as_u16()
}

// ---------------------------------------------------------------------------------------------
// Pure parsers.

fn valid_id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._:@-]{1,128}"
}

/// A replacement for one field of an event: arbitrary text, an invalid value, another JSON
/// type, or `None` (the field is removed).
fn mutation() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        2 => nasty().prop_map(|v| Some(Value::String(v))),
        2 => amount_text().prop_map(|v| Some(Value::String(v))),
        1 => prop::sample::select(vec!["EUR", "usd", "topup.exploded", "yesterday", "", "2026-13-45T99:00:00Z"])
            .prop_map(|v| Some(json!(v))),
        1 => any::<f64>().prop_map(|n| Some(json!(n))),
        1 => Just(Some(json!({"$ne": null}))),
        1 => Just(Some(json!(["x"]))),
        1 => Just(Some(Value::Null)),
        1 => Just(None),
    ]
}

fn amount_text() -> BoxedStrategy<String> {
    prop_oneof![
        (1i64..100_000_000).prop_map(|c| format!("{}.{:02}", c / 100, c % 100)),
        (1i64..1_000_000).prop_map(|d| d.to_string()),
        prop::sample::select(vec![
            "-5.00",
            "0",
            "0.00",
            "1e3",
            "5.001",
            "abc",
            "",
            "１０",
            "10.00 ",
            "NaN",
            "Infinity",
            "0x10",
            "1,000.00",
            "1000000.01",
            "99999999999999999999999999999",
            ".5",
            "5.",
            "--5",
            "5-",
        ])
        .prop_map(str::to_string),
    ]
    .boxed()
}

const FIELDS: [&str; 6] = ["payment_id", "user_id", "amount", "currency", "type", "occurred_at"];

/// A valid event with 0 to 2 fields mutated and maybe an extra field: about a third are valid.
fn event_object() -> impl Strategy<Value = Value> {
    let valid = (
        valid_id(),
        valid_id(),
        1i64..100_000_000,
        prop::sample::select(vec![
            "topup.succeeded",
            "topup.refunded",
            "topup.disputed",
            "topup.dispute_won",
            "topup.dispute_lost",
        ]),
        prop::sample::select(vec!["2026-11-25T09:00:00Z", "2026-11-25T09:00:00.123+02:00"]),
    );
    let mutations = prop::collection::vec((prop::sample::select(FIELDS.to_vec()), mutation()), 0..3);
    (valid, mutations, prop::option::of(nasty())).prop_map(|((p, u, cents, kind, at), mutations, extra)| {
        let mut m = serde_json::Map::new();
        m.insert("payment_id".into(), json!(p));
        m.insert("user_id".into(), json!(u));
        m.insert("amount".into(), json!(format!("{}.{:02}", cents / 100, cents % 100)));
        m.insert("currency".into(), json!("USD"));
        m.insert("type".into(), json!(kind));
        m.insert("occurred_at".into(), json!(at));
        for (field, value) in mutations {
            match value {
                Some(v) => m.insert(field.into(), v),
                None => m.remove(field),
            };
        }
        if let Some(extra) = extra.filter(|e| !FIELDS.contains(&e.as_str())) {
            m.insert(extra, json!({"nested": [1, 2, 3]}));
        }
        Value::Object(m)
    })
}

/// Characters that look like (or case-fold to) code characters, and separators.
const LOOKALIKES: [char; 17] =
    ['K', 'k', '7', 'I', 'l', 'O', 'u', 'К', '\u{212a}', 'ſ', 'ı', '\u{0}', '\n', ' ', '%', 'é', '０'];

fn is_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:@".contains(c))
}

proptest! {
    #![proptest_config(config(3000))]

    #[test]
    fn webhook_parser_rejects_any_bytes_with_a_4xx(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Err(e) = webhook::parse(&bytes) {
            prop_assert!(e.status == 400 || e.status == 422, "{e:?}");
        }
    }

    #[test]
    fn a_fresh_signature_verifies(body in prop::collection::vec(any::<u8>(), 0..2048), skew in -300i64..=300) {
        let header = sign(WEBHOOK_SECRET, NOW + skew, &body);
        prop_assert_eq!(verify(Some(&header), &body, &secrets(), NOW, 300), Ok(()));
        // Rotation: several secrets configured, several v1 entries sent.
        let decoy = format!("{header},v1={}", "ab".repeat(32));
        let rotated = vec!["old-secret-0123456789".to_string(), WEBHOOK_SECRET.to_string()];
        prop_assert_eq!(verify(Some(&decoy), &body, &rotated, NOW, 300), Ok(()));
    }

    #[test]
    fn any_change_to_the_body_is_refused(
        body in prop::collection::vec(any::<u8>(), 1..512),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let header = sign(WEBHOOK_SECRET, NOW, &body);
        let mut tampered = body.clone();
        let i = at.index(tampered.len());
        tampered[i] ^= flip;
        prop_assert_eq!(verify(Some(&header), &tampered, &secrets(), NOW, 300), Err(SignatureError::Mismatch));
        let mut longer = body.clone();
        longer.push(b' ');
        prop_assert_eq!(verify(Some(&header), &longer, &secrets(), NOW, 300), Err(SignatureError::Mismatch));
    }

    #[test]
    fn replays_outside_the_window_are_refused(
        body in prop::collection::vec(any::<u8>(), 0..256),
        skew in prop_oneof![-10_000_000i64..-300, 301i64..10_000_000],
    ) {
        let header = sign(WEBHOOK_SECRET, NOW + skew, &body);
        prop_assert_eq!(verify(Some(&header), &body, &secrets(), NOW, 300), Err(SignatureError::Expired(300)));
    }

    #[test]
    fn arbitrary_signature_headers_never_verify(header in prop_oneof![
        "\\PC{0,300}",
        (NOW - 300..NOW + 300, "[0-9a-f]{64}").prop_map(|(t, h)| format!("t={t},v1={h}")),
        (NOW - 300..NOW + 300, "[0-9a-fA-F]{0,130}").prop_map(|(t, h)| format!("t={t},v1={h},v0={h}")),
        ".{2040,2100}",
    ], body in prop::collection::vec(any::<u8>(), 0..128)) {
        prop_assert!(verify(Some(&header), &body, &secrets(), NOW, 300).is_err());
    }

    #[test]
    fn unknown_signature_schemes_are_ignored(
        body in prop::collection::vec(any::<u8>(), 0..128),
        extras in prop::collection::vec("x[a-z0-9]{0,4}=[A-Za-z0-9=]{0,20}", 0..4),
    ) {
        let header = format!("{},{}", extras.join(","), sign(WEBHOOK_SECRET, NOW, &body));
        let header = header.trim_start_matches(',');
        prop_assert_eq!(verify(Some(header), &body, &secrets(), NOW, 300), Ok(()));
    }

    #[test]
    fn the_redirect_plan_never_leaves_the_origin(
        path in nasty(),
        query in nasty(),
        cookies in prop::collection::vec(nasty(), 0..3),
    ) {
        let origin = Url::parse(ORIGIN).unwrap();
        let p = plan(&origin, &path, Some(&query), cookies.iter().map(String::as_str));
        let loc = Url::parse(&p.location).expect("Location is an absolute URL");
        prop_assert_eq!(loc.scheme(), "https");
        prop_assert_eq!(loc.host_str(), Some("www.example.com"));
        prop_assert_eq!(loc.port(), None);
        prop_assert!(loc.username().is_empty() && loc.password().is_none() && loc.fragment().is_none());
        prop_assert!(p.location.starts_with("https://www.example.com/"), "{}", p.location);
        prop_assert!(p.location.bytes().all(|b| (0x21..0x7f).contains(&b)), "raw byte in {:?}", p.location);
        prop_assert!(HeaderValue::from_str(&p.location).is_ok());
        // `ref` is gone; every other parameter survives, in order.
        let kept: Vec<(String, String)> = loc.query_pairs().map(|(k, v)| (k.into(), v.into())).collect();
        let sent: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let want: Vec<(String, String)> = sent.iter().filter(|(k, _)| k != "ref").cloned().collect();
        prop_assert_eq!(&kept, &want);
        let first_ref = sent.iter().find(|(k, _)| k == "ref").map(|(_, v)| RefCode::parse(v));
        let expected = match first_ref {
            None => RefParam::Absent,
            Some(Ok(code)) => RefParam::Valid(code),
            Some(Err(_)) => RefParam::Malformed,
        };
        prop_assert_eq!(p.ref_param, expected);
    }

    #[test]
    fn ref_code_parse_accepts_exactly_six_alphabet_characters(input in prop_oneof![
        "\\PC{0,10}",
        "[0-9A-Za-z]{6}",
        prop::collection::vec(prop::sample::select(LOOKALIKES.to_vec()), 6).prop_map(|v| v.into_iter().collect()),
    ]) {
        let oracle = input.chars().count() == 6
            && input.chars().all(|c| c.is_ascii() && ALPHABET.contains(&(c.to_ascii_uppercase() as u8)));
        match RefCode::parse(&input) {
            Ok(code) => {
                prop_assert!(oracle, "{input:?} accepted");
                prop_assert_eq!(code.as_str(), input.to_ascii_uppercase());
                prop_assert!(code.as_str().bytes().all(|b| ALPHABET.contains(&b)));
                prop_assert_eq!(RefCode::parse(code.as_str()), Ok(code));
            }
            Err(_) => prop_assert!(!oracle, "{input:?} refused"),
        }
    }
}

#[test]
fn webhook_parser_accepts_exactly_the_valid_events() {
    let accepted = std::cell::Cell::new(0);
    let mut runner = TestRunner::new(config(3000));
    runner
        .run(&event_object(), |event| {
            let body = event.to_string();
            let s = |k: &str| event.get(k).and_then(Value::as_str);
            match webhook::parse(body.as_bytes()) {
                Ok(parsed) => {
                    accepted.set(accepted.get() + 1);
                    // Everything that got in is valid and is what was sent.
                    let id = s("payment_id").unwrap();
                    prop_assert!(is_id(id) && is_id(s("user_id").unwrap()));
                    prop_assert_eq!(parsed.payment_id.as_str(), id);
                    prop_assert_eq!(parsed.user_id.as_ref().map(|u| u.as_str()), s("user_id"));
                    prop_assert!(s("currency").is_some_and(|c| c.eq_ignore_ascii_case("USD")));
                    let sent: rust_decimal::Decimal = s("amount").unwrap().parse().unwrap();
                    prop_assert!(sent > rust_decimal::Decimal::ZERO && sent.normalize().scale() <= 2);
                    use referral_core::payment::PaymentEventKind as K;
                    let (kind, amount) = match parsed.kind {
                        K::Succeeded { amount } => ("topup.succeeded", Some(amount)),
                        K::Refunded { total } => ("topup.refunded", Some(total)),
                        K::Disputed { amount } => ("topup.disputed", Some(amount)),
                        K::DisputeWon => ("topup.dispute_won", None),
                        K::DisputeLost { amount } => ("topup.dispute_lost", Some(amount)),
                    };
                    prop_assert_eq!(s("type"), Some(kind));
                    if let Some(amount) = amount {
                        prop_assert_eq!(amount.decimal(), sent);
                        prop_assert_eq!(amount.decimal().scale(), 2);
                    }
                }
                Err(e) => {
                    prop_assert!(e.status == 400 || e.status == 422, "{e:?}");
                    if !FIELDS.iter().all(|k| s(k).is_some()) {
                        prop_assert!(["invalid_body", "invalid_json"].contains(&e.code), "{}", e.code);
                    }
                }
            }
            Ok(())
        })
        .unwrap();
    assert!(accepted.get() > 300, "only {} of 3000 generated events were valid", accepted.get());
}

// ---------------------------------------------------------------------------------------------
// The handlers, against moto. One runtime and one harness per property; proptest drives it.

struct Fixture {
    rt: tokio::runtime::Runtime,
    h: BillingHarness,
    code: RefCode,
}

fn fixture() -> Fixture {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let h = rt.block_on(BillingHarness::new());
    let code = rt.block_on(async {
        let code = h.refer("alice", "bob").await;
        h.refer_from("alice", "puppet", REFERRER_IP).await;
        h.topup("p_held", "puppet", "20.00").await;
        code
    });
    Fixture { rt, h, code }
}

fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        nasty().prop_map(String::into_bytes),
        event_object().prop_map(|v| v.to_string().into_bytes()),
        (prop::sample::select(vec!["bob", "puppet", "alice", "ghost"]), amount_text(), valid_id()).prop_map(
            |(user, amount, pid)| BillingHarness::event_body(&pid, user, &amount, "topup.succeeded").into_bytes()
        ),
        Just(b"[".repeat(2000)),
    ]
}

fn signature_strategy() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        "\\PC{0,80}".prop_map(Some),
        (NOW - 100..NOW + 100, "[0-9a-f]{64}").prop_map(|(t, h)| Some(format!("t={t},v1={h}"))),
    ]
}

#[test]
fn webhook_and_signup_handlers_refuse_unsigned_garbage_and_never_fail_on_signed_garbage() {
    let f = fixture();
    let before = f.rt.block_on(f.h.stack.all_items()).len();
    let mut runner = TestRunner::new(config(300));
    runner
        .run(&(body_strategy(), signature_strategy(), any::<bool>()), |(body, sig, to_webhook)| {
            let headers: Vec<(String, Vec<u8>)> =
                sig.into_iter().map(|s| ("x-signature".to_string(), s.into_bytes())).collect();
            let path = if to_webhook { "/webhooks/payments" } else { "/signups" };
            let Some(req) = raw_request("POST", path, &headers, Body::Binary(body)) else { return Ok(()) };
            let resp = f.rt.block_on(async {
                if to_webhook {
                    webhook::handle(&f.h.billing, &f.h.webhook_cfg, &req).await
                } else {
                    signup::handle(f.h.store(), &f.h.signup_cfg, &req).await
                }
            });
            prop_assert!([400, 401, 413].contains(&status(&resp)), "unsigned: {}", status(&resp));
            Ok(())
        })
        .unwrap();
    assert_eq!(f.rt.block_on(f.h.stack.all_items()).len(), before, "no unsigned request wrote anything");
    assert_eq!(f.h.wellflow.stats().requests, 0);

    // Correctly signed, arbitrary content: processed or refused, never a 5xx.
    let mut runner = TestRunner::new(config(300));
    let signup_body =
        (valid_id(), prop::option::of(nasty()), nasty(), prop::option::of(nasty())).prop_map(|(u, c, ip, ua)| {
            json!({"user_id": u, "ref_code": c, "signup_ip": ip, "user_agent": ua}).to_string().into_bytes()
        });
    runner
        .run(&(prop_oneof![body_strategy(), signup_body], any::<bool>()), |(body, to_webhook)| {
            let secret = if to_webhook { WEBHOOK_SECRET } else { SIGNUP_SECRET };
            let header = sign(secret, adapters::clock::now().unix_timestamp(), &body);
            let path = if to_webhook { "/webhooks/payments" } else { "/signups" };
            let req = raw_request("POST", path, &[("x-signature".into(), header.into_bytes())], Body::Binary(body))
                .expect("valid request");
            let resp = f.rt.block_on(async {
                if to_webhook {
                    webhook::handle(&f.h.billing, &f.h.webhook_cfg, &req).await
                } else {
                    signup::handle(f.h.store(), &f.h.signup_cfg, &req).await
                }
            });
            prop_assert!([200, 400, 413, 422].contains(&status(&resp)), "signed: {} {:?}", status(&resp), resp.body());
            Ok(())
        })
        .unwrap();
}

fn token_strategy() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some(format!("Bearer {}", token("ops-1", Some("admin"), 600)))),
        Just(Some(format!("Bearer {}", token("alice", None, 600)))),
        "\\PC{0,60}".prop_map(|s| Some(format!("Bearer {s}"))),
        "[A-Za-z0-9_-]{1,40}\\.[A-Za-z0-9_-]{1,40}\\.[A-Za-z0-9_-]{0,40}".prop_map(|s| Some(format!("Bearer {s}"))),
    ]
}

fn path_strategy(roots: Vec<&'static str>) -> impl Strategy<Value = String> {
    (prop::sample::select(roots), prop::collection::vec(prop_oneof![valid_id(), nasty()], 0..4), nasty()).prop_map(
        |(root, segments, query)| {
            // No segment: the route itself (so requests get past routing to auth and bodies).
            let path = if segments.is_empty() { root.to_string() } else { format!("{root}/{}", segments.join("/")) };
            url_of(&path, &query)
        },
    )
}

fn method_strategy() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "GET", "POST"])
}

#[test]
fn admin_and_dashboard_handlers_never_fail_on_garbage() {
    let f = fixture();
    let admin = f.h.admin();
    let dash = f.h.dashboard();
    let admin_paths = path_strategy(vec![
        "/admin",
        "/admin/bonuses",
        "/admin/bonuses/p_held",
        "/admin/bonuses/bulk",
        "/admin/bonuses/p_held/approve",
        "/admin/bonuses/p_held/reject",
        "/admin/rate-tiers",
        "/admin/reconciliation",
        "/admin/referrers/alice/rate",
        "/admin/referrers",
        "/admin/attributions/bob",
        "/admin/attributions",
        "/",
    ]);
    let admin_bodies = prop_oneof![
        body_strategy(),
        (prop::sample::select(vec!["approve", "reject", "nuke"]), prop::collection::vec(nasty(), 0..5))
            .prop_map(|(a, ids)| json!({"action": a, "payment_ids": ids, "reason": "fraud"}).to_string().into_bytes()),
        nasty().prop_map(|r| json!({"rate": r, "referrer_id": r, "note": r, "reason": r}).to_string().into_bytes()),
    ];
    let mut runner = TestRunner::new(config(400));
    let seen = std::cell::RefCell::new(HashMap::<u16, usize>::new());
    runner
        .run(&(method_strategy(), admin_paths, admin_bodies, token_strategy()), |(method, uri, body, auth)| {
            let mut headers = vec![("content-type".to_string(), b"application/json".to_vec())];
            if let Some(a) = &auth {
                headers.push(("authorization".into(), a.clone().into_bytes()));
            }
            let Some(req) = raw_request(method, &uri, &headers, Body::Binary(body)) else { return Ok(()) };
            let resp = f.rt.block_on(admin::handle(&admin, &req));
            let s = status(&resp);
            *seen.borrow_mut().entry(s).or_default() += 1;
            prop_assert!((200..500).contains(&s) && s != 204, "admin {method} {uri}: {s} {:?}", resp.body());
            // A HEAD answer has no body (RFC 9110 §9.3.2), the envelope included.
            if s >= 400 && method != "HEAD" {
                prop_assert!(body_json(&resp)["error"]["code"].is_string());
            }
            Ok(())
        })
        .unwrap();
    let seen = seen.into_inner();
    assert!(seen.contains_key(&401) && seen.contains_key(&403), "the token mix reached every branch: {seen:?}");

    let dash_paths = path_strategy(vec![
        "/referrals",
        "/referrals/link",
        "/referrals/qr.png",
        "/referrals/qr.svg",
        "/referrals/kpis",
        "/referrals/history",
        "/referrals.js",
        "/",
    ]);
    let queries = prop_oneof![
        Just(String::new()),
        "(size|limit|cursor)=[0-9A-Za-z_=-]{0,20}".prop_map(|q| q),
        nasty().prop_map(|c| format!("cursor={}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(c))),
        "[0-9]{1,12}".prop_map(|n| format!("size={n}&limit={n}")),
    ];
    let mut runner = TestRunner::new(config(300));
    runner
        .run(
            &(method_strategy(), dash_paths, queries, token_strategy(), prop::option::of(nasty())),
            |(method, uri, extra_query, auth, etag)| {
                let uri = if extra_query.is_empty() { uri } else { format!("{uri}&{extra_query}") };
                let mut headers = Vec::new();
                if let Some(a) = &auth {
                    headers.push(("authorization".to_string(), a.clone().into_bytes()));
                }
                if let Some(e) = etag {
                    headers.push(("if-none-match".to_string(), e.into_bytes()));
                }
                let Some(req) = raw_request(method, &uri, &headers, Body::Empty) else { return Ok(()) };
                let resp = f.rt.block_on(dashboard::handle(&dash, &req));
                let s = status(&resp);
                prop_assert!(
                    [200, 304, 308, 400, 401, 404, 405].contains(&s),
                    "dashboard {method} {uri}: {s} {:?}",
                    resp.body()
                );
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn the_redirect_handler_always_sends_visitors_to_the_origin() {
    let f = fixture();
    let cfg = redirect::RedirectConfig {
        site_origin: Url::parse(ORIGIN).unwrap(),
        cookie_domain: None,
        touch: redirect::Touch::First,
    };
    let code = f.code.to_string();
    let query = prop_oneof![nasty(), nasty().prop_map(move |q| format!("ref={code}&{q}"))];
    let mut runner = TestRunner::new(config(400));
    runner
        .run(
            &(prop::sample::select(vec!["GET", "HEAD", "POST"]), nasty(), query, prop::collection::vec(nasty(), 0..3)),
            |(method, path, query, cookies)| {
                let headers: Vec<(String, Vec<u8>)> =
                    cookies.into_iter().map(|c| ("cookie".to_string(), c.into_bytes())).collect();
                let Some(req) = raw_request(method, &url_of(&path, &query), &headers, Body::Empty) else {
                    return Ok(());
                };
                let resp = f.rt.block_on(redirect::handle(f.h.store(), &cfg, &req));
                if method == "POST" {
                    prop_assert_eq!(status(&resp), 405);
                    return Ok(());
                }
                prop_assert_eq!(status(&resp), 302);
                let location = header(&resp, "location").unwrap();
                prop_assert!(location.starts_with("https://www.example.com/"), "{location}");
                let parsed = Url::parse(location).unwrap();
                prop_assert_eq!(parsed.host_str(), Some("www.example.com"));
                let cookies = header_all(&resp, "set-cookie");
                prop_assert!(cookies.len() <= 1);
                if let Some(c) = cookies.first() {
                    prop_assert!(c.starts_with(&format!("ref={};", f.code)), "{c}");
                }
                Ok(())
            },
        )
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Named attacks.

#[tokio::test]
async fn huge_and_deeply_nested_bodies_are_refused_before_any_work() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    let before = h.stack.all_items().await.len();
    let megabyte = format!("{{\"payment_id\":\"{}\"}}", "x".repeat(1 << 20));
    let admin = format!("Bearer {}", token("ops-1", Some("admin"), 600));
    let signed = |body: &str, secret: &str| {
        BillingHarness::signed(if secret == WEBHOOK_SECRET { "/webhooks/payments" } else { "/signups" }, body, secret)
    };
    // 1 MB bodies: 413 everywhere, even with a valid signature or an admin token.
    let resp = webhook::handle(&h.billing, &h.webhook_cfg, &signed(&megabyte, WEBHOOK_SECRET)).await;
    assert_eq!((status(&resp), body_json(&resp)["error"]["code"].as_str()), (413, Some("payload_too_large")));
    let resp = signup::handle(h.store(), &h.signup_cfg, &signed(&megabyte, SIGNUP_SECRET)).await;
    assert_eq!(status(&resp), 413);
    let req = request("POST", "/admin/bonuses/bulk", &[("authorization", &admin)], Body::Text(megabyte.clone()));
    assert_eq!(status(&admin::handle(&h.admin(), &req).await), 413);

    // Nesting far beyond serde_json's recursion limit (128): a 400, no stack overflow.
    for depth in [129, 2_000, 8_000] {
        let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let objects = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        let in_field = format!("{{\"payment_id\":{arrays},\"user_id\":\"bob\"}}");
        for body in [&arrays, &objects, &in_field] {
            let resp = webhook::handle(&h.billing, &h.webhook_cfg, &signed(body, WEBHOOK_SECRET)).await;
            assert!([400, 413].contains(&status(&resp)), "webhook depth {depth}: {}", status(&resp));
            let resp = signup::handle(h.store(), &h.signup_cfg, &signed(body, SIGNUP_SECRET)).await;
            assert!([400, 413].contains(&status(&resp)), "signup depth {depth}");
            let req = request("POST", "/admin/bonuses/bulk", &[("authorization", &admin)], Body::Text(body.clone()));
            assert_eq!(status(&admin::handle(&h.admin(), &req).await), 400, "admin depth {depth}");
        }
    }
    assert_eq!(h.stack.all_items().await.len(), before);
    assert_eq!(h.wellflow.stats().requests, 0);
}

#[tokio::test]
async fn unicode_control_and_injection_strings_never_become_codes_ids_or_keys() {
    let h = BillingHarness::new().await;
    let code = h.refer("alice", "bob").await;
    let bad_codes = [
        format!("{}\u{0}", &code.as_str()[..5]),
        format!("К{}", &code.as_str()[1..]), // Cyrillic К
        format!("{code}\u{200b}"),
        format!("{code}\r\nSet-Cookie: admin=1"),
        format!("\u{202e}{}", &code.as_str()[1..]),
        code.as_str().chars().map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap_or(c)).collect(), // full-width
        format!("{}\u{301}", &code.as_str()[..5]),
        "' OR '1'='1".into(),
        "K7M2X'".into(),
        "\u{212a}7M2XQ".into(), // Kelvin sign
    ];
    for (i, bad) in bad_codes.iter().enumerate() {
        let user = format!("uni{i}");
        let v = body_json(&h.signup(&user, Some(bad), "203.0.113.50").await);
        assert_eq!(
            (v["attributed"].as_bool(), v["reason"].as_str()),
            (Some(false), Some("invalid_code")),
            "{bad:?}: {v}"
        );
    }
    // Ids that try to escape their key or look like queries are refused with a 400.
    let signup_cases = [
        json!({"user_id": "' OR 1=1 --", "signup_ip": "203.0.113.5"}),
        json!({"user_id": "alice#PROFILE", "signup_ip": "203.0.113.5"}),
        json!({"user_id": {"$ne": null}, "signup_ip": "203.0.113.5"}),
        json!({"user_id": "eve", "ref_code": {"$gt": ""}, "signup_ip": "203.0.113.5"}),
        json!({"user_id": "eve", "signup_ip": "203.0.113.5; DROP TABLE users"}),
        json!({"user_id": "eve\u{0}", "signup_ip": "203.0.113.5"}),
    ];
    for body in signup_cases {
        let resp = signup::handle(
            h.store(),
            &h.signup_cfg,
            &BillingHarness::signed("/signups", &body.to_string(), SIGNUP_SECRET),
        )
        .await;
        assert_eq!(status(&resp), 400, "{body}");
    }
    let event = |pid: Value, user: Value| {
        json!({"payment_id": pid, "user_id": user, "amount": "50.00", "currency": "USD",
               "type": "topup.succeeded", "occurred_at": "2026-11-25T09:00:00Z"})
        .to_string()
    };
    for (pid, user) in [
        (json!({"$gt": ""}), json!("bob")),
        (json!("p1"), json!({"$where": "1==1"})),
        (json!("pay#BONUS"), json!("bob")),
        (json!("p1' OR '1'='1"), json!("bob")),
        (json!("p1"), json!("bob\r\nx-admin: 1")),
        (json!("p".repeat(129)), json!("bob")),
    ] {
        let resp = h.deliver_raw(&event(pid.clone(), user.clone())).await;
        assert_eq!(status(&resp), 400, "{pid} {user}");
    }
    let admin = format!("Bearer {}", token("ops-1", Some("admin"), 600));
    for (method, uri) in [
        ("POST", "/admin/bonuses/1%27%20OR%201=1/approve"),
        ("POST", "/admin/bonuses/p%23BONUS/approve"),
        ("GET", "/admin/bonuses?status=pending%27%20OR%201=1"),
        ("GET", "/admin/bonuses?status=pending&cursor=%27%20OR%201=1"),
        ("PUT", "/admin/referrers/alice%23PROFILE/rate"),
    ] {
        let body = Body::Text(json!({"rate": "0.07"}).to_string());
        let resp = admin::handle(&h.admin(), &request(method, uri, &[("authorization", &admin)], body)).await;
        assert_eq!(status(&resp), 400, "{method} {uri}");
    }
    assert!(h.bonus_rows().await.is_empty(), "no hostile event created a bonus");
    assert!(h.stack.item("USER#alice#PROFILE", "PROFILE").await.is_none());
}

#[tokio::test]
async fn crafted_history_cursors_are_refused() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    for i in 0..3 {
        h.topup(&format!("c{i}"), "bob", "10.00").await;
    }
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let mut statuses = Vec::new();
    // Cursors that name the caller's own partition but point at keys that are not a position in
    // it (or at another user's rows) must be refused as invalid, not crash the query.
    // Only a cursor with exactly the index's key attributes, non-empty, in the caller's own
    // partition is accepted (real DynamoDB would reject the others with a ValidationException).
    for (cursor, expected) in [
        (b64(json!({"GSI2PK": "REFERRER#mallory"})), 400),
        (b64(json!({"GSI2PK": "REFERRER#mallory", "GSI2SK": "z", "PK": "BONUS#ref:auto:c0", "SK": "BONUS"})), 200),
        (b64(json!({"GSI2PK": "REFERRER#mallory", "GSI2SK": "", "PK": "", "SK": ""})), 400),
        (b64(json!({"GSI2PK": "REFERRER#alice", "GSI2SK": "9", "PK": "BONUS#ref:auto:c0", "SK": "BONUS"})), 400),
        (b64(json!({"GSI2PK": "REFERRER#mallory", "x": "1", "y": "2", "z": "3", "w": "4", "v": "5"})), 400),
        (b64(json!({"GSI2PK": "REFERRER#mallory", "GSI2SK": "z", "PK": "B", "SK": "BONUS", "GSI1PK": "x"})), 400),
        ("%27%20OR%201%3D1".into(), 400),
    ] {
        let resp = h.dash_get(&format!("/referrals/history?cursor={cursor}"), Some("mallory"), &[]).await;
        let s = status(&resp);
        statuses.push(s);
        assert_eq!(s, expected, "cursor {cursor}: {}", body_json(&resp));
        if s == 200 {
            assert!(body_json(&resp)["items"].as_array().unwrap().is_empty(), "mallory reads nothing of alice's");
        } else {
            assert_eq!(body_json(&resp)["error"]["code"], "invalid_cursor");
        }
    }
    println!("RELIABILITY crafted_cursors statuses={statuses:?}");
}

#[tokio::test]
async fn header_injection_and_open_redirect_attempts_stay_on_the_origin() {
    let h = BillingHarness::new().await;
    let code = h.refer("alice", "bob").await;
    let cfg = redirect::RedirectConfig {
        site_origin: Url::parse(ORIGIN).unwrap(),
        cookie_domain: None,
        touch: redirect::Touch::First,
    };
    let uris = [
        format!("/?ref={code}&next=%0D%0ASet-Cookie:%20admin=1"),
        format!("/%0D%0ALocation:%20https://evil.com?ref={code}"),
        format!("/?ref={code}%0D%0ASet-Cookie:%20x=y"),
        format!("//evil.com/?ref={code}"),
        "/%5C%5Cevil.com".into(),
        "/%2F%2Fevil.com/%2e%2e".into(),
        "/..%2F..%2Fevil.com".into(),
        format!("/?ref={code}&ref=ABCDEF&redirect=https://evil.com"),
        "/?ref=%00%00%00%00%00%00".into(),
        format!("/https:%2F%2Fevil.com?ref={}", code.as_str().to_lowercase()),
    ];
    for uri in &uris {
        for cookie in [None, Some("ref=<script>; ref=K7M2X\u{7f}"), Some("ref=ABCDEF%0D%0A")] {
            let mut headers = Vec::new();
            if let Some(c) = cookie {
                if HeaderValue::from_str(c).is_err() {
                    continue;
                }
                headers.push(("cookie", c));
            }
            let resp = redirect::handle(h.store(), &cfg, &request("GET", uri, &headers, Body::Empty)).await;
            assert_eq!(status(&resp), 302, "{uri}");
            let location = header(&resp, "location").unwrap();
            assert!(location.starts_with("https://www.example.com/"), "{uri} → {location}");
            assert!(!location.contains(['\r', '\n', ' ']), "{location}");
            assert_eq!(Url::parse(location).unwrap().host_str(), Some("www.example.com"));
            for c in header_all(&resp, "set-cookie") {
                assert!(c.starts_with(&format!("ref={code};")), "{uri}: {c}");
            }
        }
    }
}

#[tokio::test]
async fn replayed_signatures_are_refused_outside_the_window_and_absorbed_inside_it() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    let body = BillingHarness::event_body("p_replay", "bob", "100.00", "topup.succeeded");
    let now = adapters::clock::now().unix_timestamp();
    let at = |t: i64, b: &str| {
        let sig = sign(WEBHOOK_SECRET, t, b.as_bytes());
        request("POST", "/webhooks/payments", &[("x-signature", &sig)], Body::Text(b.to_string()))
    };
    // Captured six minutes ago, replayed now: refused before any work.
    let old = webhook::handle(&h.billing, &h.webhook_cfg, &at(now - 360, &body)).await;
    assert_eq!((status(&old), body_json(&old)["error"]["code"].as_str()), (401, Some("signature_expired")));
    assert!(h.bonus("p_replay").await.is_none());
    // A fresh delivery credits; replaying that exact request (inside the window) is a duplicate.
    let fresh = at(now, &body);
    assert_eq!(body_json(&webhook::handle(&h.billing, &h.webhook_cfg, &fresh).await)["outcome"], "credited");
    for _ in 0..3 {
        let replay = webhook::handle(&h.billing, &h.webhook_cfg, &fresh).await;
        assert_eq!(body_json(&replay)["outcome"], "duplicate");
    }
    // The signature of one body does not carry over to another (e.g. a bigger amount).
    let sig = sign(WEBHOOK_SECRET, now, body.as_bytes());
    let forged = body.replace("p_replay", "p_forged").replace("100.00", "9999.00");
    let req = request("POST", "/webhooks/payments", &[("x-signature", &sig)], Body::Text(forged));
    assert_eq!(status(&webhook::handle(&h.billing, &h.webhook_cfg, &req).await), 401);
    assert_eq!(h.wellflow.stats().credits_applied, 1);
    assert_eq!(h.wellflow.balance("alice"), rust_decimal::Decimal::new(500, 2));
}
