//! Structured JSON logs for every function (CloudWatch-friendly, one object per line).
//!
//! The Lambda runtime opens a span per invocation carrying `requestId` and the X-Ray trace
//! id; the current span is flattened into each line so every log has them. Level comes
//! from `RUST_LOG` (default `info`). Never log secrets, tokens or full IP addresses at info.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber once; later calls are no-ops (tests call it repeatedly).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .try_init();
}
