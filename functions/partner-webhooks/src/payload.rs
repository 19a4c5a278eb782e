//! The JSON a partner receives:
//! `{"id":"evt_…","type":"bonus.credited","created":<unix>,"data":{"bonus":{…}}}`.
//!
//! `data.bonus` is the bonus as it is when delivered (the row is the source of truth); the
//! event's `id` and `created` come from the payment, the bonus version the event describes
//! and that version's history entry, so every attempt of one event carries the same id and
//! time. Types: `bonus.created`, `bonus.credited`, `bonus.reversed`, `bonus.adjusted` (a
//! credited bonus's `net_amount` changed: partial refund, dispute, dispute won). Privacy: the referred user is not identified
//! at all (the same rule as the dashboard history); a partner correlates on `payment_id`.

use adapters::billing::PartnerEventMessage;
use referral_core::bonus::Bonus;
use serde_json::{json, Value};

/// When the event happened: the time of the history entry of the bonus version it describes
/// (the row's last change if that entry is missing).
pub fn occurred_at(message: &PartnerEventMessage, bonus: &Bonus) -> String {
    let index = usize::try_from(message.bonus_version).unwrap_or(usize::MAX).saturating_sub(1);
    bonus.history.get(index).map(|entry| entry.at.clone()).unwrap_or_else(|| bonus.updated_at.clone())
}

pub fn bonus_view(bonus: &Bonus) -> Value {
    let reversed_at = bonus
        .history
        .iter()
        .rev()
        .find(|e| e.status == referral_core::bonus::BonusStatus::Reversed)
        .map(|e| e.at.clone());
    json!({
        "payment_id": bonus.source_payment_id,
        "status": bonus.status,
        "currency": "USD",
        "topup_amount": bonus.topup_amount,
        "rate": bonus.rate,
        "bonus_amount": bonus.bonus_amount,
        "net_amount": bonus.net_amount,
        "paid_amount": bonus.paid_amount,
        "refunded_amount": bonus.refunded_amount,
        "disputed_amount": bonus.disputed_amount,
        "reason": bonus.reason,
        "created_at": bonus.created_at,
        "credited_at": bonus.credited_at,
        "reversed_at": reversed_at,
    })
}

/// The exact bytes that are signed and sent.
pub fn body(message: &PartnerEventMessage, bonus: &Bonus) -> String {
    let created = adapters::clock::parse_rfc3339(&occurred_at(message, bonus)).map(|t| t.unix_timestamp());
    json!({
        "id": message.event_id,
        "type": message.kind,
        "created": created,
        "data": { "bonus": bonus_view(bonus) },
    })
    .to_string()
}
