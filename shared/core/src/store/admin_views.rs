//! What an admin reads about one user before changing their rate or attribution: the profile,
//! the audit trails of those changes and the referrer's all-time aggregates.

use std::collections::BTreeMap;
use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::domain::UserId;

use super::{StoreError, UserProfile};

/// One audited admin change on a profile (`rate_history`, `attribution_history`): who, when,
/// the note, and what changed (`rate`, or `from` / `to`; `None` = cleared / nobody).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: String,
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(flatten)]
    pub changed: BTreeMap<String, Option<String>>,
}

/// A referrer's all-time aggregates (`USER#<id>` / `STATS`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReferrerTotals {
    pub earned_total: rust_decimal::Decimal,
    pub signups: i64,
    pub credited_count: i64,
    pub reversed_count: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UserAdminView {
    pub profile: UserProfile,
    pub rate_history: Vec<AuditEntry>,
    pub attribution_history: Vec<AuditEntry>,
    pub totals: ReferrerTotals,
}

pub trait AdminViews: Send + Sync {
    /// `None` when the user has no profile.
    fn user_admin_view(&self, user: &UserId) -> impl Future<Output = Result<Option<UserAdminView>, StoreError>> + Send;
}
