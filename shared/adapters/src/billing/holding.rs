//! The holding period's release: bonuses that waited `HOLDING_DAYS` as `pending`/`holding`
//! are credited once their `release_at` has passed (scheduled `holding-release` function).
//!
//! Each due row is first claimed `pending → failed` ("released: credit in progress") with
//! a conditional write — the same write-ahead state as the webhook path — so of two
//! overlapping runs (or a run and an admin) only one proceeds to Wellflow, and a crash
//! leaves a `failed` row the retry path and the sweeper find. The credit then goes through
//! [`credit_bonus`] with `OnFailure::Enqueue`: a Wellflow outage leaves the row `failed`
//! with a retry queued, exactly like a failed credit from the webhook. A row refunded or
//! decided by an admin meanwhile is no longer `pending`, so the claim fails and it is skipped.

use time::OffsetDateTime;

use crate::billing::{credit_bonus, Billing, CreditOutcome, OnFailure, RetryQueue};
use crate::clock;
use crate::domain::BonusStatus;
use crate::metrics::{self, Unit};
use crate::store::{Bonuses, HoldingQueries, QueryError, StoreError, Transition, TransitionOutcome};

/// The actor recorded in the history of released bonuses.
pub const ACTOR: &str = "holding-release";
/// Default bound on the rows one invocation releases (the next run picks up the rest).
pub const DEFAULT_MAX_ROWS: usize = 200;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseReport {
    /// Due rows read from the index.
    pub due_seen: usize,
    pub credited: usize,
    /// Wellflow failed: left `failed` (retry queued when the error is retryable).
    pub credit_failed: usize,
    /// Already moved by someone else (refund, admin, a concurrent run).
    pub skipped: usize,
    /// More rows were due than this run's bound.
    pub more_due: bool,
}

/// Releases up to `max_rows` holding bonuses with `release_at <= now`, oldest first.
pub async fn release_due<S, Q>(
    billing: &Billing<S, Q>,
    now: OffsetDateTime,
    max_rows: usize,
) -> Result<ReleaseReport, StoreError>
where
    S: Bonuses + HoldingQueries,
    Q: RetryQueue,
{
    let due_by = clock::rfc3339(now);
    let mut report = ReleaseReport::default();
    let mut cursor: Option<String> = None;
    'pages: loop {
        let page_size = (max_rows - report.due_seen).clamp(1, 100) as i32;
        let page =
            billing.store.list_due_holding(&due_by, page_size, cursor.as_deref()).await.map_err(|e| match e {
                QueryError::Store(s) => s,
                QueryError::Cursor(c) => StoreError::Corrupt { key: "HOLDING cursor".into(), reason: c.to_string() },
            })?;
        for bonus in page.items {
            if report.due_seen == max_rows {
                report.more_due = true;
                break 'pages;
            }
            report.due_seen += 1;
            // The index is eventually consistent: the claim's condition is the real check.
            if bonus.status != BonusStatus::Pending {
                report.skipped += 1;
                continue;
            }
            let mut claim = Transition::new(BonusStatus::Failed, ACTOR, clock::rfc3339(clock::now()));
            claim.error = Some("released from holding: credit in progress".into());
            let claimed = match billing.store.transition(&bonus, &claim).await? {
                TransitionOutcome::Applied(record) => *record,
                TransitionOutcome::Conflict => {
                    tracing::info!(payment_id = %bonus.source_payment_id, outcome = "skipped", "holding bonus already moved");
                    report.skipped += 1;
                    continue;
                }
            };
            match credit_bonus(billing, &claimed, ACTOR, None, OnFailure::Enqueue).await? {
                CreditOutcome::Credited(_) => report.credited += 1,
                CreditOutcome::Failed { .. } => report.credit_failed += 1,
                CreditOutcome::AlreadyDecided(_) => report.skipped += 1,
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
