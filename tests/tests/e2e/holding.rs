//! The holding period end to end: with `holding_days = 3` the real webhook parks bonuses as
//! `pending`/`holding` with a `release_at`, off the moderation list; the real release
//! function (with an injected "now") credits them exactly once after that time, leaves them
//! `failed` with a retry queued when Wellflow is down, and skips rows refunded meanwhile.

use adapters::domain::{BonusPolicy, BonusStatus};
use fake_wellflow::Fault;
use integration_tests::billing::{token, BillingHarness, REFERRER_IP};
use integration_tests::body_json;
use rust_decimal::Decimal;
use serde_json::json;
use time::OffsetDateTime;

const DAYS: i64 = 3;

async fn harness() -> BillingHarness {
    BillingHarness::with_policy(BonusPolicy { holding_days: DAYS as u32, ..BonusPolicy::default() }).await
}

fn occurred() -> OffsetDateTime {
    // Whole seconds: the webhook normalises occurred_at to millisecond RFC 3339.
    let now = adapters::clock::now() - time::Duration::hours(1);
    now.replace_nanosecond(0).unwrap()
}

async fn topup_at(
    h: &BillingHarness,
    payment: &str,
    user: &str,
    amount: &str,
    at: OffsetDateTime,
) -> serde_json::Value {
    let body = json!({
        "payment_id": payment, "user_id": user, "amount": amount, "currency": "USD",
        "type": "topup.succeeded", "occurred_at": adapters::clock::rfc3339(at),
    });
    let resp = h.deliver_raw(&body.to_string()).await;
    assert_eq!(resp.status(), 200);
    body_json(&resp)
}

async fn release(h: &BillingHarness, now: OffsetDateTime) -> serde_json::Value {
    let cfg = holding_release::ReleaseConfig { max_rows: 200 };
    holding_release::run(&h.billing, &cfg, now).await.expect("release run")
}

#[tokio::test]
async fn holding_bonuses_are_released_once_after_the_period() {
    let h = harness().await;
    h.refer("alice", "bob").await;
    let at = occurred();
    let v = topup_at(&h, "hold1", "bob", "123.45", at).await;
    assert_eq!((v["outcome"].as_str(), v["bonus"]["reason"].as_str()), (Some("held"), Some("holding")), "{v}");
    let row = h.bonus("hold1").await.unwrap();
    assert_eq!(row.status, BonusStatus::Pending);
    assert_eq!(row.reason.as_deref(), Some("holding"));
    let release_at = at + time::Duration::days(DAYS);
    assert_eq!(row.release_at.as_deref(), Some(adapters::clock::rfc3339(release_at).as_str()));
    assert_eq!(row.bonus_amount.to_string(), "6.17", "123.45 × 5 % = 6.1725 → 6.17");
    assert_eq!(h.wellflow.stats().requests, 0);

    // Not on the admin moderation list.
    let list = body_json(
        &h.admin_call("GET", "/admin/bonuses?status=pending", Some(&token("ops", Some("admin"), 600)), None).await,
    );
    assert_eq!(list["items"], json!([]), "{list}");

    // Before the release time: nothing.
    let before = release(&h, release_at - time::Duration::seconds(1)).await;
    assert_eq!(before["credited"], 0, "{before}");
    assert_eq!(before["due_seen"], 0);
    assert_eq!(h.wellflow.stats().requests, 0);
    assert_eq!(h.bonus("hold1").await.unwrap().status, BonusStatus::Pending);

    // At the release time: credited exactly once, to the cent.
    let run = release(&h, release_at).await;
    assert_eq!((run["credited"].as_u64(), run["credit_failed"].as_u64()), (Some(1), Some(0)), "{run}");
    let row = h.bonus("hold1").await.unwrap();
    assert_eq!(row.status, BonusStatus::Credited);
    assert_eq!(
        row.history.iter().map(|e| e.actor.as_str()).collect::<Vec<_>>(),
        ["webhook", "holding-release", "holding-release"]
    );
    assert_eq!(h.wellflow.balance("alice"), "6.17".parse::<Decimal>().unwrap());
    assert_eq!(h.wellflow.stats().credits_applied, 1);
    let stats = h.stack.item("USER#alice", "STATS").await.unwrap();
    assert_eq!(integration_tests::stack::text_or_num(&stats, "earned_total"), "6.17");

    // A second run (or an overlapping one) is a no-op.
    let again = release(&h, release_at + time::Duration::days(1)).await;
    assert_eq!((again["due_seen"].as_u64(), again["credited"].as_u64()), (Some(0), Some(0)), "{again}");
    assert_eq!(h.wellflow.stats().requests, 1);
    // The released row is not left in the holding or pending index partitions.
    let item = h.stack.item("BONUS#ref:auto:hold1", "BONUS").await.unwrap();
    assert!(!item.contains_key("GSI1PK"), "{item:?}");
}

#[tokio::test]
async fn concurrent_release_runs_credit_once() {
    let h = harness().await;
    h.refer("alice", "bob").await;
    let at = occurred();
    for i in 0..4 {
        topup_at(&h, &format!("par{i}"), "bob", "10.00", at).await;
    }
    let due = at + time::Duration::days(DAYS);
    let runs = futures::future::join_all((0..3).map(|_| release(&h, due))).await;
    let credited: u64 = runs.iter().map(|r| r["credited"].as_u64().unwrap()).sum();
    assert_eq!(credited, 4, "{runs:?}");
    assert_eq!(h.wellflow.stats().credits_applied, 4);
    assert_eq!(h.wellflow.balance("alice"), "2.00".parse::<Decimal>().unwrap());
}

#[tokio::test]
async fn wellflow_down_during_release_leaves_failed_and_queues_a_retry() {
    let h = harness().await;
    h.refer("alice", "bob").await;
    let at = occurred();
    topup_at(&h, "hold_down", "bob", "50.00", at).await;
    h.wellflow.set_fault(Fault::Unavailable);
    let run = release(&h, at + time::Duration::days(DAYS)).await;
    assert_eq!((run["credited"].as_u64(), run["credit_failed"].as_u64()), (Some(0), Some(1)), "{run}");
    let row = h.bonus("hold_down").await.unwrap();
    assert_eq!(row.status, BonusStatus::Failed);
    assert_eq!(row.attempts, 1);
    assert!(row.last_error.as_deref().unwrap().starts_with("wellflow_"), "{:?}", row.last_error);
    h.drain_outbox().await;
    assert_eq!(h.drain_queue("CreditRetryQueue").await, vec![r#"{"payment_id":"hold_down"}"#.to_string()]);
    // Now it is an ordinary failed bonus: the retry path credits it once Wellflow is back.
    h.wellflow.set_fault(Fault::Ok);
    let list = body_json(
        &h.admin_call("GET", "/admin/bonuses?status=failed", Some(&token("ops", Some("admin"), 600)), None).await,
    );
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    let approved =
        h.admin_call("POST", "/admin/bonuses/hold_down/approve", Some(&token("ops", Some("admin"), 600)), None).await;
    assert_eq!(body_json(&approved)["outcome"], "credited");
    assert_eq!(h.wellflow.balance("alice"), "2.50".parse::<Decimal>().unwrap());
}

#[tokio::test]
async fn refund_during_holding_reverses_without_wellflow_and_is_never_released() {
    let h = harness().await;
    h.refer("alice", "bob").await;
    let at = occurred();
    topup_at(&h, "hold_ref", "bob", "80.00", at).await;
    let v = body_json(&h.refund("hold_ref", "bob", "80.00").await);
    assert_eq!((v["outcome"].as_str(), v["bonus"]["paid_amount"].as_str()), (Some("reversed"), Some("0.00")), "{v}");
    assert_eq!(h.bonus("hold_ref").await.unwrap().status, BonusStatus::Reversed);
    let run = release(&h, at + time::Duration::days(DAYS + 1)).await;
    assert_eq!(run["credited"], 0, "{run}");
    assert_eq!(h.wellflow.stats().requests, 0, "Wellflow got nothing");
}

#[tokio::test]
async fn admins_can_decide_holding_bonuses_early_and_moderation_holds_win() {
    let h = harness().await;
    h.refer("alice", "bob").await;
    let at = occurred();
    topup_at(&h, "early", "bob", "40.00", at).await;
    let admin = token("ops", Some("admin"), 600);
    let resp = h.admin_call("POST", "/admin/bonuses/early/approve", Some(&admin), None).await;
    assert_eq!(body_json(&resp)["outcome"], "credited");
    assert_eq!(h.wellflow.balance("alice"), "2.00".parse::<Decimal>().unwrap());
    // A moderation hold (same_ip) stays for a human: no release_at, not released by the job.
    h.refer_from("alice", "puppet", REFERRER_IP).await;
    topup_at(&h, "puppet1", "puppet", "40.00", at).await;
    let row = h.bonus("puppet1").await.unwrap();
    assert_eq!((row.reason.as_deref(), row.release_at.as_deref()), (Some("same_ip"), None));
    let run = release(&h, at + time::Duration::days(DAYS + 10)).await;
    assert_eq!(run["due_seen"], 0, "{run}");
    assert_eq!(h.bonus("puppet1").await.unwrap().status, BonusStatus::Pending);
    let list = body_json(&h.admin_call("GET", "/admin/bonuses?status=pending", Some(&admin), None).await);
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "the moderation hold is listed");
}
