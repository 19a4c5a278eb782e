//! Stripe, the real payment provider: its webhook signature, its configuration and its
//! events, turned into the core's provider-neutral [`PaymentEvent`]s. Pure (no I/O): the
//! handler reads the body and the `Stripe-Signature` header, calls [`verify_signature`]
//! (or [`verify_request`]) on the raw bytes, then [`parse`], and acts on the
//! [`StripeOutcome`].
//!
//! ```text
//! POST /webhooks/stripe
//!   body  ≤ MAX_BODY_BYTES ─► verify_request ─► parse ─► Event(PaymentEvent) → the money core
//!                               400 / 401         │      Ignored{reason}   → 200 {"outcome":"ignored"}
//!                                                 └────► 400 (broken event) / 413
//! ```
//!
//! What Stripe sends and what we do with it (the Stripe facts each rule rests on are cited
//! next to the code that applies it, in `event.rs`):
//!
//! | Stripe event | object | [`PaymentEventKind`] |
//! | --- | --- | --- |
//! | `payment_intent.succeeded` | PaymentIntent | `Succeeded { amount_received }` |
//! | `checkout.session.completed` (`mode: payment`, `payment_status: paid`) | Checkout Session | `Succeeded { amount_total }` |
//! | `checkout.session.async_payment_succeeded` (same conditions) | Checkout Session | `Succeeded { amount_total }` |
//! | `charge.refunded` | Charge | `Refunded { total: amount_refunded }` (cumulative) |
//! | `charge.dispute.created` | Dispute | `Disputed { amount }` |
//! | `charge.dispute.closed` `won` / `warning_closed` / `prevented` | Dispute | `DisputeWon` |
//! | `charge.dispute.closed` `lost` | Dispute | `DisputeLost` |
//! | anything else | | ignored: `unhandled_event_type` |
//!
//! Ignoring is an answer, not an error: the handler replies 200 so that Stripe, which
//! retries every non-2xx delivery for up to three days, stops sending an event that will
//! never mean anything to us. Only a body that is not a Stripe event, or a handled event
//! whose fields have the wrong type or an impossible amount, is refused with a 400.
//!
//! [`PaymentEventKind`]: referral_core::payment::PaymentEventKind

mod config;
mod event;
mod json;
mod signature;

#[cfg(test)]
mod tests;

pub use config::StripeConfig;
pub use event::parse;
pub use signature::{sign, verify_request, verify_signature, SIGNATURE_HEADER};

use referral_core::payment::PaymentEvent;

/// Largest body [`parse`] accepts. Stripe does not publish a limit; a snapshot event
/// embeds the whole object (a Charge with its card details and refund list is ~5 KiB, a
/// Checkout Session ~4 KiB), so this leaves a wide margin while bounding the work an
/// unauthenticated caller can cause. The handler should read the body with this limit
/// (the generic contract's 16 KiB is too tight for Stripe).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// What one Stripe delivery means to us.
#[derive(Debug, Clone, PartialEq)]
pub enum StripeOutcome {
    /// A fact about a payment for the money core (`provider_event_id` is the `evt_…` id).
    Event(PaymentEvent),
    /// A well-formed event that changes nothing: answer 200, write nothing. `reason` is one
    /// of the [`reason`] constants.
    Ignored { reason: &'static str, event_id: String, event_type: String },
}

/// Why an event was ignored (stable strings for logs, metrics and the 200 answer).
pub mod reason {
    /// Not one of the event types listed in the module documentation.
    pub const UNHANDLED_EVENT_TYPE: &str = "unhandled_event_type";
    /// A test-mode event on a live endpoint, or the reverse (`STRIPE_LIVEMODE`).
    pub const LIVEMODE_MISMATCH: &str = "livemode_mismatch";
    /// Not USD: only USD top-ups earn referral bonuses.
    pub const UNSUPPORTED_CURRENCY: &str = "unsupported_currency";
    /// A success that names no user (no `metadata.<key>`, no `client_reference_id`).
    pub const NO_USER_ID: &str = "no_user_id";
    /// The object belongs to no PaymentIntent (legacy Charges API payment, a Checkout
    /// Session without one): there is no payment id to record it under.
    pub const NO_PAYMENT_INTENT: &str = "no_payment_intent";
    /// A Checkout Session in `setup` or `subscription` mode: not a one-off top-up.
    pub const NOT_PAYMENT_MODE: &str = "not_payment_mode";
    /// A Checkout Session whose `payment_status` is not `paid` yet (delayed payment
    /// methods): `checkout.session.async_payment_succeeded` follows when the money arrives.
    pub const SESSION_NOT_PAID: &str = "session_not_paid";
    /// A success of zero: nothing to pay a bonus on.
    pub const ZERO_AMOUNT: &str = "zero_amount";
    /// A `charge.dispute.closed` whose status is not a final one we know.
    pub const DISPUTE_NOT_CLOSED: &str = "dispute_not_closed";

    /// The reasons that point at a configuration problem on the merchant's side: the
    /// handler logs these at warn, the others at info.
    pub const WARN: &[&str] = &[LIVEMODE_MISMATCH, UNSUPPORTED_CURRENCY, NO_USER_ID];
}
