//! Load model shared by the reliability tests (`tests/tests/e2e/reliability.rs`) and the soak
//! (`tests/tests/soak`): a deterministic population of referrers and referred users, a stream
//! of top-up events with duplicates, concurrent delivery through the real webhook handler (a
//! 503 is delivered again later, like the payment provider does), and the ledger audit that
//! proves every eligible payment was credited exactly once, to the cent.
//!
//! **Cells.** moto's `TransactWriteItems` deep-copies the whole table before every call (its
//! rollback), so one call costs O(items in the table): ~2 ms on a 100-item table, ~70 ms at
//! 2,000, ~185 ms at 3,000 (measured on moto 5.2.5). Real DynamoDB has no such cost. To keep a
//! 10,000-payment run in minutes, referrers are spread over independent cells (a fresh table,
//! queues and fake Wellflow each, `r % cells`); every delivery still goes through the same
//! concurrent stream, and each cell is audited on its own. Nothing in the code under test
//! relates two referrers, so a cell boundary hides no interaction.
//!
//! **A moto of their own.** moto also keeps every model instance it ever creates in a class-level
//! list (`BaseModel.instances_tracked`), including those deep copies: each transaction leaks a
//! copy of its table (~0.8 MB for a 300-item table), and the growing heap slows every later
//! request. Heavy runs therefore start their own moto server ([`crate::Moto::start`]), stopped
//! with the run, instead of loading the process-wide one the other tests share.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use adapters::billing::{LiveBilling, SqsEventQueue, SqsRetryQueue};
use adapters::domain::{Rate, Usd};
use adapters::store::DynamoStore;
use aws_sdk_dynamodb::types::AttributeValue;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use webhook::WebhookConfig;

use crate::billing::{BillingHarness, WEBHOOK_SECRET};
use crate::counting::counted_client;
use crate::TestStack;

/// `BonusPolicy::default().velocity_max`: first-time top-ups per referrer per 24 h before holds.
pub const VELOCITY_MAX: usize = 5;

/// Who refers whom.
#[derive(Debug, Clone)]
pub struct Population {
    pub referrers: usize,
    /// Referred users per referrer; at most [`VELOCITY_MAX`], so all their bonuses are credited.
    pub users_per_referrer: usize,
    /// The first `capped_referrers` referrers get `VELOCITY_MAX + 1` users: exactly one of their
    /// first-time top-ups must be held with `velocity_cap`, whatever the delivery order.
    pub capped_referrers: usize,
    /// Independent tables the referrers are spread over (see the module doc).
    pub cells: usize,
}

impl Population {
    pub fn referrer(r: usize) -> String {
        format!("ref{r:03}")
    }

    pub fn user(r: usize, u: usize) -> String {
        format!("ref{r:03}-u{u}")
    }

    pub fn users_of(&self, r: usize) -> usize {
        if r < self.capped_referrers {
            VELOCITY_MAX + 1
        } else {
            self.users_per_referrer
        }
    }

    /// The cell (index into the harnesses) referrer `r` lives in.
    pub fn cell_of(&self, r: usize) -> usize {
        r % self.cells
    }

    /// One fresh harness (table, queues, fake Wellflow) per cell, on the moto at `endpoint`.
    pub async fn cells(&self, endpoint: &str) -> Vec<Arc<BillingHarness>> {
        let mut cells = Vec::with_capacity(self.cells);
        for _ in 0..self.cells {
            cells.push(Arc::new(harness_on(endpoint).await));
        }
        cells
    }

    /// Every (referrer index, user index) pair, referrer by referrer.
    pub fn pairs(&self) -> Vec<(usize, usize)> {
        (0..self.referrers).flat_map(|r| (0..self.users_of(r)).map(move |u| (r, u))).collect()
    }

    /// Signs every referrer and referred user up through the real signup handler (referrers in
    /// parallel, each referrer's users one after another).
    pub async fn sign_up(&self, cells: &[Arc<BillingHarness>], concurrency: usize) {
        assert!(self.users_per_referrer <= VELOCITY_MAX, "users_per_referrer above the velocity cap");
        assert_eq!(cells.len(), self.cells);
        let limit = Arc::new(Semaphore::new(concurrency));
        let mut tasks = JoinSet::new();
        for r in 0..self.referrers {
            let (h, limit, users) = (cells[self.cell_of(r)].clone(), limit.clone(), self.users_of(r));
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await.expect("semaphore open");
                for u in 0..users {
                    h.refer(&Population::referrer(r), &Population::user(r, u)).await;
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        }
    }
}

/// A [`BillingHarness`] whose table and queues live on the moto at `endpoint` (same secrets,
/// Wellflow client and policy as `BillingHarness::new`, which also leaves an unused table on the
/// shared moto).
pub async fn harness_on(endpoint: &str) -> BillingHarness {
    let mut h = BillingHarness::new().await;
    h.stack = TestStack::on(endpoint).await;
    h.billing.store = DynamoStore::new(counted_client(&h.stack.sdk, &h.calls), h.stack.table().to_string());
    h.retry = SqsRetryQueue::new(h.stack.sqs.clone(), h.stack.queue_url("CreditRetryQueue"), 0);
    h.events = SqsEventQueue::new(h.stack.sqs.clone(), h.stack.queue_url("PartnerWebhookQueue"));
    h.outbox = tokio::sync::Mutex::new(local_stack::stream::StreamReader::new(
        &h.stack.sdk,
        h.stack.provisioned.stream_arn.clone().expect("the table has a stream"),
    ));
    h
}

/// Awaits `fut`, failing the test with `what` if it takes longer than `limit` (a stuck run
/// fails with a message instead of hanging CI).
pub async fn within<F: std::future::Future>(limit: Duration, what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(limit, fut).await {
        Ok(out) => out,
        Err(_) => panic!("{what} did not finish within {limit:?}"),
    }
}

/// One top-up of the plan.
#[derive(Debug, Clone)]
pub struct Payment {
    pub id: String,
    pub user: String,
    pub referrer: String,
    /// Index of the referrer in the population.
    pub referrer_index: usize,
    /// The referrer's cell.
    pub cell: usize,
    pub amount: Usd,
    /// The bonus it must earn (None below the $5.00 minimum).
    pub bonus: Option<Usd>,
}

/// The payments and the order (with duplicates) in which the provider delivers them.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub population: Population,
    pub payments: Vec<Payment>,
    /// Indexes into `payments`, in delivery order; duplicated payments appear more than once.
    pub deliveries: Vec<usize>,
    pub duplicates: usize,
}

/// The bonus of a top-up by hand, in integer cents: 5 % rounded half away from zero (all amounts
/// are positive, so half-up). Independent of `Rate::apply`, which must agree with it.
fn bonus_by_hand(cents: i64) -> Usd {
    Usd::cents((cents * 5 + 50) / 100)
}

impl LoadPlan {
    /// `topups` distinct payments spread round-robin over every referred user (each user's first
    /// payment is ≥ $5.00, ~4 % of the others are below the minimum, ~25 % have a bonus ending in
    /// half a cent), plus `duplicate_ratio × topups` re-deliveries: a third of them right after
    /// their original (so they race it), the rest anywhere. Deterministic for a `seed`.
    pub fn new(population: Population, topups: usize, duplicate_ratio: f64, seed: u64) -> LoadPlan {
        let pairs = population.pairs();
        assert!(topups >= pairs.len(), "every referred user needs at least one top-up ({} users)", pairs.len());
        let mut rng = StdRng::seed_from_u64(seed);
        let payments: Vec<Payment> = (0..topups)
            .map(|i| {
                let (r, u) = pairs[i % pairs.len()];
                let first_of_user = i < pairs.len();
                let cents: i64 = if !first_of_user && rng.random_bool(0.04) {
                    rng.random_range(1..500)
                } else if rng.random_bool(0.25) {
                    rng.random_range(25..10_000) * 20 + 10 // 5 % ends in exactly half a cent
                } else {
                    rng.random_range(500..=200_000)
                };
                let amount = Usd::cents(cents);
                let bonus = (cents >= 500).then(|| {
                    let by_rule = Rate::DEFAULT.apply(amount);
                    assert_eq!(by_rule, bonus_by_hand(cents), "Rate::apply disagrees with the rule for {amount}");
                    by_rule
                });
                Payment {
                    id: format!("pay-{seed}-{i:05}"),
                    user: Population::user(r, u),
                    referrer: Population::referrer(r),
                    referrer_index: r,
                    cell: population.cell_of(r),
                    amount,
                    bonus,
                }
            })
            .collect();
        let duplicates = (topups as f64 * duplicate_ratio).round() as usize;
        let span = topups as f64;
        let mut keyed: Vec<(f64, usize)> = (0..topups).map(|i| (rng.random::<f64>() * span, i)).collect();
        for _ in 0..duplicates {
            let original = rng.random_range(0..topups);
            let key = if rng.random_bool(1.0 / 3.0) {
                keyed[original].0 + rng.random::<f64>() * 1e-6
            } else {
                rng.random::<f64>() * span
            };
            keyed.push((key, original));
        }
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
        LoadPlan { population, payments, deliveries: keyed.into_iter().map(|(_, i)| i).collect(), duplicates }
    }

    /// The provider's event body for payment `i`.
    pub fn body(&self, i: usize) -> String {
        let p = &self.payments[i];
        BillingHarness::event_body(&p.id, &p.user, &p.amount.to_string(), "topup.succeeded")
    }

    pub fn eligible(&self) -> impl Iterator<Item = &Payment> {
        self.payments.iter().filter(|p| p.bonus.is_some())
    }

    pub fn is_capped(&self, referrer_index: usize) -> bool {
        referrer_index < self.population.capped_referrers
    }
}

/// Where events are delivered: the real webhook handler with a given billing wiring.
#[derive(Clone)]
pub struct WebhookTarget {
    billing: Arc<LiveBilling>,
    cfg: Arc<WebhookConfig>,
}

/// What the webhook answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// `outcome` of a 200, `error.code` otherwise.
    pub outcome: String,
}

impl WebhookTarget {
    /// The harness's own wiring (store straight on moto).
    pub fn direct(h: &BillingHarness) -> Self {
        Self::with_billing(h, h.billing.clone())
    }

    /// One direct target per cell.
    pub fn direct_all(cells: &[Arc<BillingHarness>]) -> Vec<Self> {
        cells.iter().map(|h| Self::direct(h)).collect()
    }

    /// Another wiring, e.g. a store behind a [`crate::fault_proxy::FaultProxy`].
    pub fn with_billing(h: &BillingHarness, billing: LiveBilling) -> Self {
        Self { billing: Arc::new(billing), cfg: Arc::new(h.webhook_cfg.clone()) }
    }

    /// One signed delivery.
    pub async fn deliver(&self, body: &str) -> Answer {
        let req = BillingHarness::signed("/webhooks/payments", body, WEBHOOK_SECRET);
        let resp = webhook::handle(&self.billing, &self.cfg, &req).await;
        let v = crate::body_json(&resp);
        let outcome = v["outcome"].as_str().or(v["error"]["code"].as_str()).unwrap_or("?").to_string();
        Answer { status: resp.status().as_u16(), outcome }
    }
}

/// Counters of a delivery run.
#[derive(Debug, Clone, Default)]
pub struct DeliveryStats {
    /// Webhook calls made (originals, duplicates and re-deliveries after a 503).
    pub deliveries: usize,
    pub statuses: BTreeMap<u16, usize>,
    pub outcomes: BTreeMap<String, usize>,
    /// Deliveries repeated because the webhook answered 503.
    pub redeliveries: usize,
    pub elapsed: Duration,
}

impl DeliveryStats {
    pub fn status(&self, code: u16) -> usize {
        self.statuses.get(&code).copied().unwrap_or(0)
    }

    pub fn outcome(&self, name: &str) -> usize {
        self.outcomes.get(name).copied().unwrap_or(0)
    }
}

/// Delivers `order` (payment indexes) with at most `concurrency` calls in flight, each in its own
/// task (several "Lambda instances" at once). `before_each(n)` runs before the n-th call starts
/// (fault injection at exact points of the run). Only 200 and 503 are acceptable answers (any
/// other fails the test); returns the payments answered 503, to deliver again later.
pub async fn deliver(
    targets: &[WebhookTarget],
    plan: &LoadPlan,
    order: &[usize],
    concurrency: usize,
    stats: &mut DeliveryStats,
    mut before_each: impl FnMut(usize),
) -> Vec<usize> {
    let started = Instant::now();
    let limit = Arc::new(Semaphore::new(concurrency));
    let mut tasks = JoinSet::new();
    for (n, &i) in order.iter().enumerate() {
        let permit = limit.clone().acquire_owned().await.expect("semaphore open");
        before_each(n);
        let (target, body) = (targets[plan.payments[i].cell].clone(), plan.body(i));
        tasks.spawn(async move {
            let answer = target.deliver(&body).await;
            drop(permit);
            (i, answer)
        });
    }
    let mut rejected = Vec::new();
    let mut unexpected = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (i, answer) = done.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        stats.deliveries += 1;
        *stats.statuses.entry(answer.status).or_default() += 1;
        *stats.outcomes.entry(answer.outcome.clone()).or_default() += 1;
        match answer.status {
            200 => {}
            503 if answer.outcome == "temporarily_unavailable" => rejected.push(i),
            _ => unexpected.push((plan.payments[i].id.clone(), answer)),
        }
    }
    stats.elapsed += started.elapsed();
    assert!(unexpected.is_empty(), "webhook answers other than 200/503: {unexpected:?}");
    rejected
}

/// Delivers the rejected payments again (the provider's retries) until every one is accepted.
pub async fn redeliver(
    targets: &[WebhookTarget],
    plan: &LoadPlan,
    mut rejected: Vec<usize>,
    concurrency: usize,
    stats: &mut DeliveryStats,
) {
    for _round in 0..10 {
        if rejected.is_empty() {
            return;
        }
        stats.redeliveries += rejected.len();
        rejected = deliver(targets, plan, &rejected.clone(), concurrency, stats, |_| {}).await;
    }
    assert!(rejected.is_empty(), "{} events still answered 503 after 10 provider retries", rejected.len());
}

fn money(item: &HashMap<String, AttributeValue>, attr: &str) -> Decimal {
    match item.get(attr) {
        Some(AttributeValue::N(v)) | Some(AttributeValue::S(v)) => {
            v.parse().unwrap_or_else(|_| panic!("{attr} = {v} is not a decimal"))
        }
        _ => Decimal::ZERO,
    }
}

fn string<'a>(item: &'a HashMap<String, AttributeValue>, attr: &str) -> &'a str {
    match item.get(attr) {
        Some(AttributeValue::S(v)) => v,
        _ => "",
    }
}

/// A bonus row as the audit sees it.
#[derive(Debug, Clone)]
pub struct Row {
    pub payment_id: String,
    pub referrer: String,
    pub topup: Decimal,
    pub bonus: Decimal,
    pub status: String,
    pub reason: String,
}

/// The table and Wellflow at one moment, checked for the invariants that must hold at any time,
/// even in the middle of an outage: every bonus row has its `PAYMENT#` uniqueness row and vice
/// versa (created in one transaction), each referrer's `STATS` equal the sum of their credited
/// rows (moved in the same transaction as the status), and every credited row was paid by
/// Wellflow with its own key and amount.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub rows: BTreeMap<String, Row>,
    pub by_status: BTreeMap<String, usize>,
}

pub async fn consistent_snapshot(h: &BillingHarness) -> Snapshot {
    let items = h.stack.all_items().await;
    let mut rows = BTreeMap::new();
    let mut payments = BTreeSet::new();
    let mut stats: BTreeMap<String, (Decimal, i64)> = BTreeMap::new();
    for item in &items {
        match string(item, "SK") {
            "BONUS" => {
                let row = Row {
                    payment_id: string(item, "source_payment_id").to_string(),
                    referrer: string(item, "referrer_id").to_string(),
                    topup: money(item, "topup_amount"),
                    bonus: money(item, "bonus_amount"),
                    status: string(item, "status").to_string(),
                    reason: string(item, "reason").to_string(),
                };
                assert_eq!(string(item, "PK"), format!("BONUS#ref:auto:{}", row.payment_id));
                rows.insert(row.payment_id.clone(), row);
            }
            "PAYMENT" => {
                payments.insert(string(item, "PK").trim_start_matches("PAYMENT#").to_string());
            }
            "STATS" => {
                let user = string(item, "PK").trim_start_matches("USER#").to_string();
                let count = money(item, "credited_count") - money(item, "reversed_count");
                stats.insert(user, (money(item, "earned_total"), count.try_into().expect("count fits")));
            }
            _ => {}
        }
    }
    let row_ids: BTreeSet<String> = rows.keys().cloned().collect();
    assert_eq!(row_ids, payments, "bonus rows and PAYMENT# rows must come in pairs (one transaction)");

    let mut credited: BTreeMap<String, (Decimal, i64)> = BTreeMap::new();
    for row in rows.values().filter(|r| r.status == "credited") {
        let e = credited.entry(row.referrer.clone()).or_default();
        e.0 += row.bonus;
        e.1 += 1;
    }
    for (referrer, (earned, count)) in &stats {
        let (sum, n) = credited.get(referrer).copied().unwrap_or_default();
        assert_eq!((*earned, *count), (sum, n), "{referrer}: STATS (earned_total, credited) vs credited rows");
    }
    for (referrer, sum) in &credited {
        assert!(stats.contains_key(referrer), "{referrer} has credited rows {sum:?} but no STATS row");
    }

    let paid: HashMap<String, (String, Decimal)> = h
        .wellflow
        .stats()
        .transactions
        .into_iter()
        .map(|t| (t.idempotency_key, (t.account_id, t.amount.parse().expect("Wellflow amount"))))
        .collect();
    for row in rows.values().filter(|r| r.status == "credited") {
        let key = format!("ref:auto:{}", row.payment_id);
        assert_eq!(paid.get(&key), Some(&(row.referrer.clone(), row.bonus)), "credited row {key} not paid as recorded");
    }
    let mut by_status = BTreeMap::new();
    for row in rows.values() {
        *by_status.entry(row.status.clone()).or_default() += 1;
    }
    Snapshot { rows, by_status }
}

/// The final ledger check of a run (summed over cells).
#[derive(Debug, Clone, Default)]
pub struct Audit {
    pub payments: usize,
    pub eligible: usize,
    pub below_minimum: usize,
    pub credited: usize,
    pub held: usize,
    pub expected_total: Decimal,
    pub credited_total: Decimal,
    pub held_total: Decimal,
    pub wellflow_credits: usize,
    pub wellflow_total: Decimal,
    /// Expected − credited − held: money that vanished (must be 0).
    pub lost: Decimal,
    /// Paid by Wellflow − credited rows: money paid twice or without a row (must be 0).
    pub doubled: Decimal,
}

impl std::ops::AddAssign for Audit {
    fn add_assign(&mut self, o: Audit) {
        self.payments += o.payments;
        self.eligible += o.eligible;
        self.below_minimum += o.below_minimum;
        self.credited += o.credited;
        self.held += o.held;
        self.expected_total += o.expected_total;
        self.credited_total += o.credited_total;
        self.held_total += o.held_total;
        self.wellflow_credits += o.wellflow_credits;
        self.wellflow_total += o.wellflow_total;
        self.lost += o.lost;
        self.doubled += o.doubled;
    }
}

/// After recovery, in every cell: exactly one row per eligible payment (none for the others),
/// each with the exact bonus; all `credited` except exactly one `velocity_cap` hold per capped
/// referrer; Wellflow applied exactly one credit per credited row (unique idempotency keys, exact
/// amounts); per referrer, Wellflow balance = `STATS` = credited rows = expected − held, to the cent.
pub async fn audit(cells: &[Arc<BillingHarness>], plan: &LoadPlan) -> Audit {
    let mut total = Audit::default();
    for (cell, h) in cells.iter().enumerate() {
        total += audit_cell(h, plan, cell).await;
    }
    assert_eq!(total.payments, plan.payments.len(), "every payment belongs to a cell");
    total
}

async fn audit_cell(h: &BillingHarness, plan: &LoadPlan, cell: usize) -> Audit {
    let snapshot = consistent_snapshot(h).await;
    let rows = &snapshot.rows;
    let payments: Vec<&Payment> = plan.payments.iter().filter(|p| p.cell == cell).collect();
    let eligible: BTreeMap<&str, &Payment> =
        payments.iter().filter(|p| p.bonus.is_some()).map(|p| (p.id.as_str(), *p)).collect();
    let row_ids: BTreeSet<&str> = rows.keys().map(String::as_str).collect();
    let want_ids: BTreeSet<&str> = eligible.keys().copied().collect();
    let missing: Vec<_> = want_ids.difference(&row_ids).take(10).collect();
    let extra: Vec<_> = row_ids.difference(&want_ids).take(10).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "cell {cell}: rows missing for {missing:?}, unexpected rows {extra:?}"
    );

    let mut audit = Audit {
        payments: payments.len(),
        eligible: eligible.len(),
        below_minimum: payments.len() - eligible.len(),
        ..Audit::default()
    };
    let mut held_per_referrer: BTreeMap<usize, usize> = BTreeMap::new();
    let mut expected_per_referrer: BTreeMap<&str, Decimal> = BTreeMap::new();
    for (id, p) in &eligible {
        let row = &rows[*id];
        let bonus = p.bonus.expect("eligible").decimal();
        assert_eq!(
            (row.referrer.as_str(), row.topup, row.bonus),
            (p.referrer.as_str(), p.amount.decimal(), bonus),
            "{id}: referrer, top-up, bonus"
        );
        *expected_per_referrer.entry(p.referrer.as_str()).or_default() += bonus;
        audit.expected_total += bonus;
        match (row.status.as_str(), row.reason.as_str()) {
            ("credited", _) => {
                audit.credited += 1;
                audit.credited_total += bonus;
            }
            ("pending", "velocity_cap") if plan.is_capped(p.referrer_index) => {
                audit.held += 1;
                audit.held_total += bonus;
                *held_per_referrer.entry(p.referrer_index).or_default() += 1;
            }
            (status, reason) => panic!("{id}: unexpected final status {status} ({reason})"),
        }
    }
    for r in (0..plan.population.capped_referrers).filter(|r| plan.population.cell_of(*r) == cell) {
        assert_eq!(held_per_referrer.get(&r), Some(&1), "{}: exactly one velocity_cap hold", Population::referrer(r));
    }

    let wellflow = h.wellflow.stats();
    let keys: BTreeSet<&str> = wellflow.transactions.iter().map(|t| t.idempotency_key.as_str()).collect();
    assert_eq!(keys.len(), wellflow.transactions.len(), "cell {cell}: an idempotency key was applied twice");
    assert!(wellflow.transactions.iter().all(|t| t.kind == fake_wellflow::Kind::Credit), "no debits in this run");
    let credited_keys: BTreeSet<String> =
        rows.values().filter(|r| r.status == "credited").map(|r| format!("ref:auto:{}", r.payment_id)).collect();
    assert_eq!(
        keys,
        credited_keys.iter().map(String::as_str).collect(),
        "cell {cell}: Wellflow credits = credited rows"
    );
    audit.wellflow_credits = wellflow.transactions.len();
    assert_eq!(
        wellflow.credits_applied as usize, audit.credited,
        "cell {cell}: one Wellflow credit per credited payment"
    );
    audit.wellflow_total = wellflow.transactions.iter().map(|t| t.amount.parse::<Decimal>().expect("amount")).sum();

    for (referrer, expected) in &expected_per_referrer {
        let held: Decimal =
            rows.values().filter(|r| r.referrer == *referrer && r.status == "pending").map(|r| r.bonus).sum();
        assert_eq!(h.wellflow.balance(referrer), *expected - held, "{referrer}: Wellflow balance to the cent");
    }
    audit.lost = audit.expected_total - audit.credited_total - audit.held_total;
    audit.doubled = audit.wellflow_total - audit.credited_total;
    assert_eq!((audit.lost, audit.doubled), (Decimal::ZERO, Decimal::ZERO), "cell {cell}: money lost / paid twice");
    audit
}

/// Statuses of the bonus rows over every cell, each cell checked by [`consistent_snapshot`].
pub async fn statuses(cells: &[Arc<BillingHarness>]) -> BTreeMap<String, usize> {
    let mut all = BTreeMap::new();
    for h in cells {
        for (status, n) in consistent_snapshot(h).await.by_status {
            *all.entry(status).or_default() += n;
        }
    }
    all
}

/// Runs every cell's retry consumer until its queue is empty; returns the batches run.
pub async fn run_retries(cells: &[Arc<BillingHarness>], max_batches_per_cell: usize) -> usize {
    let mut batches = 0;
    for h in cells {
        batches += h.run_retries(max_batches_per_cell).await;
    }
    batches
}

/// Messages parked in the cells' dead-letter queues (drained).
pub async fn dead_letters(cells: &[Arc<BillingHarness>]) -> usize {
    let mut n = 0;
    for h in cells {
        n += h.drain_queue("CreditRetryDLQ").await.len();
    }
    n
}
