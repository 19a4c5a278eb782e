//! The JSON a partner receives:
//! `{"id":"evt_…","type":"bonus.credited","created":<unix>,"data":{"bonus":{…}}}`.
//!
//! `data.bonus` is the bonus as it is when delivered (the row is the source of truth); the
//! event's `id` and `created` come from the payment and the row's history, so every attempt
//! of one event carries the same id and time. Privacy: the referred user is not identified
//! at all (the same rule as the dashboard history); a partner correlates on `payment_id`.

use adapters::billing::PartnerEventMessage;
use adapters::domain::{BonusStatus, PartnerEventType};
use adapters::store::BonusRecord;
use serde_json::{json, Value};

/// When the event happened: creation, crediting or reversal time of the bonus.
pub fn occurred_at(kind: PartnerEventType, bonus: &BonusRecord) -> String {
    let reversed_at = || bonus.history.iter().rev().find(|e| e.status == BonusStatus::Reversed).map(|e| e.at.clone());
    match kind {
        PartnerEventType::BonusCreated => Some(bonus.created_at.clone()),
        PartnerEventType::BonusCredited => bonus.credited_at.clone(),
        PartnerEventType::BonusReversed => reversed_at(),
    }
    .unwrap_or_else(|| bonus.updated_at.clone())
}

pub fn bonus_view(bonus: &BonusRecord) -> Value {
    let reversed_at = bonus.history.iter().rev().find(|e| e.status == BonusStatus::Reversed).map(|e| e.at.clone());
    json!({
        "payment_id": bonus.source_payment_id,
        "status": bonus.status,
        "currency": "USD",
        "topup_amount": bonus.topup_amount,
        "rate": bonus.rate,
        "bonus_amount": bonus.bonus_amount,
        "reason": bonus.reason,
        "created_at": bonus.created_at,
        "credited_at": bonus.credited_at,
        "reversed_at": reversed_at,
    })
}

/// The exact bytes that are signed and sent.
pub fn body(message: &PartnerEventMessage, bonus: &BonusRecord) -> String {
    let created = adapters::clock::parse_rfc3339(&occurred_at(message.kind, bonus)).map(|t| t.unix_timestamp());
    json!({
        "id": message.event_id,
        "type": message.kind,
        "created": created,
        "data": { "bonus": bonus_view(bonus) },
    })
    .to_string()
}
