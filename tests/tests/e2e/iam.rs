//! IAM versus calls: each function is built exactly as its `main.rs` builds it
//! (`<crate>::App::from_env` — secrets from Secrets Manager included) on an SDK whose HTTP
//! client records every AWS request ([`integration_tests::iam::Recorder`]), driven through
//! every path that reaches AWS (the money paths, failures, conflicts, each route), and the
//! permissions it used are compared with its policy in `template.yaml`: nothing used without a
//! grant (AccessDenied in production), nothing granted and never used (least privilege). Calls
//! Lambda makes on a function's behalf (the SQS and stream event source mappings, logs) are
//! SAM's, not the code's, and are not part of the comparison.

use std::collections::HashMap;

use adapters::domain::BonusPolicy;
use fake_wellflow::Fault;
use integration_tests::billing::{BillingHarness, REFERRER_IP, WEBHOOK_SECRET};
use integration_tests::body_json;
use integration_tests::iam::Recording;
use integration_tests::issuer::LocalIssuer;
use integration_tests::requests::request;
use lambda_http::Body;
use serde_json::json;

/// The function's environment on this stack (names and ARNs, never a value) plus `extra`.
fn env(h: &BillingHarness, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut env = h.stack.function_env(&[("WELLFLOW_BASE_URL", &h.wellflow.base_url), ("STRIPE_LIVEMODE", "false")]);
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

/// Registers `user`'s partner endpoint (`bonus.credited`) through the harness's dashboard;
/// returns its signing secret.
async fn register_endpoint(h: &BillingHarness, user: &str, url: &str) -> String {
    let body = json!({"url": url, "events": ["bonus.credited"]});
    let resp = h.dash_call("PUT", "/referrals/webhook", Some(user), Some(body)).await;
    assert_eq!(resp.status(), 200, "{}", body_json(&resp));
    body_json(&resp)["secret"].as_str().expect("secret shown on creation").to_string()
}

fn json_request(method: &str, uri: &str, token: Option<&str>, body: Option<serde_json::Value>) -> lambda_http::Request {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    request(method, uri, &headers, body.map(|b| Body::Text(b.to_string())).unwrap_or(Body::Empty))
}

#[tokio::test]
async fn the_redirect_calls_exactly_what_its_policy_allows() {
    let h = BillingHarness::new().await;
    let code = h.refer("alice", "bob").await;
    let rec = Recording::new(&h.stack);
    let app = redirect::App::from_env(&env(&h, &[("SITE_ORIGIN", "https://www.example.com")]), &rec.sdk).unwrap();
    for query in [format!("ref={code}"), "ref=ZZZZZZ".into(), String::new()] {
        let resp = app.handle(&request("GET", &format!("/?{query}"), &[], Body::Empty)).await;
        assert_eq!(resp.status(), 302, "{query}");
    }
    rec.assert_policy_of("RedirectFunction");
}

#[tokio::test]
async fn the_signup_calls_exactly_what_its_policy_allows() {
    let h = BillingHarness::new().await;
    let code = h.refer("alice", "bob").await;
    let rec = Recording::new(&h.stack);
    let app = signup::App::from_env(&env(&h, &[]), &rec.sdk).await.unwrap();
    for (user, ref_code, ip) in [
        ("carol", Some(code.as_str()), "203.0.113.77"),
        ("dave", Some("ZZZZZZ"), "203.0.113.78"),
        ("erin", None, "203.0.113.79"),
        ("puppet", Some(code.as_str()), REFERRER_IP),
        ("carol", Some(code.as_str()), "203.0.113.77"),
    ] {
        let body = json!({ "user_id": user, "ref_code": ref_code, "signup_ip": ip }).to_string();
        let resp =
            app.handle(&BillingHarness::signed("/signups", &body, integration_tests::billing::SIGNUP_SECRET)).await;
        assert_eq!(resp.status(), 200, "{user}: {}", body_json(&resp));
    }
    rec.assert_policy_of("SignupFunction");
}

#[tokio::test]
async fn the_webhook_calls_exactly_what_its_policy_allows() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    h.refer("alice", "u_1").await; // the Stripe fixtures' customer
    h.refer_from("alice", "puppet", REFERRER_IP).await;
    // Tiers and a partner endpoint: the top-up reads the tier table and writes outbox items.
    let ops = integration_tests::billing::token("ops", Some("admin"), 600);
    let tiers = json!({"tiers": [{"up_to": "1000.00", "rate": "0.05"}, {"up_to": null, "rate": "0.07"}]});
    let resp = h.admin_call("PUT", "/admin/rate-tiers", Some(&ops), Some(tiers)).await;
    assert_eq!(resp.status(), 200, "{}", body_json(&resp));
    register_endpoint(&h, "alice", "http://127.0.0.1:9/hook").await;

    let rec = Recording::new(&h.stack);
    let app = webhook::App::from_env(&env(&h, &[]), &rec.sdk).await.unwrap();
    let deliver = |payment: &str, user: &str, amount: &str, kind: &str| {
        let req = BillingHarness::signed(
            "/webhooks/payments",
            &BillingHarness::event_body(payment, user, amount, kind),
            WEBHOOK_SECRET,
        );
        let app = &app;
        async move { app.handle(&req).await }
    };
    assert_eq!(deliver("iam_p1", "bob", "50.00", "topup.succeeded").await.status(), 200); // first
    assert_eq!(deliver("iam_p2", "bob", "30.00", "topup.succeeded").await.status(), 200); // repeat
    assert_eq!(deliver("iam_p2", "bob", "30.00", "topup.succeeded").await.status(), 200); // duplicate
    assert_eq!(deliver("iam_p2", "bob", "30.00", "topup.refunded").await.status(), 200); // refund
    assert_eq!(deliver("iam_h1", "puppet", "50.00", "topup.succeeded").await.status(), 200); // held
    assert_eq!(deliver("iam_x1", "nobody", "50.00", "topup.succeeded").await.status(), 200); // unreferred
                                                                                             // A rate change: bob's copy of the referrer context is refused by the write's condition.
    let resp = h.admin_call("PUT", "/admin/referrers/alice/rate", Some(&ops), Some(json!({"rate": "0.08"}))).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(deliver("iam_p3", "bob", "40.00", "topup.succeeded").await.status(), 200);
    // Wellflow down: the failure is recorded with its retry in the outbox.
    h.wellflow.set_fault(Fault::Unavailable);
    assert_eq!(deliver("iam_p4", "bob", "40.00", "topup.succeeded").await.status(), 200);
    h.wellflow.set_fault(Fault::Ok);
    // A dispute, and Stripe's endpoint.
    assert_eq!(deliver("iam_p1", "bob", "50.00", "topup.disputed").await.status(), 200);
    let resp = app.handle(&BillingHarness::stripe_request(&crate::stripe::fixture("payment_intent.succeeded"))).await;
    assert_eq!(resp.status(), 200, "{}", body_json(&resp));
    rec.assert_policy_of("WebhookFunction");
}

#[tokio::test]
async fn the_credit_retry_calls_exactly_what_its_policy_allows() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    h.wellflow.set_fault(Fault::Unavailable);
    h.topup("iam_r1", "bob", "50.00").await;
    h.drain_outbox().await;
    let queue = h.stack.queue_url("CreditRetryQueue").to_string();
    // A message that can never succeed: sent back at once (visibility 0) towards the DLQ.
    h.stack.sqs.send_message().queue_url(&queue).message_body(r#"{"not":"a retry"}"#).send().await.unwrap();
    let rec = Recording::new(&h.stack);
    let app = credit_retry::App::from_env(&env(&h, &[("RETRY_BASE_DELAY_SECS", "0")]), &rec.sdk).await.unwrap();
    let run = || async {
        let _ = local_stack::esm::poll_once(&h.stack.sqs, &queue, 0, |e| async { Ok(app.handle(e).await) }).await;
        h.drain_outbox().await;
    };
    // Wellflow still down: the attempt is recorded as failed with its next retry in the outbox.
    run().await;
    h.wellflow.set_fault(Fault::Ok);
    integration_tests::poll_until(std::time::Duration::from_secs(20), || async {
        run().await;
        h.bonus("iam_r1").await.is_some_and(|b| b.status == adapters::domain::BonusStatus::Credited)
    })
    .await;
    assert!(h.bonus("iam_r1").await.unwrap().attempts >= 2);
    rec.assert_policy_of("CreditRetryFunction");
}

#[tokio::test]
async fn the_admin_api_calls_exactly_what_its_policy_allows() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    for (i, user) in ["p1", "p2", "p3", "p4"].iter().enumerate() {
        h.refer_from("alice", user, REFERRER_IP).await;
        h.topup(&format!("iam_a{i}"), user, "50.00").await;
    }
    h.refer("carol", "dave").await; // carol gets a code: bob can be re-attributed to her
    let issuer = LocalIssuer::start("RS256");
    let rec = Recording::new(&h.stack);
    let env: HashMap<String, String> = issuer.verifier_env(&[]).into_iter().chain(env(&h, &[])).collect();
    let app = admin::App::from_env(&env, &rec.sdk).await.unwrap();
    let ops = issuer.token("ops-1", &["admin"]).await;
    let call = |method: &str, uri: &str, body: Option<serde_json::Value>| {
        let req = json_request(method, uri, Some(&ops), body);
        let app = &app;
        async move { admin::handle(app, &req).await }
    };
    for (method, uri, body, want) in [
        ("GET", "/admin/bonuses?status=pending", None, 200),
        ("GET", "/admin/bonuses?status=failed", None, 200),
        ("POST", "/admin/bonuses/iam_a0/approve", Some(json!({"note": "checked"})), 200),
        ("POST", "/admin/bonuses/iam_a1/reject", Some(json!({"reason": "fraud"})), 200),
        ("POST", "/admin/bonuses/bulk", Some(json!({"action": "approve", "payment_ids": ["iam_a2", "iam_a3"]})), 200),
        ("PUT", "/admin/referrers/alice/rate", Some(json!({"rate": "0.07"})), 200),
        ("POST", "/admin/attributions/bob", Some(json!({"referrer_id": "carol", "note": "support ticket"})), 200),
        ("GET", "/admin/rate-tiers", None, 200),
        ("PUT", "/admin/rate-tiers", Some(json!({"tiers": [{"up_to": null, "rate": "0.05"}]})), 200),
        ("DELETE", "/admin/rate-tiers", None, 200),
    ] {
        let resp = call(method, uri, body).await;
        assert_eq!(resp.status(), want, "{method} {uri}: {}", body_json(&resp));
    }
    rec.assert_policy_of("AdminFunction");
}

#[tokio::test]
async fn the_dashboard_calls_exactly_what_its_policy_allows() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    h.topup("iam_d1", "bob", "50.00").await;
    let issuer = LocalIssuer::start("RS256");
    let rec = Recording::new(&h.stack);
    let env: HashMap<String, String> = issuer
        .verifier_env(&[
            ("LINK_BASE_URL", integration_tests::billing::LINK_BASE_URL),
            ("WEBHOOK_ALLOW_HTTP_LOOPBACK", "true"),
        ])
        .into_iter()
        .chain(env(&h, &[]))
        .collect();
    let app = dashboard::App::from_env(&env, &rec.sdk).await.unwrap();
    let alice = issuer.token("alice", &[]).await;
    let newcomer = issuer.token("newcomer", &[]).await;
    let call = |token: &str, method: &str, uri: &str, body: Option<serde_json::Value>| {
        let req = json_request(method, uri, Some(token), body);
        let app = &app;
        async move { dashboard::handle(app, &req).await }
    };
    // A first visit creates the code; then every route.
    assert_eq!(call(&newcomer, "GET", "/referrals/link", None).await.status(), 200);
    let (mut api_key, mut key_id) = (String::new(), String::new());
    for (method, uri, body) in [
        ("GET", "/referrals/link", None),
        ("GET", "/referrals/qr.svg", None),
        ("GET", "/referrals/qr.png", None),
        ("GET", "/referrals/kpis", None),
        ("GET", "/referrals/history", None),
        ("GET", "/referrals/leaderboard?scope=month", None),
        ("GET", "/referrals/leaderboard?scope=all", None),
        ("PUT", "/referrals/profile", Some(json!({"public_name": "Alice"}))),
        ("PUT", "/referrals/webhook", Some(json!({"url": "http://127.0.0.1:9/hook", "events": ["bonus.credited"]}))),
        ("GET", "/referrals/webhook", None),
        ("POST", "/referrals/webhook/rotate-secret", None),
        ("GET", "/referrals/webhook/deliveries", None),
        ("DELETE", "/referrals/webhook", None),
        ("POST", "/referrals/campaigns", Some(json!({"campaign": "spring"}))),
        ("GET", "/referrals/campaigns", None),
        ("POST", "/referrals/api-keys", Some(json!({"name": "ci", "scopes": ["read"]}))),
        ("GET", "/referrals/api-keys", None),
    ] {
        let resp = call(&alice, method, uri, body).await;
        assert!(resp.status().is_success(), "{method} {uri}: {} {}", resp.status(), body_json(&resp));
        if uri == "/referrals/api-keys" && method == "POST" {
            let created = body_json(&resp);
            api_key = created["key"].as_str().expect("the key, shown once").to_string();
            key_id = created["key_id"].as_str().expect("key id").to_string();
        }
    }
    // A partner call with the API key (its rate window), then the key revoked.
    let req = request("GET", "/referrals/kpis", &[("x-api-key", &api_key)], Body::Empty);
    let resp = dashboard::handle(&app, &req).await;
    assert_eq!(resp.status(), 200, "{}", body_json(&resp));
    let resp = call(&alice, "DELETE", &format!("/referrals/api-keys/{key_id}"), None).await;
    assert!(resp.status().is_success(), "revoke: {}", body_json(&resp));
    rec.assert_policy_of("DashboardFunction");
}

#[tokio::test]
async fn the_partner_webhook_sender_calls_exactly_what_its_policy_allows() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    let rx = crate::partner_webhooks::Receiver::start().await;
    rx.set_secret(&register_endpoint(&h, "alice", &rx.url).await);
    h.topup("iam_w1", "bob", "50.00").await;
    h.drain_outbox().await;
    let rec = Recording::new(&h.stack);
    let app = partner_webhooks::App::from_env(
        &env(&h, &[("WEBHOOK_ALLOW_HTTP_LOOPBACK", "true"), ("PARTNER_WEBHOOK_BASE_DELAY_SECS", "0")]),
        &rec.sdk,
    )
    .unwrap();
    let queue = h.stack.queue_url("PartnerWebhookQueue").to_string();
    rx.script(&[500]);
    let polled = local_stack::esm::poll_once(&h.stack.sqs, &queue, 0, |e| async {
        Ok(partner_webhooks::handle_batch(&app, e).await)
    })
    .await
    .unwrap()
    .expect("a partner event");
    assert_eq!(polled.batch_item_failures.len(), 1, "the refused delivery is retried");
    integration_tests::poll_until(std::time::Duration::from_secs(20), || async {
        let _ = local_stack::esm::poll_once(&h.stack.sqs, &queue, 0, |e| async {
            Ok(partner_webhooks::handle_batch(&app, e).await)
        })
        .await;
        rx.got().iter().filter(|r| r.verified).count() >= 2
    })
    .await;
    rec.assert_policy_of("PartnerWebhooksFunction");
}

#[tokio::test]
async fn the_failed_sweeper_calls_exactly_what_its_policy_allows() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    h.wellflow.set_fault(Fault::Unavailable);
    h.topup("iam_s1", "bob", "50.00").await;
    let rec = Recording::new(&h.stack);
    let app = failed_sweeper::App::from_env(&env(&h, &[]), &rec.sdk).unwrap();
    let report = app.handle(adapters::clock::now() + time::Duration::hours(2)).await.unwrap();
    assert_eq!(report["requeued"], 1, "{report}");
    rec.assert_policy_of("FailedSweeperFunction");
}

#[tokio::test]
async fn the_holding_release_calls_exactly_what_its_policy_allows() {
    let h = BillingHarness::with_policy(BonusPolicy { holding_days: 3, ..BonusPolicy::default() }).await;
    h.refer("alice", "bob").await;
    let now = adapters::clock::now().replace_nanosecond(0).unwrap();
    for (payment, ago) in [("iam_hr1", 60), ("iam_hr2", 20)] {
        let at = adapters::clock::rfc3339(now - time::Duration::minutes(ago));
        let body = json!({"payment_id": payment, "user_id": "bob", "amount": "50.00", "currency": "USD",
            "type": "topup.succeeded", "occurred_at": at});
        let v = body_json(&h.deliver_raw(&body.to_string()).await);
        assert_eq!(v["bonus"]["reason"], "holding", "{v}");
    }
    let rec = Recording::new(&h.stack);
    let app = holding_release::App::from_env(&env(&h, &[("HOLDING_DAYS", "3")]), &rec.sdk).await.unwrap();
    // The first due while Wellflow is down (failed, its retry in the outbox), the second credited.
    h.wellflow.set_fault(Fault::Unavailable);
    app.handle(now + time::Duration::days(3) - time::Duration::minutes(40)).await.unwrap();
    h.wellflow.set_fault(Fault::Ok);
    app.handle(now + time::Duration::days(3)).await.unwrap();
    assert_eq!(h.bonus("iam_hr1").await.unwrap().status, adapters::domain::BonusStatus::Failed);
    assert_eq!(h.bonus("iam_hr2").await.unwrap().status, adapters::domain::BonusStatus::Credited);
    rec.assert_policy_of("HoldingReleaseFunction");
}

#[tokio::test]
async fn the_outbox_dispatcher_calls_exactly_what_its_policy_allows() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    register_endpoint(&h, "alice", "http://127.0.0.1:9/hook").await;
    h.topup("iam_o1", "bob", "50.00").await; // a partner event
    h.wellflow.set_fault(Fault::Unavailable);
    h.topup("iam_o2", "bob", "50.00").await; // a retry
    let rec = Recording::new(&h.stack);
    let app = outbox_dispatcher::App::from_env(&env(&h, &[]), &rec.sdk).unwrap();
    assert!(h.drain_outbox_to(&app.retry, &app.events).await >= 2);
    rec.assert_policy_of("OutboxDispatcherFunction");
}
