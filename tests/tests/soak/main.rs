//! Soak test (opt-in: `make soak`; `#[ignore]`d, so `cargo test --workspace` skips it): 10,000
//! top-ups over 200 referrers with 30 % duplicates through the real webhook handler, while
//! Wellflow rolls through down / 5xx / slower-than-the-client-timeout windows, DynamoDB blips
//! (connections cut through the fault proxy) and the retry consumer runs alongside. Ends with the
//! ledger audit of `integration_tests::load` for every payment: one row and one Wellflow credit
//! each, sums exact to the cent, nothing lost, nothing paid twice.
//!
//! The run is split into waves (default 10 × 1,000 payments over 20 referrers), each on a fresh
//! moto server of its own (see `load` on moto's per-transaction table copy and leak), and it is
//! bounded in time: no new wave starts once `SOAK_MAX_SECS` (default 780 s) would be exceeded,
//! and each wave fails if it takes more than 7 minutes. Two waves run at once (one moto each, one
//! core each). Knobs: `SOAK_TOPUPS`, `SOAK_REFERRERS`, `SOAK_WAVES`, `SOAK_DUPLICATES`,
//! `SOAK_MAX_SECS`, `SOAK_PARALLEL`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use adapters::billing::Billing;
use fake_wellflow::Fault;
use integration_tests::billing::{token, BillingHarness};
use integration_tests::fault_proxy::FaultProxy;
use integration_tests::load::{
    audit, dead_letters, deliver, redeliver, run_retries, statuses, within, Audit, DeliveryStats, LoadPlan, Population,
    WebhookTarget,
};
use integration_tests::{body_json, Moto};
use serde_json::json;

const CONCURRENCY: usize = 32;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The Wellflow mode for the n-th delivery of a wave: windows of down, 5xx and slow every 400.
fn wellflow_mode(n: usize) -> Fault {
    match n % 400 {
        100..=159 => Fault::Down,
        200..=239 => Fault::Unavailable,
        300..=319 => Fault::Slow(Duration::from_millis(1200)),
        _ => Fault::Ok,
    }
}

/// Counters of one wave's side activity.
#[derive(Default)]
struct Chaos {
    fault_switches: AtomicUsize,
    consumer_batches: AtomicUsize,
}

/// The retry consumer running alongside the traffic, like Lambda's event source mapping: polls
/// every cell's queue and credits with a 1 s base backoff, until `stop`. Between empty rounds it
/// waits 1 s (Lambda's poller also waits between empty receives; moto's long polling would hold
/// its request lock and block every other caller).
async fn consumer(cells: Vec<Arc<BillingHarness>>, stop: Arc<AtomicBool>, chaos: Arc<Chaos>) {
    while !stop.load(Ordering::Relaxed) {
        let mut idle = true;
        for h in &cells {
            let backoff = credit_retry::Backoff { base_delay_secs: 1, ..h.backoff() };
            let polled = local_stack::esm::poll_once(&h.stack.sqs, &backoff.queue_url, 0, |event| async {
                Ok(credit_retry::handle_batch(&h.billing, &backoff, event).await)
            })
            .await;
            if let Ok(Some(_)) = polled {
                idle = false;
                chaos.consumer_batches.fetch_add(1, Ordering::Relaxed);
            }
        }
        if idle {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// The safety net for rows whose messages are still delayed (or parked in the DLQ): an admin
/// lists the failed bonuses and approves them in bulk. Returns how many were settled this way.
async fn admin_sweep(cells: &[Arc<BillingHarness>]) -> usize {
    let ops = token("soak-admin", Some("admin"), 600);
    let mut settled = 0;
    for h in cells {
        loop {
            let listed =
                body_json(&h.admin_call("GET", "/admin/bonuses?status=failed&limit=100", Some(&ops), None).await);
            let ids: Vec<String> = listed["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["payment_id"].as_str().unwrap().to_string())
                .collect();
            if ids.is_empty() {
                break;
            }
            let body = json!({"action": "approve", "payment_ids": ids});
            let resp = body_json(&h.admin_call("POST", "/admin/bonuses/bulk", Some(&ops), Some(body)).await);
            for r in resp["results"].as_array().unwrap() {
                // `not_open`: a delayed retry credited it between the list and the approval.
                assert!(["credited", "not_open"].contains(&r["outcome"].as_str().unwrap()), "{r}");
                settled += usize::from(r["outcome"] == "credited");
            }
        }
    }
    settled
}

struct Wave {
    audit: Audit,
    stats: DeliveryStats,
    answered_503: usize,
    failed_mid_run: usize,
    cuts: u64,
    resets: u64,
    fault_switches: usize,
    consumer_batches: usize,
    retry_batches: usize,
    settled_by_admin: usize,
    dead_letters: usize,
    duplicates: usize,
    elapsed: Duration,
}

async fn wave(index: usize, referrers: usize, topups: usize, duplicates: f64) -> (usize, Wave) {
    let started = Instant::now();
    let moto = tokio::task::spawn_blocking(Moto::start).await.expect("moto starts");
    let population =
        Population { referrers, users_per_referrer: 5, capped_referrers: 2, cells: (referrers / 2).max(1) };
    let cells = population.cells(&moto.endpoint).await;
    population.sign_up(&cells, 8).await;
    let plan = LoadPlan::new(population, topups, duplicates, 1000 + index as u64);

    let proxy = FaultProxy::start(&moto.endpoint).await;
    let targets: Vec<_> = cells
        .iter()
        .map(|h| {
            WebhookTarget::with_billing(h, Billing { store: proxy.dynamo_store(h.stack.table()), ..h.billing.clone() })
        })
        .collect();
    let chaos = Arc::new(Chaos::default());
    let stop = Arc::new(AtomicBool::new(false));
    let consumer = tokio::spawn(consumer(cells.clone(), stop.clone(), chaos.clone()));

    let mut stats = DeliveryStats::default();
    let mut current = Fault::Ok;
    let (c, p, ch) = (&cells, &proxy, &chaos);
    let rejected = deliver(&targets, &plan, &plan.deliveries, CONCURRENCY, &mut stats, |n| {
        let mode = wellflow_mode(n);
        if mode != current {
            current = mode;
            ch.fault_switches.fetch_add(1, Ordering::Relaxed);
            for h in c {
                h.wellflow.set_fault(mode);
            }
        }
        match n % 650 {
            500 => p.cut(),
            530 => p.restore(),
            _ => {}
        }
    })
    .await;
    for h in &cells {
        h.wellflow.set_fault(Fault::Ok);
    }
    proxy.restore();
    let answered_503 = stats.status(503);
    let failed_mid_run = statuses(&cells).await.get("failed").copied().unwrap_or(0);

    // Recovery: provider re-deliveries, then the consumer's last pass, then the admin net.
    redeliver(&targets, &plan, rejected, CONCURRENCY, &mut stats).await;
    stop.store(true, Ordering::Relaxed);
    consumer.await.expect("consumer task");
    let retry_batches = run_retries(&cells, 5000).await;
    let settled_by_admin = admin_sweep(&cells).await;
    let dead = dead_letters(&cells).await;
    let audit = audit(&cells, &plan).await;
    let wave = Wave {
        audit,
        answered_503,
        failed_mid_run,
        cuts: proxy.cuts(),
        resets: proxy.refused(),
        fault_switches: chaos.fault_switches.load(Ordering::Relaxed),
        consumer_batches: chaos.consumer_batches.load(Ordering::Relaxed),
        retry_batches,
        settled_by_admin,
        dead_letters: dead,
        duplicates: plan.duplicates,
        stats,
        elapsed: started.elapsed(),
    };
    (index, wave)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak: minutes long, run with `make soak`"]
async fn ten_thousand_topups_with_rolling_faults_lose_nothing_and_pay_nothing_twice() {
    let started = Instant::now();
    let topups: usize = env("SOAK_TOPUPS", 10_000);
    let referrers: usize = env("SOAK_REFERRERS", 200);
    let waves: usize = env("SOAK_WAVES", 10);
    let duplicates: f64 = env("SOAK_DUPLICATES", 0.30);
    let budget = Duration::from_secs(env("SOAK_MAX_SECS", 780));
    let parallel: usize = env("SOAK_PARALLEL", 2);
    assert!(
        waves > 0 && referrers.is_multiple_of(waves) && topups.is_multiple_of(waves),
        "waves must divide referrers and top-ups"
    );

    let mut total = Audit::default();
    let mut totals = (0usize, 0usize, 0usize, 0usize, 0u64, 0u64, 0usize, 0usize, 0usize, 0usize, 0usize, 0usize);
    let mut done = 0;
    let mut slowest = Duration::ZERO;
    let mut next = 0;
    let mut running = tokio::task::JoinSet::new();
    loop {
        // Start waves while there is room (`SOAK_PARALLEL` at once, one moto each) and time.
        while next < waves && running.len() < parallel {
            if started.elapsed() + slowest > budget {
                println!("SOAK no wave after {next} of {waves}: it would not finish within {budget:?}");
                next = waves;
                break;
            }
            let index = next;
            running.spawn(within(
                Duration::from_secs(420),
                "a soak wave",
                wave(index, referrers / waves, topups / waves, duplicates),
            ));
            next += 1;
        }
        let Some(finished) = running.join_next().await else { break };
        let (index, w) = finished.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        slowest = slowest.max(w.elapsed);
        integration_tests::figures!(
            "SOAK wave={index} payments={} eligible={} deliveries={} duplicates_sent={} answered_503={} \
             redelivered={} failed_mid_run={} wellflow_fault_switches={} dynamo_cuts={} connections_reset={} \
             consumer_batches={} retry_batches={} settled_by_admin={} dlq={} credited={} held={} \
             wellflow_credits={} expected={:.2} credited_total={:.2} held_total={:.2} lost={:.2} paid_twice={:.2} secs={:.1}",
            w.audit.payments,
            w.audit.eligible,
            w.stats.deliveries,
            w.duplicates,
            w.answered_503,
            w.stats.redeliveries,
            w.failed_mid_run,
            w.fault_switches,
            w.cuts,
            w.resets,
            w.consumer_batches,
            w.retry_batches,
            w.settled_by_admin,
            w.dead_letters,
            w.audit.credited,
            w.audit.held,
            w.audit.wellflow_credits,
            w.audit.expected_total,
            w.audit.credited_total,
            w.audit.held_total,
            w.audit.lost,
            w.audit.doubled,
            w.elapsed.as_secs_f64()
        );
        totals.0 += w.stats.deliveries;
        totals.1 += w.duplicates;
        totals.2 += w.answered_503;
        totals.3 += w.failed_mid_run;
        totals.4 += w.cuts;
        totals.5 += w.resets;
        totals.6 += w.fault_switches;
        totals.7 += w.consumer_batches;
        totals.8 += w.retry_batches;
        totals.9 += w.settled_by_admin;
        totals.10 += w.dead_letters;
        totals.11 += w.stats.redeliveries;
        total += w.audit;
        done += 1;
    }
    assert!(done > 0, "no wave fitted in {budget:?}");
    assert_eq!(total.lost, rust_decimal::Decimal::ZERO);
    assert_eq!(total.doubled, rust_decimal::Decimal::ZERO);
    integration_tests::figures!(
        "SOAK total waves={done} payments={} eligible={} below_minimum={} deliveries={} duplicates_sent={} \
         answered_503={} redelivered={} failed_mid_run={} wellflow_fault_switches={} dynamo_cuts={} \
         connections_reset={} consumer_batches={} retry_batches={} settled_by_admin={} dlq={} credited={} held={} \
         wellflow_credits={} expected={:.2} credited_total={:.2} held_total={:.2} money_lost={:.2} paid_twice={:.2} secs={:.1}",
        total.payments,
        total.eligible,
        total.below_minimum,
        totals.0,
        totals.1,
        totals.2,
        totals.11,
        totals.3,
        totals.6,
        totals.4,
        totals.5,
        totals.7,
        totals.8,
        totals.9,
        totals.10,
        total.credited,
        total.held,
        total.wellflow_credits,
        total.expected_total,
        total.credited_total,
        total.held_total,
        total.lost,
        total.doubled,
        started.elapsed().as_secs_f64()
    );
}
