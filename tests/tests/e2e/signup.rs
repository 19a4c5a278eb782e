//! Signup attribution through the real handler: permanent, idempotent, no self-referral,
//! unknown/invalid codes answered with `attributed: false`, `same_ip` flagged.

use adapters::domain::UserId;
use adapters::store::Users;
use integration_tests::billing::{BillingHarness, REFERRER_IP, SIGNUP_SECRET};
use integration_tests::stack::num;
use integration_tests::{body_json, header};

#[tokio::test]
async fn attribution_is_permanent_and_idempotent() {
    let h = BillingHarness::new().await;
    let code = h.refer("alice", "bob").await;
    let bob = h.store().user(&UserId::parse("bob").unwrap()).await.unwrap().unwrap();
    assert_eq!(bob.referrer_id.as_ref().map(|r| r.as_str()), Some("alice"));
    assert_eq!(bob.referrer_code, Some(code));
    assert!(!bob.same_ip);

    // The same call again: 200 with the stored attribution.
    let again = h.signup("bob", Some(code.as_str()), "203.0.113.99").await;
    assert_eq!(again.status(), 200);
    let v = body_json(&again);
    assert_eq!(v["attributed"], true);
    assert_eq!(v["already_attributed"], true);
    assert_eq!(v["referrer_id"], "alice");

    // Another referrer's code later never changes it.
    let carol_code = h.store().ensure_code(&UserId::parse("carol").unwrap()).await.unwrap();
    let v = body_json(&h.signup("bob", Some(carol_code.as_str()), "203.0.113.98").await);
    assert_eq!(v["referrer_id"], "alice");
    let stats = h.stack.item("USER#alice", "STATS").await.unwrap();
    assert_eq!(num(&stats, "signups"), 1, "a repeated signup is counted once");
    assert!(h.stack.item("USER#carol", "STATS").await.is_none());
}

#[tokio::test]
async fn self_referral_unknown_and_invalid_codes_are_not_attributed() {
    let h = BillingHarness::new().await;
    let code = h.store().ensure_code(&UserId::parse("alice").unwrap()).await.unwrap();
    let cases = [
        ("alice", Some(code.as_str().to_string()), "self_referral"),
        ("dave", Some("ZZZZZZ".to_string()).filter(|c| c != code.as_str()), "unknown_code"),
        ("erin", Some("K7M2XI".to_string()), "invalid_code"),
        ("frank", None, "no_code"),
    ];
    for (user, ref_code, reason) in cases {
        let resp = h.signup(user, ref_code.as_deref(), "203.0.113.5").await;
        assert_eq!(resp.status(), 200, "{user}");
        let v = body_json(&resp);
        assert_eq!(v["attributed"], false, "{user}");
        assert_eq!(v["reason"], reason, "{user}");
        let profile = h.store().user(&UserId::parse(user).unwrap()).await.unwrap().unwrap();
        assert!(profile.referrer_id.is_none(), "{user}");
    }
}

#[tokio::test]
async fn same_ip_as_the_referrer_is_flagged() {
    let h = BillingHarness::new().await;
    h.refer_from("alice", "sock-puppet", REFERRER_IP).await;
    let profile = h.store().user(&UserId::parse("sock-puppet").unwrap()).await.unwrap().unwrap();
    assert!(profile.same_ip);
    // IPv4-mapped IPv6 spelling of the same address is the same IP.
    h.refer_from("alice", "sock-puppet-2", &format!("::ffff:{REFERRER_IP}")).await;
    assert!(h.store().user(&UserId::parse("sock-puppet-2").unwrap()).await.unwrap().unwrap().same_ip);
    // The stored fingerprint is not the IP.
    let item = h.stack.item("USER#sock-puppet", "PROFILE").await.unwrap();
    let stored = format!("{item:?}");
    assert!(!stored.contains(REFERRER_IP), "raw IP must never be stored");
}

#[tokio::test]
async fn bad_requests_are_4xx_and_write_nothing() {
    let h = BillingHarness::new().await;
    let code = h.store().ensure_code(&UserId::parse("alice").unwrap()).await.unwrap();
    let before = h.stack.all_items().await.len();
    let good = serde_json::json!({"user_id":"bob","ref_code":code.as_str(),"signup_ip":"203.0.113.1"}).to_string();

    let unsigned = integration_tests::requests::request("POST", "/signups", &[], lambda_http::Body::Text(good.clone()));
    let resp = signup::handle(h.store(), &h.signup_cfg, &unsigned).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(body_json(&resp)["error"]["code"], "invalid_signature_header");

    let wrong = BillingHarness::signed("/signups", &good, "not-the-signup-secret-123");
    let resp = signup::handle(h.store(), &h.signup_cfg, &wrong).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(header(&resp, "content-type"), Some("application/json"));

    for (body, code_expected) in [
        (r#"{"user_id":"bob","signup_ip":"999.1.1.1"}"#.to_string(), "invalid_signup_ip"),
        (r#"{"user_id":"b o b","signup_ip":"203.0.113.1"}"#.to_string(), "invalid_user_id"),
        (r#"{"user_id":"bob"}"#.to_string(), "invalid_body"),
        ("not json".to_string(), "invalid_json"),
    ] {
        let resp =
            signup::handle(h.store(), &h.signup_cfg, &BillingHarness::signed("/signups", &body, SIGNUP_SECRET)).await;
        assert_eq!(resp.status(), 400, "{body}");
        assert_eq!(body_json(&resp)["error"]["code"], code_expected, "{body}");
    }
    assert_eq!(h.stack.all_items().await.len(), before, "rejected calls must not write");
}
