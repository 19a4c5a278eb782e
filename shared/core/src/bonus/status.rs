//! The four public statuses of a bonus (what referrers, partners and admins see). They are
//! derived from the bonus's state in one place (`Bonus::refresh`), never set by hand:
//!
//! | status     | meaning                                                                   |
//! |------------|---------------------------------------------------------------------------|
//! | `pending`  | held for review (`same_ip`, `velocity_cap`, `amount_review`), waiting out the holding period (`holding`), or being credited right now (`crediting`) |
//! | `credited` | Wellflow holds the bonus (possibly reduced by a partial refund or dispute: reason `refunded`/`disputed`) |
//! | `failed`   | a Wellflow call for it failed; it is retried automatically (or waits for an admin when Wellflow refused it) |
//! | `reversed` | worth nothing now: refunded, disputed or rejected (any money paid was taken back) |

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BonusStatus {
    Pending,
    Credited,
    Failed,
    Reversed,
}

impl BonusStatus {
    pub const ALL: [BonusStatus; 4] = [Self::Pending, Self::Credited, Self::Failed, Self::Reversed];

    pub fn as_str(&self) -> &'static str {
        match self {
            BonusStatus::Pending => "pending",
            BonusStatus::Credited => "credited",
            BonusStatus::Failed => "failed",
            BonusStatus::Reversed => "reversed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

impl fmt::Display for BonusStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
