//! Admin moderation API against moto + fake Wellflow: listing, approve/reject (exactly
//! once, also under concurrent clicks), bulk, rate overrides, re-attribution, and auth.

use adapters::domain::BonusStatus;
use fake_wellflow::Fault;
use integration_tests::billing::{token, token_alg_none, token_signed, BillingHarness, REFERRER_IP};
use integration_tests::body_json;
use rust_decimal::Decimal;
use serde_json::json;

fn admin_token() -> String {
    token("ops-1", Some("admin"), 600)
}

/// alice gets 5 credited first-time top-ups, then `n` more held with `velocity_cap`.
async fn with_velocity_holds(h: &BillingHarness, n: usize) -> Vec<String> {
    for i in 0..5 + n {
        h.refer("alice", &format!("v{i}")).await;
    }
    for i in 0..5 {
        h.topup(&format!("ok{i}"), &format!("v{i}"), "10.00").await;
    }
    (0..n).map(|i| format!("held{i}")).collect()
}

async fn hold(h: &BillingHarness, held: &[String]) {
    for (i, p) in held.iter().enumerate() {
        let v = body_json(&h.topup(p, &format!("v{}", 5 + i), "40.00").await);
        assert_eq!(v["outcome"], "held", "{v}");
    }
}

#[tokio::test]
async fn lists_the_moderation_queue_with_pagination() {
    let h = BillingHarness::new().await;
    let held = with_velocity_holds(&h, 3).await;
    hold(&h, &held).await;
    h.refer_from("alice", "puppet", REFERRER_IP).await;
    h.topup("same", "puppet", "20.00").await;

    let t = admin_token();
    let first = body_json(&h.admin_call("GET", "/admin/bonuses?status=pending&limit=3", Some(&t), None).await);
    assert_eq!(first["items"].as_array().unwrap().len(), 3);
    let item = &first["items"][0];
    for field in [
        "payment_id",
        "referrer_id",
        "referred_user_id",
        "topup_amount",
        "bonus_amount",
        "reason",
        "attempts",
        "history",
    ] {
        assert!(item.get(field).is_some(), "{field} missing: {item}");
    }
    let cursor = first["next_cursor"].as_str().expect("more pages");
    let second = body_json(
        &h.admin_call("GET", &format!("/admin/bonuses?status=pending&limit=3&cursor={cursor}"), Some(&t), None).await,
    );
    let mut ids: Vec<String> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|i| i["payment_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, ["held0", "held1", "held2", "same"], "every pending bonus exactly once");
    let reasons: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|i| i["reason"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"same_ip") && reasons.contains(&"velocity_cap"));

    let failed = body_json(&h.admin_call("GET", "/admin/bonuses?status=failed", Some(&t), None).await);
    assert_eq!(failed["items"].as_array().unwrap().len(), 0, "credited rows are not in the queue");
    let bad = h.admin_call("GET", "/admin/bonuses?status=credited", Some(&t), None).await;
    assert_eq!((bad.status().as_u16(), body_json(&bad)["error"]["code"].as_str().unwrap()), (400, "invalid_status"));
    let tampered = h
        .admin_call("GET", "/admin/bonuses?status=failed&cursor=eyJHU0kxUEsiOiJTVEFUVVMjcGVuZGluZyJ9", Some(&t), None)
        .await;
    assert_eq!(tampered.status(), 400, "a cursor from another listing is refused");
}

#[tokio::test]
async fn approve_credits_once_even_when_clicked_twice() {
    let h = BillingHarness::new().await;
    let held = with_velocity_holds(&h, 2).await;
    hold(&h, &held).await;
    let t = admin_token();
    let before = h.wellflow.stats().credits_applied;

    let resp =
        h.admin_call("POST", "/admin/bonuses/held0/approve", Some(&t), Some(json!({"note": "known customer"}))).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(body_json(&resp)["outcome"], "credited");
    let again = h.admin_call("POST", "/admin/bonuses/held0/approve", Some(&t), None).await;
    assert_eq!(again.status(), 409);
    assert_eq!(body_json(&again)["error"]["code"], "already_decided");
    assert_eq!(h.wellflow.stats().credits_applied, before + 1);
    let row = h.bonus("held0").await.unwrap();
    assert_eq!(row.status, BonusStatus::Credited);
    let approval = row.history.iter().find(|e| e.actor == "admin:ops-1").expect("audited");
    assert_eq!((approval.from, approval.note.as_deref()), (Some(BonusStatus::Pending), Some("known customer")));

    // Two admins at once on the other held bonus.
    let t2 = token("ops-2", Some("admin"), 600);
    let (a, b) = tokio::join!(
        h.admin_call("POST", "/admin/bonuses/held1/approve", Some(&t), None),
        h.admin_call("POST", "/admin/bonuses/held1/approve", Some(&t2), None)
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409]);
    assert_eq!(h.wellflow.stats().credits_applied, before + 2);
    assert_eq!(h.wellflow.balance("alice"), Decimal::new(250 + 200 + 200, 2));
}

#[tokio::test]
async fn reject_reverses_and_is_final() {
    let h = BillingHarness::new().await;
    let held = with_velocity_holds(&h, 1).await;
    hold(&h, &held).await;
    let t = admin_token();
    let resp = h
        .admin_call(
            "POST",
            "/admin/bonuses/held0/reject",
            Some(&t),
            Some(json!({"reason": "fraud", "note": "ring of accounts"})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let row = h.bonus("held0").await.unwrap();
    assert_eq!((row.status, row.reason.as_deref()), (BonusStatus::Reversed, Some("fraud")));
    assert_eq!(h.admin_call("POST", "/admin/bonuses/held0/approve", Some(&t), None).await.status(), 409);
    let bad = h.admin_call("POST", "/admin/bonuses/ok0/reject", Some(&t), Some(json!({"reason": "Not Snake"}))).await;
    assert_eq!(bad.status(), 400);
    let credited = h.admin_call("POST", "/admin/bonuses/ok0/reject", Some(&t), Some(json!({"reason": "fraud"}))).await;
    assert_eq!(credited.status(), 409, "credited bonuses are reversed by refunds, not rejections");
    assert_eq!(h.admin_call("POST", "/admin/bonuses/nope/approve", Some(&t), None).await.status(), 404);
}

#[tokio::test]
async fn approve_while_wellflow_is_down_says_so_and_keeps_it_failed() {
    let h = BillingHarness::new().await;
    let held = with_velocity_holds(&h, 1).await;
    hold(&h, &held).await;
    h.wellflow.set_fault(Fault::Unavailable);
    let resp = h.admin_call("POST", "/admin/bonuses/held0/approve", Some(&admin_token()), None).await;
    assert_eq!(resp.status(), 200);
    let v = body_json(&resp);
    assert_eq!(v["outcome"], "credit_failed");
    assert_eq!(v["bonus"]["status"], "failed");
    assert_eq!(v["retry_scheduled"], true);
    let failed = body_json(&h.admin_call("GET", "/admin/bonuses?status=failed", Some(&admin_token()), None).await);
    assert_eq!(failed["items"][0]["payment_id"], "held0");
    h.wellflow.set_fault(Fault::Ok);
    h.run_retries(10).await;
    assert_eq!(h.bonus("held0").await.unwrap().status, BonusStatus::Credited);
}

#[tokio::test]
async fn bulk_decides_each_id_independently() {
    let h = BillingHarness::new().await;
    let held = with_velocity_holds(&h, 3).await;
    hold(&h, &held).await;
    let t = admin_token();
    let resp = h
        .admin_call(
            "POST",
            "/admin/bonuses/bulk",
            Some(&t),
            Some(json!({"action": "approve", "payment_ids": ["held0", "held1", "ok0", "missing", "bad id"]})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let outcomes: Vec<(String, String)> = body_json(&resp)["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["payment_id"].as_str().unwrap().into(), r["outcome"].as_str().unwrap().into()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("held0", "credited"),
            ("held1", "credited"),
            ("ok0", "not_open"),
            ("missing", "not_found"),
            ("bad id", "invalid_payment_id")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let rejected = body_json(
        &h.admin_call(
            "POST",
            "/admin/bonuses/bulk",
            Some(&t),
            Some(json!({"action": "reject", "reason": "fraud", "payment_ids": ["held2"]})),
        )
        .await,
    );
    assert_eq!(rejected["results"][0]["outcome"], "rejected");
    let too_many: Vec<String> = (0..101).map(|i| format!("p{i}")).collect();
    let resp = h
        .admin_call(
            "POST",
            "/admin/bonuses/bulk",
            Some(&t),
            Some(json!({"action": "approve", "payment_ids": too_many})),
        )
        .await;
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn rate_override_applies_to_later_topups() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    let t = admin_token();
    for bad in [json!({"rate": "0"}), json!({"rate": "0.51"}), json!({"rate": "abc"}), json!({"rate": 0.08})] {
        let resp = h.admin_call("PUT", "/admin/referrers/alice/rate", Some(&t), Some(bad.clone())).await;
        assert_eq!(resp.status(), 400, "{bad}");
    }
    assert_eq!(
        h.admin_call("PUT", "/admin/referrers/ghost/rate", Some(&t), Some(json!({"rate": "0.08"}))).await.status(),
        404
    );
    let ok = h
        .admin_call(
            "PUT",
            "/admin/referrers/alice/rate",
            Some(&t),
            Some(json!({"rate": "0.08", "note": "partner deal"})),
        )
        .await;
    assert_eq!(ok.status(), 200);
    h.topup("after", "bob", "50.00").await;
    let row = h.bonus("after").await.unwrap();
    assert_eq!((row.rate.to_string().as_str(), row.bonus_amount.to_string().as_str()), ("0.08", "4.00"));
    h.admin_call("PUT", "/admin/referrers/alice/rate", Some(&t), Some(json!({"rate": null}))).await;
    h.topup("cleared", "bob", "50.00").await;
    assert_eq!(h.bonus("cleared").await.unwrap().bonus_amount.to_string(), "2.50");
}

#[tokio::test]
async fn reattribution_moves_future_bonuses_only() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    h.refer("carol", "someone-else").await;
    h.topup("before", "bob", "100.00").await;
    let t = admin_token();
    let resp = h
        .admin_call(
            "POST",
            "/admin/attributions/bob",
            Some(&t),
            Some(json!({"referrer_id": "carol", "note": "ticket 123"})),
        )
        .await;
    assert_eq!(resp.status(), 200, "{}", body_json(&resp));
    h.topup("after", "bob", "100.00").await;
    assert_eq!(h.bonus("before").await.unwrap().referrer_id.as_str(), "alice");
    assert_eq!(h.bonus("after").await.unwrap().referrer_id.as_str(), "carol");
    assert_eq!(h.wellflow.balance("alice"), Decimal::new(500, 2));
    assert_eq!(h.wellflow.balance("carol"), Decimal::new(500, 2));
    let profile = h.stack.item("USER#bob", "PROFILE").await.unwrap();
    assert!(format!("{profile:?}").contains("ticket 123"), "re-attribution is audited");
    assert_eq!(integration_tests::stack::num(&h.stack.item("USER#alice", "STATS").await.unwrap(), "signups"), 0);
    assert_eq!(integration_tests::stack::num(&h.stack.item("USER#carol", "STATS").await.unwrap(), "signups"), 2);
    let no_code = h
        .admin_call("POST", "/admin/attributions/bob", Some(&t), Some(json!({"referrer_id": "nocode", "note": "x"})))
        .await;
    assert_eq!(no_code.status(), 422);
}

#[tokio::test]
async fn only_valid_admin_tokens_get_in_and_nothing_changes_otherwise() {
    let h = BillingHarness::new().await;
    let held = with_velocity_holds(&h, 1).await;
    hold(&h, &held).await;
    let bad_tokens: Vec<(Option<String>, u16)> = vec![
        (None, 401),
        (Some("not-a-jwt".into()), 401),
        (Some(token("ops-1", Some("admin"), -120)), 401),
        (Some(token_signed("ops-1", Some("admin"), 600, "some-other-secret-0123456789")), 401),
        (Some(token_alg_none("ops-1", Some("admin"))), 401),
        (Some(token("alice", None, 600)), 403),
        (Some(token("alice", Some("user"), 600)), 403),
    ];
    for (tok, status) in bad_tokens {
        for (method, uri, body) in [
            ("POST", "/admin/bonuses/held0/approve", None),
            ("POST", "/admin/bonuses/held0/reject", Some(json!({"reason": "fraud"}))),
            ("GET", "/admin/bonuses?status=pending", None),
            ("PUT", "/admin/referrers/alice/rate", Some(json!({"rate": "0.5"}))),
        ] {
            let resp = h.admin_call(method, uri, tok.as_deref(), body).await;
            assert_eq!(resp.status().as_u16(), status, "{method} {uri} with {tok:?}");
            assert!(body_json(&resp)["error"]["code"].is_string());
        }
    }
    assert_eq!(h.bonus("held0").await.unwrap().status, BonusStatus::Pending, "nothing changed");
    assert!(!h.stack.item("USER#alice", "PROFILE").await.unwrap().contains_key("rate_override"));
}
