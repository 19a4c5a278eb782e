//! Secrets from Secrets Manager (moto), read once per cold start: by the handlers' config code
//! through the harness, and by the real `signup`, `webhook` and `dashboard` binaries started as
//! Lambda starts them. Rotation: a new value put in moto is used by a fresh instance, not by a
//! warm one; a JSON array keeps old and new valid during the overlap.

use adapters::domain::signature::sign;
use adapters::store::Users;
use integration_tests::billing::{BillingHarness, SIGNUP_SECRET, SIGNUP_SECRETS, STRIPE_SECRET, WEBHOOK_SECRET};
use integration_tests::cold_start::{self, http_api_event};
use integration_tests::issuer::LocalIssuer;
use integration_tests::TestStack;
use serde_json::{json, Value};
use signup::SignupConfig;

const NEW_SIGNUP_SECRET: &str = "signup_rotated_secret_0123456789";
const NEW_WEBHOOK_SECRET: &str = "whsec_rotated_secret_0123456789";

/// A signed API Gateway event for a POST of `body` to `path`.
fn signed_event(path: &str, body: &Value, secret: &str) -> Value {
    let body = body.to_string();
    let mut event = http_api_event("POST", path, "", &[], Some(&body));
    event["headers"]["x-signature"] = sign(secret, adapters::clock::now().unix_timestamp(), body.as_bytes()).into();
    event
}

fn signup_event(user: &str, secret: &str) -> Value {
    signed_event("/signups", &json!({"user_id": user, "signup_ip": "203.0.113.9"}), secret)
}

fn webhook_event(payment: &str, secret: &str) -> Value {
    let body = json!({
        "payment_id": payment, "user_id": "nobody-referred", "amount": "50.00", "currency": "USD",
        "type": "topup.succeeded", "occurred_at": "2026-11-25T09:00:00Z"
    });
    signed_event("/webhooks/payments", &body, secret)
}

fn statuses(responses: &[Value]) -> Vec<u64> {
    responses.iter().map(|r| r["statusCode"].as_u64().expect("statusCode")).collect()
}

/// Runs `function` once (blocking work off the async runtime).
async fn cold_start(function: &'static str, env: Vec<(String, String)>, events: Vec<Value>) -> Vec<Value> {
    tokio::task::spawn_blocking(move || cold_start::serve(function, &env, events))
        .await
        .expect("cold start thread")
        .unwrap_or_else(|e| panic!("{function} cold start: {e}"))
}

async fn fails_to_start(function: &'static str, env: Vec<(String, String)>) -> String {
    tokio::task::spawn_blocking(move || cold_start::fails_to_start(function, &env)).await.expect("thread")
}

#[tokio::test]
async fn a_fresh_config_reads_the_rotated_secret_a_warm_one_keeps_its_own() {
    let h = BillingHarness::new().await;
    let signup = |cfg: &SignupConfig, user: &str, secret: &str| {
        let body = json!({"user_id": user, "signup_ip": "203.0.113.9"}).to_string();
        let req = BillingHarness::signed("/signups", &body, secret);
        let store = h.store().clone();
        let cfg = cfg.clone();
        async move { signup::handle(&store, &cfg, &req).await.status().as_u16() }
    };
    let warm = h.signup_cfg.clone(); // read from Secrets Manager when the harness "cold-started"
    assert_eq!(signup(&warm, "u-1", SIGNUP_SECRET).await, 200);

    // Overlapping rotation: the new secret first, the old one still accepted.
    h.stack.put_secret("SignupSigningSecret", &json!([NEW_SIGNUP_SECRET, SIGNUP_SECRET]).to_string()).await;
    let env = h.stack.function_env(&[]);
    let fresh = SignupConfig::from_env(&h.stack.with_secrets(&env, SIGNUP_SECRETS).await).unwrap();
    assert_eq!(signup(&fresh, "u-2", NEW_SIGNUP_SECRET).await, 200, "fresh instance: new secret");
    assert_eq!(signup(&fresh, "u-3", SIGNUP_SECRET).await, 200, "fresh instance: old secret, overlap");
    assert_eq!(signup(&warm, "u-4", NEW_SIGNUP_SECRET).await, 401, "a warm instance read once, at its cold start");
    assert_eq!(signup(&warm, "u-5", SIGNUP_SECRET).await, 200);

    // Rotation done: only the new one.
    h.stack.put_secret("SignupSigningSecret", &json!([NEW_SIGNUP_SECRET]).to_string()).await;
    let done = SignupConfig::from_env(&h.stack.with_secrets(&env, SIGNUP_SECRETS).await).unwrap();
    assert_eq!(signup(&done, "u-6", SIGNUP_SECRET).await, 401, "old secret refused after the rotation");
    assert_eq!(signup(&done, "u-7", NEW_SIGNUP_SECRET).await, 200);
    assert!(
        h.store().user(&adapters::domain::UserId::parse("u-6").unwrap()).await.unwrap().is_none(),
        "refused = nothing written"
    );
    // The value never shows in the environment a function gets.
    assert!(env.values().all(|v| !v.contains(NEW_SIGNUP_SECRET) && !v.contains(SIGNUP_SECRET)));
    assert!(env["SIGNUP_SECRETS_SECRET_ARN"].starts_with("arn:aws:secretsmanager:"));
}

#[tokio::test]
async fn the_signup_webhook_and_dashboard_binaries_read_their_secrets_from_moto() {
    let stack = TestStack::new().await;
    let issuer = LocalIssuer::start("RS256");

    let signup_env = cold_start::lambda_env("signup", &stack.endpoint, &stack.function_env(&[]));
    let out = cold_start("signup", signup_env, vec![signup_event("bin-user-1", SIGNUP_SECRET)]).await;
    assert_eq!(statuses(&out), [200], "{out:?}");

    let webhook_env = cold_start::lambda_env(
        "webhook",
        &stack.endpoint,
        &stack.function_env(&[("WELLFLOW_BASE_URL", "http://127.0.0.1:9")]),
    );
    // The Stripe endpoint's secret is an optional secret of the same list (one line in main.rs).
    let stripe_body = std::fs::read_to_string(
        integration_tests::workspace_root().join("functions/webhook/tests/fixtures/stripe/payment_intent.created.json"),
    )
    .unwrap();
    let mut stripe = http_api_event("POST", "/webhooks/stripe", "", &[], Some(&stripe_body));
    stripe["headers"]["stripe-signature"] =
        webhook::stripe::sign(STRIPE_SECRET, adapters::clock::now().unix_timestamp(), stripe_body.as_bytes()).into();
    let out = cold_start("webhook", webhook_env, vec![webhook_event("bin-pay-1", WEBHOOK_SECRET), stripe]).await;
    assert_eq!(statuses(&out), [200, 200], "{out:?}");
    let body: Value = serde_json::from_str(out[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["outcome"], "not_referred", "signature verified with the secret from moto");

    let mut dash = issuer.verifier_env(&[("LINK_BASE_URL", "https://go.example.com")]);
    dash.extend(stack.function_env(&[]));
    let token = issuer.token("bin-user-1", &[]).await;
    let mut event = http_api_event("GET", "/referrals/link", "", &[], None);
    event["headers"]["authorization"] = format!("Bearer {token}").into();
    let out = cold_start("dashboard", cold_start::lambda_env("dashboard", &stack.endpoint, &dash), vec![event]).await;
    assert_eq!(statuses(&out), [200], "{out:?}");
    let body: Value = serde_json::from_str(out[0]["body"].as_str().unwrap()).unwrap();
    assert!(body["url"].as_str().unwrap().starts_with("https://go.example.com/?ref="), "{body}");
}

#[tokio::test]
async fn a_fresh_function_instance_uses_the_secret_changed_in_moto() {
    let stack = TestStack::new().await;
    let env = cold_start::lambda_env(
        "webhook",
        &stack.endpoint,
        &stack.function_env(&[("WELLFLOW_BASE_URL", "http://127.0.0.1:9")]),
    );
    let out = cold_start("webhook", env.clone(), vec![webhook_event("p-1", WEBHOOK_SECRET)]).await;
    assert_eq!(statuses(&out), [200]);

    // The payment provider rolls its signing secret: new first, old still valid.
    stack.put_secret("WebhookSigningSecret", &json!([NEW_WEBHOOK_SECRET, WEBHOOK_SECRET]).to_string()).await;
    let events = vec![webhook_event("p-2", NEW_WEBHOOK_SECRET), webhook_event("p-3", WEBHOOK_SECRET)];
    assert_eq!(statuses(&cold_start("webhook", env.clone(), events).await), [200, 200], "overlap");

    stack.put_secret("WebhookSigningSecret", NEW_WEBHOOK_SECRET).await;
    let events = vec![webhook_event("p-4", WEBHOOK_SECRET), webhook_event("p-5", NEW_WEBHOOK_SECRET)];
    assert_eq!(statuses(&cold_start("webhook", env, events).await), [401, 200], "old secret retired");

    // A secret still holding the stack's placeholder stops the cold start, with the name.
    stack.put_secret("SignupSigningSecret", r#"{"placeholder": "put the real value"}"#).await;
    let signup_env = cold_start::lambda_env("signup", &stack.endpoint, &stack.function_env(&[]));
    let stderr = fails_to_start("signup", signup_env.clone()).await;
    assert!(stderr.contains("SIGNUP_SECRETS") && stderr.contains("placeholder"), "{stderr}");
    stack.put_secret("SignupSigningSecret", NEW_SIGNUP_SECRET).await;
    let out = cold_start("signup", signup_env, vec![signup_event("u-after-put", NEW_SIGNUP_SECRET)]).await;
    assert_eq!(statuses(&out), [200], "the next cold start after put-secret-value runs");
}

#[tokio::test]
async fn a_function_without_its_secret_arn_or_with_a_secret_value_in_its_environment_does_not_start() {
    let stack = TestStack::new().await;
    let base = stack.function_env(&[]);
    let mut env = cold_start::lambda_env("signup", &stack.endpoint, &base);
    env.retain(|(k, _)| k != "IP_HASH_KEY_SECRET_ARN");
    let stderr = fails_to_start("signup", env).await;
    assert!(stderr.contains("IP_HASH_KEY_SECRET_ARN"), "the error names the variable: {stderr}");

    let mut env = cold_start::lambda_env("signup", &stack.endpoint, &base);
    env.push(("SIGNUP_SECRETS".into(), "plaintext-signup-secret-0123456789".into()));
    let stderr = fails_to_start("signup", env).await;
    assert!(stderr.contains("SIGNUP_SECRETS") && stderr.contains("must not be set"), "{stderr}");
    assert!(!stderr.contains("plaintext-signup-secret"), "the value is never printed: {stderr}");

    // An unreadable secret (wrong ARN) fails the cold start too, naming what it tried.
    let mut env = cold_start::lambda_env("signup", &stack.endpoint, &base);
    for (k, v) in env.iter_mut() {
        if k == "SIGNUP_SECRETS_SECRET_ARN" {
            *v = "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf".into();
        }
    }
    let stderr = fails_to_start("signup", env).await;
    assert!(stderr.contains("SIGNUP_SECRETS_SECRET_ARN") && stderr.contains("missing-AbCdEf"), "{stderr}");
}
