//! Reconciliation passes: proving, referrer by referrer, that Wellflow's books hold exactly what
//! our bonus rows say (the rule: `bonus::reconcile`).
//!
//! A **pass** walks the referrers with a Wellflow move planned recently (the activity markers
//! written with the money; no scan) and, for each, reads its bonus rows (one query) and its
//! Wellflow account's transactions over the pass's window (pages), compares them, and records
//! every drift as a finding (the same drift twice is one finding). Drifts the rule says are
//! safe to heal are healed through the state machine, the conditional commit and
//! [`settle`] — the same path as every other change; the rest wait for an admin
//! ([`resolve_finding`]).
//!
//! | pass | referrers | Wellflow window |
//! |---|---|---|
//! | hourly | a move planned in the window | `[now − lag − 3 h, now − lag)` |
//! | daily | a move planned in the last 35 days | `[now − lag − 35 d, now − lag)` |
//!
//! The `lag` (5 min) leaves out moves being recorded right now. A pass keeps its state (window,
//! cursor, counters) in the store and stops when the invocation's budget runs out; the next
//! invocation continues it, page by page, so a pass never needs to fit in one Lambda timeout.
//! Overlapping invocations cannot both advance it (the state is saved conditionally).

use futures::{StreamExt, TryFutureExt};
use time::OffsetDateTime;

use crate::bonus::reconcile::{compare, Drift, Finding, Heal, HealDecision, Window, ACTOR};
use crate::bonus::{payment_of_key, Bonus, FailureKind};
use crate::clock;
use crate::domain::{PaymentId, UserId};
use crate::metrics::{self, Unit};
use crate::ports::{Ledger, LedgerEntry, LedgerHistory};
use crate::store::{
    Commit, CommitOutcome, Findings, PassKind, PassState, Payments, QueryError, Reconciliation, StoreError,
};
use crate::usecases::settle::{settle, Mode};
use crate::usecases::{Billing, BillingError};

/// Bound on Wellflow pages read for one account in one pass (the window's transactions).
const MAX_WELLFLOW_PAGES: usize = 1_000;
/// Optimistic-concurrency retries on a finding.
const ATTEMPTS: usize = 5;

/// How passes look (defaults: what production runs; `functions/reconcile` reads overrides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileConfig {
    pub hourly_window: time::Duration,
    pub daily_window: time::Duration,
    /// The most recent minutes are left out (moves being recorded right now).
    pub lag: time::Duration,
    /// How far Wellflow's clock may be from ours (`bonus::reconcile::Window::expects`).
    pub skew: time::Duration,
    /// A missing credit is re-issued only when seen again at least this long after the first.
    pub confirm_credit_after: time::Duration,
    /// Active referrers read per page (the unit of progress saved between invocations).
    pub referrers_per_page: i32,
    /// Referrers reconciled at the same time.
    pub concurrency: usize,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        Self {
            hourly_window: time::Duration::hours(3),
            daily_window: time::Duration::days(35),
            lag: time::Duration::minutes(5),
            skew: time::Duration::minutes(2),
            confirm_credit_after: time::Duration::hours(1),
            referrers_per_page: 50,
            concurrency: 8,
        }
    }
}

/// How much one invocation may do: it stops before `deadline` (checked between pages) or
/// after `max_pages` pages of referrers, whichever comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub deadline: OffsetDateTime,
    pub max_pages: usize,
}

/// What one invocation did on a pass (also, without the pass fields, what reconciling one
/// referrer or one page of them did: the counts add up).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PassReport {
    pub kind: Option<PassKind>,
    pub run_id: Option<String>,
    pub window_from: Option<String>,
    pub window_to: Option<String>,
    /// This invocation.
    pub referrers: u64,
    pub wellflow_pages: u64,
    pub matched: u64,
    pub sightings: u64,
    pub new_findings: u64,
    pub healed: u64,
    /// Referrers whose Wellflow account could not be read (refused: skipped, logged).
    pub skipped: u64,
    /// Every finding sighted by this invocation.
    #[serde(skip)]
    pub findings: Vec<String>,
    /// The pass is complete.
    pub done: bool,
    /// Open findings after this invocation.
    pub open_findings: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Billing(#[from] BillingError),
    /// Wellflow did not answer a listing (timeout, 5xx): the page is read again next time.
    #[error("Wellflow listing failed: {0}")]
    Wellflow(String),
    /// The pass state changed under us: another invocation works on it.
    #[error("another invocation is running the {0} pass")]
    Superseded(&'static str),
}

impl From<QueryError> for ReconcileError {
    fn from(e: QueryError) -> Self {
        ReconcileError::Store(crate::usecases::holding::store_error(e))
    }
}

/// Runs (`start`: or continues) a pass of `kind` within `budget`. A `start` while a pass of
/// that kind is unfinished continues it instead; without `start`, only an unfinished pass is
/// continued (nothing to do otherwise).
pub async fn run_pass<S, L>(
    billing: &Billing<S, L>,
    cfg: &ReconcileConfig,
    kind: PassKind,
    start: bool,
    budget: Budget,
) -> Result<PassReport, ReconcileError>
where
    S: Payments + Reconciliation + Findings,
    L: Ledger + LedgerHistory,
{
    let stored = billing.store.pass_state(kind).await?;
    let mut expected = stored.as_ref().map(|s| s.version);
    let mut state = match stored {
        Some(s) if !s.done => s,
        stored if start => new_state(kind, cfg, billing.now(), stored.map_or(0, |s| s.version)),
        _ => return Ok(PassReport { kind: Some(kind), done: true, ..PassReport::default() }),
    };
    let window = Window {
        from: clock::parse_rfc3339(&state.window_from).ok_or_else(|| corrupt(kind, "window_from"))?,
        to: clock::parse_rfc3339(&state.window_to).ok_or_else(|| corrupt(kind, "window_to"))?,
        skew: cfg.skew,
    };
    let mut report = PassReport {
        kind: Some(kind),
        run_id: Some(state.run_id.clone()),
        window_from: Some(state.window_from.clone()),
        window_to: Some(state.window_to.clone()),
        ..PassReport::default()
    };
    state.invocations += 1;
    let mut pages = 0;
    while pages < budget.max_pages && billing.now() < budget.deadline {
        pages += 1;
        let page = billing
            .store
            .active_referrers(&state.active_since, cfg.referrers_per_page, state.cursor.as_deref())
            .await?;
        let outcomes: Vec<Result<PassReport, ReconcileError>> = futures::stream::iter(page.items)
            .map(|active| reconcile_referrer(billing, cfg, active.referrer, window))
            .buffer_unordered(cfg.concurrency.max(1))
            .collect()
            .await;
        let mut counted = PassReport::default();
        for o in outcomes {
            counted.add(o?);
        }
        state.count(&counted);
        report.add(counted);
        state.cursor = page.next_cursor;
        state.done = state.cursor.is_none();
        state.updated_at = billing.now_str();
        if state.done {
            state.finished_at = Some(state.updated_at.clone());
        }
        state.version += 1;
        if billing.store.save_pass_state(&state, expected).await? == CommitOutcome::Conflict {
            return Err(ReconcileError::Superseded(kind.as_str()));
        }
        expected = Some(state.version);
        if state.done {
            break;
        }
    }
    report.done = state.done;
    report.open_findings = billing.store.count_open_findings().await?;
    let properties = [("pass", kind.as_str()), ("run_id", state.run_id.as_str())];
    metrics::emit(
        &[
            ("ReconciliationOpenFindings", report.open_findings as f64, Unit::Count),
            ("ReconciliationReferrers", report.referrers as f64, Unit::Count),
            ("ReconciliationFindings", report.new_findings as f64, Unit::Count),
            ("ReconciliationHealed", report.healed as f64, Unit::Count),
        ],
        &properties,
    );
    if state.done {
        metrics::emit(&[("ReconciliationRuns", 1.0, Unit::Count)], &properties);
    }
    tracing::info!(
        pass = kind.as_str(),
        run_id = %state.run_id,
        window_from = %state.window_from,
        window_to = %state.window_to,
        referrers = report.referrers,
        wellflow_pages = report.wellflow_pages,
        matched = report.matched,
        sightings = report.sightings,
        new_findings = report.new_findings,
        healed = report.healed,
        skipped = report.skipped,
        open_findings = report.open_findings,
        done = state.done,
        outcome = if state.done { "pass_done" } else { "pass_continues" },
        "reconciliation invocation done"
    );
    Ok(report)
}

fn corrupt(kind: PassKind, field: &str) -> ReconcileError {
    ReconcileError::Store(StoreError::Corrupt {
        key: format!("pass state {}", kind.as_str()),
        reason: format!("bad {field}"),
    })
}

fn new_state(kind: PassKind, cfg: &ReconcileConfig, now: OffsetDateTime, version: u64) -> PassState {
    let to = now - cfg.lag;
    let from = to
        - match kind {
            PassKind::Hourly => cfg.hourly_window,
            PassKind::Daily => cfg.daily_window,
        };
    let at = clock::rfc3339(now);
    PassState {
        kind,
        run_id: at.clone(),
        window_from: clock::rfc3339(from),
        window_to: clock::rfc3339(to),
        active_since: clock::rfc3339(from),
        cursor: None,
        done: false,
        updated_at: at,
        finished_at: None,
        invocations: 0,
        referrers: 0,
        wellflow_pages: 0,
        matched: 0,
        sightings: 0,
        new_findings: 0,
        healed: 0,
        version,
    }
}

impl PassReport {
    /// Adds what `other` counted (and the findings it saw) to this report.
    fn add(&mut self, other: PassReport) {
        self.referrers += other.referrers;
        self.wellflow_pages += other.wellflow_pages;
        self.matched += other.matched;
        self.sightings += other.sightings;
        self.new_findings += other.new_findings;
        self.healed += other.healed;
        self.skipped += other.skipped;
        self.findings.extend(other.findings);
    }
}

/// One referrer: their rows and their Wellflow account over `window`, compared; each drift
/// confirmed on the row as stored now, recorded as a finding, and healed where safe.
async fn reconcile_referrer<S, L>(
    billing: &Billing<S, L>,
    cfg: &ReconcileConfig,
    referrer: UserId,
    window: Window,
) -> Result<PassReport, ReconcileError>
where
    S: Payments + Reconciliation + Findings,
    L: Ledger + LedgerHistory,
{
    let rows = billing.store.referrer_bonuses(&referrer).map_err(ReconcileError::from);
    let books = books(&billing.ledger, &referrer, &window);
    let (rows, books) = match futures::future::try_join(rows, books).await {
        Ok(both) => both,
        Err(ReconcileError::Wellflow(why)) if why.starts_with(REFUSED) => {
            tracing::error!(referrer_id = %referrer, error = %why, outcome = "skipped", "Wellflow refused the account's listing");
            metrics::count("ReconciliationErrors", &[("referrer_id", referrer.as_str())]);
            return Ok(PassReport { skipped: 1, ..PassReport::default() });
        }
        Err(e) => return Err(e),
    };
    let (entries, pages) = books;
    let comparison = compare(&rows, &entries, &window);
    let mut out =
        PassReport { referrers: 1, wellflow_pages: pages, matched: comparison.matched as u64, ..PassReport::default() };
    for drift in comparison.drifts {
        out.add(Box::pin(on_drift(billing, cfg, &referrer, &entries, &window, drift)).await?);
    }
    Ok(out)
}

const REFUSED: &str = "refused: ";

/// Every transaction of the account in the window (all pages) and how many pages it took.
async fn books<L: LedgerHistory>(
    ledger: &L,
    referrer: &UserId,
    window: &Window,
) -> Result<(Vec<LedgerEntry>, u64), ReconcileError> {
    let (from, to) = (window.from_str(), window.to_str());
    let mut entries = Vec::new();
    let mut cursor: Option<String> = None;
    for page in 1..=MAX_WELLFLOW_PAGES {
        let listed = ledger.transactions(referrer, &from, &to, cursor.as_deref()).await.map_err(|e| {
            let prefix = if e.kind == FailureKind::Refused { REFUSED } else { "" };
            ReconcileError::Wellflow(format!("{prefix}{e}"))
        })?;
        entries.extend(listed.entries);
        match listed.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok((entries, page as u64)),
        }
    }
    Err(ReconcileError::Wellflow(format!("more than {MAX_WELLFLOW_PAGES} pages for account {referrer}")))
}

/// One drift: confirmed on the row as stored now, recorded, healed where the rule allows.
async fn on_drift<S, L>(
    billing: &Billing<S, L>,
    cfg: &ReconcileConfig,
    referrer: &UserId,
    entries: &[LedgerEntry],
    window: &Window,
    drift: Drift,
) -> Result<PassReport, ReconcileError>
where
    S: Payments + Reconciliation + Findings,
    L: Ledger + LedgerHistory,
{
    let now = billing.now_str();
    let id = drift.finding_id(referrer);
    // The history index is eventually consistent: look at the row itself before reporting.
    let row = match &drift.payment {
        Some(payment) => billing.store.bonus(payment).await?.filter(|b| &b.referrer_id == referrer),
        None => None,
    };
    let drift = match &row {
        Some(row) => {
            let of_payment: Vec<LedgerEntry> =
                entries.iter().filter(|e| of_payment(e, &row.source_payment_id)).cloned().collect();
            match compare(std::slice::from_ref(row), &of_payment, window)
                .drifts
                .into_iter()
                .find(|d| d.finding_id(referrer) == id)
            {
                Some(confirmed) => confirmed,
                // The row moved on meanwhile (a sender recorded its answer): nothing to report.
                None => return Ok(PassReport::default()),
            }
        }
        None => drift,
    };
    let mut out = PassReport { sightings: 1, findings: vec![id.clone()], ..PassReport::default() };

    // The finding: the same drift seen again is the same item.
    let (mut finding, decision) = {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let stored = billing.store.finding(&id).await?;
            let mut finding = Finding::sighted(stored.as_ref(), referrer, &drift, &now);
            let decision = finding.may_heal(&drift, cfg.confirm_credit_after, &now);
            if let HealDecision::Wait(why) = &decision {
                if let Some(noted) = finding.waiting(why, &now) {
                    finding = noted;
                }
            }
            let reopened = stored.as_ref().is_some_and(|s| s.status != finding.status);
            match billing.store.save_finding(&finding, stored.as_ref().map(|s| s.version)).await? {
                CommitOutcome::Committed => {
                    if stored.is_none() || reopened {
                        out.new_findings += u64::from(stored.is_none());
                        report_finding(&finding, if stored.is_none() { "found" } else { "reopened" });
                    } else {
                        tracing::info!(finding_id = %id, referrer_id = %referrer, kind = finding.kind.as_str(),
                            idempotency_key = %finding.idempotency_key, status = finding.status.as_str(),
                            seen_count = finding.seen_count, outcome = "seen_again", "reconciliation finding seen again");
                    }
                    break (finding, decision);
                }
                CommitOutcome::Conflict if attempt < ATTEMPTS => continue,
                CommitOutcome::Conflict => return Err(BillingError::Contended(id).into()),
            }
        }
    };

    // The heal, through the state machine, the conditional commit and settle.
    let (HealDecision::Now, Some(row)) = (decision, row) else { return Ok(out) };
    let note = match heal(billing, row, &drift, &now).await? {
        Healing::Done(note) => note,
        Healing::Deferred(why) => {
            if let Some(noted) = finding.waiting(&why, &now) {
                save_retrying(billing, noted, |f| f.waiting(&why, &now)).await?;
            }
            return Ok(out);
        }
    };
    finding = save_retrying(billing, finding.healed(&note, &now), |f| Some(f.healed(&note, &now))).await?;
    out.healed += 1;
    metrics::emit(
        &[("ReconciliationHealed", 1.0, Unit::Count)],
        &[("kind", finding.kind.as_str()), ("referrer_id", referrer.as_str()), ("finding_id", id.as_str())],
    );
    tracing::info!(
        finding_id = %id,
        referrer_id = %referrer,
        payment_id = finding.payment_id.as_ref().map(PaymentId::as_str),
        idempotency_key = %finding.idempotency_key,
        kind = finding.kind.as_str(),
        note = %note,
        outcome = "healed",
        "reconciliation finding healed"
    );
    Ok(out)
}

/// Whether a Wellflow transaction carries one of `payment`'s keys.
fn of_payment(entry: &LedgerEntry, payment: &PaymentId) -> bool {
    entry.idempotency_key.as_deref().and_then(payment_of_key) == Some(payment.as_str())
}

enum Healing {
    Done(String),
    /// Not now (another move in flight, the row changed meanwhile): a later pass tries again.
    Deferred(String),
}

async fn heal<S, L>(billing: &Billing<S, L>, row: Bonus, drift: &Drift, now: &str) -> Result<Healing, ReconcileError>
where
    S: Payments,
    L: Ledger,
{
    let key = &drift.key;
    let change = match &drift.heal {
        Heal::RecordApplied { seq, transaction_id } => match row.record_applied(*seq, transaction_id, ACTOR, now) {
            Some(change) => change,
            None => return Ok(Healing::Done(format!("{key} was recorded as applied meanwhile"))),
        },
        Heal::Reissue { seq } => {
            let note = format!("Wellflow's books do not hold {key}: sent again with the same key");
            match row.reissue_lost(*seq, ACTOR, now, &note) {
                Some(change) => change,
                None => {
                    return Ok(Healing::Deferred(
                        "another Wellflow move of this bonus is in flight; the key is re-issued once it is settled"
                            .into(),
                    ))
                }
            }
        }
        Heal::Admin => return Ok(Healing::Deferred("needs an admin".into())),
    };
    if billing.store.commit(&Commit::bonus(change.clone())).await? == CommitOutcome::Conflict {
        return Ok(Healing::Deferred("the bonus changed meanwhile; the next pass looks again".into()));
    }
    let settled = settle(billing, change.bonus, ACTOR, Mode::Auto).await?;
    let b = &settled.bonus;
    let state = format!("bonus {} (Wellflow holds {} of {} due)", b.status, b.paid_amount, b.net_amount);
    Ok(Healing::Done(match (&drift.heal, &settled.failed) {
        (Heal::RecordApplied { transaction_id, .. }, None) => {
            format!("recorded {key} as applied ({transaction_id}) from Wellflow's books; {state}")
        }
        (Heal::RecordApplied { transaction_id, .. }, Some(e)) => format!(
            "recorded {key} as applied ({transaction_id}); the next move failed ({e}) and is retried automatically; {state}"
        ),
        (_, None) => format!("re-issued {key} with its own key and Wellflow took it; {state}"),
        (_, Some(e)) => format!("re-issued {key}; Wellflow failed ({e}) and the move is retried automatically; {state}"),
    }))
}

/// Saves a change of a finding, re-applying `redo` to the stored one after a conflict (a
/// concurrent sighting or resolution).
async fn save_retrying<S, L>(
    billing: &Billing<S, L>,
    first: Finding,
    redo: impl Fn(&Finding) -> Option<Finding>,
) -> Result<Finding, ReconcileError>
where
    S: Findings,
{
    let mut next = first;
    for _ in 0..ATTEMPTS {
        if billing.store.save_finding(&next, Some(next.version - 1)).await? == CommitOutcome::Committed {
            return Ok(next);
        }
        let Some(stored) = billing.store.finding(&next.finding_id).await? else { break };
        match redo(&stored) {
            Some(again) => next = again,
            None => return Ok(stored),
        }
    }
    Err(BillingError::Contended(next.finding_id).into())
}

fn report_finding(finding: &Finding, outcome: &str) {
    metrics::emit(
        &[("ReconciliationFinding", 1.0, Unit::Count)],
        &[
            ("kind", finding.kind.as_str()),
            ("referrer_id", finding.referrer_id.as_str()),
            ("payment_id", finding.payment_id.as_ref().map_or("", PaymentId::as_str)),
            ("finding_id", finding.finding_id.as_str()),
        ],
    );
    tracing::warn!(
        finding_id = %finding.finding_id,
        referrer_id = %finding.referrer_id,
        payment_id = finding.payment_id.as_ref().map(PaymentId::as_str),
        idempotency_key = %finding.idempotency_key,
        kind = finding.kind.as_str(),
        detail = %finding.detail,
        outcome,
        "reconciliation finding"
    );
}

/// How an admin's resolution went.
#[derive(Debug, Clone, PartialEq)]
pub enum ResolveOutcome {
    Resolved(Box<Finding>),
    NotFound,
    AlreadyResolved(Box<Finding>),
}

/// An admin closes a finding with a note (audited: actor, time, note in its history).
pub async fn resolve_finding<S: Findings>(
    store: &S,
    id: &str,
    actor: &str,
    note: &str,
    now: &str,
) -> Result<ResolveOutcome, BillingError> {
    for _ in 0..ATTEMPTS {
        let Some(stored) = store.finding(id).await? else { return Ok(ResolveOutcome::NotFound) };
        let next = match stored.resolve(actor, note, now) {
            Ok(next) => next,
            Err(already) => return Ok(ResolveOutcome::AlreadyResolved(already.0)),
        };
        if store.save_finding(&next, Some(stored.version)).await? == CommitOutcome::Committed {
            tracing::info!(finding_id = id, actor, referrer_id = %next.referrer_id, kind = next.kind.as_str(),
                outcome = "resolved", "reconciliation finding resolved by an admin");
            return Ok(ResolveOutcome::Resolved(Box::new(next)));
        }
    }
    Err(BillingError::Contended(id.to_string()))
}
