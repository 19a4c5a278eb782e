//! Structured JSON logs for every function (CloudWatch-friendly, one object per line).
//!
//! The Lambda runtime opens a span per invocation carrying `requestId` and the X-Ray trace
//! id; the current span is flattened into each line so every log has them. Level comes
//! from `RUST_LOG` (default `info`): a level (`debug`) or per-target directives
//! (`info,shared=debug`), parsed as [`Targets`] — no regex engine in the binary (size).
//! Never log secrets, tokens or full IP addresses at info.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The filter `RUST_LOG` asks for; `info` when unset or unparsable, and `info` for every
/// target it does not name (a typo such as `inof` must not silence production logs).
pub fn filter_from(raw: Option<&str>) -> Targets {
    let targets = raw.and_then(|r| r.trim().parse::<Targets>().ok()).unwrap_or_default();
    match targets.default_level() {
        Some(_) => targets,
        None => targets.with_default(LevelFilter::INFO),
    }
}

/// Installs the JSON subscriber once; later calls are no-ops (tests call it repeatedly).
pub fn init() {
    crate::metrics::install();
    let filter = filter_from(std::env::var("RUST_LOG").ok().as_deref());
    let fmt = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false);
    let _ = tracing_subscriber::registry().with(fmt).with(filter).try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn rust_log_levels_and_directives() {
        assert!(filter_from(None).would_enable("shared", &Level::INFO));
        assert!(!filter_from(None).would_enable("shared", &Level::DEBUG));
        assert!(filter_from(Some("debug")).would_enable("anything", &Level::DEBUG));
        let mixed = filter_from(Some("warn,shared=debug"));
        assert!(mixed.would_enable("shared::billing", &Level::DEBUG));
        assert!(!mixed.would_enable("hyper", &Level::INFO));
        assert!(filter_from(Some("inof")).would_enable("x", &Level::INFO), "a typo keeps info logs");
        assert!(!filter_from(Some("inof")).would_enable("x", &Level::DEBUG));
    }
}
