//! The safety net behind "money is never lost": a scheduled sweep over every `failed`
//! bonus (sparse index GSI1). Rows idle for longer than `requeue_after` get a fresh retry
//! message — this covers a crash between the write-ahead row and the credit, an SQS send
//! that failed, and messages that ended in the DLQ during a long outage. It also reports
//! how many bonuses have been owed for more than an hour (`FailedBonusesOlderThan1h`),
//! the metric the on-call alarm watches.

use time::OffsetDateTime;

use crate::billing::RetryQueue;
use crate::clock;
use crate::domain::BonusStatus;
use crate::metrics::{self, Unit};
use crate::store::{BonusQueries, QueryError, StoreError};

/// Errors that retrying cannot fix: left for an admin instead of being re-queued forever.
const PERMANENT_ERRORS: [&str; 2] = ["wellflow_rejected", "wellflow_invalid_input"];
/// Rows with this many attempts are no longer re-queued (the alarm has long fired).
pub const MAX_ATTEMPTS: u32 = 200;
/// Safety bound on one run (100 rows a page).
const MAX_PAGES: usize = 100;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub failed_seen: usize,
    pub requeued: usize,
    pub older_than_1h: usize,
}

pub async fn sweep_failed<S, Q>(
    store: &S,
    retry: &Q,
    now: OffsetDateTime,
    requeue_after: time::Duration,
) -> Result<SweepReport, StoreError>
where
    S: BonusQueries,
    Q: RetryQueue,
{
    let idle_before = clock::rfc3339(now - requeue_after);
    let owed_before = clock::rfc3339(now - time::Duration::hours(1));
    let mut report = SweepReport::default();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = store.list_by_status(BonusStatus::Failed, 100, cursor.as_deref()).await.map_err(|e| match e {
            QueryError::Store(s) => s,
            QueryError::Cursor(c) => StoreError::Corrupt { key: "GSI1 cursor".into(), reason: c.to_string() },
        })?;
        for bonus in &page.items {
            report.failed_seen += 1;
            if bonus.created_at < owed_before {
                report.older_than_1h += 1;
            }
            let permanent =
                bonus.last_error.as_deref().is_some_and(|e| PERMANENT_ERRORS.iter().any(|code| e.starts_with(code)));
            if bonus.updated_at < idle_before && !permanent && bonus.attempts < MAX_ATTEMPTS {
                match retry.schedule(&bonus.source_payment_id, bonus.attempts.max(1)).await {
                    Ok(()) => report.requeued += 1,
                    Err(err) => {
                        tracing::error!(payment_id = %bonus.source_payment_id, error = %err, "sweep could not enqueue")
                    }
                }
            }
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    metrics::emit(
        &[
            ("FailedBonusesOlderThan1h", report.older_than_1h as f64, Unit::Count),
            ("FailedBonusesRequeued", report.requeued as f64, Unit::Count),
        ],
        &[],
    );
    tracing::info!(
        failed_seen = report.failed_seen,
        requeued = report.requeued,
        older_than_1h = report.older_than_1h,
        "failed-bonus sweep done"
    );
    Ok(report)
}
