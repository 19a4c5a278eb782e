//! Time as the domain sees it: UTC timestamps in RFC 3339 and unix seconds.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Current time, UTC.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// RFC 3339 with a fixed width (millisecond precision, `Z`), so strings sort by time.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let ms = t.millisecond();
    let base = t.replace_nanosecond(0).expect("0 ns is valid").format(&Rfc3339).expect("UTC formats");
    // base ends in "Z"; insert milliseconds before it.
    format!("{}.{:03}Z", base.trim_end_matches('Z'), ms)
}

pub fn parse_rfc3339(raw: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(raw, &Rfc3339).ok()
}

/// The UTC day (`yyyy-mm-dd`) of a timestamp made by [`rfc3339`].
pub fn day_of(timestamp: &str) -> &str {
    timestamp.get(..10).unwrap_or(timestamp)
}

/// The UTC month (`yyyy-mm`) of a timestamp made by [`rfc3339`].
pub fn month_of(timestamp: &str) -> &str {
    timestamp.get(..7).unwrap_or(timestamp)
}

/// Where the rules get the time from: the system clock in production, a manual clock in
/// tests and the simulation.
pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// The system clock (UTC).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_width_and_sortable() {
        let t = OffsetDateTime::from_unix_timestamp(1_764_000_000).unwrap();
        assert_eq!(rfc3339(t), "2025-11-24T16:00:00.000Z");
        let later = t + time::Duration::milliseconds(5);
        assert!(rfc3339(later) > rfc3339(t));
        assert_eq!(parse_rfc3339(&rfc3339(later)), Some(later));
    }
}
