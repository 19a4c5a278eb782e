//! Authorization matrix over every HTTP endpoint: the admin API (list, approve, reject, bulk,
//! rate, attribution) and the dashboard API (link, qr.png, qr.svg, kpis, history) × {no token,
//! user, another user, admin, forged tokens}, with the exact status and proof that a refused call
//! changed nothing and that a dashboard token only ever reads its own user's data; the signed
//! endpoints (signup, webhook) × {missing, malformed, wrong, cross-endpoint, expired, valid};
//! the partner API (API keys, campaigns, and the read routes by API key) × {every token above,
//! scoped, revoked and forged API keys}.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;

use adapters::domain::signature::sign;
use adapters::domain::{BonusStatus, UserId};
use adapters::store::Users;
use integration_tests::billing::{
    token, token_alg_none, token_signed, BillingHarness, JWT_SECRET, SIGNUP_SECRET, WEBHOOK_SECRET,
};
use integration_tests::requests::request;
use integration_tests::seed::seeded_mix;
use integration_tests::{body_json, header};
use lambda_http::{Body, Response};
use serde_json::{json, Value};

/// A token signed with the right secret but another HMAC algorithm (algorithm confusion).
fn token_hs512(sub: &str, role: Option<&str>) -> String {
    let claims = integration_tests::billing::token_claims(sub, role, 600);
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512);
    jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes())).unwrap()
}

/// Who calls, and the `Authorization` header they send.
fn callers() -> Vec<(&'static str, Option<String>)> {
    vec![
        ("no token", None),
        ("user alice", Some(format!("Bearer {}", token("alice", None, 600)))),
        ("other user mallory", Some(format!("Bearer {}", token("mallory", Some("user"), 600)))),
        ("admin ops-1", Some(format!("Bearer {}", token("ops-1", Some("admin"), 600)))),
        ("admin, alg none", Some(format!("Bearer {}", token_alg_none("ops-1", Some("admin"))))),
        (
            "admin, wrong key",
            Some(format!("Bearer {}", token_signed("ops-1", Some("admin"), 600, "not-the-secret-0123456789"))),
        ),
        ("admin, expired", Some(format!("Bearer {}", token("ops-1", Some("admin"), -120)))),
        ("admin, HS512", Some(format!("Bearer {}", token_hs512("ops-1", Some("admin"))))),
        ("admin, Basic scheme", Some(format!("Basic {}", token("ops-1", Some("admin"), 600)))),
        ("garbage", Some("Bearer a.b.c".to_string())),
    ]
}

fn is_forged(caller: &str) -> bool {
    caller.contains(',') || caller == "garbage" || caller == "no token"
}

/// The admin routes, each with the status a valid admin token gets.
fn admin_routes() -> Vec<(&'static str, &'static str, &'static str, Option<Value>, u16)> {
    vec![
        ("list", "GET", "/admin/bonuses?status=pending", None, 200),
        ("approve", "POST", "/admin/bonuses/p_frank/approve", Some(json!({"note": "checked"})), 200),
        ("reject", "POST", "/admin/bonuses/p_puppet/reject", Some(json!({"reason": "fraud"})), 200),
        ("bulk", "POST", "/admin/bonuses/bulk", Some(json!({"action": "approve", "payment_ids": ["p_gina"]})), 200),
        ("rate", "PUT", "/admin/referrers/alice/rate", Some(json!({"rate": "0.07"})), 200),
        ("attribution", "POST", "/admin/attributions/bob", Some(json!({"referrer_id": "zed", "note": "t-9"})), 200),
    ]
}

async fn admin_call(h: &BillingHarness, method: &str, uri: &str, auth: Option<&str>, body: Option<Value>) -> u16 {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = auth {
        headers.push(("authorization", a));
    }
    let body = body.map(|b| Body::Text(b.to_string())).unwrap_or(Body::Empty);
    let resp = admin::handle(&h.admin(), &request(method, uri, &headers, body)).await;
    if resp.status() != 200 {
        assert!(body_json(&resp)["error"]["code"].is_string(), "error envelope on {method} {uri}");
    }
    resp.status().as_u16()
}

async fn dash(h: &BillingHarness, uri: &str, auth: Option<&str>, extra: &[(&str, &str)]) -> Response<Body> {
    let mut headers: Vec<(&str, &str)> = extra.to_vec();
    if let Some(a) = auth {
        headers.push(("authorization", a));
    }
    dashboard::handle(&h.dashboard(), &request("GET", uri, &headers, Body::Empty)).await
}

/// The whole table in a canonical text form (maps sorted), to prove a refused call wrote nothing.
async fn table(h: &BillingHarness) -> Vec<String> {
    let mut items: Vec<String> = h.stack.all_items().await.iter().map(canon_item).collect();
    items.sort();
    items
}

fn canon_item(item: &HashMap<String, AttributeValue>) -> String {
    let fields: BTreeMap<&String, String> = item.iter().map(|(k, v)| (k, canon(v))).collect();
    format!("{fields:?}")
}

fn canon(v: &AttributeValue) -> String {
    match v {
        AttributeValue::M(m) => canon_item(m),
        AttributeValue::L(l) => format!("[{}]", l.iter().map(canon).collect::<Vec<_>>().join(",")),
        other => format!("{other:?}"),
    }
}

/// alice's seeded history plus two velocity holds (frank, gina) and a second referrer (zed).
async fn seeded() -> BillingHarness {
    let h = BillingHarness::new().await;
    seeded_mix(&h).await;
    for (user, payment, amount) in [("frank", "p_frank", "40.00"), ("gina", "p_gina", "60.00")] {
        h.refer("alice", user).await;
        assert_eq!(body_json(&h.topup(payment, user, amount).await)["outcome"], "held");
    }
    h.store().ensure_code(&UserId::parse("zed").unwrap()).await.unwrap();
    h
}

#[tokio::test]
async fn admin_routes_answer_only_valid_admin_tokens() {
    let h = seeded().await;
    let before = table(&h).await;
    let wellflow_before = h.wellflow.stats().requests;
    let mut matrix = Vec::new();
    for (caller, auth) in callers().into_iter().filter(|(c, _)| *c != "admin ops-1") {
        for (name, method, uri, body, _) in admin_routes() {
            let status = admin_call(&h, method, uri, auth.as_deref(), body).await;
            let want = if is_forged(caller) { 401 } else { 403 };
            assert_eq!(status, want, "{name} as {caller}");
            matrix.push(status);
        }
    }
    assert_eq!(table(&h).await, before, "no refused admin call may change the table");
    assert_eq!(h.wellflow.stats().requests, wellflow_before, "… or reach Wellflow");

    // The admin token gets every route, and each one did its job.
    let admin = callers().into_iter().find(|(c, _)| *c == "admin ops-1").unwrap().1.unwrap();
    for (name, method, uri, body, want) in admin_routes() {
        assert_eq!(admin_call(&h, method, uri, Some(&admin), body).await, want, "{name} as admin");
        matrix.push(want);
    }
    assert_eq!(h.bonus("p_frank").await.unwrap().status, BonusStatus::Credited);
    assert_eq!(h.bonus("p_puppet").await.unwrap().status, BonusStatus::Reversed);
    assert_eq!(h.bonus("p_gina").await.unwrap().status, BonusStatus::Credited);
    let alice = h.store().user(&UserId::parse("alice").unwrap()).await.unwrap().unwrap();
    assert_eq!(alice.rate_override.map(|r| r.to_string()), Some("0.07".into()));
    let bob = h.store().user(&UserId::parse("bob").unwrap()).await.unwrap().unwrap();
    assert_eq!(bob.referrer_id.map(|r| r.to_string()), Some("zed".into()));
    integration_tests::figures!(
        "RELIABILITY authz_admin routes={} callers={} calls={} refused_401={} refused_403={} admin_ok={}",
        admin_routes().len(),
        callers().len(),
        matrix.len(),
        matrix.iter().filter(|s| **s == 401).count(),
        matrix.iter().filter(|s| **s == 403).count(),
        matrix.iter().filter(|s| **s == 200).count()
    );
}

#[tokio::test]
async fn dashboard_tokens_only_ever_read_their_own_user() {
    let h = seeded().await;
    let alice_code = h.store().ensure_code(&UserId::parse("alice").unwrap()).await.unwrap().to_string();
    let routes =
        ["/referrals/link", "/referrals/qr.png?size=256", "/referrals/qr.svg", "/referrals/kpis", "/referrals/history"];
    let mut calls = 0;
    for (caller, auth) in callers() {
        for route in routes {
            let resp = dash(&h, route, auth.as_deref(), &[]).await;
            calls += 1;
            if is_forged(caller) {
                assert_eq!(resp.status(), 401, "{route} as {caller}");
                assert!(body_json(&resp)["error"]["code"].is_string());
                continue;
            }
            assert_eq!(resp.status(), 200, "{route} as {caller}");
        }
    }

    // Whose data each valid token sees: alice hers; mallory and the admin only their own (empty).
    let seen_by = |user: &'static str, role: Option<&'static str>| {
        let auth = format!("Bearer {}", token(user, role, 600));
        let h = &h;
        async move {
            let link = body_json(&dash(h, "/referrals/link", Some(&auth), &[]).await);
            let kpis = body_json(&dash(h, "/referrals/kpis", Some(&auth), &[]).await);
            let history = body_json(&dash(h, "/referrals/history?limit=100", Some(&auth), &[]).await);
            let ids: BTreeSet<String> =
                history["items"].as_array().unwrap().iter().map(|i| i["payment_id"].as_str().unwrap().into()).collect();
            let png = dash(h, "/referrals/qr.png?size=256", Some(&auth), &[]).await;
            let Body::Binary(bytes) = png.body() else { panic!("png body") };
            let mut img = rqrr::PreparedImage::prepare(image::load_from_memory(bytes).unwrap().to_luma8());
            let (_, qr_content) = img.detect_grids()[0].decode().unwrap();
            let svg = dash(h, "/referrals/qr.svg", Some(&auth), &[]).await;
            (link, kpis, ids, qr_content, header(&svg, "etag").unwrap().to_string())
        }
    };
    let (alice_link, alice_kpis, alice_ids, alice_qr, alice_etag) = seen_by("alice", None).await;
    assert_eq!(alice_link["code"], alice_code.as_str());
    assert_eq!(alice_qr, alice_link["url"].as_str().unwrap(), "alice's QR encodes her link");
    assert_eq!((alice_kpis["total_earned"].as_str(), alice_kpis["signups"].as_i64()), (Some("17.50"), Some(7)));
    let want: BTreeSet<String> =
        ["p_bob", "p_carol", "p_dave", "p_erin", "p_puppet", "p_frank", "p_gina"].map(String::from).into();
    assert_eq!(alice_ids, want);
    for (user, role) in [("mallory", Some("user")), ("ops-1", Some("admin"))] {
        let (link, kpis, ids, qr, etag) = seen_by(user, role).await;
        let code = link["code"].as_str().unwrap();
        assert_ne!(code, alice_code, "{user} got alice's code");
        assert_eq!(qr, link["url"].as_str().unwrap(), "{user}'s QR encodes {user}'s own link");
        assert!(!qr.contains(&alice_code));
        assert_ne!(etag, alice_etag);
        assert_eq!((kpis["total_earned"].as_str(), kpis["signups"].as_i64()), (Some("0.00"), Some(0)), "{user}");
        assert!(ids.is_empty(), "{user} sees {ids:?}");
    }

    // There is no parameter or header that selects another user.
    let mallory = format!("Bearer {}", token("mallory", Some("user"), 600));
    for uri in ["/referrals/kpis?user_id=alice&sub=alice&referrer=alice", "/referrals/history?user=alice&user_id=alice"]
    {
        let v =
            body_json(&dash(&h, uri, Some(&mallory), &[("x-user-id", "alice"), ("x-forwarded-user", "alice")]).await);
        assert!(!v.to_string().contains("p_bob") && !v.to_string().contains("17.50"), "{uri}: {v}");
    }
    // alice's cursor is refused for mallory.
    let alice = format!("Bearer {}", token("alice", None, 600));
    let page = body_json(&dash(&h, "/referrals/history?limit=2", Some(&alice), &[]).await);
    let cursor = page["next_cursor"].as_str().expect("alice has more than 2 rows");
    let stolen = dash(&h, &format!("/referrals/history?cursor={cursor}"), Some(&mallory), &[]).await;
    assert_eq!(stolen.status(), 400);
    assert_eq!(body_json(&stolen)["error"]["code"], "invalid_cursor");
    // A token whose subject is not a valid user id is refused, not mapped to anyone.
    let weird = format!("Bearer {}", token("alice#PROFILE", None, 600));
    assert_eq!(dash(&h, "/referrals/kpis", Some(&weird), &[]).await.status(), 401);
    integration_tests::figures!(
        "RELIABILITY authz_dashboard routes={} callers={} calls={calls} cross_user_leaks=0",
        routes.len(),
        callers().len()
    );
}

/// (case, headers, expected status, expected error code).
type SignedCase<'a> = (&'a str, Vec<(&'a str, String)>, u16, &'a str);

#[tokio::test]
async fn signed_endpoints_accept_only_a_fresh_signature_with_their_own_secret() {
    let h = BillingHarness::new().await;
    let code = h.refer("alice", "bob").await;
    let now = adapters::clock::now().unix_timestamp();
    let admin = format!("Bearer {}", token("ops-1", Some("admin"), 600));
    let topup = BillingHarness::event_body("p_sig", "bob", "20.00", "topup.succeeded");
    let signup = json!({"user_id": "ivy", "ref_code": code.as_str(), "signup_ip": "203.0.113.77"}).to_string();
    let before = h.stack.all_items().await.len();
    let mut calls = 0;
    for (endpoint, body, secret, other_secret) in
        [("webhook", &topup, WEBHOOK_SECRET, SIGNUP_SECRET), ("signup", &signup, SIGNUP_SECRET, WEBHOOK_SECRET)]
    {
        let cases: Vec<SignedCase> = vec![
            ("missing", vec![], 400, "invalid_signature_header"),
            ("malformed", vec![("x-signature", "t=1,v1=zz".into())], 400, "invalid_signature_header"),
            ("bearer token instead", vec![("authorization", admin.clone())], 400, "invalid_signature_header"),
            (
                "wrong secret",
                vec![("x-signature", sign("guessed-secret-000", now, body.as_bytes()))],
                401,
                "invalid_signature",
            ),
            (
                "other endpoint's secret",
                vec![("x-signature", sign(other_secret, now, body.as_bytes()))],
                401,
                "invalid_signature",
            ),
            ("expired", vec![("x-signature", sign(secret, now - 301, body.as_bytes()))], 401, "signature_expired"),
            (
                "from the future",
                vec![("x-signature", sign(secret, now + 301, body.as_bytes()))],
                401,
                "signature_expired",
            ),
        ];
        for (case, headers, status, code) in cases {
            let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let path = if endpoint == "webhook" { "/webhooks/payments" } else { "/signups" };
            let req = request("POST", path, &headers, Body::Text(body.to_string()));
            let resp = match endpoint {
                "webhook" => webhook::handle(&h.billing, &h.webhook_cfg, &req).await,
                _ => signup::handle(h.store(), &h.signup_cfg, &req).await,
            };
            calls += 1;
            assert_eq!(
                (resp.status().as_u16(), body_json(&resp)["error"]["code"].as_str()),
                (status, Some(code)),
                "{endpoint}: {case}"
            );
        }
    }
    assert_eq!(h.stack.all_items().await.len(), before, "no refused call wrote anything");
    assert_eq!(h.wellflow.stats().requests, 0);
    // The genuine calls go through.
    assert_eq!(body_json(&h.deliver_raw(&topup).await)["outcome"], "credited");
    let req = BillingHarness::signed("/signups", &signup, SIGNUP_SECRET);
    assert_eq!(body_json(&signup::handle(h.store(), &h.signup_cfg, &req).await)["attributed"], true);
    println!("RELIABILITY authz_signed endpoints=2 refused_calls={calls} accepted_calls=2");
}

/// Creates an API key for `user` through the real handler; returns (key, key_id).
async fn api_key(h: &BillingHarness, user: &str, scopes: &[&str]) -> (String, String) {
    let auth = format!("Bearer {}", token(user, None, 600));
    let resp = h
        .dash_call_with(
            &h.dashboard(),
            "POST",
            "/referrals/api-keys",
            &[("authorization", &auth)],
            Some(json!({"name": "matrix", "scopes": scopes})),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let v = body_json(&resp);
    (v["key"].as_str().unwrap().to_string(), v["key_id"].as_str().unwrap().to_string())
}

/// The table without the per-key rate windows (every key call counts in one, refused or not).
async fn table_without_rate_windows(h: &BillingHarness) -> Vec<String> {
    let items = h.stack.all_items().await;
    let mut items: Vec<String> = items
        .iter()
        .filter(|item| !matches!(item.get("SK"), Some(AttributeValue::S(sk)) if sk.starts_with("RL#")))
        .map(canon_item)
        .collect();
    items.sort();
    items
}

#[tokio::test]
async fn partner_routes_answer_by_token_kind_and_scope() {
    let h = seeded().await;
    let (read_key, _) = api_key(&h, "alice", &["read"]).await;
    let (campaigns_key, _) = api_key(&h, "alice", &["campaigns"]).await;
    let (revoked_key, revoked_id) = api_key(&h, "alice", &["read", "campaigns"]).await;
    let (zed_key, zed_key_id) = api_key(&h, "zed", &["read", "campaigns"]).await;
    let alice = format!("Bearer {}", token("alice", None, 600));
    let resp = h
        .dash_call_with(
            &h.dashboard(),
            "DELETE",
            &format!("/referrals/api-keys/{revoked_id}"),
            &[("authorization", &alice)],
            None,
        )
        .await;
    assert_eq!(resp.status(), 204);
    let forged_secret = format!("{}{}", &read_key[..read_key.len() - 40], "A".repeat(40));

    let mut key_callers: Vec<(&str, Option<String>)> = callers();
    key_callers.extend([
        ("key read", Some(format!("Bearer {read_key}"))),
        ("key campaigns", Some(format!("Bearer {campaigns_key}"))),
        ("key, revoked", Some(format!("Bearer {revoked_key}"))),
        ("key, wrong secret", Some(format!("Bearer {forged_secret}"))),
        ("key, malformed", Some("Bearer rk_live_nope".to_string())),
    ]);
    let zed_delete = format!("/referrals/api-keys/{zed_key_id}");
    // (route, method, uri, body)
    let routes: Vec<(&str, &str, String, Option<Value>)> = vec![
        ("link", "GET", "/referrals/link".into(), None),
        ("qr.png", "GET", "/referrals/qr.png?size=256".into(), None),
        ("qr.svg", "GET", "/referrals/qr.svg".into(), None),
        ("kpis", "GET", "/referrals/kpis".into(), None),
        ("history", "GET", "/referrals/history".into(), None),
        ("list keys", "GET", "/referrals/api-keys".into(), None),
        ("create key", "POST", "/referrals/api-keys".into(), Some(json!({"name": "m", "scopes": ["read"]}))),
        ("revoke zed's key", "DELETE", zed_delete.clone(), None),
        ("list campaigns", "GET", "/referrals/campaigns".into(), None),
        ("create campaign", "POST", "/referrals/campaigns".into(), Some(json!({"campaign": "matrix"}))),
    ];
    let expected = |caller: &str, route: &str| -> u16 {
        let reads = ["link", "qr.png", "qr.svg", "kpis", "history"].contains(&route);
        let campaigns = route.ends_with("campaigns") || route == "create campaign";
        match caller {
            c if is_forged(c) || c == "key, revoked" || c == "key, malformed" => 401,
            "key read" if reads => 200,
            "key campaigns" if route == "create campaign" => 201,
            "key campaigns" if campaigns => 200,
            c if c.starts_with("key") => 403,
            // Valid session tokens: everything, but zed's key is not theirs.
            _ if route == "revoke zed's key" => 404,
            _ if route == "create key" || route == "create campaign" => 201,
            _ => 200,
        }
    };
    let mut calls = 0;
    let mut campaign_creators = std::collections::HashSet::new();
    for (caller, auth) in &key_callers {
        let before = table_without_rate_windows(&h).await;
        let mut wrote = false;
        for (route, method, uri, body) in &routes {
            let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
            let resp = h.dash_call_with(&h.dashboard(), method, uri, &headers, body.clone()).await;
            calls += 1;
            let mut want = expected(caller, route);
            // alice's session and her campaigns key share one campaign namespace.
            if want == 201 && *route == "create campaign" {
                let owner = if caller.starts_with("key") || *caller == "user alice" { "alice" } else { caller };
                if !campaign_creators.insert(owner.to_string()) {
                    want = 409;
                }
            }
            assert_eq!(resp.status().as_u16(), want, "{method} {uri} as {caller}");
            if want >= 400 {
                assert!(body_json(&resp)["error"]["code"].is_string(), "{route} as {caller}");
            }
            wrote |= want == 201;
        }
        if !wrote {
            assert_eq!(table_without_rate_windows(&h).await, before, "{caller} changed the table");
        }
    }
    // zed's key survived every attempt to revoke it.
    let resp = h.dash_call_with(&h.dashboard(), "GET", "/referrals/link", &[("x-api-key", &zed_key)], None).await;
    assert_eq!(resp.status(), 200);
    // A key reads its owner's data only, whatever the query or headers say.
    let v = body_json(
        &h.dash_call_with(
            &h.dashboard(),
            "GET",
            "/referrals/kpis?user_id=alice",
            &[("x-api-key", &zed_key), ("x-user-id", "alice")],
            None,
        )
        .await,
    );
    assert_eq!(v["total_earned"], "0.00", "zed's key sees zed's numbers: {v}");
    integration_tests::figures!(
        "RELIABILITY authz_partner routes={} callers={} calls={calls} cross_user_leaks=0",
        routes.len(),
        key_callers.len()
    );
}
