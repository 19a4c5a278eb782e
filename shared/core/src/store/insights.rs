//! The referrer's own read models beyond the KPIs: the filtered bonus history (JSON pages and
//! the CSV export) and the activity series of the earnings chart. Both read what was written
//! at event time; neither scans.

use std::collections::BTreeMap;
use std::future::Future;

use crate::bonus::Bonus;
use crate::domain::history_filter::HistoryFilter;
use crate::domain::stats::{BucketValues, StatsRange};
use crate::domain::UserId;

use super::{Page, QueryError, StoreError};

/// Rows one history call may ask for (the JSON API asks for at most 100; the CSV export pages
/// through the history this many at a time).
pub const MAX_HISTORY_PAGE: usize = 500;

/// A referrer's bonus history with a filter (newest first).
pub trait HistoryQueries: Send + Sync {
    /// Up to `limit` (1..=[`MAX_HISTORY_PAGE`]) bonuses of `referrer` that pass `filter`, after
    /// `cursor` (a `next_cursor` handed out for the same referrer and the same range). A page
    /// may hold fewer rows than `limit` while `next_cursor` is set (the status is a filter on
    /// the rows read, and one call reads a bounded number of them).
    fn referrer_history(
        &self,
        referrer: &UserId,
        filter: &HistoryFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Page<Bonus>, QueryError>> + Send;
}

/// What the store found for a range: the buckets that exist (missing ones are zero) and how
/// many items DynamoDB returned to answer (bounded by the range, never by the history).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatsReadout {
    pub buckets: BTreeMap<String, BucketValues>,
    pub items_read: usize,
}

/// The write-time day and month buckets of a referrer (`domain::stats`).
pub trait StatsQueries: Send + Sync {
    fn referrer_stats(
        &self,
        referrer: &UserId,
        range: &StatsRange,
    ) -> impl Future<Output = Result<StatsReadout, StoreError>> + Send;
}
