//! **The bonus history as CSV** (`GET /referrals/history.csv`): the same rows as the JSON
//! history, one line per bonus, newest first, for accountants and spreadsheets.
//!
//! * [RFC 4180](https://www.rfc-editor.org/rfc/rfc4180): a header line, `CRLF` line ends, a
//!   field is quoted (`"…"`, inner quotes doubled) exactly when it holds a comma, a quote, `CR`
//!   or `LF`. Served as `text/csv; charset=utf-8; header=present`.
//! * Money is the exact decimal the ledger holds (`"2.50"`, never a float, no currency sign,
//!   no thousands separator); the rate is the decimal fraction (`0.05`); times are RFC 3339 UTC.
//! * **What adds up**: `paid_amount` is what Wellflow holds for the bonus (credits minus
//!   debits applied), so the column's sum over every row is the KPI *total earned*, and its sum
//!   over the rows whose `credited_at` falls on the last 30 UTC days is *earned in the last 30
//!   days* — to the cent (earnings are booked to the day of the first credit).
//! * Every field is one of our validated values (ids of `[A-Za-z0-9-_.:@]`, snake_case
//!   reasons, decimals, timestamps): no cell can start with `=` or `+` or hold a formula, so
//!   nothing is prefixed or altered to defuse spreadsheet formulas — the data is exact.
//! * One response holds at most [`MAX_ROWS_PER_FILE`] rows (Lambda buffers a response and
//!   caps it at 6 MB; [`MAX_ROW_BYTES`] bounds a row). More rows continue on the next request
//!   with the cursor the response names (`X-Next-Cursor`, `Link: <…>; rel="next"`).

use std::borrow::Cow;

use crate::bonus::Bonus;

/// The columns, in order (the JSON history's field names; `currency` is always USD).
pub const COLUMNS: [&str; 13] = [
    "payment_id",
    "created_at",
    "status",
    "reason",
    "topup_amount",
    "rate",
    "bonus_amount",
    "net_amount",
    "paid_amount",
    "refunded_amount",
    "credited_at",
    "release_at",
    "currency",
];

/// Rows per response: 5,000 rows of at most [`MAX_ROW_BYTES`] stay under 2.5 MB, well inside
/// Lambda's 6 MB buffered response, and are read in ten history queries within the timeout.
pub const MAX_ROWS_PER_FILE: usize = 5_000;

/// An upper bound of one row's length in bytes (ids of at most 128 characters, reasons of at
/// most 64, amounts of at most 12 characters, rates of at most 8, timestamps of 24).
pub const MAX_ROW_BYTES: usize = 128 + 3 * 24 + 10 + 64 + 5 * 12 + 8 + 3 + 13 + 2;

/// The header line (with its CRLF).
pub fn header() -> String {
    let mut line = COLUMNS.join(",");
    line.push_str("\r\n");
    line
}

/// One field, quoted when RFC 4180 requires it.
pub fn field(value: &str) -> Cow<'_, str> {
    if value.contains([',', '"', '\r', '\n']) {
        Cow::Owned(format!("\"{}\"", value.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(value)
    }
}

/// One bonus as a CSV line (with its CRLF), in [`COLUMNS`] order.
pub fn row(bonus: &Bonus) -> String {
    let values: [String; 13] = [
        bonus.source_payment_id.to_string(),
        bonus.created_at.clone(),
        bonus.status.to_string(),
        bonus.reason.clone().unwrap_or_default(),
        bonus.topup_amount.to_string(),
        bonus.rate.to_string(),
        bonus.bonus_amount.to_string(),
        bonus.net_amount.to_string(),
        bonus.paid_amount.to_string(),
        bonus.refunded_amount.to_string(),
        bonus.credited_at.clone().unwrap_or_default(),
        bonus.release_at.clone().unwrap_or_default(),
        "USD".to_string(),
    ];
    let mut line = values.iter().map(|v| field(v)).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

/// Parses RFC 4180 text back into records (tests and tools; the inverse of [`row`]).
pub fn parse(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut fieldbuf = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    fieldbuf.push('"');
                }
                '"' => quoted = false,
                _ => fieldbuf.push(c),
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                quoted = true;
                at_field_start = false;
            }
            '"' => return Err("a quote inside an unquoted field".into()),
            ',' => {
                record.push(std::mem::take(&mut fieldbuf));
                at_field_start = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {
                chars.next();
                record.push(std::mem::take(&mut fieldbuf));
                records.push(std::mem::take(&mut record));
                at_field_start = true;
            }
            '\r' | '\n' => return Err("a line break that is not CRLF outside quotes".into()),
            _ => {
                fieldbuf.push(c);
                at_field_start = false;
            }
        }
    }
    if quoted {
        return Err("an unterminated quoted field".into());
    }
    if !fieldbuf.is_empty() || !record.is_empty() {
        record.push(fieldbuf);
        records.push(record);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quoting_follows_rfc_4180() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\r\nlines"), "\"two\r\nlines\"");
        assert_eq!(field(""), "");
        assert_eq!(header(), format!("{}\r\n", COLUMNS.join(",")));
    }

    proptest! {
        #[test]
        fn any_fields_round_trip(fields in proptest::collection::vec(".{0,12}", 1..6)) {
            let mut line = fields.iter().map(|f| field(f)).collect::<Vec<_>>().join(",");
            line.push_str("\r\n");
            let parsed = parse(&line).unwrap();
            prop_assert_eq!(parsed, vec![fields]);
        }
    }

    #[test]
    fn the_row_bound_holds_and_a_file_fits_in_a_lambda_response() {
        // The longest possible values of every column.
        let widest = [128, 24, 8, 64, 10, 8, 10, 10, 10, 10, 24, 24, 3];
        let quoted_or_not = widest.iter().sum::<usize>() + widest.len() - 1 + 2;
        assert!(quoted_or_not <= MAX_ROW_BYTES, "{quoted_or_not} > {MAX_ROW_BYTES}");
        assert!(header().len() + MAX_ROWS_PER_FILE * MAX_ROW_BYTES < 6 * 1024 * 1024 / 2);
    }
}
