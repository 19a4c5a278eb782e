//! Every route of every HTTP function, given each kind of bad input a caller can send —
//! non-UTF-8, empty, truncated JSON, JSON of the wrong type, 1 MiB, unknown fields, a wrong
//! content type, percent-encoded and unicode ids — properly signed or authenticated, so the bad
//! input itself is what gets judged. Asserted per request: a 4xx (never a 5xx), the one error
//! envelope `{"error":{"code","message"}}`, and that nothing was written (table, Wellflow).
//! Then the same bytes as API Gateway delivers them (payload-2.0 event JSON, non-UTF-8 bodies
//! base64-encoded) through `lambda_http`'s own event deserialisation.

use adapters::domain::signature::sign;
use integration_tests::billing::{token, BillingHarness, SIGNUP_SECRET, STRIPE_SECRET, WEBHOOK_SECRET};
use integration_tests::body_json;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Function {
    Webhook,
    Signup,
    Dashboard,
    Admin,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Auth {
    /// Our HMAC `x-signature` with this secret, over the exact bytes sent.
    Signed(&'static str),
    /// Stripe's `Stripe-Signature`.
    Stripe,
    /// A user's JWT (`alice`).
    UserJwt,
    /// An admin's JWT.
    AdminJwt,
}

/// What the route does with a body.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Takes {
    /// A JSON object written by a user or an admin: unknown fields refused, JSON content type
    /// required (415 otherwise).
    UserJson,
    /// A JSON object as a JSON body is optional (`MaybeJson`): empty is a valid "no body".
    OptionalJson,
    /// A provider's body (payment webhook, Stripe, signup): verified raw bytes, unknown fields
    /// ignored (docs/api/input-policy.md), content type not required.
    ProviderJson,
    /// No body: whatever is sent is not read.
    Nothing,
}

struct Route {
    function: Function,
    method: &'static str,
    /// `{id}` is where path ids go.
    path: &'static str,
    auth: Auth,
    takes: Takes,
    /// A body the route would accept (None: takes nothing); the hostile variants derive from it.
    near_valid: Option<Value>,
}

fn routes() -> Vec<Route> {
    use Auth::*;
    use Function::*;
    use Takes::*;
    let r = |function, method, path, auth, takes, near_valid: Option<Value>| Route {
        function,
        method,
        path,
        auth,
        takes,
        near_valid,
    };
    let event = json!({"payment_id": "p_hostile", "user_id": "bob", "amount": "50.00", "currency": "USD",
        "type": "topup.succeeded", "occurred_at": "2026-11-25T09:00:00Z"});
    let stripe = json!({"id": "evt_hostile", "object": "event", "type": "payment_intent.succeeded",
        "created": 1_795_000_000, "livemode": false, "data": {"object": {"id": "pi_hostile", "object": "payment_intent"}}});
    vec![
        r(Webhook, "POST", "/webhooks/payments", Signed(WEBHOOK_SECRET), ProviderJson, Some(event)),
        r(Webhook, "POST", "/webhooks/stripe", Stripe, ProviderJson, Some(stripe)),
        r(
            Signup,
            "POST",
            "/signups",
            Signed(SIGNUP_SECRET),
            ProviderJson,
            Some(json!({"user_id": "carol", "ref_code": "NOPE00"})),
        ),
        // Dashboard writes.
        r(Dashboard, "PUT", "/referrals/profile", UserJwt, UserJson, Some(json!({"public_name": "Alice"}))),
        r(Dashboard, "POST", "/referrals/api-keys", UserJwt, UserJson, Some(json!({"name": "k", "scopes": ["read"]}))),
        r(Dashboard, "POST", "/referrals/campaigns", UserJwt, UserJson, Some(json!({"campaign": "spring"}))),
        r(
            Dashboard,
            "PUT",
            "/referrals/webhook",
            UserJwt,
            UserJson,
            Some(json!({"url": "https://partner.example.com/hook", "events": ["bonus.credited"]})),
        ),
        r(Dashboard, "DELETE", "/referrals/api-keys/{id}", UserJwt, Nothing, None),
        r(Dashboard, "POST", "/referrals/webhook/rotate-secret", UserJwt, Nothing, None),
        r(Dashboard, "DELETE", "/referrals/webhook", UserJwt, Nothing, None),
        // Dashboard reads (a body is never read; ids and garbage must still not hurt).
        r(Dashboard, "GET", "/referrals/link", UserJwt, Nothing, None),
        r(Dashboard, "GET", "/referrals/kpis", UserJwt, Nothing, None),
        r(Dashboard, "GET", "/referrals/history", UserJwt, Nothing, None),
        r(Dashboard, "GET", "/referrals/history.csv", UserJwt, Nothing, None),
        r(Dashboard, "GET", "/referrals/stats", UserJwt, Nothing, None),
        r(Dashboard, "GET", "/referrals/qr.svg", UserJwt, Nothing, None),
        r(Dashboard, "GET", "/referrals/qr.png", UserJwt, Nothing, None),
        r(Dashboard, "GET", "/referrals/leaderboard", UserJwt, Nothing, None),
        r(Dashboard, "GET", "/referrals/api-keys", UserJwt, Nothing, None),
        r(Dashboard, "GET", "/referrals/campaigns", UserJwt, Nothing, None),
        r(Dashboard, "GET", "/referrals/webhook", UserJwt, Nothing, None),
        r(Dashboard, "GET", "/referrals/webhook/deliveries", UserJwt, Nothing, None),
        r(Dashboard, "GET", "/openapi.json", UserJwt, Nothing, None),
        // Admin writes.
        r(
            Admin,
            "POST",
            "/admin/bonuses/bulk",
            AdminJwt,
            UserJson,
            Some(json!({"action": "approve", "payment_ids": ["p_missing"]})),
        ),
        r(Admin, "POST", "/admin/bonuses/{id}/approve", AdminJwt, OptionalJson, Some(json!({"note": "ok"}))),
        r(Admin, "POST", "/admin/bonuses/{id}/reject", AdminJwt, UserJson, Some(json!({"reason": "fraud"}))),
        r(
            Admin,
            "PUT",
            "/admin/rate-tiers",
            AdminJwt,
            UserJson,
            Some(
                json!({"tiers": [{"up_to": "2000.00", "rate": "0.06"}, {"up_to": null, "rate": "0.08"}], "expected_version": 99}),
            ),
        ),
        r(Admin, "PUT", "/admin/referrers/{id}/rate", AdminJwt, UserJson, Some(json!({"rate": "0.07"}))),
        r(
            Admin,
            "POST",
            "/admin/attributions/{id}",
            AdminJwt,
            UserJson,
            Some(json!({"referrer_id": "alice", "note": "n"})),
        ),
        r(Admin, "POST", "/admin/reconciliation/{id}/resolve", AdminJwt, UserJson, Some(json!({"note": "n"}))),
        // Admin reads.
        // A version nobody has: 409, so the body is the only thing judged.
        r(Admin, "DELETE", "/admin/rate-tiers?expected_version=99", AdminJwt, Nothing, None),
        r(Admin, "GET", "/admin/bonuses", AdminJwt, Nothing, None),
        r(Admin, "GET", "/admin/bonuses/{id}", AdminJwt, Nothing, None),
        r(Admin, "GET", "/admin/referrers/{id}", AdminJwt, Nothing, None),
        r(Admin, "GET", "/admin/rate-tiers", AdminJwt, Nothing, None),
        r(Admin, "GET", "/admin/reconciliation", AdminJwt, Nothing, None),
    ]
}

/// A hostile body and the status a JSON-reading route owes it (None: any 4xx).
struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    content_type: Option<&'static str>,
}

fn cases(near_valid: &Value) -> Vec<Case> {
    let text = near_valid.to_string();
    let mut unknown = near_valid.clone();
    unknown.as_object_mut().expect("object").insert("zzz_unknown".into(), json!(1));
    let mut non_utf8 = text.clone().into_bytes();
    non_utf8.splice(1..1, b"\"\xff\xfe\":1,".iter().copied());
    let json = Some("application/json");
    let case = |name, bytes: Vec<u8>, content_type| Case { name, bytes, content_type };
    vec![
        case("non-UTF-8", non_utf8, json),
        case("empty", Vec::new(), json),
        case("truncated", text.as_bytes()[..text.len() - 2].to_vec(), json),
        case("array", b"[1,2]".to_vec(), json),
        case("string", br#""text""#.to_vec(), json),
        case("number", b"7".to_vec(), json),
        case("null", b"null".to_vec(), json),
        case("1 MiB", format!("{{\"pad\":\"{}\"}}", "x".repeat(1 << 20)).into_bytes(), json),
        case("unknown field", unknown.to_string().into_bytes(), json),
        case("text/plain", text.clone().into_bytes(), Some("text/plain")),
        case("form", b"a=1&b=2".to_vec(), Some("application/x-www-form-urlencoded")),
    ]
}

/// Path ids that must be refused after percent-decoding (400), or that decode to a valid id
/// nobody has (404).
const BAD_IDS: &[&str] = &["a%2Fb", "%E2%98%83", "caf%C3%A9", "%ZZ", "%00", "a%20b", "%FF%FE"];
/// An id in each route's own syntax, percent-encoded, that decodes to one nobody has.
fn absent_id(path: &str) -> &'static str {
    if path.starts_with("/referrals/api-keys/") {
        "abcdefghij%6Bl" // abcdefghijkl
    } else if path.starts_with("/admin/reconciliation/") {
        "rf_0123456789abcdef0123456%37" // rf_ + 24 hex digits
    } else {
        "p_%41bsent" // p_Absent
    }
}

fn request_for(route: &Route, path: &str, bytes: &[u8], content_type: Option<&str>) -> Request {
    let mut builder = lambda_http::http::Request::builder().method(route.method).uri(path);
    if let Some(ct) = content_type {
        builder = builder.header("content-type", ct);
    }
    let now = adapters::clock::now().unix_timestamp();
    builder = match route.auth {
        Auth::Signed(secret) => builder.header("x-signature", sign(secret, now, bytes)),
        Auth::Stripe => builder.header("stripe-signature", webhook::stripe::sign(STRIPE_SECRET, now, bytes)),
        Auth::UserJwt => builder.header("authorization", format!("Bearer {}", token("alice", None, 600))),
        Auth::AdminJwt => builder.header("authorization", format!("Bearer {}", token("ops-1", Some("admin"), 600))),
    };
    let body = if bytes.is_empty() { Body::Empty } else { Body::Binary(bytes.to_vec()) };
    builder.body(body).expect("valid request")
}

async fn call(h: &BillingHarness, function: Function, req: &Request) -> Response<Body> {
    match function {
        Function::Webhook => webhook::handle(&h.billing, &h.webhook_cfg, req).await,
        Function::Signup => signup::handle(h.store(), &h.signup_cfg, req).await,
        Function::Dashboard => dashboard::handle(&h.dashboard(), req).await,
        Function::Admin => admin::handle(&h.admin(), req).await,
    }
}

/// Everything a request could have written: the table (every item), Wellflow's ledger.
async fn snapshot(h: &BillingHarness) -> (Vec<String>, u64) {
    let mut items: Vec<String> = h
        .stack
        .all_items()
        .await
        .into_iter()
        // serde_json's map is ordered: one canonical text per item, nested maps included.
        .map(|item| serde_dynamo::from_item::<_, Value>(item).expect("item").to_string())
        .collect();
    items.sort();
    (items, h.wellflow.stats().requests)
}

fn envelope(resp: &Response<Body>) -> (u16, String, String) {
    let status = resp.status().as_u16();
    if status < 400 {
        return (status, String::new(), String::new());
    }
    let body = body_json(resp);
    let code = body["error"]["code"].as_str().unwrap_or_default().to_string();
    let message = body["error"]["message"].as_str().unwrap_or_default().to_string();
    (status, code, message)
}

/// The state every request meets: alice refers bob (alice has a code), nothing else.
async fn harness() -> BillingHarness {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    h
}

#[test]
fn the_route_table_is_every_route_of_the_api() {
    // Every (method, path) of infra/openapi.yaml is in `routes()`, ids as `{id}`. The redirect
    // (`GET /` on the link domain) takes no body and no id: its hostile paths, queries and
    // headers are the property test `hostile::the_redirect_handler_always_sends_visitors_to_the_origin`.
    let yaml = std::fs::read_to_string(integration_tests::workspace_root().join("infra/openapi.yaml")).unwrap();
    let doc: Value = serde_yaml::from_str(&yaml).unwrap();
    let ours: Vec<(String, String)> =
        routes().iter().map(|r| (r.method.to_string(), r.path.split('?').next().unwrap().to_string())).collect();
    let id = id_template();
    let mut missing = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if path == "/" {
            continue;
        }
        let path = id(path);
        for method in
            ops.as_object().unwrap().keys().filter(|m| ["get", "post", "put", "delete", "patch"].contains(&m.as_str()))
        {
            let key = (method.to_uppercase(), path.clone());
            if !ours.contains(&key) {
                missing.push(key);
            }
        }
    }
    assert!(missing.is_empty(), "routes of the API the hostile matrix does not send to: {missing:?}");
}

/// `/a/{payment_id}/b` → `/a/{id}/b`.
fn id_template() -> impl Fn(&str) -> String {
    |path: &str| {
        path.split('/')
            .map(|seg| if seg.starts_with('{') && seg.ends_with('}') { "{id}" } else { seg })
            .collect::<Vec<_>>()
            .join("/")
    }
}

#[tokio::test]
async fn every_route_answers_each_bad_body_with_a_4xx_envelope_and_writes_nothing() {
    let h = harness().await;
    let mut checked = 0;
    for route in routes() {
        let path = route.path.replace("{id}", absent_id(route.path));
        let near_valid = route.near_valid.clone().unwrap_or_else(|| json!({"x": 1}));
        for case in cases(&near_valid) {
            let what = format!("{} {} [{}]", route.method, route.path, case.name);
            let before = snapshot(&h).await;
            let resp = call(&h, route.function, &request_for(&route, &path, &case.bytes, case.content_type)).await;
            let (status, code, message) = envelope(&resp);
            // Providers add fields and label bodies loosely: a verified body with unknown fields
            // or a non-JSON content type is accepted (docs/api/input-policy.md) and processed
            // (the event here is valid: covered by webhook.rs/signup.rs/stripe.rs).
            let accepted = route.takes == Takes::ProviderJson && ["unknown field", "text/plain"].contains(&case.name);
            let read = route.method == "GET";
            match route.takes {
                // A body nobody reads: the route answers as without it (a read 200, or 404 for
                // what alice has not set up; a write whose target is absent 404 or an
                // idempotent 204), never a 5xx; the snapshot below proves nothing changed.
                Takes::Nothing => {
                    let ok = if read { (200..300).contains(&status) || status == 404 } else { status < 500 };
                    assert!(ok, "{what}: {status} {code} {message}");
                }
                _ if accepted => {
                    assert!(status < 500, "{what}: {status} {code} {message}");
                    continue;
                }
                takes => {
                    let expected: Option<u16> = match case.name {
                        "1 MiB" => Some(413),
                        "non-UTF-8" | "truncated" | "array" | "string" | "number" | "null" => Some(400),
                        "empty" if takes != Takes::OptionalJson => Some(400),
                        "unknown field" => Some(400),
                        "text/plain" | "form" if takes != Takes::ProviderJson => Some(415),
                        _ => None,
                    };
                    match expected {
                        Some(s) => assert_eq!(status, s, "{what}: {code} {message}"),
                        None => assert!((400..500).contains(&status), "{what}: {status} {code} {message}"),
                    }
                    if case.name == "unknown field" {
                        assert!(message.contains("zzz_unknown"), "{what}: the message names the field: {message}");
                    }
                    if case.name == "non-UTF-8" {
                        assert!(message.contains("UTF-8"), "{what}: {message}");
                    }
                }
            }
            if status >= 400 {
                assert!(!code.is_empty() && !message.is_empty(), "{what}: {status} without the envelope");
                assert!(
                    resp.headers().get("content-type").and_then(|v| v.to_str().ok()) == Some("application/json"),
                    "{what}: error content type"
                );
            }
            assert_eq!(snapshot(&h).await, before, "{what}: nothing written");
            checked += 1;
        }
    }
    assert!(checked > 250, "{checked} requests checked");
}

#[tokio::test]
async fn every_path_id_is_validated_after_percent_decoding() {
    let h = harness().await;
    let mut checked = 0;
    for route in routes().into_iter().filter(|r| r.path.contains("{id}")) {
        let body = route.near_valid.as_ref().map(Value::to_string).unwrap_or_default();
        let content_type = route.near_valid.as_ref().map(|_| "application/json");
        for id in BAD_IDS {
            let path = route.path.replace("{id}", id);
            let what = format!("{} {path}", route.method);
            let before = snapshot(&h).await;
            let resp = call(&h, route.function, &request_for(&route, &path, body.as_bytes(), content_type)).await;
            let (status, code, message) = envelope(&resp);
            assert_eq!(status, 400, "{what}: {code} {message}");
            assert!(!code.is_empty() && !message.is_empty(), "{what}");
            assert_eq!(snapshot(&h).await, before, "{what}: nothing written");
            checked += 1;
        }
        // A valid id once decoded reaches the store: absent, so 404 — the decoded id is the
        // one looked up (`p_%41bsent` is `p_Absent`). Reattributing to a user nobody referred
        // is a 404 too.
        let path = route.path.replace("{id}", absent_id(route.path));
        let resp = call(&h, route.function, &request_for(&route, &path, body.as_bytes(), content_type)).await;
        let (status, code, message) = envelope(&resp);
        assert!([404, 409].contains(&status), "{} {path}: {status} {code} {message}", route.method);
    }
    assert!(checked >= 35, "{checked}");
}

#[tokio::test]
async fn api_gateway_events_with_non_utf8_bodies_get_a_4xx() {
    // What API Gateway (HTTP API, payload 2.0) sends for a non-UTF-8 body labelled JSON: the
    // bytes base64-encoded, `isBase64Encoded: true` (local_stack::apigw builds it exactly so;
    // `make dev` fronts the functions with it). Read through lambda_http's own event parsing.
    let h = harness().await;
    for route in routes().into_iter().filter(|r| r.takes != Takes::Nothing) {
        let mut bytes = route.near_valid.as_ref().expect("body").to_string().into_bytes();
        bytes.splice(1..1, b"\"\xc3\x28\":1,".iter().copied());
        let signed =
            request_for(&route, &route.path.replace("{id}", absent_id(route.path)), &bytes, Some("application/json"));
        let headers: Vec<(String, String)> = signed
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), v.to_str().expect("ascii").to_string()))
            .collect();
        let path = signed.uri().path().to_string();
        let event = local_stack::apigw::event(&local_stack::apigw::Incoming {
            method: route.method,
            path: &path,
            query: "",
            headers: &headers,
            body: &bytes,
            source_ip: "203.0.113.9",
            request_id: "req-hostile",
            time_epoch_ms: 1_795_000_000_000,
        });
        assert_eq!(event["isBase64Encoded"], true);
        let req = lambda_http::request::from_str(&event.to_string()).expect("lambda_http reads the event");
        let before = snapshot(&h).await;
        let resp = call(&h, route.function, &req).await;
        let (status, code, message) = envelope(&resp);
        let what = format!("{} {}", route.method, route.path);
        assert_eq!((status, code.as_str()), (400, "invalid_json"), "{what}: {message}");
        assert!(message.contains("not UTF-8"), "{what}: {message}");
        assert_eq!(snapshot(&h).await, before, "{what}: nothing written");
    }
}
