//! Bearer tokens from an identity provider's JWKS, end to end: the real dashboard and admin
//! handlers with `JwtVerifier::from_env` against the local issuer (`infra/local_issuer.py`,
//! what `make dev` runs). Key rotation with an overlap, retirement, `kid` floods, `nbf`, roles
//! and audience claims of Cognito/Auth0 shapes, and an unreachable JWKS.

use std::time::{Duration, Instant};

use adapters::auth::JwtVerifier;
use adapters::store::DynamoStore;
use integration_tests::billing::BillingHarness;
use integration_tests::body_json;
use integration_tests::issuer::LocalIssuer;
use lambda_http::{Body, Response};
use serde_json::json;

fn verifier(issuer: &LocalIssuer, extra: &[(&str, &str)]) -> JwtVerifier {
    JwtVerifier::from_env(&issuer.verifier_env(extra)).expect("JWKS verifier config")
}

async fn link_as(h: &BillingHarness, api: &dashboard::DashboardApi<DynamoStore>, token: &str) -> Response<Body> {
    let auth = format!("Bearer {token}");
    h.dash_call_with(api, "GET", "/referrals/link", &[("authorization", auth.as_str())], None).await
}

fn now() -> i64 {
    adapters::clock::now().unix_timestamp()
}

/// The token's header with its `kid` replaced (signature no longer matches; the verifier
/// must look the kid up first and refuse it as unknown).
fn with_kid(token: &str, kid: &str) -> String {
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (header, rest) = token.split_once('.').expect("JWT");
    let mut h: serde_json::Value = serde_json::from_slice(&engine.decode(header).expect("b64")).expect("json");
    h["kid"] = kid.into();
    format!("{}.{rest}", engine.encode(h.to_string()))
}

#[tokio::test]
async fn rotation_keeps_both_keys_valid_during_the_overlap_then_refuses_the_old_one() {
    let h = BillingHarness::new().await;
    let issuer = LocalIssuer::start("RS256");
    let mut api = h.dashboard();
    // Cache 1 s so retirement shows within the test; refetch on an unknown kid at once.
    api.jwt = verifier(&issuer, &[("JWT_JWKS_CACHE_SECS", "1"), ("JWT_JWKS_MIN_REFETCH_SECS", "0")]);

    let old = issuer.token("alice", &[]).await;
    let resp = link_as(&h, &api, &old).await;
    assert_eq!(resp.status(), 200, "{}", body_json(&resp));
    assert!(body_json(&resp)["url"].as_str().unwrap().starts_with("https://go.example.com/?ref="));

    // The provider publishes a new key (ES256 this time) and signs new tokens with it.
    let new_kid = issuer.rotate("ES256").await;
    let new = issuer.token("alice", &[]).await;
    assert!(new_kid.ends_with("es256"));
    let fetched_before = issuer.jwks_requests().await;
    assert_eq!(link_as(&h, &api, &new).await.status(), 200, "the new kid is fetched on first sight");
    assert!(issuer.jwks_requests().await > fetched_before, "an unknown kid refetched the JWKS");
    assert_eq!(link_as(&h, &api, &old).await.status(), 200, "old tokens still valid during the overlap");

    // The provider retires the old key: once our cache expires, old tokens are refused.
    issuer.retire("local-1-rs256").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let refused = loop {
        let resp = link_as(&h, &api, &old).await;
        assert_eq!(link_as(&h, &api, &new).await.status(), 200, "the new key keeps working throughout");
        if resp.status() == 401 {
            break resp;
        }
        assert_eq!(resp.status(), 200, "until then the cached old key verifies");
        assert!(Instant::now() < deadline, "the retired key was still accepted after 15 s (cache is 1 s)");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let body = body_json(&refused);
    assert_eq!(body["error"]["code"], "unauthorized");
    assert!(body["error"]["message"].as_str().unwrap().contains("unknown signing key"), "{body}");
    // A token the retired key signs now (a leaked key) is refused too.
    let leaked = issuer.mint(json!({"sub": "alice", "ttl": 600, "kid": "local-1-rs256"})).await;
    assert_eq!(link_as(&h, &api, &leaked).await.status(), 401);
}

#[tokio::test]
async fn the_jwks_is_cached_and_unknown_kids_refetch_at_most_once_per_interval() {
    let h = BillingHarness::new().await;
    let issuer = LocalIssuer::start("ES256");
    let token = issuer.token("bob", &[]).await;
    let mut api = h.dashboard();
    api.jwt = verifier(&issuer, &[]); // defaults: cache 10 min, refetch at most every 15 s
    for _ in 0..5 {
        assert_eq!(link_as(&h, &api, &token).await.status(), 200);
    }
    assert_eq!(issuer.jwks_requests().await, 1, "five verifications, one fetch");
    // A flood of tokens with made-up kids right after: refused from the cache, no request.
    for i in 0..25 {
        let resp = link_as(&h, &api, &with_kid(&token, &format!("made-up-{i}"))).await;
        assert_eq!(resp.status(), 401);
        assert_eq!(body_json(&resp)["error"]["code"], "unauthorized");
    }
    assert_eq!(issuer.jwks_requests().await, 1, "unknown kids within 15 s of a fetch cost no request");

    // A fresh instance whose very first token has an unknown kid: one fetch, then the flood
    // and the real token are served from that fetch.
    let mut fresh = h.dashboard();
    fresh.jwt = verifier(&issuer, &[("JWT_JWKS_MIN_REFETCH_SECS", "3600")]);
    for i in 0..25 {
        assert_eq!(link_as(&h, &fresh, &with_kid(&token, &format!("other-{i}"))).await.status(), 401);
    }
    assert_eq!(link_as(&h, &fresh, &token).await.status(), 200, "real tokens unaffected");
    assert_eq!(issuer.jwks_requests().await, 2, "25 unknown kids + 1 real token cost one JWKS request");
}

#[tokio::test]
async fn a_token_not_valid_yet_or_expired_or_for_another_audience_is_401() {
    let h = BillingHarness::new().await;
    let issuer = LocalIssuer::start("RS256");
    let mut api = h.dashboard();
    api.jwt = verifier(&issuer, &[]);
    let cases = [
        ("nbf in an hour", json!({"sub": "carol", "nbf": now() + 3600, "exp": now() + 7200}), "not valid yet"),
        ("expired", json!({"sub": "carol", "exp": now() - 120}), "expired"),
        ("another audience", json!({"sub": "carol", "ttl": 600, "aud": "another-app"}), "invalid token"),
        ("another issuer", json!({"sub": "carol", "ttl": 600, "iss": "https://evil.example"}), "invalid token"),
    ];
    for (name, request, message) in cases {
        let resp = link_as(&h, &api, &issuer.mint(request).await).await;
        assert_eq!(resp.status(), 401, "{name}");
        let body = body_json(&resp);
        assert_eq!(body["error"]["code"], "unauthorized", "{name}");
        assert!(body["error"]["message"].as_str().unwrap().contains(message), "{name}: {body}");
    }
    // The same token with nbf in the past is fine, and nothing was created for the refused ones.
    let ok = issuer.mint(json!({"sub": "carol", "nbf": now() - 60, "ttl": 600})).await;
    assert_eq!(link_as(&h, &api, &ok).await.status(), 200);
}

#[tokio::test]
async fn roles_and_audience_come_from_the_configured_claims() {
    let h = BillingHarness::new().await;
    let issuer = LocalIssuer::start("RS256");
    // Cognito access tokens: groups in cognito:groups, the app client in client_id.
    let mut admin = h.admin();
    admin.jwt = verifier(
        &issuer,
        &[
            ("JWT_AUDIENCE", "app-client-1"),
            ("JWT_AUDIENCE_CLAIM", "client_id"),
            ("JWT_ROLES_CLAIM", "cognito:groups"),
            ("JWT_ADMIN_ROLE", "referral-admins"),
        ],
    );
    let call = |token: String| {
        let admin = &admin;
        async move {
            let auth = format!("Bearer {token}");
            let req = integration_tests::requests::request(
                "GET",
                "/admin/bonuses?status=pending",
                &[("authorization", auth.as_str())],
                Body::Empty,
            );
            admin::handle(admin, &req).await
        }
    };
    let cognito = |groups: serde_json::Value, client: &str| json!({"sub": "ops-1", "ttl": 600, "claims": {"cognito:groups": groups, "client_id": client}});
    let ok = call(issuer.mint(cognito(json!(["staff", "referral-admins"]), "app-client-1")).await).await;
    assert_eq!(ok.status(), 200, "{}", body_json(&ok));
    let not_admin = call(issuer.mint(cognito(json!(["staff"]), "app-client-1")).await).await;
    assert_eq!(not_admin.status(), 403);
    // `roles: ["admin"]` means nothing once the roles claim is cognito:groups.
    let other_claim = call(
        issuer
            .mint(json!({"sub": "ops-1", "ttl": 600, "roles": ["admin"],
        "claims": {"client_id": "app-client-1"}}))
            .await,
    )
    .await;
    assert_eq!(other_claim.status(), 403);
    let other_client = call(issuer.mint(cognito(json!(["referral-admins"]), "app-client-2")).await).await;
    assert_eq!(other_client.status(), 401);
}

#[tokio::test]
async fn an_unreachable_jwks_is_503_not_401() {
    let h = BillingHarness::new().await;
    let issuer = LocalIssuer::start("RS256");
    let token = issuer.token("dave", &[]).await;
    let env = issuer.verifier_env(&[]);
    drop(issuer); // the provider is down before our first fetch
    let mut api = h.dashboard();
    api.jwt = JwtVerifier::from_env(&env).unwrap();
    let resp = link_as(&h, &api, &token).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(body_json(&resp)["error"]["code"], "temporarily_unavailable");
}
