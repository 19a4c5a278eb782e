//! Bonus rows on DynamoDB: idempotent creation and conditional status transitions.
//!
//! * Creation is one `TransactWriteItems`: the bonus row and the `PAYMENT#` uniqueness row
//!   (both `attribute_not_exists`: DynamoDB's UNIQUE INDEX on `source_payment_id`), plus,
//!   for a first-time top-up, the payer's first-top-up marker and the referrer's velocity
//!   window under optimistic locking, and the top-up added to the referrer's month volume
//!   (`STATS#<yyyy-mm>`, guarded by the tier band; see `rate_tiers.rs`). Either all of it
//!   lands or nothing does. Items 0 and 1 failing = duplicate; any other = contended.
//! * A transition is conditional on the status that was read, so two deciders (retry and
//!   admin, two admins) can never both win. Earnings aggregates (`STATS`, `DAY#`) move in
//!   the same transaction as the status change that earns or reverses money, and so do the
//!   monthly `STATS#<yyyy-mm>` items and the leaderboard score `LBSCORE` (GSI3) on both.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use super::{cancelled_conditions, from_item, keys, n, s, sdk_error, to_item, DynamoStore, Item, PK, SK};
use crate::domain::{BonusStatus, PaymentId, UserId};
use crate::store::{
    BonusRecord, Bonuses, CreateOutcome, NewBonus, ReferrerSnapshot, StoreError, TopupSnapshot, Transition,
    TransitionOutcome,
};

/// The full item for a bonus record: attributes plus primary and index keys.
pub(crate) fn bonus_item(record: &BonusRecord) -> Item {
    let mut item = to_item(record);
    item.insert(PK.into(), s(keys::bonus_pk(&record.source_payment_id)));
    item.insert(SK.into(), s(keys::SK_BONUS));
    let sort = keys::bonus_gsi_sk(&record.created_at, &record.source_payment_id);
    match (&record.release_at, record.status) {
        // In its holding period: queued for the release job, off the moderation list.
        (Some(release_at), BonusStatus::Pending) => {
            item.insert(keys::GSI1PK.into(), s(keys::GSI1PK_HOLDING));
            item.insert(keys::GSI1SK.into(), s(keys::holding_gsi_sk(release_at, &record.source_payment_id)));
        }
        (_, status) if status.is_open() => {
            item.insert(keys::GSI1PK.into(), s(keys::status_gsi_pk(record.status)));
            item.insert(keys::GSI1SK.into(), s(sort.clone()));
        }
        _ => {}
    }
    item.insert(keys::GSI2PK.into(), s(keys::referrer_gsi_pk(&record.referrer_id)));
    item.insert(keys::GSI2SK.into(), s(sort));
    item
}

fn key(pk: String, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))])
}

/// The date part (`yyyy-mm-dd`) of an RFC 3339 timestamp.
fn day_of(timestamp: &str) -> &str {
    timestamp.get(..10).unwrap_or(timestamp)
}

/// The UTC month (`yyyy-mm`) of an RFC 3339 timestamp.
fn month_of(timestamp: &str) -> &str {
    timestamp.get(..7).unwrap_or(timestamp)
}

impl DynamoStore {
    /// `ADD` to a referrer's aggregates (the `STATS` row or one `DAY#` row).
    pub(super) fn aggregate_update(
        &self,
        referrer: &UserId,
        sk: String,
        adds: &[(&str, AttributeValue)],
    ) -> TransactWriteItem {
        self.aggregate_update_with(referrer, sk, adds, &[])
    }

    /// `ADD` to a referrer's aggregates and `SET` plain attributes on the same item (e.g. the
    /// leaderboard partition key next to the `LBSCORE` it moves).
    pub(super) fn aggregate_update_with(
        &self,
        referrer: &UserId,
        sk: String,
        adds: &[(&str, AttributeValue)],
        sets: &[(&str, AttributeValue)],
    ) -> TransactWriteItem {
        let add = adds.iter().enumerate().map(|(i, (attr, _))| format!("{attr} :v{i}")).collect::<Vec<_>>().join(", ");
        let mut expr = format!("ADD {add}");
        if !sets.is_empty() {
            let set = sets.iter().enumerate().map(|(i, (attr, _))| format!("{attr} = :s{i}")).collect::<Vec<_>>();
            expr = format!("SET {} {expr}", set.join(", "));
        }
        let mut update = Update::builder()
            .table_name(self.table())
            .key(PK, s(keys::user_pk(referrer)))
            .key(SK, s(sk))
            .update_expression(expr);
        for (i, (_, value)) in adds.iter().enumerate() {
            update = update.expression_attribute_values(format!(":v{i}"), value.clone());
        }
        for (i, (_, value)) in sets.iter().enumerate() {
            update = update.expression_attribute_values(format!(":s{i}"), value.clone());
        }
        TransactWriteItem::builder().update(update.build().expect("key and expression set")).build()
    }

    /// Earnings moved on a leaderboard aggregate (`STATS` → `LB#all`, `STATS#<month>` →
    /// `LB#<month>`): `extra` counters plus `LBSCORE`, and the item joins the sparse GSI3.
    fn leaderboard_update(
        &self,
        referrer: &UserId,
        sk: String,
        scope: &str,
        amount: rust_decimal::Decimal,
        extra: &[(&str, AttributeValue)],
    ) -> TransactWriteItem {
        let mut adds = extra.to_vec();
        adds.push((keys::LBSCORE, n(amount)));
        self.aggregate_update_with(referrer, sk, &adds, &[(keys::LBPK, s(keys::leaderboard_pk(scope)))])
    }

    /// The aggregate updates a status change implies (none for moves that don't earn):
    /// `STATS` (all time), the `DAY#` bucket and the `STATS#<month>` item, the last two of the
    /// credit's UTC day/month (a reversal subtracts from the day and month of its credit).
    ///
    /// `volume` is the reversal's `referred_volume` move (month, amount), if any: when it hits
    /// the same `STATS#<month>` item as the earnings it is folded into that update, because one
    /// transaction may not touch an item twice. `Some` is returned when it still needs its own.
    fn earnings_updates(
        &self,
        current: &BonusRecord,
        change: &Transition,
        volume: Option<(String, rust_decimal::Decimal)>,
    ) -> (Vec<TransactWriteItem>, Option<(String, rust_decimal::Decimal)>) {
        let amount = current.bonus_amount.decimal();
        let referrer = &current.referrer_id;
        let (signed, credited_at, counter) = match (current.status, change.to) {
            (from, BonusStatus::Credited) if from != BonusStatus::Credited => {
                (amount, change.at.as_str(), "credited_count")
            }
            // Subtract from the day it was earned, so "last 30 days" stays about credits in the window.
            (BonusStatus::Credited, BonusStatus::Reversed) => {
                (-amount, current.credited_at.as_deref().unwrap_or(&change.at), "reversed_count")
            }
            _ => return (Vec::new(), volume),
        };
        let month = month_of(credited_at);
        let mut month_adds = vec![("earned", n(signed))];
        let volume = match volume {
            Some((volume_month, delta)) if volume_month == month => {
                month_adds.push((super::rate_tiers::VOLUME, n(delta)));
                None
            }
            other => other,
        };
        let updates = vec![
            self.leaderboard_update(
                referrer,
                keys::SK_STATS.to_string(),
                crate::domain::leaderboard::ALL,
                signed,
                &[("earned_total", n(signed)), (counter, n(1))],
            ),
            self.aggregate_update(referrer, keys::day_sk(day_of(credited_at)), &[("earned", n(signed))]),
            self.leaderboard_update(referrer, keys::month_stats_sk(month), month, signed, &month_adds),
        ];
        (updates, volume)
    }

    fn status_update(&self, current: &BonusRecord, change: &Transition) -> Update {
        let entry = serde_dynamo::to_attribute_value(change.history_entry(current.status)).expect("history serialises");
        let mut sets = vec![
            "#status = :to".to_string(),
            "updated_at = :at".to_string(),
            "history = list_append(if_not_exists(history, :empty), :entry)".to_string(),
        ];
        let mut removes = Vec::new();
        let mut values: Vec<(&str, AttributeValue)> = vec![
            (":to", s(change.to.as_str())),
            (":from", s(current.status.as_str())),
            (":at", s(change.at.clone())),
            (":empty", AttributeValue::L(Vec::new())),
            (":entry", AttributeValue::L(vec![entry])),
        ];
        if change.to.is_open() {
            sets.push(format!("{} = :g1pk, {} = :g1sk", keys::GSI1PK, keys::GSI1SK));
            values.push((":g1pk", s(keys::status_gsi_pk(change.to))));
            values.push((":g1sk", s(keys::bonus_gsi_sk(&current.created_at, &current.source_payment_id))));
        } else {
            removes.push(keys::GSI1PK);
            removes.push(keys::GSI1SK);
        }
        if let Some(reason) = &change.reason {
            sets.push("reason = :reason".into());
            values.push((":reason", s(reason.clone())));
        }
        if let Some(error) = &change.error {
            sets.push("last_error = :error".into());
            values.push((":error", s(error.clone())));
        } else if change.to == BonusStatus::Credited {
            removes.push("last_error");
        }
        if change.to == BonusStatus::Credited {
            sets.push("credited_at = :at".into());
        }
        if let Some(tx) = &change.wellflow_transaction_id {
            sets.push("wellflow_transaction_id = :tx".into());
            values.push((":tx", s(tx.clone())));
        }
        if change.attempt {
            sets.push("attempts = if_not_exists(attempts, :zero) + :one".into());
            values.push((":zero", n(0)));
            values.push((":one", n(1)));
        }
        let mut expr = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expr.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        let mut update = Update::builder()
            .table_name(self.table())
            .key(PK, s(keys::bonus_pk(&current.source_payment_id)))
            .key(SK, s(keys::SK_BONUS))
            .update_expression(expr)
            .condition_expression("#status = :from")
            .expression_attribute_names("#status", "status");
        for (name, value) in values {
            update = update.expression_attribute_values(name, value);
        }
        update.build().expect("key and expression set")
    }
}

impl Bonuses for DynamoStore {
    async fn topup_snapshot(&self, payer: &UserId, payment: &PaymentId) -> Result<TopupSnapshot, StoreError> {
        let payer_pk = keys::user_pk(payer);
        let bonus_pk = keys::bonus_pk(payment);
        let found = self
            .batch_get(
                "topup",
                vec![
                    key(payer_pk.clone(), keys::SK_PROFILE),
                    key(bonus_pk.clone(), keys::SK_BONUS),
                    super::rate_tiers::config_key(),
                ],
            )
            .await?;
        let mut snapshot = TopupSnapshot { payer: None, existing: None, rate_tiers: None };
        for item in found {
            match item.get(PK) {
                Some(AttributeValue::S(pk)) if *pk == payer_pk => snapshot.payer = Some(from_item(&payer_pk, item)?),
                Some(AttributeValue::S(pk)) if *pk == bonus_pk => snapshot.existing = Some(from_item(&bonus_pk, item)?),
                Some(AttributeValue::S(pk)) if pk == keys::CONFIG_PK => {
                    snapshot.rate_tiers = super::rate_tiers::tiers_of(item)?
                }
                _ => {}
            }
        }
        Ok(snapshot)
    }

    async fn referrer_snapshot(&self, referrer: &UserId, month: &str) -> Result<ReferrerSnapshot, StoreError> {
        self.read_referrer_snapshot(referrer, month).await
    }

    async fn bonus(&self, payment: &PaymentId) -> Result<Option<BonusRecord>, StoreError> {
        let pk = keys::bonus_pk(payment);
        match self.get(pk.clone(), keys::SK_BONUS).await? {
            Some(item) => Ok(Some(from_item(&pk, item)?)),
            None => Ok(None),
        }
    }

    async fn create_bonus(&self, new: &NewBonus) -> Result<CreateOutcome, StoreError> {
        let record = &new.record;
        let payment = &record.source_payment_id;
        let put_bonus = Put::builder()
            .table_name(self.table())
            .set_item(Some(bonus_item(record)))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .expect("item set");
        let put_payment = Put::builder()
            .table_name(self.table())
            .item(PK, s(keys::payment_pk(payment)))
            .item(SK, s(keys::SK_PAYMENT))
            .item("bonus_key", s(record.bonus_key.clone()))
            .item("created_at", s(record.created_at.clone()))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .expect("item set");
        let mut request = self
            .client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put_bonus).build())
            .transact_items(TransactWriteItem::builder().put(put_payment).build());
        // The payer's profile: activity day (+ first-top-up marker), conditional on what was read.
        let mut payer_sets = vec!["last_topup_day = :day", "active_for = :referrer"];
        let mut payer_conditions = vec![match &new.activity.previous {
            None => "attribute_not_exists(last_topup_day)",
            Some(_) => "last_topup_day = :prev_day AND active_for = :prev_for",
        }];
        let mut mark_payer = Update::builder()
            .table_name(self.table())
            .key(PK, s(keys::user_pk(&record.referred_user_id)))
            .key(SK, s(keys::SK_PROFILE))
            .expression_attribute_values(":day", s(new.activity.day.clone()))
            .expression_attribute_values(":referrer", s(record.referrer_id.as_str()));
        if let Some((prev_for, prev_day)) = &new.activity.previous {
            mark_payer = mark_payer
                .expression_attribute_values(":prev_day", s(prev_day.clone()))
                .expression_attribute_values(":prev_for", s(prev_for.as_str()));
        }
        if new.first_topup.is_some() {
            payer_sets.push("first_topup_payment_id = :pid");
            payer_conditions.push("attribute_not_exists(first_topup_payment_id)");
            mark_payer = mark_payer.expression_attribute_values(":pid", s(payment.as_str()));
        }
        let mark_payer = mark_payer
            .update_expression(format!("SET {}", payer_sets.join(", ")))
            .condition_expression(payer_conditions.join(" AND "))
            .build()
            .expect("key and expression set");
        request = request.transact_items(TransactWriteItem::builder().update(mark_payer).build());

        if let Some(first) = &new.first_topup {
            let window = AttributeValue::L(first.window.iter().map(n).collect());
            let velocity_condition = if first.read_version == 0 {
                "attribute_not_exists(velocity_version) OR velocity_version = :read"
            } else {
                "velocity_version = :read"
            };
            let bump_velocity = Update::builder()
                .table_name(self.table())
                .key(PK, s(keys::user_pk(&record.referrer_id)))
                .key(SK, s(keys::SK_PROFILE))
                .update_expression("SET first_topups = :window, velocity_version = :next")
                .condition_expression(velocity_condition)
                .expression_attribute_values(":window", window)
                .expression_attribute_values(":read", n(first.read_version))
                .expression_attribute_values(":next", n(first.read_version + 1))
                .build()
                .expect("key and expression set");
            request = request.transact_items(TransactWriteItem::builder().update(bump_velocity).build());
        }

        // The month's referred volume (tier basis), guarded by the band when tiers decided the rate.
        request = request.transact_items(self.volume_booking(record, &new.volume));

        // "Active referred users" = payers whose latest top-up day is in the window: each
        // payer contributes +1 to the bucket of their latest day only.
        let current = (record.referrer_id.clone(), new.activity.day.clone());
        if new.activity.previous.as_ref() != Some(&current) {
            request = request.transact_items(self.aggregate_update(
                &record.referrer_id,
                keys::day_sk(&new.activity.day),
                &[("active_new", n(1))],
            ));
            if let Some((prev_for, prev_day)) = &new.activity.previous {
                request = request.transact_items(self.aggregate_update(
                    prev_for,
                    keys::day_sk(prev_day),
                    &[("active_new", n(-1))],
                ));
            }
        }
        match request.send().await {
            Ok(_) => Ok(CreateOutcome::Created),
            Err(e) => match cancelled_conditions(&e) {
                Some(failed) if failed.first().copied().unwrap_or(false) || failed.get(1).copied().unwrap_or(false) => {
                    Ok(CreateOutcome::Duplicate)
                }
                Some(failed) if failed.iter().any(|f| *f) => Ok(CreateOutcome::Contended),
                _ => Err(sdk_error("TransactWriteItems(create_bonus)", e)),
            },
        }
    }

    async fn transition(&self, current: &BonusRecord, change: &Transition) -> Result<TransitionOutcome, StoreError> {
        if !current.status.can_become(change.to) {
            return Ok(TransitionOutcome::Conflict);
        }
        let update = self.status_update(current, change);
        let (mut aggregates, volume) = self.earnings_updates(current, change, Self::volume_reversal(current, change));
        aggregates.extend(volume.map(|(month, delta)| {
            self.aggregate_update(
                &current.referrer_id,
                keys::month_stats_sk(&month),
                &[(super::rate_tiers::VOLUME, n(delta))],
            )
        }));
        let conflict = if aggregates.is_empty() {
            // No money moves: a single conditional UpdateItem is enough.
            let sent = self
                .client()
                .update_item()
                .table_name(update.table_name)
                .set_key(Some(update.key))
                .update_expression(update.update_expression)
                .set_condition_expression(update.condition_expression)
                .set_expression_attribute_names(update.expression_attribute_names)
                .set_expression_attribute_values(update.expression_attribute_values)
                .send()
                .await;
            match sent {
                Ok(_) => false,
                Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => true,
                Err(e) => return Err(sdk_error("UpdateItem(transition)", e)),
            }
        } else {
            let mut request = self
                .client()
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().update(update).build());
            for item in aggregates {
                request = request.transact_items(item);
            }
            match request.send().await {
                Ok(_) => false,
                Err(e) => match cancelled_conditions(&e) {
                    Some(failed) if failed.first().copied().unwrap_or(false) => true,
                    _ => return Err(sdk_error("TransactWriteItems(transition)", e)),
                },
            }
        };
        if conflict {
            Ok(TransitionOutcome::Conflict)
        } else {
            Ok(TransitionOutcome::Applied(Box::new(current.applied(change))))
        }
    }
}
