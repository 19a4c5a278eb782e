//! A succeeded top-up → at most one bonus row (idempotent per payment), held for
//! moderation or credited right away.
//!
//! DynamoDB round trips: 1 (`BatchGetItem` payer + existing bonus + rate-tier table) for a
//! duplicate or an unreferred payer; 3 for a held bonus (+ `BatchGetItem` referrer profile +
//! month volume, + create transaction); 4 for a credited one (+ the transition that records
//! Wellflow's answer). See BENCHMARKS.md.
//!
//! Rate: the referrer's override, else the tier of their referred volume of the month
//! before this top-up (`domain::tiers`), else the default. When the tier decided it, the
//! create transaction is conditional on the volume still being in that band; a concurrent
//! top-up that crossed the threshold first makes it `Contended` and we decide again.

use crate::billing::{credit_bonus, partner_events, Billing, BillingError, CreditOutcome, OnFailure, RetryQueue};
use crate::clock;
use crate::domain::{
    month_of, BonusStatus, Decision, HoldReason, PartnerEventType, PaymentId, TopupContext, Usd, UserId,
};
use crate::store::{
    Activity, BonusRecord, Bonuses, CreateOutcome, FirstTopup, HistoryEntry, NewBonus, StoreError, Users, VolumeBooking,
};

/// How often a create may lose an optimistic-lock race (hot referrer) before giving up.
const CREATE_ATTEMPTS: usize = 8;

/// A validated `topup.succeeded` event.
#[derive(Debug, Clone, PartialEq)]
pub struct TopupEvent {
    pub payment_id: PaymentId,
    pub user_id: UserId,
    pub amount: Usd,
    pub occurred_at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TopupOutcome {
    /// Below the minimum top-up: no row.
    BelowMinimum,
    /// The payer was not referred: no row.
    NotReferred,
    /// A bonus for this payment exists already: nothing written.
    Duplicate(Box<BonusRecord>),
    /// Held for moderation (`pending` with a reason).
    Held(Box<BonusRecord>),
    /// Created and sent to Wellflow.
    Credit(CreditOutcome),
}

/// Processes one succeeded top-up. Store errors propagate (the webhook answers 503 and the
/// provider retries; every write here is a single atomic transaction, so nothing is partial).
pub async fn process_topup<S, Q>(billing: &Billing<S, Q>, event: &TopupEvent) -> Result<TopupOutcome, BillingError>
where
    S: Bonuses + Users,
    Q: RetryQueue,
{
    if event.amount < billing.policy.min_topup {
        return Ok(TopupOutcome::BelowMinimum);
    }
    for _ in 0..CREATE_ATTEMPTS {
        let snapshot = billing.store.topup_snapshot(&event.user_id, &event.payment_id).await?;
        if let Some(existing) = snapshot.existing {
            return Ok(duplicate(billing, existing).await);
        }
        let Some(payer) = snapshot.payer else { return Ok(TopupOutcome::NotReferred) };
        let Some(referrer_id) = payer.referrer_id.clone() else { return Ok(TopupOutcome::NotReferred) };
        let now = clock::now();
        let at = clock::rfc3339(now);
        let month = month_of(&at).to_string();
        let referrer = billing.store.referrer_snapshot(&referrer_id, &month).await?;
        let (rate_override, first_topups, version) = referrer
            .profile
            .as_ref()
            .map(|r| (r.rate_override, r.first_topups.as_slice(), r.velocity_version))
            .unwrap_or((None, &[], 0));
        let partner_events = referrer.profile.as_ref().map(|r| r.webhook_events.as_slice()).unwrap_or(&[]);
        // Override > tiers > default. The band is remembered to guard the write.
        let band = match (rate_override, &snapshot.rate_tiers) {
            (None, Some(tiers)) => Some(tiers.band_for(referrer.month_volume)),
            _ => None,
        };

        let now_secs = now.unix_timestamp();
        let is_first_topup = payer.first_topup_payment_id.is_none();
        let decision = billing.policy.decide(&TopupContext {
            amount: event.amount,
            rate_override,
            tiered_rate: band.map(|b| b.rate),
            is_first_topup,
            recent_first_topups: first_topups,
            same_ip: payer.same_ip,
            now: now_secs,
        });
        let mut release_at = None;
        let (status, reason, last_error, rate, amount) = match decision {
            Decision::BelowMinimum => return Ok(TopupOutcome::BelowMinimum),
            Decision::Hold { amount, rate, reason } => {
                if reason == HoldReason::Holding {
                    let occurred = clock::parse_rfc3339(&event.occurred_at).unwrap_or(now);
                    release_at = Some(clock::rfc3339(billing.policy.release_at(occurred, now)));
                }
                (BonusStatus::Pending, Some(reason.as_str().to_string()), None, rate, amount)
            }
            // Written as `failed` ("not yet confirmed") before Wellflow is called.
            Decision::Credit { amount, rate } => (
                BonusStatus::Failed,
                None,
                Some("credit in progress: not yet confirmed by Wellflow".to_string()),
                rate,
                amount,
            ),
        };
        let record = BonusRecord {
            bonus_key: BonusRecord::key_for(&event.payment_id),
            source_payment_id: event.payment_id.clone(),
            referrer_id: referrer_id.clone(),
            referred_user_id: event.user_id.clone(),
            topup_amount: event.amount,
            rate,
            bonus_amount: amount,
            status,
            reason: reason.clone(),
            last_error,
            attempts: 0,
            created_at: at.clone(),
            updated_at: at.clone(),
            topup_occurred_at: event.occurred_at.clone(),
            credited_at: None,
            wellflow_transaction_id: None,
            history: vec![HistoryEntry {
                at,
                status,
                actor: "webhook".into(),
                from: None,
                reason: reason.clone(),
                note: None,
                error: None,
            }],
            notify: !partner_events.is_empty(),
            release_at: release_at.clone(),
            volume_month: Some(month.clone()),
        };
        let first_topup = is_first_topup.then(|| FirstTopup {
            window: billing.policy.record_first_topup(first_topups, now_secs),
            read_version: version,
        });
        let activity = Activity {
            day: record.created_at[..10].to_string(),
            previous: payer.active_for.clone().zip(payer.last_topup_day.clone()),
        };
        let volume = VolumeBooking { month, guard: band };
        match billing.store.create_bonus(&NewBonus { record: record.clone(), first_topup, activity, volume }).await? {
            CreateOutcome::Created => {}
            CreateOutcome::Duplicate => {
                let existing = billing.store.bonus(&event.payment_id).await?.ok_or_else(|| StoreError::Corrupt {
                    key: record.bonus_key.clone(),
                    reason: "uniqueness condition failed but no bonus row".into(),
                })?;
                return Ok(duplicate(billing, existing).await);
            }
            CreateOutcome::Contended => continue,
        }
        tracing::info!(
            payment_id = %event.payment_id,
            referrer_id = %referrer_id,
            topup = %event.amount,
            bonus = %amount,
            rate = %rate,
            tier = band.map(|b| b.index),
            month_volume_before = %referrer.month_volume,
            release_at = release_at.as_deref(),
            first_topup = is_first_topup,
            outcome = if status == BonusStatus::Pending { "held" } else { "created" },
            reason = reason.as_deref(),
            "bonus created"
        );
        crate::metrics::count("BonusCreated", &[("payment_id", event.payment_id.as_str())]);
        if partner_events.contains(&PartnerEventType::BonusCreated) {
            partner_events::emit(billing, &record, PartnerEventType::BonusCreated).await;
        }
        if status == BonusStatus::Pending {
            crate::metrics::count(
                "BonusHeld",
                &[("payment_id", event.payment_id.as_str()), ("reason", reason.as_deref().unwrap_or(""))],
            );
            return Ok(TopupOutcome::Held(Box::new(record)));
        }
        return Ok(TopupOutcome::Credit(credit_bonus(billing, &record, "webhook", None, OnFailure::Enqueue).await?));
    }
    Err(BillingError::Contended(BonusRecord::key_for(&event.payment_id)))
}

/// A repeated delivery writes nothing. If the original's credit never completed (the row
/// is still `failed`), make sure a retry is on its way — the provider re-sends exactly when
/// our first attempt died half-way.
async fn duplicate<S, Q>(billing: &Billing<S, Q>, existing: BonusRecord) -> TopupOutcome
where
    Q: RetryQueue,
{
    tracing::info!(payment_id = %existing.source_payment_id, status = %existing.status, outcome = "duplicate", "duplicate top-up delivery absorbed");
    crate::metrics::count("WebhookDuplicates", &[("payment_id", existing.source_payment_id.as_str())]);
    if existing.status == BonusStatus::Failed {
        if let Err(err) = billing.retry.schedule(&existing.source_payment_id, existing.attempts.max(1)).await {
            tracing::error!(payment_id = %existing.source_payment_id, error = %err, "could not enqueue retry for a failed bonus");
        }
    }
    TopupOutcome::Duplicate(Box::new(existing))
}
