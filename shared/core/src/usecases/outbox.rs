//! Delivering the transactional outbox: every message a money-moving commit wrote goes to
//! its queue — partner events to the partner webhook queue, retries to the credit retry
//! queue. Delivery is at least once (a failed send is reported and re-driven by the
//! caller); both consumers are idempotent (event ids, the bonus row as source of truth).

use crate::bonus::OutboxMessage;
use crate::ports::{EventQueue, PartnerEventMessage, RetryQueue};

/// Sends one outbox message. `Err` = not delivered; try again later.
pub async fn dispatch<Q, E>(message: &OutboxMessage, retry: &Q, events: &E) -> Result<(), String>
where
    Q: RetryQueue,
    E: EventQueue,
{
    match message {
        OutboxMessage::Retry { payment_id, attempts } => retry.schedule(payment_id, *attempts).await,
        OutboxMessage::PartnerEvent { event_id, event_type, referrer_id, payment_id, bonus_version } => {
            events
                .publish(&PartnerEventMessage {
                    event_id: event_id.clone(),
                    kind: *event_type,
                    referrer_id: referrer_id.clone(),
                    payment_id: payment_id.clone(),
                    bonus_version: *bonus_version,
                })
                .await
        }
    }
}
