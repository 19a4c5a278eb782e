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

/// How far ahead of our clock an event's `occurred_at` may be: the provider's clock may run a
/// little fast, but a payment that "happens" later than this is a bug or a forgery, and it
/// would shift the holding period and the month it counts for.
pub const MAX_FUTURE_SKEW: time::Duration = time::Duration::minutes(5);

/// Why a payment event's time is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventTimeError {
    #[error("occurred_at must be an RFC 3339 timestamp such as 2026-11-25T09:00:00Z")]
    Unreadable,
    #[error("occurred_at {at} is more than 5 minutes ahead of our clock ({now}); send the time the payment happened")]
    InTheFuture { at: String, now: String },
}

/// The sanity window of an event's time (applied by every provider adapter): an RFC 3339
/// timestamp at most [`MAX_FUTURE_SKEW`] after `now`, returned normalised (`clock::rfc3339`).
/// There is no lower bound: providers re-deliver old events (days later) and a refund may
/// come months after its payment.
pub fn occurred_at(raw: &str, now: time::OffsetDateTime) -> Result<String, EventTimeError> {
    let at = crate::clock::parse_rfc3339(raw).ok_or(EventTimeError::Unreadable)?;
    checked_time(at, now)
}

/// [`occurred_at`] for a time already read (Stripe's `created`, a unix timestamp).
pub fn checked_time(at: time::OffsetDateTime, now: time::OffsetDateTime) -> Result<String, EventTimeError> {
    if at > now + MAX_FUTURE_SKEW {
        return Err(EventTimeError::InTheFuture { at: crate::clock::rfc3339(at), now: crate::clock::rfc3339(now) });
    }
    Ok(crate::clock::rfc3339(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_of_an_event_is_at_most_five_minutes_ahead() {
        let now = crate::clock::parse_rfc3339("2026-11-25T09:00:00Z").unwrap();
        assert_eq!(occurred_at("2026-11-25T09:05:00Z", now).unwrap(), "2026-11-25T09:05:00.000Z");
        assert_eq!(occurred_at("2020-01-01T00:00:00+02:00", now).unwrap(), "2019-12-31T22:00:00.000Z");
        assert!(matches!(occurred_at("2026-11-25T09:05:01Z", now), Err(EventTimeError::InTheFuture { .. })));
        assert!(matches!(occurred_at("9999-12-31T23:59:59Z", now), Err(EventTimeError::InTheFuture { .. })));
        for bad in ["", "yesterday", "2026-13-45T99:00:00Z", "2026-11-25"] {
            assert_eq!(occurred_at(bad, now), Err(EventTimeError::Unreadable), "{bad}");
        }
    }
}
