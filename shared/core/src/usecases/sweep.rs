//! The safety net behind "money is never lost": a scheduled sweep over every bonus with a
//! Wellflow move in flight. Rows idle for longer than `requeue_after` get a fresh retry
//! message — this covers a crash between the write-ahead row and the call, a lost outbox
//! delivery, and messages that ended in the DLQ during a long outage. Moves Wellflow refused
//! wait for an admin and are not re-queued. It also reports how many bonuses have been owed
//! for more than an hour (`FailedBonusesOlderThan1h`), the metric the on-call alarm watches.

use time::OffsetDateTime;

use crate::bonus::MAX_AUTO_ATTEMPTS;
use crate::clock;
use crate::metrics::{self, Unit};
use crate::ports::RetryQueue;
use crate::store::{StoreError, UnsettledQueries};
use crate::usecases::holding::store_error;

/// Safety bound on one run (100 rows a page).
const MAX_PAGES: usize = 100;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Unsettled rows idle long enough to be looked at.
    pub unsettled_seen: usize,
    pub requeued: usize,
    /// Waiting for an admin (Wellflow refused the move, or it failed too often).
    pub awaiting_admin: usize,
    pub older_than_1h: usize,
}

pub async fn sweep_unsettled<S, Q>(
    store: &S,
    retry: &Q,
    now: OffsetDateTime,
    requeue_after: time::Duration,
) -> Result<SweepReport, StoreError>
where
    S: UnsettledQueries,
    Q: RetryQueue,
{
    let idle_before = clock::rfc3339(now - requeue_after);
    let owed_before = clock::rfc3339(now - time::Duration::hours(1));
    let mut report = SweepReport::default();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = store.list_unsettled(&idle_before, 100, cursor.as_deref()).await.map_err(store_error)?;
        for bonus in &page.items {
            let Some(step) = bonus.ledger.in_flight() else { continue };
            report.unsettled_seen += 1;
            if step.planned_at < owed_before {
                report.older_than_1h += 1;
            }
            // A refused move waits for an admin, unless it can now be dropped (the retry
            // consumer replans it).
            let replan = bonus.needs_replan(&clock::rfc3339(now));
            if (step.refused() && !replan) || step.attempts >= MAX_AUTO_ATTEMPTS {
                report.awaiting_admin += 1;
                continue;
            }
            match retry.schedule(&bonus.source_payment_id, step.attempts.max(1)).await {
                Ok(()) => report.requeued += 1,
                Err(err) => {
                    tracing::error!(payment_id = %bonus.source_payment_id, error = %err, "sweep could not enqueue")
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
            ("BonusesAwaitingAdmin", report.awaiting_admin as f64, Unit::Count),
        ],
        &[],
    );
    tracing::info!(
        unsettled_seen = report.unsettled_seen,
        requeued = report.requeued,
        awaiting_admin = report.awaiting_admin,
        older_than_1h = report.older_than_1h,
        "unsettled-bonus sweep done"
    );
    Ok(report)
}
