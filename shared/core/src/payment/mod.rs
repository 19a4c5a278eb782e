//! Payments as the referral program sees them: the provider's events and, per payment, the
//! record of what the provider told us (independent of the order it arrived in).

pub mod event;
mod record;

pub use event::{EventTimeError, PaymentEvent, PaymentEventKind};
pub use record::{Dispute, DisputeStatus, PaymentFact, PaymentRecord, Unchanged};
