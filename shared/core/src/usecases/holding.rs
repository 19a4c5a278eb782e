//! The holding period's end: bonuses that waited `HOLDING_DAYS` as `pending`/`holding` are
//! released (payable from now on) once their `release_at` has passed, and settled. A row that
//! was refunded, rejected or released meanwhile no longer qualifies, and the release is a
//! conditional write, so overlapping runs (or a run and an admin) release each row once.

use time::OffsetDateTime;

use crate::bonus::NotOpen;
use crate::clock;
use crate::metrics::{self, Unit};
use crate::ports::Ledger;
use crate::store::{Commit, CommitOutcome, HoldingQueries, Payments, QueryError, StoreError};
use crate::usecases::settle::{settle, Mode};
use crate::usecases::{Billing, BillingError};

/// The actor recorded in the history of released bonuses.
pub const ACTOR: &str = "holding-release";
/// Default bound on the rows one invocation releases (the next run picks up the rest).
pub const DEFAULT_MAX_ROWS: usize = 200;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseReport {
    /// Due rows read from the index.
    pub due_seen: usize,
    pub credited: usize,
    /// Wellflow failed: left `failed` (retried when useful).
    pub credit_failed: usize,
    /// Already moved by someone else (refund, admin, a concurrent run).
    pub skipped: usize,
    /// More rows were due than this run's bound.
    pub more_due: bool,
}

/// Releases up to `max_rows` holding bonuses with `release_at <= now`, oldest first.
pub async fn release_due<S, L>(
    billing: &Billing<S, L>,
    now: OffsetDateTime,
    max_rows: usize,
) -> Result<ReleaseReport, BillingError>
where
    S: Payments + HoldingQueries,
    L: Ledger,
{
    let due_by = clock::rfc3339(now);
    let mut report = ReleaseReport::default();
    let mut cursor: Option<String> = None;
    'pages: loop {
        let page_size = (max_rows - report.due_seen).clamp(1, 100) as i32;
        let page = billing.store.list_due_holding(&due_by, page_size, cursor.as_deref()).await.map_err(store_error)?;
        for listed in page.items {
            if report.due_seen == max_rows {
                report.more_due = true;
                break 'pages;
            }
            report.due_seen += 1;
            // The index is eventually consistent: read the row, and the conditional commit is
            // the real check.
            let Some(bonus) = billing.store.bonus(&listed.source_payment_id).await? else {
                report.skipped += 1;
                continue;
            };
            let change = match bonus.release(ACTOR, &billing.now_str()) {
                Ok(change) => change,
                Err(NotOpen::Decided(_)) => {
                    report.skipped += 1;
                    continue;
                }
            };
            if billing.store.commit(&Commit::bonus(change.clone())).await? == CommitOutcome::Conflict {
                tracing::info!(payment_id = %bonus.source_payment_id, outcome = "skipped", "holding bonus moved meanwhile");
                report.skipped += 1;
                continue;
            }
            let settled = settle(billing, change.bonus, ACTOR, Mode::Auto).await?;
            if settled.failed.is_some() {
                report.credit_failed += 1;
            } else {
                report.credited += 1;
            }
        }
        match page.next_cursor {
            Some(next) if report.due_seen < max_rows => cursor = Some(next),
            Some(_) => {
                report.more_due = true;
                break;
            }
            None => break,
        }
    }
    metrics::emit(
        &[
            ("HoldingReleased", report.credited as f64, Unit::Count),
            ("HoldingReleaseFailed", report.credit_failed as f64, Unit::Count),
        ],
        &[],
    );
    tracing::info!(
        due_by = %due_by,
        due_seen = report.due_seen,
        credited = report.credited,
        credit_failed = report.credit_failed,
        skipped = report.skipped,
        more_due = report.more_due,
        "holding release done"
    );
    Ok(report)
}

pub(crate) fn store_error(e: QueryError) -> StoreError {
    match e {
        QueryError::Store(s) => s,
        QueryError::Cursor(c) => StoreError::Corrupt { key: "index cursor".into(), reason: c.to_string() },
    }
}
