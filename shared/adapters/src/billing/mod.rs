//! The money path's wiring: the SQS adapters of the core's queue ports (retry queue,
//! partner event queue), the visibility backoff both SQS consumers use, and the
//! configuration that builds a `referral_core::usecases::Billing` from the environment.
//! The flows themselves are `referral_core::usecases`.

pub mod queues;
pub mod settings;

pub use queues::{backoff_secs, exponential_backoff_secs, SqsEventQueue, SqsRetryQueue, VisibilityBackoff};
pub use referral_core::ports::PartnerEventMessage;
pub use referral_core::usecases::{Billing, BillingError};

/// The money-moving wiring every function uses: DynamoDB store + Wellflow HTTP client.
pub type LiveBilling = Billing<crate::store::DynamoStore, crate::wellflow::WellflowClient>;
