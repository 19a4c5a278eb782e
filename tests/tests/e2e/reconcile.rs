//! Reconciliation with Wellflow against moto + the fake Wellflow: each kind of drift injected
//! by editing the fake's book directly (`/__ledger`) is found once, classified right, healed
//! where safe (ledgers equal afterwards, never paid twice) or left open for an admin, who
//! resolves it through the admin API; a pass too long for one invocation resumes from its
//! cursor; and a clean ledger of 1,000 referrers gives zero findings at a counted cost.

use std::collections::BTreeMap;
use std::time::Instant;

use adapters::domain::{BonusStatus, PaymentId, Rate, Usd, UserId};
use adapters::store::dynamo::{activity_item, bonus_item};
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use fake_wellflow::{Fault, Kind, LedgerEdit};
use integration_tests::billing::{token, BillingHarness};
use integration_tests::body_json;
use referral_core::bonus::reconcile::{DriftKind, FindingStatus};
use referral_core::bonus::{Activity, Bonus, MoveState, NewBonus};
use referral_core::payment::PaymentRecord;
use referral_core::store::{Findings, PassKind};
use referral_core::usecases::reconcile::{run_pass, Budget};
use rust_decimal::Decimal;
use serde_json::{json, Value};

fn admin() -> String {
    token("ops-1", Some("admin"), 600)
}

fn remove(key: &str) -> LedgerEdit {
    LedgerEdit::Remove { idempotency_key: key.into(), forget_key: true }
}

/// Every finding of the harness's table by idempotency key (one per key here).
async fn findings(h: &BillingHarness) -> BTreeMap<String, referral_core::bonus::reconcile::Finding> {
    let mut all = BTreeMap::new();
    for status in [FindingStatus::Open, FindingStatus::Resolved] {
        for f in h.store().list_findings(status, 100, None).await.expect("list").items {
            all.insert(f.idempotency_key.clone(), f);
        }
    }
    all
}

/// Wellflow holds exactly what the bonus says it holds, and that is what is due.
async fn ledgers_equal(h: &BillingHarness, payment: &str, due_cents: i64) {
    let b = h.bonus(payment).await.expect("bonus");
    assert!(b.is_settled(), "{payment}: {b:#?}");
    let due = Usd::cents(due_cents).decimal();
    assert_eq!(
        (h.wellflow_net(payment), b.paid_amount.decimal(), b.net_amount.decimal()),
        (due, due, due),
        "{payment}: Wellflow net, paid_amount, net_amount"
    );
}

#[tokio::test]
async fn each_injected_drift_is_found_once_classified_and_healed_where_safe() {
    adapters::metrics::start_capture();
    let h = BillingHarness::new().await;
    for user in ["rc_bob", "rc_carol", "rc_dave", "rc_erin", "rc_frank", "rc_gina"] {
        h.refer("rc_alice", user).await;
    }
    // A credit Wellflow answered 503 to but applied (a gateway error in front of a backend
    // that went through), and one it refused (422) but applied: both recorded as failed.
    h.wellflow.set_fault(Fault::Unavailable);
    assert_eq!(body_json(&h.topup("rc_late", "rc_bob", "50.00").await)["outcome"], "credit_failed");
    h.wellflow.set_fault(Fault::Refuse);
    assert_eq!(body_json(&h.topup("rc_refused", "rc_gina", "80.00").await)["outcome"], "credit_failed");
    h.wellflow.set_fault(Fault::Ok);
    for (key, amount) in [("ref:auto:rc_late", "2.50"), ("ref:auto:rc_refused", "4.00")] {
        h.tamper(LedgerEdit::Insert {
            account_id: "rc_alice".into(),
            kind: Kind::Credit,
            amount: amount.into(),
            idempotency_key: Some(key.into()),
            created_at: None,
        });
    }
    // A debit-back Wellflow lost; a credit it lost; an amount changed; a manual adjustment.
    h.topup("rc_debit", "rc_carol", "100.00").await;
    h.refund("rc_debit", "rc_carol", "40.00").await;
    h.tamper(remove("ref:auto:rc_debit#debit-2"));
    h.topup("rc_lost", "rc_frank", "30.00").await;
    h.tamper(remove("ref:auto:rc_lost"));
    h.topup("rc_amount", "rc_erin", "60.00").await;
    h.tamper(LedgerEdit::SetAmount { idempotency_key: "ref:auto:rc_amount".into(), amount: "3.50".into() });
    h.topup("rc_credit", "rc_dave", "20.00").await;
    h.tamper(LedgerEdit::Insert {
        account_id: "rc_alice".into(),
        kind: Kind::Credit,
        amount: "10.00".into(),
        idempotency_key: Some("ref:auto:rc_credit#manual-1".into()),
        created_at: None,
    });
    let credits_before = h.wellflow.stats().credits_applied;

    let first = h.reconcile(PassKind::Hourly).await;
    assert!(first.done, "{first:?}");
    assert_eq!((first.referrers, first.new_findings, first.sightings, first.healed), (1, 6, 6, 3), "{first:?}");
    let found = findings(&h).await;
    let summary: Vec<(&str, DriftKind, FindingStatus)> =
        found.iter().map(|(k, f)| (k.as_str(), f.kind, f.status)).collect();
    assert_eq!(
        summary,
        [
            ("ref:auto:rc_amount", DriftKind::AmountDiffers, FindingStatus::Open),
            ("ref:auto:rc_credit#manual-1", DriftKind::UnknownTransaction, FindingStatus::Open),
            ("ref:auto:rc_debit#debit-2", DriftKind::MissingDebit, FindingStatus::Resolved),
            ("ref:auto:rc_late", DriftKind::UnknownTransaction, FindingStatus::Resolved),
            ("ref:auto:rc_lost", DriftKind::MissingCredit, FindingStatus::Open),
            ("ref:auto:rc_refused", DriftKind::UnknownTransaction, FindingStatus::Resolved),
        ]
    );
    let late = &found["ref:auto:rc_late"];
    assert_eq!((late.our_state, late.resolved_by.as_deref()), (Some(MoveState::Pending), Some("reconciler")));
    let amount = &found["ref:auto:rc_amount"];
    assert_eq!(
        (amount.expected.as_ref().map(|s| s.amount), amount.actual.as_ref().map(|s| s.amount)),
        (Some(Usd::cents(300)), Some(Usd::cents(350)))
    );
    let lost = &found["ref:auto:rc_lost"];
    assert_eq!(lost.history.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["found", "waiting"]);
    // Healed: the late credits recorded (no Wellflow call), the lost debit sent again once.
    ledgers_equal(&h, "rc_late", 250).await;
    ledgers_equal(&h, "rc_refused", 400).await;
    ledgers_equal(&h, "rc_debit", 300).await;
    assert_eq!(h.bonus("rc_late").await.unwrap().status, BonusStatus::Credited);
    assert_eq!(h.wellflow.stats().credits_applied, credits_before, "recording a late credit moves no money");
    assert_eq!(h.wellflow_net("rc_lost"), Decimal::ZERO, "a missing credit waits for a second sighting");

    // The second pass: the same six findings (none new); the missing credit, seen again, is re-issued.
    let second = h.reconcile(PassKind::Hourly).await;
    assert_eq!((second.new_findings, second.sightings, second.healed), (0, 3, 1), "{second:?}");
    ledgers_equal(&h, "rc_lost", 150).await;
    assert_eq!(h.wellflow.stats().credits_applied, credits_before + 1, "one credit: the lost one, once");
    let found = findings(&h).await;
    assert_eq!(found.len(), 6, "each drift is one finding");
    assert_eq!(
        (found["ref:auto:rc_amount"].seen_count, found["ref:auto:rc_lost"].status),
        (2, FindingStatus::Resolved)
    );
    // The retries the failed credits scheduled find nothing left to do.
    h.run_retries(10).await;
    assert_eq!(h.wellflow.stats().credits_applied, credits_before + 1, "never paid twice");
    ledgers_equal(&h, "rc_late", 250).await;
    // The daily pass sees the same books: only the two drifts waiting for an admin.
    let daily = h.reconcile(PassKind::Daily).await;
    assert_eq!((daily.new_findings, daily.sightings, daily.healed, daily.open_findings), (0, 2, 0, 2), "{daily:?}");

    // The admin: lists the open ones, resolves one with a note (audited), not twice.
    let t = admin();
    let open = body_json(&h.admin_call("GET", "/admin/reconciliation?status=open", Some(&t), None).await);
    let ids: Vec<&str> = open["items"].as_array().unwrap().iter().map(|f| f["finding_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2, "{open}");
    let manual = found["ref:auto:rc_credit#manual-1"].finding_id.clone();
    let uri = format!("/admin/reconciliation/{manual}/resolve");
    let note = json!({"note": "goodwill credit by support, ticket 4711"});
    let resolved = h.admin_call("POST", &uri, Some(&t), Some(note.clone())).await;
    assert_eq!(resolved.status(), 200);
    let v = body_json(&resolved);
    assert_eq!(
        (v["finding"]["status"].as_str(), v["finding"]["resolved_by"].as_str()),
        (Some("resolved"), Some("admin:ops-1"))
    );
    assert_eq!(v["finding"]["history"].as_array().unwrap().last().unwrap()["note"], note["note"]);
    let again = h.admin_call("POST", &uri, Some(&t), Some(note)).await;
    assert_eq!((again.status().as_u16(), body_json(&again)["error"]["code"].as_str()), (409, Some("already_resolved")));
    // An admin's resolution stands: the drift is still in Wellflow's books, seen, not reopened.
    let third = h.reconcile(PassKind::Daily).await;
    assert_eq!((third.new_findings, third.open_findings), (0, 1), "{third:?}");
    let resolved =
        body_json(&h.admin_call("GET", "/admin/reconciliation?status=resolved&limit=100", Some(&t), None).await);
    assert_eq!(resolved["items"].as_array().unwrap().len(), 5);

    // EMF: one finding line per new finding, with its kind.
    let lines: Vec<Value> = adapters::metrics::captured()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["referrer_id"] == "rc_alice" && v["ReconciliationFinding"].is_number())
        .collect();
    let mut kinds: Vec<&str> = lines.iter().map(|v| v["kind"].as_str().unwrap()).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "amount_differs",
            "missing_credit",
            "missing_debit",
            "unknown_transaction",
            "unknown_transaction",
            "unknown_transaction"
        ]
    );
}

#[tokio::test]
async fn a_heal_that_does_not_take_is_reopened_for_an_admin_and_never_retried() {
    let h = BillingHarness::new().await;
    h.refer("rt_alice", "rt_bob").await;
    h.topup("rt_p", "rt_bob", "100.00").await;
    h.refund("rt_p", "rt_bob", "100.00").await;
    // Wellflow lost the debit from its books but still answers its key as a replay.
    h.tamper(LedgerEdit::Remove { idempotency_key: "ref:auto:rt_p#debit-2".into(), forget_key: false });
    let first = h.reconcile(PassKind::Hourly).await;
    assert_eq!((first.new_findings, first.healed), (1, 1));
    assert_eq!(h.wellflow.stats().debits_applied, 1, "the re-issue was a replay: nothing applied");
    let second = h.reconcile(PassKind::Hourly).await;
    assert_eq!((second.new_findings, second.healed, second.open_findings), (0, 0, 1), "{second:?}");
    let f = findings(&h).await.remove("ref:auto:rt_p#debit-2").expect("one finding");
    assert_eq!((f.kind, f.status, f.heal_attempts, f.seen_count), (DriftKind::MissingDebit, FindingStatus::Open, 1, 2));
    assert_eq!(f.history.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["found", "healed", "reopened"]);
    let third = h.reconcile(PassKind::Hourly).await;
    assert_eq!((third.healed, h.wellflow.stats().debits_applied), (0, 1), "never healed automatically again");
}

#[tokio::test]
async fn a_pass_too_long_for_one_invocation_resumes_from_its_cursor() {
    let h = BillingHarness::new().await;
    for i in 0..6 {
        h.refer(&format!("rp_ref{i}"), &format!("rp_user{i}")).await;
        h.topup(&format!("rp_pay{i}"), &format!("rp_user{i}"), "20.00").await;
    }
    let cfg = referral_core::usecases::reconcile::ReconcileConfig {
        referrers_per_page: 2,
        ..BillingHarness::reconcile_cfg()
    };
    let budget = Budget { deadline: adapters::clock::now() + time::Duration::minutes(5), max_pages: 4 };
    // Wellflow times out: the page fails, the pass keeps its place and says so.
    h.wellflow.set_fault(Fault::Unavailable);
    let unbounded = Budget { max_pages: usize::MAX, ..budget };
    let failed = Box::pin(run_pass(&h.billing, &cfg, PassKind::Daily, true, unbounded)).await;
    assert!(failed.is_err(), "a listing failure is the invocation's error");
    h.wellflow.set_fault(Fault::Ok);
    let (mut invocations, mut referrers, mut run_ids) = (0, 0, Vec::new());
    loop {
        invocations += 1;
        let r = Box::pin(run_pass(&h.billing, &cfg, PassKind::Daily, true, budget)).await.expect("runs");
        referrers += r.referrers;
        run_ids.push(r.run_id.clone());
        assert_eq!(r.sightings, 0, "{r:?}");
        if r.done {
            break;
        }
        assert!(invocations < 20, "the pass ends");
    }
    run_ids.dedup();
    assert_eq!(run_ids.len(), 1, "one pass continued, not restarted: {run_ids:?}");
    assert!(invocations > 1, "4 pages per invocation cannot cover the 64 activity shards");
    assert_eq!(referrers, 6, "every active referrer exactly once");
    // The function's entry point: an hourly invocation, then a bad event.
    let deadline = adapters::clock::now() + time::Duration::minutes(5);
    let out = reconcile::run(&h.billing, &cfg, json!({"pass": "hourly"}), deadline).await.expect("runs");
    assert_eq!((out["hourly"]["referrers"].as_u64(), out["hourly"]["done"].as_bool()), (Some(6), Some(true)), "{out}");
    assert!(reconcile::run(&h.billing, &cfg, json!({"pass": "weekly"}), deadline).await.is_err());
}

/// The payment, referrer and amounts of seeded bonus `i`: 5 % of 20.00 + i cents, every
/// fifth refunded by half.
fn seeded(i: usize, at: &str, later: &str) -> Bonus {
    let payment = PaymentId::parse(&format!("cl_pay{i:04}")).unwrap();
    let cents = 2_000 + i as i64;
    let mut record = PaymentRecord::new(payment.clone(), at);
    record.succeeded = Some(Usd::cents(cents));
    let new = NewBonus {
        payment_id: payment,
        referrer_id: UserId::parse(&format!("cl_ref{i:04}")).unwrap(),
        referred_user_id: UserId::parse(&format!("cl_user{i:04}")).unwrap(),
        topup_amount: Usd::cents(cents),
        rate: Rate::DEFAULT,
        hold: None,
        release_at: None,
        topup_occurred_at: at.into(),
        volume_month: at[..7].into(),
        volume_guard: None,
        partner_events: Vec::new(),
    };
    let b = Bonus::create(new, &record, at).bonus;
    let b = b.record_applied(1, &format!("wf_cl_{i}_1"), "webhook", at).unwrap().bonus;
    if !i.is_multiple_of(5) {
        return b;
    }
    record.refunded = Usd::cents(cents / 2);
    let b = b.on_payment(&record, "webhook", later, "refunded").unwrap().bonus;
    b.record_applied(2, &format!("wf_cl_{i}_2"), "webhook", later).unwrap().bonus
}

#[tokio::test]
async fn a_clean_ledger_of_1000_referrers_gives_zero_findings_at_a_counted_cost() {
    const REFERRERS: usize = 1_000;
    // A moto of its own: 1,000 rows and their markers would slow every other test's moto.
    let moto = integration_tests::Moto::start();
    let h = integration_tests::load::harness_on(&moto.endpoint).await;
    let now = adapters::clock::now();
    let at = adapters::clock::rfc3339(now - time::Duration::minutes(40));
    let later = adapters::clock::rfc3339(now - time::Duration::minutes(20));

    // Seed rows and markers exactly as the store writes them, and Wellflow's books to match.
    let started = Instant::now();
    let mut items = Vec::new();
    let mut moves = 0;
    for i in 0..REFERRERS {
        let b = seeded(i, &at, &later);
        for m in b.ledger.moves() {
            moves += 1;
            h.tamper(LedgerEdit::Insert {
                account_id: b.referrer_id.to_string(),
                kind: match m.kind {
                    referral_core::bonus::MoveKind::Credit => Kind::Credit,
                    referral_core::bonus::MoveKind::Debit => Kind::Debit,
                },
                amount: m.amount.to_string(),
                idempotency_key: Some(m.key.clone()),
                created_at: m.settled_at.clone(),
            });
        }
        items.push(activity_item(
            &Activity { referrer: b.referrer_id.clone(), at: b.updated_at.clone() },
            now.unix_timestamp(),
        ));
        items.push(bonus_item(&b));
    }
    for chunk in items.chunks(25) {
        let writes = chunk
            .iter()
            .map(|item| {
                WriteRequest::builder()
                    .put_request(PutRequest::builder().set_item(Some(item.clone())).build().unwrap())
                    .build()
            })
            .collect();
        let out = h.stack.dynamo.batch_write_item().request_items(h.stack.table(), writes).send().await.expect("seed");
        assert!(out.unprocessed_items.unwrap_or_default().is_empty(), "moto processes every seed item");
    }
    let seeding = started.elapsed();

    h.calls.reset();
    let requests_before = h.wellflow.stats().requests;
    let started = Instant::now();
    let report = h.reconcile(PassKind::Hourly).await;
    let elapsed = started.elapsed();
    let calls = h.calls.take();
    let wellflow_requests = h.wellflow.stats().requests - requests_before;
    let mut by_op: BTreeMap<String, usize> = BTreeMap::new();
    for op in &calls {
        *by_op.entry(op.clone()).or_default() += 1;
    }
    println!(
        "reconciliation, {REFERRERS} clean referrers ({moves} Wellflow moves): {:.1} s (seeding {:.1} s); DynamoDB {} calls {by_op:?}; Wellflow {wellflow_requests} requests, {} pages; findings {}",
        elapsed.as_secs_f64(),
        seeding.as_secs_f64(),
        calls.len(),
        report.wellflow_pages,
        report.sightings,
    );
    assert!(report.done, "{report:?}");
    assert_eq!(
        (report.referrers, report.sightings, report.new_findings, report.open_findings),
        (REFERRERS as u64, 0, 0, 0)
    );
    assert_eq!(report.matched, moves as u64, "every Wellflow transaction matched one of our moves");
    // Wellflow: one page per referrer. DynamoDB: one history-index query per referrer, one
    // activity query per page of referrers (64 shards, 50 a page), one pass-state read, one
    // pass-state write per page, one count of open findings; nothing else (no scan, no write
    // to the money path).
    assert_eq!((wellflow_requests, report.wellflow_pages), (REFERRERS as u64, REFERRERS as u64));
    let pages = by_op.get("PutItem").copied().unwrap_or(0);
    let shards = adapters::store::keys::ACTIVITY_SHARDS as usize;
    assert!((shards..=shards + REFERRERS / 50).contains(&pages), "activity pages: {pages}");
    assert_eq!(by_op.get("Query").copied(), Some(REFERRERS + pages + 1), "{by_op:?}");
    assert_eq!(by_op.get("GetItem").copied(), Some(1), "{by_op:?}");
    assert_eq!(calls.len(), REFERRERS + 2 * pages + 2, "{by_op:?}");
    assert!(elapsed.as_secs() < 60, "{elapsed:?}");
}

#[tokio::test]
async fn the_reconcile_functions_policy_grants_exactly_what_a_pass_uses() {
    let h = BillingHarness::new().await;
    h.refer("ri_alice", "ri_bob").await;
    h.topup("ri_p", "ri_bob", "100.00").await;
    h.refund("ri_p", "ri_bob", "40.00").await;
    h.tamper(remove("ref:auto:ri_p#debit-2"));
    // The function's cold start (its App::from_env, as main.rs) and one invocation, on SDK
    // clients that record every request's permissions.
    let rec = integration_tests::iam::Recording::new(&h.stack);
    let env = h.stack.function_env(&[
        ("WELLFLOW_BASE_URL", &h.wellflow.base_url),
        ("RECONCILE_LAG_MINUTES", "0"),
        ("RECONCILE_SKEW_MINUTES", "0"),
    ]);
    let app = reconcile::App::from_env(&env, &rec.sdk).await.unwrap();
    let deadline = adapters::clock::now() + time::Duration::minutes(5);
    let out = app.handle(json!({"pass": "daily"}), deadline).await.unwrap();
    assert_eq!((out["daily"]["new_findings"].as_u64(), out["daily"]["healed"].as_u64()), (Some(1), Some(1)), "{out}");
    ledgers_equal(&h, "ri_p", 300).await;
    rec.assert_policy_of("ReconcileFunction");
}
