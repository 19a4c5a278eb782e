//! In-memory adapters for the core's ports, with fault injection: a store with the same
//! atomic, conditional commit semantics the DynamoDB adapter gives (versions, uniqueness,
//! guards; all or nothing), a Wellflow ledger with idempotency keys, queues, and a manual
//! clock. One [`World`] holds the shared state; each simulated Lambda invocation gets its own
//! [`Process`], which can crash (every later call of that process fails, like a dead
//! process) before or after any call.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use referral_core::bonus::reconcile::{Finding, FindingStatus};
use referral_core::bonus::{Bonus, Effect, FailureKind, MoveKind, OutboxMessage};
use referral_core::clock::{self, Clock};
use referral_core::domain::{PaymentId, RateTiers, Usd, UserId};
use referral_core::payment::PaymentRecord;
use referral_core::ports::{
    EventQueue, Ledger, LedgerEntry, LedgerError, LedgerHistory, LedgerPage, PartnerEventMessage, RetryQueue, Transfer,
    TransferRequest,
};
use referral_core::store::{
    ActiveReferrer, BonusQueries, Commit, CommitOutcome, Findings, HoldingQueries, Page, PassKind, PassState,
    PaymentSnapshot, Payments, QueryError, Reconciliation, ReferrerSnapshot, StoreError, UnsettledQueries, UserProfile,
};
use rust_decimal::Decimal;
use time::OffsetDateTime;

use super::executor::yield_now;

// ------------------------------------------------------------------------------ clock ----

#[derive(Clone)]
pub struct ManualClock(Arc<Mutex<OffsetDateTime>>);

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> Self {
        Self(Arc::new(Mutex::new(start)))
    }

    pub fn advance(&self, by: time::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

// ------------------------------------------------------------------------------ state ----

/// A referrer's aggregates as the store keeps them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Earnings {
    pub total: Decimal,
    pub by_day: BTreeMap<String, Decimal>,
    pub by_month: BTreeMap<String, Decimal>,
    pub credited_count: i64,
    pub reversed_count: i64,
}

#[derive(Debug, Default)]
pub struct StoreState {
    pub records: BTreeMap<PaymentId, PaymentRecord>,
    pub bonuses: BTreeMap<PaymentId, Bonus>,
    pub profiles: BTreeMap<UserId, UserProfile>,
    pub month_volume: BTreeMap<(UserId, String), Decimal>,
    pub earnings: BTreeMap<UserId, Earnings>,
    pub active: BTreeMap<(UserId, String), i64>,
    /// Written by commits, not yet delivered.
    pub outbox: Vec<OutboxMessage>,
    /// Every outbox message ever committed.
    pub outbox_all: Vec<OutboxMessage>,
    pub rate_tiers: Option<RateTiers>,
    /// Reconciliation: the referrers' activity markers (latest planned move), findings, passes.
    pub activity: BTreeMap<UserId, String>,
    pub findings: BTreeMap<String, Finding>,
    pub passes: BTreeMap<&'static str, PassState>,
    /// Each bonus's referrer override at the instant the bonus was created.
    pub override_at_creation: BTreeMap<PaymentId, Option<referral_core::domain::Rate>>,
    pub commits: u64,
    pub reads: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppliedTransfer {
    pub kind: MoveKind,
    pub account: UserId,
    pub amount: Usd,
    pub transaction_id: String,
    /// When Wellflow applied it (the world's clock).
    pub at: String,
}

#[derive(Debug, Default)]
pub struct LedgerState {
    pub balances: BTreeMap<UserId, Decimal>,
    pub by_key: BTreeMap<String, AppliedTransfer>,
    /// Keys re-used for another account, direction or amount (must stay empty).
    pub conflicts: Vec<String>,
    pub calls: u64,
    next_tx: u64,
}

impl LedgerState {
    /// Wellflow's net for one payment: its bonus's keys (`ref:auto:<payment>[#…]`).
    pub fn net_for(&self, payment: &PaymentId) -> Decimal {
        self.by_key
            .iter()
            .filter(|(key, _)| payment_of_key(key) == Some(payment.as_str()))
            .map(|(_, t)| signed(t))
            .sum()
    }

    pub fn keys_for(&self, payment: &PaymentId) -> Vec<String> {
        self.by_key.keys().filter(|k| payment_of_key(k) == Some(payment.as_str())).cloned().collect()
    }

    fn apply(&mut self, request: &TransferRequest<'_>, at: String) -> Result<Transfer, LedgerError> {
        if let Some(existing) = self.by_key.get(request.idempotency_key) {
            if existing.kind == request.kind
                && &existing.account == request.account
                && existing.amount == request.amount
            {
                return Ok(Transfer { transaction_id: existing.transaction_id.clone(), replayed: true });
            }
            self.conflicts.push(request.idempotency_key.to_string());
            return Err(LedgerError {
                kind: FailureKind::Refused,
                code: "wellflow_rejected".into(),
                message: "idempotency_conflict".into(),
            });
        }
        self.next_tx += 1;
        let applied = AppliedTransfer {
            kind: request.kind,
            account: request.account.clone(),
            amount: request.amount,
            transaction_id: format!("wf_tx_{}", self.next_tx),
            at,
        };
        *self.balances.entry(request.account.clone()).or_default() += signed(&applied);
        let transfer = Transfer { transaction_id: applied.transaction_id.clone(), replayed: false };
        self.by_key.insert(request.idempotency_key.to_string(), applied);
        Ok(transfer)
    }
}

fn signed(t: &AppliedTransfer) -> Decimal {
    match t.kind {
        MoveKind::Credit => t.amount.decimal(),
        MoveKind::Debit => -t.amount.decimal(),
    }
}

/// The payment a bonus key belongs to (`#` never occurs in payment ids).
pub use referral_core::bonus::payment_of_key;

impl LedgerState {
    /// Tampering, like a Wellflow incident or a hand edit: removes the transaction of `key`
    /// (and Wellflow's memory of the key). Returns it.
    pub fn remove(&mut self, key: &str) -> Option<AppliedTransfer> {
        let t = self.by_key.remove(key)?;
        *self.balances.entry(t.account.clone()).or_default() -= signed(&t);
        Some(t)
    }

    /// Tampering: books a transaction directly (a manual adjustment, a late apply).
    pub fn insert(&mut self, key: &str, kind: MoveKind, account: &UserId, amount: Usd, at: &str) {
        self.next_tx += 1;
        let t = AppliedTransfer {
            kind,
            account: account.clone(),
            amount,
            transaction_id: format!("wf_tx_{}", self.next_tx),
            at: at.to_string(),
        };
        *self.balances.entry(account.clone()).or_default() += signed(&t);
        self.by_key.insert(key.to_string(), t);
    }
}

#[derive(Debug, Default)]
pub struct QueueState {
    pub retries: Vec<(PaymentId, u32)>,
    pub events: Vec<PartnerEventMessage>,
}

/// Fault probabilities (0 = never).
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    pub store_blip: f64,
    pub crash: f64,
    pub wellflow_down: f64,
    pub wellflow_5xx: f64,
    pub timeout_before_apply: f64,
    pub timeout_after_apply: f64,
    pub refuse: f64,
    pub queue_send_fails: f64,
}

pub struct World {
    pub store: Mutex<StoreState>,
    pub ledger: Mutex<LedgerState>,
    pub queue: Mutex<QueueState>,
    pub clock: ManualClock,
    pub faults: Mutex<Faults>,
    rng: Mutex<StdRng>,
}

impl World {
    pub fn new(seed: u64, start: OffsetDateTime) -> Arc<Self> {
        Arc::new(Self {
            store: Mutex::default(),
            ledger: Mutex::default(),
            queue: Mutex::default(),
            clock: ManualClock::new(start),
            faults: Mutex::default(),
            rng: Mutex::new(StdRng::seed_from_u64(seed ^ 0x5eed_fa17)),
        })
    }

    pub fn set_faults(&self, faults: Faults) {
        *self.faults.lock().unwrap() = faults;
    }

    fn roll(&self, p: f64) -> bool {
        p > 0.0 && self.rng.lock().unwrap().random_bool(p.min(1.0))
    }

    /// A new process (one Lambda invocation) on this world. Like a Lambda invocation, it
    /// is killed when it runs past [`INVOCATION_LIMIT`] (simulated time).
    pub fn process(self: &Arc<Self>) -> Arc<Process> {
        let deadline = self.clock.now() + INVOCATION_LIMIT;
        Arc::new(Process { world: self.clone(), dead: AtomicBool::new(false), deadline })
    }

    pub fn put_profile(&self, profile: UserProfile) {
        self.store.lock().unwrap().profiles.insert(profile.user_id.clone(), profile);
    }

    pub fn bonus(&self, payment: &PaymentId) -> Option<Bonus> {
        self.store.lock().unwrap().bonuses.get(payment).cloned()
    }
}

/// Lambda's maximum invocation time.
pub const INVOCATION_LIMIT: time::Duration = time::Duration::minutes(15);

/// One simulated invocation. Once crashed (or past its deadline), every call fails without
/// effect.
pub struct Process {
    pub world: Arc<World>,
    dead: AtomicBool,
    deadline: OffsetDateTime,
}

const CRASHED: &str = "process crashed";

/// Where a crash strikes relative to the call's effect.
enum Crash {
    None,
    Before,
    After,
}

impl Process {
    pub fn is_dead(&self) -> bool {
        if self.world.clock.now() > self.deadline {
            self.die();
        }
        self.dead.load(Ordering::SeqCst)
    }

    fn crash_point(&self) -> Crash {
        let p = self.world.faults.lock().unwrap().crash;
        if !self.world.roll(p) {
            return Crash::None;
        }
        if self.world.roll(0.5) {
            Crash::Before
        } else {
            Crash::After
        }
    }

    fn die(&self) {
        self.dead.store(true, Ordering::SeqCst);
    }

    fn unavailable() -> StoreError {
        StoreError::Unavailable(CRASHED.into())
    }

    /// Common prologue of a store call: interleave, fail if dead, maybe blip.
    async fn enter_store(&self) -> Result<(), StoreError> {
        yield_now().await;
        if self.is_dead() {
            return Err(Self::unavailable());
        }
        let blip = self.world.faults.lock().unwrap().store_blip;
        if self.world.roll(blip) {
            return Err(StoreError::Unavailable("simulated DynamoDB blip".into()));
        }
        Ok(())
    }

    /// Wraps a store operation with the crash points.
    async fn store_op<T>(&self, op: impl FnOnce(&mut StoreState) -> T) -> Result<T, StoreError> {
        self.enter_store().await?;
        match self.crash_point() {
            Crash::Before => {
                self.die();
                Err(Self::unavailable())
            }
            Crash::After => {
                op(&mut self.world.store.lock().unwrap());
                self.die();
                Err(Self::unavailable())
            }
            Crash::None => {
                let out = op(&mut self.world.store.lock().unwrap());
                yield_now().await;
                Ok(out)
            }
        }
    }
}

// ------------------------------------------------------------------------------ store ----

#[derive(Clone)]
pub struct MemStore(pub Arc<Process>);

impl MemStore {
    fn snapshot(state: &mut StoreState, payment: &PaymentId, payer: Option<&UserId>) -> PaymentSnapshot {
        state.reads += 1;
        PaymentSnapshot {
            record: state.records.get(payment).cloned(),
            bonus: state.bonuses.get(payment).cloned(),
            payer: payer.and_then(|p| state.profiles.get(p).cloned()),
            rate_tiers: state.rate_tiers.clone(),
        }
    }
}

/// Checks every condition of a commit; `true` if all hold.
fn conditions_hold(state: &StoreState, commit: &Commit) -> bool {
    if let Some(record) = &commit.payment {
        let stored = state.records.get(&record.payment_id).map(|r| r.version);
        let ok = match stored {
            None => record.version == 1,
            Some(v) => record.version == v + 1,
        };
        if !ok {
            return false;
        }
    }
    let Some(change) = &commit.bonus else { return true };
    let stored = state.bonuses.get(&change.bonus.source_payment_id).map(|b| b.version);
    if stored != change.expected_version {
        return false;
    }
    change.effects.iter().all(|effect| match effect {
        Effect::Payer(p) => {
            let Some(profile) = state.profiles.get(&p.payer) else { return false };
            let previous = profile.active_for.clone().zip(profile.last_topup_day.clone());
            previous == p.previous && (p.first_topup.is_none() || profile.first_topup_payment_id.is_none())
        }
        Effect::Velocity(v) => {
            state.profiles.get(&v.referrer).map(|r| r.velocity_version).unwrap_or(0) == v.read_version
        }
        Effect::ReferrerGuard(g) => {
            state.profiles.get(&g.referrer).map(|r| r.ctx_version).unwrap_or(0) == g.ctx_version
        }
        Effect::Volume(v) => match v.guard {
            Some(band) => {
                let volume =
                    state.month_volume.get(&(v.referrer.clone(), v.month.clone())).copied().unwrap_or_default();
                band.contains(Usd::from_decimal_exact(volume))
            }
            None => true,
        },
        Effect::Earnings(_) | Effect::Outbox(_) | Effect::Activity(_) => true,
    })
}

fn apply_commit(state: &mut StoreState, commit: &Commit) {
    state.commits += 1;
    if let Some(record) = &commit.payment {
        state.records.insert(record.payment_id.clone(), record.clone());
    }
    let Some(change) = &commit.bonus else { return };
    if change.expected_version.is_none() {
        // The referrer's override as it is at the moment the bonus is created (what a
        // creation must have used, whatever copy of it the top-up read).
        let current = state.profiles.get(&change.bonus.referrer_id).and_then(|p| p.rate_override);
        state.override_at_creation.insert(change.bonus.source_payment_id.clone(), current);
    }
    state.bonuses.insert(change.bonus.source_payment_id.clone(), change.bonus.clone());
    for effect in &change.effects {
        match effect {
            Effect::Earnings(e) => {
                let agg = state.earnings.entry(e.referrer.clone()).or_default();
                agg.total += e.amount;
                *agg.by_day.entry(e.day.clone()).or_default() += e.amount;
                *agg.by_month.entry(e.month.clone()).or_default() += e.amount;
                agg.credited_count += e.credited;
                agg.reversed_count += e.reversed;
            }
            Effect::Volume(v) => {
                *state.month_volume.entry((v.referrer.clone(), v.month.clone())).or_default() += v.delta
            }
            Effect::Payer(p) => {
                for (referrer, day, delta) in p.active_moves() {
                    *state.active.entry((referrer, day)).or_default() += delta;
                }
                let profile = state.profiles.get_mut(&p.payer).expect("checked");
                profile.last_topup_day = Some(p.day.clone());
                profile.active_for = Some(p.referrer.clone());
                if let Some(first) = &p.first_topup {
                    profile.first_topup_payment_id = Some(first.clone());
                }
                if let Some(ctx) = &p.referrer_ctx {
                    profile.referrer_ctx = Some(ctx.clone());
                }
            }
            Effect::Velocity(v) => {
                let profile = state.profiles.entry(v.referrer.clone()).or_insert_with(|| empty_profile(&v.referrer));
                profile.first_topups = v.window.clone();
                profile.velocity_version = v.read_version + 1;
            }
            Effect::ReferrerGuard(_) => {}
            Effect::Outbox(m) => {
                state.outbox.push(m.clone());
                state.outbox_all.push(m.clone());
            }
            Effect::Activity(a) => {
                state.activity.insert(a.referrer.clone(), a.at.clone());
            }
        }
    }
}

pub fn empty_profile(user: &UserId) -> UserProfile {
    UserProfile::new(user.clone(), "2026-01-01T00:00:00.000Z".into())
}

impl Payments for MemStore {
    async fn payment_snapshot(
        &self,
        payment: &PaymentId,
        payer: Option<&UserId>,
    ) -> Result<PaymentSnapshot, StoreError> {
        self.0.store_op(|s| Self::snapshot(s, payment, payer)).await
    }

    async fn referrer_snapshot(&self, referrer: &UserId, month: &str) -> Result<ReferrerSnapshot, StoreError> {
        self.0
            .store_op(|s| {
                s.reads += 1;
                ReferrerSnapshot {
                    profile: s.profiles.get(referrer).cloned(),
                    month_volume: Usd::from_decimal_exact(
                        s.month_volume.get(&(referrer.clone(), month.to_string())).copied().unwrap_or_default(),
                    ),
                }
            })
            .await
    }

    async fn bonus(&self, payment: &PaymentId) -> Result<Option<Bonus>, StoreError> {
        self.0
            .store_op(|s| {
                s.reads += 1;
                s.bonuses.get(payment).cloned()
            })
            .await
    }

    async fn commit(&self, commit: &Commit) -> Result<CommitOutcome, StoreError> {
        self.0
            .store_op(|s| {
                if conditions_hold(s, commit) {
                    apply_commit(s, commit);
                    CommitOutcome::Committed
                } else {
                    CommitOutcome::Conflict
                }
            })
            .await
    }
}

/// One page of `items` after `cursor` (an offset).
fn page<T>(mut items: Vec<T>, limit: i32, cursor: Option<&str>) -> Result<Page<T>, QueryError> {
    let start: usize = match cursor {
        Some(c) => c.parse().map_err(|_| referral_core::store::CursorError)?,
        None => 0,
    };
    let end = (start + limit.max(1) as usize).min(items.len());
    let next_cursor = (end < items.len()).then(|| end.to_string());
    let items = items.drain(start.min(end)..end).collect();
    Ok(Page { items, next_cursor })
}

impl HoldingQueries for MemStore {
    async fn list_due_holding(
        &self,
        due_by: &str,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<Bonus>, QueryError> {
        let mut due: Vec<Bonus> = self
            .0
            .store_op(|s| {
                s.bonuses
                    .values()
                    .filter(|b| b.is_holding() && b.release_at.as_deref().is_some_and(|r| r <= due_by))
                    .cloned()
                    .collect()
            })
            .await?;
        due.sort_by(|a, b| a.release_at.cmp(&b.release_at));
        page(due, limit, cursor)
    }
}

impl UnsettledQueries for MemStore {
    async fn list_unsettled(
        &self,
        idle_before: &str,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<Bonus>, QueryError> {
        let mut idle: Vec<Bonus> = self
            .0
            .store_op(|s| {
                s.bonuses.values().filter(|b| !b.is_settled() && b.updated_at.as_str() < idle_before).cloned().collect()
            })
            .await?;
        idle.sort_by(|a, b| a.updated_at.cmp(&b.updated_at));
        page(idle, limit, cursor)
    }
}

impl BonusQueries for MemStore {
    async fn list_by_status(
        &self,
        status: referral_core::bonus::BonusStatus,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<Bonus>, QueryError> {
        let items: Vec<Bonus> =
            self.0.store_op(|s| s.bonuses.values().filter(|b| b.status == status).cloned().collect()).await?;
        page(items, limit, cursor)
    }

    async fn list_by_referrer(
        &self,
        referrer: &UserId,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<Bonus>, QueryError> {
        let items: Vec<Bonus> =
            self.0.store_op(|s| s.bonuses.values().filter(|b| &b.referrer_id == referrer).cloned().collect()).await?;
        page(items, limit, cursor)
    }
}

impl Reconciliation for MemStore {
    async fn active_referrers(
        &self,
        since: &str,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<ActiveReferrer>, QueryError> {
        let active: Vec<ActiveReferrer> = self
            .0
            .store_op(|s| {
                s.activity
                    .iter()
                    .filter(|(_, at)| at.as_str() >= since)
                    .map(|(referrer, at)| ActiveReferrer { referrer: referrer.clone(), last_at: at.clone() })
                    .collect()
            })
            .await?;
        page(active, limit, cursor)
    }

    async fn referrer_bonuses(&self, referrer: &UserId) -> Result<Vec<Bonus>, StoreError> {
        self.0.store_op(|s| s.bonuses.values().filter(|b| &b.referrer_id == referrer).cloned().collect()).await
    }

    async fn pass_state(&self, kind: PassKind) -> Result<Option<PassState>, StoreError> {
        self.0.store_op(|s| s.passes.get(kind.as_str()).cloned()).await
    }

    async fn save_pass_state(&self, state: &PassState, expected: Option<u64>) -> Result<CommitOutcome, StoreError> {
        self.0
            .store_op(|s| {
                let stored = s.passes.get(state.kind.as_str()).map(|p| p.version);
                if stored != expected {
                    return CommitOutcome::Conflict;
                }
                s.passes.insert(state.kind.as_str(), state.clone());
                CommitOutcome::Committed
            })
            .await
    }
}

impl Findings for MemStore {
    async fn finding(&self, id: &str) -> Result<Option<Finding>, StoreError> {
        self.0.store_op(|s| s.findings.get(id).cloned()).await
    }

    async fn save_finding(&self, finding: &Finding, expected: Option<u64>) -> Result<CommitOutcome, StoreError> {
        self.0
            .store_op(|s| {
                let stored = s.findings.get(&finding.finding_id).map(|f| f.version);
                if stored != expected {
                    return CommitOutcome::Conflict;
                }
                s.findings.insert(finding.finding_id.clone(), finding.clone());
                CommitOutcome::Committed
            })
            .await
    }

    async fn list_findings(
        &self,
        status: FindingStatus,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<Finding>, QueryError> {
        let items: Vec<Finding> =
            self.0.store_op(|s| s.findings.values().filter(|f| f.status == status).cloned().collect()).await?;
        page(items, limit, cursor)
    }

    async fn count_open_findings(&self) -> Result<u64, StoreError> {
        self.0.store_op(|s| s.findings.values().filter(|f| f.status == FindingStatus::Open).count() as u64).await
    }
}

// ----------------------------------------------------------------------------- ledger ----

#[derive(Clone)]
pub struct MemLedger(pub Arc<Process>);

impl Ledger for MemLedger {
    async fn transfer(&self, request: &TransferRequest<'_>) -> Result<Transfer, LedgerError> {
        let p = &self.0;
        yield_now().await;
        let unknown = |code: &str, message: &str| LedgerError {
            kind: FailureKind::Unknown,
            code: code.to_string(),
            message: message.to_string(),
        };
        if p.is_dead() {
            return Err(unknown("wellflow_unreachable", CRASHED));
        }
        let faults = *p.world.faults.lock().unwrap();
        let world = &p.world;
        world.ledger.lock().unwrap().calls += 1;
        if world.roll(faults.wellflow_down) {
            return Err(unknown("wellflow_unreachable", "connection refused"));
        }
        if world.roll(faults.wellflow_5xx) {
            return Err(unknown("wellflow_5xx", "HTTP 503"));
        }
        if world.roll(faults.timeout_before_apply) {
            return Err(unknown("wellflow_timeout", "no answer in time (not applied)"));
        }
        // Wellflow's contract: a key it applied before is answered with the original transfer
        // (a replay), never refused — so a refusal means "not applied".
        let known = world.ledger.lock().unwrap().by_key.contains_key(request.idempotency_key);
        if !known && world.roll(faults.refuse) {
            return Err(LedgerError {
                kind: FailureKind::Refused,
                code: "wellflow_rejected".into(),
                message: "HTTP 422 account_closed".into(),
            });
        }
        let crash = p.crash_point();
        if matches!(crash, Crash::Before) {
            p.die();
            return Err(unknown("wellflow_unreachable", CRASHED));
        }
        let at = clock::rfc3339(world.clock.now());
        let result = world.ledger.lock().unwrap().apply(request, at);
        if matches!(crash, Crash::After) {
            p.die();
            return Err(unknown("wellflow_timeout", CRASHED));
        }
        if result.is_ok() && world.roll(faults.timeout_after_apply) {
            return Err(unknown("wellflow_timeout", "no answer in time (applied)"));
        }
        yield_now().await;
        result
    }
}

impl LedgerHistory for MemLedger {
    /// Every transaction of the account in `[from, to)`, in pages of 3 (small pages exercise
    /// the paging), oldest first.
    async fn transactions(
        &self,
        account: &UserId,
        from: &str,
        to: &str,
        cursor: Option<&str>,
    ) -> Result<LedgerPage, LedgerError> {
        yield_now().await;
        if self.0.is_dead() {
            return Err(LedgerError {
                kind: FailureKind::Unknown,
                code: "wellflow_unreachable".into(),
                message: CRASHED.into(),
            });
        }
        let ledger = self.0.world.ledger.lock().unwrap();
        let mut entries: Vec<LedgerEntry> = ledger
            .by_key
            .iter()
            .filter(|(_, t)| &t.account == account && t.at.as_str() >= from && t.at.as_str() < to)
            .map(|(key, t)| LedgerEntry {
                transaction_id: t.transaction_id.clone(),
                idempotency_key: Some(key.clone()),
                kind: t.kind,
                amount: t.amount,
                at: t.at.clone(),
            })
            .collect();
        entries.sort_by(|a, b| (&a.at, &a.transaction_id).cmp(&(&b.at, &b.transaction_id)));
        let listed = page(entries, 3, cursor).map_err(|e| LedgerError {
            kind: FailureKind::Refused,
            code: "wellflow_rejected".into(),
            message: e.to_string(),
        })?;
        Ok(LedgerPage { entries: listed.items, next_cursor: listed.next_cursor })
    }
}

// ----------------------------------------------------------------------------- queues ----

#[derive(Clone)]
pub struct MemQueue(pub Arc<Process>);

impl MemQueue {
    async fn send(&self, f: impl FnOnce(&mut QueueState)) -> Result<(), String> {
        yield_now().await;
        if self.0.is_dead() {
            return Err(CRASHED.into());
        }
        let p = self.0.world.faults.lock().unwrap().queue_send_fails;
        if self.0.world.roll(p) {
            return Err("simulated SQS failure".into());
        }
        f(&mut self.0.world.queue.lock().unwrap());
        Ok(())
    }
}

impl RetryQueue for MemQueue {
    async fn schedule(&self, payment: &PaymentId, attempts: u32) -> Result<(), String> {
        self.send(|q| q.retries.push((payment.clone(), attempts))).await
    }
}

impl EventQueue for MemQueue {
    async fn publish(&self, message: &PartnerEventMessage) -> Result<(), String> {
        let message = message.clone();
        self.send(|q| q.events.push(message)).await
    }
}

/// The start of every simulated run (a fixed instant: runs are reproducible).
pub fn epoch() -> OffsetDateTime {
    clock::parse_rfc3339("2026-11-20T10:00:00Z").expect("valid")
}
