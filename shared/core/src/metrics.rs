//! Business metrics, as the rules see them: a name, a value, a unit and string properties
//! (`payment_id`, `reason`, …). The core only names what happened; where it goes is the
//! adapters' business (`adapters::metrics` installs a CloudWatch EMF sink at start-up).
//! Until a sink is installed, metrics go nowhere (unit tests, the simulation).

use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// Where metrics go: `(metrics, properties)`.
pub type Sink = fn(&[(&str, f64, Unit)], &[(&str, &str)]);

static SINK: OnceLock<Sink> = OnceLock::new();

/// Installs the process-wide sink; the first call wins (later calls return `false`).
pub fn set_sink(sink: Sink) -> bool {
    SINK.set(sink).is_ok()
}

/// Emits metrics now.
pub fn emit(metrics: &[(&str, f64, Unit)], properties: &[(&str, &str)]) {
    if let Some(sink) = SINK.get() {
        sink(metrics, properties);
    }
}

/// Counts one event.
pub fn count(name: &str, properties: &[(&str, &str)]) {
    emit(&[(name, 1.0, Unit::Count)], properties);
}
