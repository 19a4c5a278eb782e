//! **A referrer's activity over time** (`GET /referrals/stats`): clicks, signups and earnings
//! per UTC day for the last [`DAILY_WINDOW_DAYS`] days, or per UTC calendar month for the last
//! [`MONTHLY_WINDOW_MONTHS`] months.
//!
//! Every figure comes from a bucket written when the event happened (never from the history):
//! * **earned** — the `DAY#<date>` / `STATS#<month>` earnings of the referrer: credits minus
//!   reversals, booked to the day (month) the bonus was first credited — the same buckets the
//!   KPI "earned in the last 30 days" sums, so the chart and the KPIs always agree;
//! * **signups** — attributed signups, counted on the day (month) of the attribution by the
//!   attribution transaction; an admin re-attribution moves the count between the two
//!   referrers on the original attribution day, so the buckets always sum to the KPI;
//! * **clicks** — per-day and per-month counters on the link's click shards, written by the
//!   click's single `UpdateItem`; kept for [`DAILY_WINDOW_DAYS`] days and
//!   [`MONTHLY_WINDOW_MONTHS`] months (older counters are removed by later clicks), which is
//!   why a range may not reach further back than that.
//!
//! A range is inclusive on both ends and every bucket in it is listed (zero-filled), oldest
//! first, so a client plots the answer as it is.

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;
use time::{Date, Month};

/// Days the daily series reaches back (today included).
pub const DAILY_WINDOW_DAYS: i64 = 90;
/// Months the monthly series reaches back (the current month included).
pub const MONTHLY_WINDOW_MONTHS: i32 = 12;

/// `granularity` of the series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Day,
    Month,
}

impl Granularity {
    /// `None` (parameter absent) is `day`.
    pub fn parse(raw: Option<&str>) -> Result<Self, StatsRangeError> {
        match raw {
            None | Some("day") => Ok(Self::Day),
            Some("month") => Ok(Self::Month),
            Some(_) => Err(StatsRangeError::Granularity),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Month => "month",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatsRangeError {
    #[error("granularity must be day or month")]
    Granularity,
    #[error("{param} must be a {format} date, got {got:?}")]
    Format { param: &'static str, format: &'static str, got: String },
    #[error("from must not be after to")]
    Reversed,
    #[error("{0}")]
    OutOfWindow(String),
}

/// A UTC calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    pub year: i32,
    pub month: u8,
}

impl YearMonth {
    pub fn of(date: Date) -> Self {
        Self { year: date.year(), month: u8::from(date.month()) }
    }

    /// `yyyy-mm`.
    pub fn parse(raw: &str) -> Option<Self> {
        let (y, m) = raw.split_once('-')?;
        if y.len() != 4 || m.len() != 2 || !y.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (year, month) = (y.parse().ok()?, m.parse().ok()?);
        (1..=12).contains(&month).then_some(Self { year, month })
    }

    /// Months since January of year 0 (a plain counter: `self + n` is `index + n`).
    pub fn index(self) -> i32 {
        self.year * 12 + i32::from(self.month) - 1
    }

    pub fn from_index(index: i32) -> Self {
        Self { year: index.div_euclid(12), month: (index.rem_euclid(12) + 1) as u8 }
    }

    pub fn plus(self, months: i32) -> Self {
        Self::from_index(self.index() + months)
    }

    pub fn first_day(self) -> Date {
        let month = Month::try_from(self.month).expect("1..=12");
        Date::from_calendar_date(self.year, month, 1).expect("the first of a month exists")
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// `yyyy-mm-dd` (`time` prints dates this way too).
pub fn parse_day(raw: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    (raw.len() == 10).then(|| Date::parse(raw, &format).ok()).flatten()
}

/// The buckets of one request: granularity and the first and last bucket, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsRange {
    Days { from: Date, to: Date },
    Months { from: YearMonth, to: YearMonth },
}

impl StatsRange {
    /// The range of `?granularity=&from=&to=` on `today` (UTC). Absent bounds default to the
    /// whole window ending today (this month); a range must lie inside the window.
    pub fn parse(
        granularity: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        today: Date,
    ) -> Result<Self, StatsRangeError> {
        match Granularity::parse(granularity)? {
            Granularity::Day => {
                let earliest = today - time::Duration::days(DAILY_WINDOW_DAYS - 1);
                let day = |param: &'static str, raw: Option<&str>, default: Date| match raw {
                    None => Ok(default),
                    Some(raw) => parse_day(raw).ok_or_else(|| StatsRangeError::Format {
                        param,
                        format: "yyyy-mm-dd",
                        got: truncate(raw),
                    }),
                };
                let (from, to) = (day("from", from, earliest)?, day("to", to, today)?);
                if from > to {
                    return Err(StatsRangeError::Reversed);
                }
                if from < earliest || to > today {
                    return Err(StatsRangeError::OutOfWindow(format!(
                        "daily stats cover the last {DAILY_WINDOW_DAYS} UTC days: {earliest} to {today}"
                    )));
                }
                Ok(Self::Days { from, to })
            }
            Granularity::Month => {
                let current = YearMonth::of(today);
                let earliest = current.plus(1 - MONTHLY_WINDOW_MONTHS);
                let month = |param: &'static str, raw: Option<&str>, default: YearMonth| match raw {
                    None => Ok(default),
                    Some(raw) => YearMonth::parse(raw).ok_or_else(|| StatsRangeError::Format {
                        param,
                        format: "yyyy-mm",
                        got: truncate(raw),
                    }),
                };
                let (from, to) = (month("from", from, earliest)?, month("to", to, current)?);
                if from > to {
                    return Err(StatsRangeError::Reversed);
                }
                if from < earliest || to > current {
                    return Err(StatsRangeError::OutOfWindow(format!(
                        "monthly stats cover the last {MONTHLY_WINDOW_MONTHS} UTC months: {earliest} to {current}"
                    )));
                }
                Ok(Self::Months { from, to })
            }
        }
    }

    pub fn granularity(&self) -> Granularity {
        match self {
            Self::Days { .. } => Granularity::Day,
            Self::Months { .. } => Granularity::Month,
        }
    }

    /// The labels of every bucket, oldest first (`yyyy-mm-dd` or `yyyy-mm`).
    pub fn periods(&self) -> Vec<String> {
        match *self {
            Self::Days { from, to } => {
                let mut out = Vec::new();
                let mut day = from;
                while day <= to {
                    out.push(day.to_string());
                    day = day.next_day().expect("inside the calendar");
                }
                out
            }
            Self::Months { from, to } => {
                (from.index()..=to.index()).map(|i| YearMonth::from_index(i).to_string()).collect()
            }
        }
    }

    /// `(first, last)` labels.
    pub fn bounds(&self) -> (String, String) {
        match self {
            Self::Days { from, to } => (from.to_string(), to.to_string()),
            Self::Months { from, to } => (from.to_string(), to.to_string()),
        }
    }
}

fn truncate(raw: &str) -> String {
    raw.chars().take(32).collect()
}

/// What one bucket counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BucketValues {
    pub clicks: u64,
    pub signups: i64,
    /// Credits minus reversals booked in the bucket (USD, may be negative: a reversal of an
    /// earlier month's credit is booked to that earlier month, so only a bucket whose own
    /// credits were all reversed reaches zero, never below — but the type does not assume it).
    pub earned: Decimal,
}

impl std::ops::AddAssign for BucketValues {
    fn add_assign(&mut self, other: Self) {
        self.clicks += other.clicks;
        self.signups += other.signups;
        self.earned += other.earned;
    }
}

/// The answer: every bucket of the range, oldest first, and their totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub range: StatsRange,
    pub buckets: Vec<(String, BucketValues)>,
    pub totals: BucketValues,
}

impl Series {
    /// Zero-fills the range from what the store found (labels outside the range are ignored).
    pub fn new(range: StatsRange, found: &BTreeMap<String, BucketValues>) -> Self {
        let mut totals = BucketValues::default();
        let buckets = range
            .periods()
            .into_iter()
            .map(|label| {
                let mut values = found.get(&label).copied().unwrap_or_default();
                values.earned.rescale(2);
                totals += values;
                (label, values)
            })
            .collect();
        totals.earned.rescale(2);
        Self { range, buckets, totals }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 29);

    #[test]
    fn defaults_are_the_whole_window() {
        let days = StatsRange::parse(None, None, None, TODAY).unwrap();
        assert_eq!(days, StatsRange::Days { from: date!(2026 - 09 - 01), to: TODAY });
        assert_eq!(days.periods().len(), 90);
        assert_eq!(days.periods().first().map(String::as_str), Some("2026-09-01"));
        assert_eq!(days.periods().last().map(String::as_str), Some("2026-11-29"));
        let months = StatsRange::parse(Some("month"), None, None, TODAY).unwrap();
        assert_eq!(months.bounds(), ("2025-12".to_string(), "2026-11".to_string()));
        assert_eq!(months.periods().len(), 12);
        assert_eq!(months.granularity().as_str(), "month");
    }

    #[test]
    fn ranges_are_validated() {
        let parse = |g: Option<&str>, f: Option<&str>, t: Option<&str>| StatsRange::parse(g, f, t, TODAY);
        assert_eq!(parse(Some("week"), None, None), Err(StatsRangeError::Granularity));
        assert!(matches!(parse(None, Some("2026-11-31"), None), Err(StatsRangeError::Format { param: "from", .. })));
        assert!(matches!(parse(None, Some("2026-1-1"), None), Err(StatsRangeError::Format { .. })));
        assert!(matches!(parse(Some("month"), Some("2026-13"), None), Err(StatsRangeError::Format { .. })));
        assert_eq!(parse(None, Some("2026-11-20"), Some("2026-11-10")), Err(StatsRangeError::Reversed));
        assert!(matches!(parse(None, Some("2026-08-31"), None), Err(StatsRangeError::OutOfWindow(_))));
        assert!(matches!(parse(None, None, Some("2026-11-30")), Err(StatsRangeError::OutOfWindow(_))));
        assert!(matches!(parse(Some("month"), Some("2025-11"), None), Err(StatsRangeError::OutOfWindow(_))));
        let one = parse(None, Some("2026-11-29"), Some("2026-11-29")).unwrap();
        assert_eq!(one.periods(), vec!["2026-11-29"]);
        let across_years = parse(Some("month"), Some("2025-12"), Some("2026-01")).unwrap();
        assert_eq!(across_years.periods(), vec!["2025-12", "2026-01"]);
    }

    #[test]
    fn months_count_like_integers() {
        let m = YearMonth::parse("2026-01").unwrap();
        assert_eq!(m.plus(-1).to_string(), "2025-12");
        assert_eq!(m.plus(11).to_string(), "2026-12");
        assert_eq!(YearMonth::from_index(m.index()), m);
        assert_eq!(m.first_day(), date!(2026 - 01 - 01));
        assert_eq!(YearMonth::parse("2026-00"), None);
    }

    #[test]
    fn series_are_zero_filled_with_exact_totals() {
        let range = StatsRange::parse(None, Some("2026-11-27"), Some("2026-11-29"), TODAY).unwrap();
        let found = BTreeMap::from([
            ("2026-11-27".to_string(), BucketValues { clicks: 3, signups: 1, earned: Decimal::new(250, 2) }),
            ("2026-11-29".to_string(), BucketValues { clicks: 1, signups: 0, earned: Decimal::new(1, 1) }),
            ("2026-10-01".to_string(), BucketValues { clicks: 99, signups: 9, earned: Decimal::new(9, 0) }),
        ]);
        let series = Series::new(range, &found);
        let labels: Vec<&str> = series.buckets.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(labels, ["2026-11-27", "2026-11-28", "2026-11-29"]);
        assert_eq!(series.buckets[1].1, BucketValues { earned: Decimal::new(0, 2), ..Default::default() });
        assert_eq!(series.buckets[2].1.earned.to_string(), "0.10");
        assert_eq!(
            (series.totals.clicks, series.totals.signups, series.totals.earned.to_string()),
            (4, 1, "2.60".to_string())
        );
    }
}
