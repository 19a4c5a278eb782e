//! **Which bonuses a history listing shows** (`GET /referrals/history`, `…/history.csv`):
//! optionally one status, and a creation-time range.
//!
//! * `status` — one public status (`credited`, `pending`, `failed`, `reversed`).
//! * `from`, `to` — either RFC 3339 instants (`from` inclusive, `to` exclusive: what a browser
//!   sends for a day range in the viewer's time zone) or `yyyy-mm-dd` dates, meaning UTC days
//!   and inclusive on both ends (`to=2026-11-30` includes all of the 30th).
//!
//! The range maps onto the history index's sort key (`<created_at>#<payment>`, fixed-width
//! RFC 3339 from [`crate::clock::rfc3339`]): [`HistoryFilter::sort_key_bounds`]. The status is
//! a filter on the rows read, so a page may hold fewer rows than asked for while more follow.

use time::OffsetDateTime;

use crate::bonus::BonusStatus;
use crate::clock;

use super::stats::parse_day;

/// The longest creation-time range a filter may span (about 10 years), to keep bounds sane.
const MAX_SPAN_DAYS: i64 = 3660;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryFilter {
    pub status: Option<BonusStatus>,
    /// Inclusive.
    pub from: Option<OffsetDateTime>,
    /// Exclusive.
    pub to: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryFilterError {
    #[error("status must be one of credited, pending, failed, reversed")]
    Status,
    #[error("{0} must be a date (yyyy-mm-dd, a UTC day) or an RFC 3339 instant such as 2026-11-01T00:00:00Z")]
    Time(&'static str),
    #[error("from must be before to")]
    Reversed,
    #[error("the range may span at most {MAX_SPAN_DAYS} days")]
    TooLong,
}

impl HistoryFilter {
    /// From the query parameters (`None` = absent).
    pub fn parse(status: Option<&str>, from: Option<&str>, to: Option<&str>) -> Result<Self, HistoryFilterError> {
        let status = status
            .filter(|s| !s.is_empty())
            .map(|raw| BonusStatus::parse(raw).ok_or(HistoryFilterError::Status))
            .transpose()?;
        let instant = |param: &'static str, raw: Option<&str>, end_of_day: bool| -> Result<_, HistoryFilterError> {
            let Some(raw) = raw.filter(|r| !r.is_empty()) else { return Ok(None) };
            if let Some(day) = parse_day(raw) {
                // A date is a UTC day; `to` means up to the end of it.
                let day = if end_of_day { day.next_day().ok_or(HistoryFilterError::Time(param))? } else { day };
                return Ok(Some(day.midnight().assume_utc()));
            }
            if raw.len() > 40 {
                return Err(HistoryFilterError::Time(param));
            }
            let t = clock::parse_rfc3339(raw).ok_or(HistoryFilterError::Time(param))?;
            // Sort keys are UTC with millisecond precision: round `from` up and `to` up to the
            // next millisecond so that neither bound moves a row across it.
            let t = t.to_offset(time::UtcOffset::UTC);
            let whole_ms = t.replace_nanosecond(t.millisecond() as u32 * 1_000_000).expect("valid");
            Ok(Some(if whole_ms < t { whole_ms + time::Duration::milliseconds(1) } else { whole_ms }))
        };
        let filter = Self { status, from: instant("from", from, false)?, to: instant("to", to, true)? };
        if let (Some(from), Some(to)) = (filter.from, filter.to) {
            if from >= to {
                return Err(HistoryFilterError::Reversed);
            }
            if to - from > time::Duration::days(MAX_SPAN_DAYS) {
                return Err(HistoryFilterError::TooLong);
            }
        }
        Ok(filter)
    }

    /// `(lower inclusive, upper exclusive)` bounds on the history sort key
    /// `<created_at>#<payment>`: a row created at `t` sorts at or after `rfc3339(t)` and
    /// before `rfc3339(t')` for every `t' > t` (fixed width), so `[from, to)` on creation
    /// time is exactly `[rfc3339(from), rfc3339(to))` on the sort key.
    pub fn sort_key_bounds(&self) -> (Option<String>, Option<String>) {
        (self.from.map(clock::rfc3339), self.to.map(clock::rfc3339))
    }

    /// Whether a row with this creation time and status passes (what the store's key
    /// condition and filter select; used to check rows and cursors).
    pub fn admits(&self, created_at: &str, status: BonusStatus) -> bool {
        let (lower, upper) = self.sort_key_bounds();
        lower.is_none_or(|l| created_at >= l.as_str())
            && upper.is_none_or(|u| created_at < u.as_str())
            && self.status.is_none_or(|s| s == status)
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_days_inclusive() {
        let f = HistoryFilter::parse(Some("credited"), Some("2026-11-01"), Some("2026-11-30")).unwrap();
        assert_eq!(f.status, Some(BonusStatus::Credited));
        assert_eq!(
            f.sort_key_bounds(),
            (Some("2026-11-01T00:00:00.000Z".to_string()), Some("2026-12-01T00:00:00.000Z".to_string()))
        );
        assert!(f.admits("2026-11-30T23:59:59.999Z", BonusStatus::Credited));
        assert!(!f.admits("2026-12-01T00:00:00.000Z", BonusStatus::Credited));
        assert!(f.admits("2026-11-01T00:00:00.000Z", BonusStatus::Credited));
        assert!(!f.admits("2026-11-05T00:00:00.000Z", BonusStatus::Pending));
    }

    #[test]
    fn instants_keep_the_viewers_offset_and_round_to_the_millisecond() {
        // A day in UTC-5, as a browser sends it.
        let f =
            HistoryFilter::parse(None, Some("2026-11-01T00:00:00-05:00"), Some("2026-11-02T00:00:00-05:00")).unwrap();
        assert_eq!(
            f.sort_key_bounds(),
            (Some("2026-11-01T05:00:00.000Z".to_string()), Some("2026-11-02T05:00:00.000Z".to_string()))
        );
        let sub_ms = HistoryFilter::parse(None, Some("2026-11-01T00:00:00.0005Z"), None).unwrap();
        assert_eq!(sub_ms.sort_key_bounds().0.as_deref(), Some("2026-11-01T00:00:00.001Z"));
        assert!(!sub_ms.admits("2026-11-01T00:00:00.000Z", BonusStatus::Credited));
    }

    #[test]
    fn bad_filters_are_refused() {
        assert_eq!(HistoryFilter::parse(Some("done"), None, None), Err(HistoryFilterError::Status));
        assert_eq!(HistoryFilter::parse(None, Some("yesterday"), None), Err(HistoryFilterError::Time("from")));
        assert_eq!(HistoryFilter::parse(None, None, Some("2026-02-30")), Err(HistoryFilterError::Time("to")));
        assert_eq!(
            HistoryFilter::parse(None, Some("2026-11-02"), Some("2026-11-01")),
            Err(HistoryFilterError::Reversed)
        );
        assert_eq!(
            HistoryFilter::parse(None, Some("2000-01-01"), Some("2026-01-01")),
            Err(HistoryFilterError::TooLong)
        );
        assert!(HistoryFilter::parse(Some(""), Some(""), None).unwrap().is_empty());
    }
}
