//! What a payment provider can tell us about one payment, in the core's terms. Every
//! provider adapter (our generic `/webhooks/payments` contract, Stripe) turns its own
//! events into these; the rules never see a provider's JSON.

use crate::domain::{PaymentId, Usd, UserId};

/// One fact about a payment, as delivered (possibly late, twice, or out of order).
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentEvent {
    pub payment_id: PaymentId,
    /// The paying user when the provider says who it is (always present on a success; a
    /// refund or a dispute may not carry it).
    pub user_id: Option<UserId>,
    pub kind: PaymentEventKind,
    /// When it happened at the provider (RFC 3339, as normalised by `clock::rfc3339`).
    pub occurred_at: String,
    /// The provider's own event id (Stripe `evt_…`), when it has one: a re-sent event is
    /// recognised by it before anything else is read.
    pub provider_event_id: Option<String>,
}

/// The facts a provider reports. Amounts are exact USD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentEventKind {
    /// The top-up was paid: `amount` is what the payer paid (Stripe `amount_received`).
    Succeeded { amount: Usd },
    /// The payment's **total refunded so far** (cumulative, as Stripe's `amount_refunded`):
    /// re-deliveries and reordered partial refunds are harmless because the total only grows.
    Refunded { total: Usd },
    /// A dispute (chargeback) was opened over `amount`: that part of the bonus is held back
    /// (reversed) until the dispute is won.
    Disputed { amount: Usd },
    /// The dispute was decided for the merchant: the disputed amount counts again.
    DisputeWon,
    /// The dispute was decided against the merchant over `amount`: that part stays reversed
    /// for good (changes nothing `Disputed` did not already change, unless this arrives first).
    DisputeLost { amount: Usd },
}

impl PaymentEventKind {
    /// Stable name for logs, history and API answers.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Succeeded { .. } => "succeeded",
            Self::Refunded { .. } => "refunded",
            Self::Disputed { .. } => "disputed",
            Self::DisputeWon => "dispute_won",
            Self::DisputeLost { .. } => "dispute_lost",
        }
    }
}
