//! The figures a run measures (deliveries, credits, faults, durations…): printed, and appended
//! to `tests/artifacts/figures.txt` (git-ignored; CI keeps it as an artifact), one line per
//! measurement, prefixed with its suite (`RELIABILITY`, `SOAK`). The docs describe what the
//! lines mean; the numbers of a given run live here, not in prose that ages.

use std::io::Write;

/// Prints `line` and appends it, with the UTC time of the run, to the figures artifact.
pub fn record(line: &str) {
    println!("{line}");
    let dir = crate::workspace_root().join("tests/artifacts");
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let at = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    // One write per line (O_APPEND): lines of tests running in parallel never interleave.
    if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("figures.txt")) {
        let _ = file.write_all(format!("{at} {line}\n").as_bytes());
    }
}

/// `figures!("RELIABILITY x={}", n)`: [`record`] with `format!` arguments.
#[macro_export]
macro_rules! figures {
    ($($arg:tt)*) => { $crate::figures::record(&format!($($arg)*)) };
}
