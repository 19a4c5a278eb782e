//! Partner API against moto, through the real dashboard and redirect handlers: API keys are
//! shown once and stored hashed, read the same data as the session token, are refused when
//! wrong, malformed, revoked or out of scope, capped at 10 active per user (also under
//! concurrency) and rate-limited per key; campaign links count clicks per campaign in one
//! DynamoDB round trip and keep `utm_campaign` in the redirect.

use std::collections::HashMap;

use adapters::domain::api_key::hash_secret;
use adapters::domain::{RefCode, UserId};
use adapters::store::keys::{self, CLICK_SHARDS};
use adapters::store::{DynamoStore, Users};
use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::billing::{token, BillingHarness};
use integration_tests::counting::{counted_client, CallCounter};
use integration_tests::seed::seeded_mix;
use integration_tests::stack::{num, text};
use integration_tests::{body_json, get, header};
use lambda_http::{Body, Response};
use serde_json::{json, Value};

fn jwt(user: &str) -> String {
    format!("Bearer {}", token(user, None, 600))
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

async fn call(h: &BillingHarness, method: &str, uri: &str, auth: &str, body: Option<Value>) -> Response<Body> {
    h.dash_call_with(&h.dashboard(), method, uri, &[("authorization", auth)], body).await
}

/// Creates a key for `user` with `scopes` (JWT) and returns the whole 201 body.
async fn create_key(h: &BillingHarness, user: &str, scopes: &[&str]) -> Value {
    let resp =
        call(h, "POST", "/referrals/api-keys", &jwt(user), Some(json!({"name": "partner sync", "scopes": scopes})))
            .await;
    assert_eq!(resp.status(), 201, "{:?}", resp.body());
    body_json(&resp)
}

fn error_code(resp: &Response<Body>) -> String {
    body_json(resp)["error"]["code"].as_str().unwrap_or_default().to_string()
}

fn body_bytes(resp: &Response<Body>) -> Vec<u8> {
    match resp.body() {
        Body::Text(t) => t.as_bytes().to_vec(),
        Body::Binary(b) => b.clone(),
        _ => Vec::new(),
    }
}

/// Every string value anywhere in the item (maps and lists included).
fn strings(value: &AttributeValue, out: &mut Vec<String>) {
    match value {
        AttributeValue::S(s) => out.push(s.clone()),
        AttributeValue::M(m) => m.values().for_each(|v| strings(v, out)),
        AttributeValue::L(l) => l.iter().for_each(|v| strings(v, out)),
        AttributeValue::Ss(ss) => out.extend(ss.iter().cloned()),
        _ => {}
    }
}

#[tokio::test]
async fn a_key_is_shown_once_stored_hashed_and_reads_what_the_session_reads() {
    let h = BillingHarness::new().await;
    seeded_mix(&h).await;

    let created = create_key(&h, "alice", &["read"]).await;
    let key = created["key"].as_str().unwrap().to_string();
    let key_id = created["key_id"].as_str().unwrap().to_string();
    assert!(key.starts_with(&format!("rk_live_{key_id}_")), "{key}");
    let secret = key.rsplit('_').next().unwrap().to_string();
    assert!(secret.len() >= 32);
    assert_eq!(created["scopes"], json!(["read"]));
    assert_eq!(created["revoked_at"], Value::Null);
    assert!(created["hint"].as_str().unwrap().starts_with(&format!("rk_live_{key_id}_")));

    // Shown once: the listing has no secret, and nothing in the table holds it.
    let list = body_json(&call(&h, "GET", "/referrals/api-keys", &jwt("alice"), None).await);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["key_id"], key_id.as_str());
    assert!(list["items"][0].get("key").is_none());
    assert!(!list.to_string().contains(&secret));
    let items = h.stack.all_items().await;
    let mut all_strings = Vec::new();
    for item in &items {
        item.values().for_each(|v| strings(v, &mut all_strings));
    }
    assert!(!all_strings.iter().any(|s| s.contains(&secret)), "the secret is stored nowhere");
    let stored = h.stack.item(&format!("APIKEY#{key_id}"), "APIKEY").await.expect("key item");
    assert_eq!(text(&stored, "secret_hash"), hash_secret(&secret), "SHA-256 of the secret at rest");
    assert_eq!(text(&stored, "owner_id"), "alice");
    let listing = h.stack.item("USER#alice", &format!("APIKEY#{key_id}")).await.expect("listing row");
    assert!(!listing.contains_key("secret_hash"), "the listing row carries no hash");

    // The key reads exactly what alice's session reads.
    for route in ["/referrals/link", "/referrals/kpis", "/referrals/history?limit=100", "/referrals/qr.svg"] {
        let with_jwt = call(&h, "GET", route, &jwt("alice"), None).await;
        let with_key = call(&h, "GET", route, &bearer(&key), None).await;
        let with_header = h.dash_call_with(&h.dashboard(), "GET", route, &[("x-api-key", &key)], None).await;
        assert_eq!(with_jwt.status(), 200, "{route}");
        for resp in [&with_key, &with_header] {
            assert_eq!(resp.status(), 200, "{route}");
            assert_eq!(body_bytes(resp), body_bytes(&with_jwt), "{route}");
        }
    }
    let png_jwt = call(&h, "GET", "/referrals/qr.png?size=256", &jwt("alice"), None).await;
    let png_key = call(&h, "GET", "/referrals/qr.png?size=256", &bearer(&key), None).await;
    assert_eq!((png_key.status(), header(&png_key, "etag")), (png_jwt.status(), header(&png_jwt, "etag")));
    assert_eq!(body_bytes(&png_key), body_bytes(&png_jwt));
    assert_eq!(body_json(&call(&h, "GET", "/referrals/kpis", &bearer(&key), None).await)["total_earned"], "17.50");

    // A key call adds one round trip (key GetItem ∥ rate-window UpdateItem) to the route's own.
    h.calls.reset();
    call(&h, "GET", "/referrals/kpis", &jwt("alice"), None).await;
    let jwt_calls = h.calls.take();
    call(&h, "GET", "/referrals/kpis", &bearer(&key), None).await;
    let mut key_calls = h.calls.take();
    key_calls.sort();
    let mut expected: Vec<String> = jwt_calls.iter().cloned().chain(["GetItem".into(), "UpdateItem".into()]).collect();
    expected.sort();
    assert_eq!(key_calls, expected);

    // Wrong secret, malformed, unknown id → 401; never the data.
    let wrong = format!("rk_live_{key_id}_{}", "A".repeat(40));
    let unknown = format!("rk_live_zzzzzzzzzzzz_{secret}");
    for bad in [wrong.as_str(), "rk_live_short", unknown.as_str(), &format!("{key}x")] {
        let resp = call(&h, "GET", "/referrals/kpis", &bearer(bad), None).await;
        assert_eq!((resp.status().as_u16(), error_code(&resp).as_str()), (401, "unauthorized"), "{bad}");
        assert!(!body_json(&resp).to_string().contains(&secret));
    }
    let both = h
        .dash_call_with(
            &h.dashboard(),
            "GET",
            "/referrals/kpis",
            &[("x-api-key", &key), ("authorization", &jwt("bob"))],
            None,
        )
        .await;
    assert_eq!(both.status(), 401, "two credentials are refused, not merged");

    // A read key cannot touch campaigns (403) nor manage keys (403).
    for (method, uri, body) in [
        ("GET", "/referrals/campaigns", None),
        ("POST", "/referrals/campaigns", Some(json!({"campaign": "x"}))),
        ("GET", "/referrals/api-keys", None),
        ("POST", "/referrals/api-keys", Some(json!({"name": "n", "scopes": ["read"]}))),
        ("DELETE", &format!("/referrals/api-keys/{key_id}"), None),
    ] {
        let resp = call(&h, method, uri, &bearer(&key), body).await;
        assert_eq!(resp.status(), 403, "{method} {uri}");
        assert!(matches!(error_code(&resp).as_str(), "insufficient_scope" | "forbidden"), "{method} {uri}");
    }

    // Another user cannot revoke alice's key: 404, and it keeps working.
    let resp = call(&h, "DELETE", &format!("/referrals/api-keys/{key_id}"), &jwt("mallory"), None).await;
    assert_eq!((resp.status().as_u16(), error_code(&resp).as_str()), (404, "api_key_not_found"));
    assert!(h.stack.item("USER#mallory", &format!("APIKEY#{key_id}")).await.is_none(), "nothing written for mallory");
    assert_eq!(call(&h, "GET", "/referrals/link", &bearer(&key), None).await.status(), 200);
    // A well-formed id nobody has is 404; one that is not a key id at all is 400 (ids are
    // validated, after percent-decoding, before any lookup: docs/api/input-policy.md).
    let resp = call(&h, "DELETE", "/referrals/api-keys/zzzzzzzzzzzz", &jwt("alice"), None).await;
    assert_eq!((resp.status().as_u16(), error_code(&resp).as_str()), (404, "api_key_not_found"));
    let resp = call(&h, "DELETE", "/referrals/api-keys/not-an-id", &jwt("alice"), None).await;
    assert_eq!((resp.status().as_u16(), error_code(&resp).as_str()), (400, "invalid_key_id"));

    // Revocation is immediate and idempotent.
    let resp = call(&h, "DELETE", &format!("/referrals/api-keys/{key_id}"), &jwt("alice"), None).await;
    assert_eq!(resp.status(), 204);
    let resp = call(&h, "GET", "/referrals/link", &bearer(&key), None).await;
    assert_eq!(resp.status(), 401);
    assert!(body_json(&resp)["error"]["message"].as_str().unwrap().contains("revoked"));
    assert_eq!(call(&h, "DELETE", &format!("/referrals/api-keys/{key_id}"), &jwt("alice"), None).await.status(), 204);
    let list = body_json(&call(&h, "GET", "/referrals/api-keys", &jwt("alice"), None).await);
    assert!(list["items"][0]["revoked_at"].is_string());
    let counter = h.stack.item("USER#alice", "APIKEYS").await.unwrap();
    assert_eq!(num(&counter, "active"), 0);

    // Bad creation bodies: 400 with the reason, nothing written.
    let before = h.stack.all_items().await.len();
    for (body, code) in [
        (json!({"name": "x", "scopes": ["admin"]}), "invalid_scopes"),
        (json!({"name": "x", "scopes": []}), "invalid_scopes"),
        (json!({"name": "  ", "scopes": ["read"]}), "invalid_name"),
        (json!({"name": "x".repeat(65), "scopes": ["read"]}), "invalid_name"),
        (json!({"name": "x"}), "invalid_body"),
    ] {
        let resp = call(&h, "POST", "/referrals/api-keys", &jwt("alice"), Some(body.clone())).await;
        assert_eq!((resp.status().as_u16(), error_code(&resp).as_str()), (400, code), "{body}");
    }
    assert_eq!(h.stack.all_items().await.len(), before);
    assert_eq!(call(&h, "PUT", "/referrals/api-keys", &jwt("alice"), None).await.status(), 405);
    assert_eq!(call(&h, "POST", "/referrals/kpis", &jwt("alice"), None).await.status(), 405);
}

#[tokio::test]
async fn at_most_ten_active_keys_even_when_created_concurrently() {
    let h = BillingHarness::new().await;
    let api = h.dashboard();
    let auth = jwt("alice");
    let headers = [("authorization", auth.as_str())];
    let body = json!({"name": "k", "scopes": ["read", "campaigns"]});
    let calls = (0..12).map(|_| h.dash_call_with(&api, "POST", "/referrals/api-keys", &headers, Some(body.clone())));
    let responses = futures::future::join_all(calls).await;
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    for resp in &responses {
        *statuses.entry(resp.status().as_u16()).or_default() += 1;
        if resp.status() == 409 {
            assert_eq!(error_code(resp), "api_key_limit");
        }
    }
    assert_eq!(statuses, HashMap::from([(201, 10), (409, 2)]));
    assert_eq!(num(&h.stack.item("USER#alice", "APIKEYS").await.unwrap(), "active"), 10);
    let keys: Vec<_> = h.stack.all_items().await.into_iter().filter(|i| text(i, "SK") == "APIKEY").collect();
    assert_eq!(keys.len(), 10, "refused creations wrote no key");

    // Revoking one frees a slot; other users have their own ten.
    let first = responses.iter().find(|r| r.status() == 201).map(body_json).unwrap();
    let uri = format!("/referrals/api-keys/{}", first["key_id"].as_str().unwrap());
    assert_eq!(call(&h, "DELETE", &uri, &auth, None).await.status(), 204);
    create_key(&h, "alice", &["read"]).await;
    let resp = call(&h, "POST", "/referrals/api-keys", &auth, Some(body.clone())).await;
    assert_eq!(resp.status(), 409);
    create_key(&h, "bob", &["read"]).await;
}

#[tokio::test]
async fn each_key_is_rate_limited_per_minute_and_sessions_are_not() {
    let h = BillingHarness::new().await;
    let mut api = h.dashboard();
    api.cfg.api_key_rate_per_minute = 3;
    let key = create_key(&h, "alice", &["read"]).await;
    let other = create_key(&h, "alice", &["read"]).await;
    let (key, key_id) = (key["key"].as_str().unwrap().to_string(), key["key_id"].as_str().unwrap().to_string());
    let other = other["key"].as_str().unwrap().to_string();

    // The windows are unix minutes: start with at least 20 s of this one left.
    while adapters::clock::now().unix_timestamp() % 60 > 40 {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let minute = adapters::clock::now().unix_timestamp() / 60;
    let auth = bearer(&key);
    for i in 0..3 {
        let resp = h.dash_call_with(&api, "GET", "/referrals/link", &[("authorization", &auth)], None).await;
        assert_eq!(resp.status(), 200, "call {i}");
    }
    let refused = h.dash_call_with(&api, "GET", "/referrals/link", &[("authorization", &auth)], None).await;
    assert_eq!((refused.status().as_u16(), error_code(&refused).as_str()), (429, "rate_limited"));
    let retry_after: i64 = header(&refused, "retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(adapters::clock::now().unix_timestamp() / 60, minute, "still the same window");

    let window = h.stack.item(&format!("APIKEY#{key_id}"), &format!("RL#{minute}")).await.expect("window item");
    assert_eq!(num(&window, "n"), 3, "refused calls are not counted");
    assert_eq!(num(&window, "expires_at"), (minute + 2) * 60, "TTL a minute after the window");

    // Another key of the same user has its own budget; the session is never limited.
    let resp = h.dash_call_with(&api, "GET", "/referrals/link", &[("authorization", &bearer(&other))], None).await;
    assert_eq!(resp.status(), 200);
    let session = jwt("alice");
    for _ in 0..5 {
        let resp = h.dash_call_with(&api, "GET", "/referrals/link", &[("authorization", &session)], None).await;
        assert_eq!(resp.status(), 200);
    }
}

fn redirect_config() -> redirect::RedirectConfig {
    redirect::RedirectConfig {
        site_origin: url::Url::parse("https://www.example.com").unwrap(),
        cookie_domain: None,
        touch: redirect::Touch::First,
    }
}

#[tokio::test]
async fn campaign_links_count_clicks_per_campaign_in_one_round_trip() {
    let h = BillingHarness::new().await;
    let campaigns_key = create_key(&h, "alice", &["campaigns"]).await["key"].as_str().unwrap().to_string();

    // One campaign with the session, one with a `campaigns` key.
    let a = call(&h, "POST", "/referrals/campaigns", &jwt("alice"), Some(json!({"campaign": "spring-sale"}))).await;
    assert_eq!(a.status(), 201);
    let a = body_json(&a);
    let code = h.store().ensure_code(&UserId::parse("alice").unwrap()).await.unwrap();
    assert_eq!(a["url"], format!("https://go.example.com/?ref={code}&utm_campaign=spring-sale"));
    let b = call(&h, "POST", "/referrals/campaigns", &bearer(&campaigns_key), Some(json!({"campaign": "b_2"}))).await;
    assert_eq!(b.status(), 201);
    // The campaigns key cannot read the link or KPIs (no `read` scope).
    assert_eq!(call(&h, "GET", "/referrals/kpis", &bearer(&campaigns_key), None).await.status(), 403);

    // Invalid and duplicate names: 400 / 409, nothing written.
    let before = h.stack.all_items().await;
    for bad in ["", "Spring", "-x", "a b", "a.b", &"a".repeat(41)] {
        let resp = call(&h, "POST", "/referrals/campaigns", &jwt("alice"), Some(json!({"campaign": bad}))).await;
        assert_eq!((resp.status().as_u16(), error_code(&resp).as_str()), (400, "invalid_campaign"), "{bad:?}");
    }
    let dup = call(&h, "POST", "/referrals/campaigns", &jwt("alice"), Some(json!({"campaign": "b_2"}))).await;
    assert_eq!((dup.status().as_u16(), error_code(&dup).as_str()), (409, "campaign_exists"));
    assert_eq!(h.stack.all_items().await.len(), before.len());
    // Every shard carries a zero counter per campaign, born with the campaign.
    for shard in 0..CLICK_SHARDS {
        let item = h.stack.item(&keys::click_shard_pk(&code, shard), keys::SK_CLICKS).await.unwrap();
        assert_eq!((num(&item, "camp_spring-sale"), num(&item, "camp_b_2")), (0, 0));
    }

    // Clicks through the REAL redirect handler, each DynamoDB call counted.
    let calls = CallCounter::default();
    let store = DynamoStore::new(counted_client(&h.stack.sdk, &calls), h.stack.table().to_string());
    let cfg = redirect_config();
    let clicks = [("spring-sale", 3), ("b_2", 2), ("zzz", 1)];
    for (campaign, times) in clicks {
        for _ in 0..times {
            calls.reset();
            let uri = format!("/pricing?ref={code}&utm_campaign={campaign}&utm_source=partner");
            let resp = redirect::handle(&store, &cfg, &get(&uri, &[])).await;
            assert_eq!(resp.status(), 302);
            assert_eq!(
                header(&resp, "location").unwrap(),
                format!("https://www.example.com/pricing?utm_campaign={campaign}&utm_source=partner"),
                "utm parameters are kept"
            );
            assert!(header(&resp, "set-cookie").is_some());
            let ops = calls.take();
            if campaign == "zzz" {
                // Unregistered: the conditional campaign update fails, the plain click counts.
                assert_eq!(ops, ["UpdateItem", "UpdateItem"], "{campaign}");
            } else {
                assert_eq!(ops, ["UpdateItem"], "a campaign click is one round trip");
            }
        }
    }
    calls.reset();
    let resp = redirect::handle(&store, &cfg, &get(&format!("/?ref={code}"), &[])).await;
    assert_eq!((resp.status().as_u16(), calls.take().len()), (302, 1));
    // A malformed campaign name is just not a campaign: one plain click would count; unknown code writes nothing.
    let unknown = RefCode::parse("ZZZZZZ").unwrap();
    calls.reset();
    redirect::handle(&store, &cfg, &get(&format!("/?ref={unknown}&utm_campaign=spring-sale"), &[])).await;
    assert_eq!(calls.take(), ["UpdateItem"], "an unknown code costs one round trip and writes nothing");
    assert!(h.stack.all_items().await.iter().all(|i| !text(i, "PK").contains(unknown.as_str())));

    // Per-campaign counts 3 / 2, total 7 (3 + 2 + unregistered 1 + plain 1).
    let list = call(&h, "GET", "/referrals/campaigns", &jwt("alice"), None).await;
    assert_eq!(list.status(), 200);
    let list = body_json(&list);
    let counts: HashMap<String, i64> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["campaign"].as_str().unwrap().to_string(), c["clicks"].as_i64().unwrap()))
        .collect();
    assert_eq!(counts, HashMap::from([("spring-sale".to_string(), 3), ("b_2".to_string(), 2)]));
    let via_key = body_json(&call(&h, "GET", "/referrals/campaigns", &bearer(&campaigns_key), None).await);
    assert_eq!(via_key, list, "the campaigns key sees the same list");
    assert_eq!(body_json(&call(&h, "GET", "/referrals/kpis", &jwt("alice"), None).await)["clicks"], 7);
    // The unregistered name grew no item.
    for shard in 0..CLICK_SHARDS {
        let item = h.stack.item(&keys::click_shard_pk(&code, shard), keys::SK_CLICKS).await.unwrap();
        assert!(!item.contains_key("camp_zzz"));
    }
    // Another user's campaigns are their own.
    let mallory = body_json(&call(&h, "GET", "/referrals/campaigns", &jwt("mallory"), None).await);
    assert_eq!(mallory["items"], json!([]));

    // At most 20 campaigns per code.
    for i in 0..18 {
        let resp =
            call(&h, "POST", "/referrals/campaigns", &jwt("alice"), Some(json!({"campaign": format!("c{i}")}))).await;
        assert_eq!(resp.status(), 201, "campaign {i}");
    }
    let resp = call(&h, "POST", "/referrals/campaigns", &jwt("alice"), Some(json!({"campaign": "one-too-many"}))).await;
    assert_eq!((resp.status().as_u16(), error_code(&resp).as_str()), (409, "campaign_limit"));
    assert!(h.stack.item("USER#alice", "CAMPAIGN#one-too-many").await.is_none());
    assert_eq!(
        body_json(&call(&h, "GET", "/referrals/campaigns", &jwt("alice"), None).await)["items"]
            .as_array()
            .unwrap()
            .len(),
        20
    );
}
