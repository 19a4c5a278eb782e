//! The store ports of reconciliation (`usecases::reconcile`): the referrers whose Wellflow
//! accounts moved recently (the activity markers written with the money, `bonus::Activity`),
//! one referrer's bonus rows, the findings, and the state of a pass between invocations.

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::bonus::reconcile::{Finding, FindingStatus};
use crate::bonus::Bonus;
use crate::domain::UserId;
use crate::store::{CommitOutcome, Page, QueryError, StoreError};

/// A referrer with a Wellflow move planned at `last_at` (the latest one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveReferrer {
    pub referrer: UserId,
    pub last_at: String,
}

/// The two passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PassKind {
    /// Every hour: referrers with a move planned in the last hours, over that window.
    Hourly,
    /// Every day: referrers with a move planned in the last 35 days, over those 35 days.
    Daily,
}

impl PassKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hourly => "hourly",
            Self::Daily => "daily",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Hourly, Self::Daily].into_iter().find(|k| k.as_str() == raw)
    }
}

/// Where a pass stands, kept between invocations so that one pass may span several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassState {
    pub kind: PassKind,
    /// When the pass started (RFC 3339); identifies it.
    pub run_id: String,
    /// Wellflow's books compared: `[window_from, window_to)`.
    pub window_from: String,
    pub window_to: String,
    /// Referrers with a move planned at or after this instant are walked.
    pub active_since: String,
    /// Where the walk over active referrers continues (`None`: from the start, or done).
    #[serde(default)]
    pub cursor: Option<String>,
    pub done: bool,
    pub updated_at: String,
    #[serde(default)]
    pub finished_at: Option<String>,
    /// Invocations that worked on it.
    #[serde(default)]
    pub invocations: u32,
    #[serde(default)]
    pub referrers: u64,
    #[serde(default)]
    pub wellflow_pages: u64,
    #[serde(default)]
    pub matched: u64,
    /// Drifts seen (each sighting of a finding counts).
    #[serde(default)]
    pub sightings: u64,
    /// Findings opened for the first time.
    #[serde(default)]
    pub new_findings: u64,
    #[serde(default)]
    pub healed: u64,
    /// Optimistic-concurrency version (+1 per save).
    #[serde(default)]
    pub version: u64,
}

impl PassState {
    /// Adds what one page of referrers counted to the pass's totals.
    pub fn count(&mut self, page: &crate::usecases::reconcile::PassReport) {
        self.referrers += page.referrers;
        self.wellflow_pages += page.wellflow_pages;
        self.matched += page.matched;
        self.sightings += page.sightings;
        self.new_findings += page.new_findings;
        self.healed += page.healed;
    }
}

/// What reconciliation reads and writes besides the bonus rows' commits (`Payments`).
pub trait Reconciliation: Send + Sync {
    /// Referrers with a move planned at or after `since`, in a stable order (one page).
    fn active_referrers(
        &self,
        since: &str,
        limit: i32,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Page<ActiveReferrer>, QueryError>> + Send;

    /// Every bonus row of a referrer (DynamoDB: one `Query` on the history index, more only
    /// past 1 MB). Eventually consistent: the caller re-reads a row before acting on it.
    fn referrer_bonuses(&self, referrer: &UserId) -> impl Future<Output = Result<Vec<Bonus>, StoreError>> + Send;

    fn pass_state(&self, kind: PassKind) -> impl Future<Output = Result<Option<PassState>, StoreError>> + Send;

    /// Writes `state` if the stored version is `expected_version` (`None`: none stored).
    fn save_pass_state(
        &self,
        state: &PassState,
        expected_version: Option<u64>,
    ) -> impl Future<Output = Result<CommitOutcome, StoreError>> + Send;
}

/// Reconciliation findings (`bonus::reconcile::Finding`): one item per finding.
pub trait Findings: Send + Sync {
    /// The finding, read consistently.
    fn finding(&self, id: &str) -> impl Future<Output = Result<Option<Finding>, StoreError>> + Send;

    /// Writes `finding` if the stored version is `expected_version` (`None`: none stored).
    fn save_finding(
        &self,
        finding: &Finding,
        expected_version: Option<u64>,
    ) -> impl Future<Output = Result<CommitOutcome, StoreError>> + Send;

    /// Findings with `status`, newest first (open: by first sighting; resolved: by resolution).
    fn list_findings(
        &self,
        status: FindingStatus,
        limit: i32,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Page<Finding>, QueryError>> + Send;

    /// How many findings are open (the alarm's metric).
    fn count_open_findings(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;
}
