//! The money path on DynamoDB: `referral_core::store::Payments`.
//!
//! * **Read**: one `BatchGetItem` (strongly consistent) of the payment record, the bonus row,
//!   the payer's profile and the rate-tier table.
//! * **Commit**: one `TransactWriteItems` — the payment record (`Put`, conditional on the
//!   version that was read), the bonus row (`Put`, conditional on its version, or on not
//!   existing for a creation) and one write per item the change's effects touch (earnings,
//!   leaderboard scores, month volume with its tier guard, the payer's activity, the velocity
//!   window, outbox messages, the referrer's reconciliation activity marker). Several effects on one item are merged into one `Update`
//!   (a transaction may touch an item once). Any failed condition — or a concurrent
//!   transaction on the same items — cancels everything: `Conflict`, the caller re-reads.
//!
//! This file turns the core's effects into writes; what they are is decided in
//! `referral_core::bonus`. Key layout in [`super::keys`].

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use super::{from_item, item_key, keys, n, s, sdk_error, to_item, DynamoStore, Item, PK, SK};
use crate::domain::{PaymentId, UserId};
use crate::store::{Commit, CommitOutcome, PaymentSnapshot, Payments, ReferrerSnapshot, StoreError};
use referral_core::bonus::{Bonus, Effect, OutboxMessage};
use referral_core::payment::PaymentRecord;

/// Outbox messages stay this long after they were written (delivery takes seconds; the
/// stream keeps records 24 h, so a week is far more than any redelivery needs).
const OUTBOX_TTL_SECS: i64 = 7 * 24 * 3600;

/// The full item for a bonus: its attributes plus primary and index keys (public so that
/// seeding tools and tests write rows exactly as the store does).
pub fn bonus_item(bonus: &Bonus) -> Item {
    let mut item = to_item(bonus);
    item.insert(PK.into(), s(keys::bonus_pk(&bonus.source_payment_id)));
    item.insert(SK.into(), s(keys::SK_BONUS));
    if let Some((pk, sk)) = keys::bonus_gsi1(bonus) {
        item.insert(keys::GSI1PK.into(), s(pk));
        item.insert(keys::GSI1SK.into(), s(sk));
    }
    item.insert(keys::GSI2PK.into(), s(keys::referrer_gsi_pk(&bonus.referrer_id)));
    item.insert(keys::GSI2SK.into(), s(keys::bonus_gsi_sk(&bonus.created_at, &bonus.source_payment_id)));
    item
}

fn record_item(record: &PaymentRecord) -> Item {
    let mut item = to_item(record);
    item.insert(PK.into(), s(keys::payment_pk(&record.payment_id)));
    item.insert(SK.into(), s(keys::SK_PAYMENT));
    item
}

/// An outbox item: `message` is what the dispatcher delivers.
pub(crate) fn outbox_item(message: &OutboxMessage, now_unix: i64) -> Item {
    let mut item = Item::new();
    item.insert(PK.into(), s(keys::outbox_pk(&message.id())));
    item.insert(SK.into(), s(keys::SK_OUTBOX));
    item.insert("message".into(), serde_dynamo::to_attribute_value(message).expect("outbox messages serialise"));
    item.insert("expires_at".into(), n(now_unix + OUTBOX_TTL_SECS));
    item
}

/// One item's merged `Update`: `SET` and `ADD` clauses and conditions (AND-ed), with its own
/// placeholders.
#[derive(Default)]
struct ItemUpdate {
    names: BTreeMap<String, String>,
    values: Vec<(String, AttributeValue)>,
    sets: Vec<(String, String)>,
    adds: Vec<(String, String)>,
    conditions: Vec<String>,
}

impl ItemUpdate {
    fn name(&mut self, attr: &str) -> String {
        let next = format!("#a{}", self.names.len());
        self.names.entry(attr.to_string()).or_insert(next).clone()
    }

    fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.push((placeholder.clone(), value));
        placeholder
    }

    fn set(&mut self, attr: &str, value: AttributeValue) {
        let (name, value) = (self.name(attr), self.value(value));
        self.sets.push((name, value));
    }

    fn add(&mut self, attr: &str, value: rust_decimal::Decimal) {
        if value.is_zero() {
            return;
        }
        let (name, value) = (self.name(attr), self.value(n(value)));
        self.adds.push((name, value));
    }

    /// The transaction item: an `Update`, or a `ConditionCheck` when only conditions are left
    /// (a volume guard with nothing to add), or nothing at all.
    fn build(self, table: &str, pk: String, sk: String) -> Option<TransactWriteItem> {
        if self.sets.is_empty() && self.adds.is_empty() {
            if self.conditions.is_empty() {
                return None;
            }
            let mut check = aws_sdk_dynamodb::types::ConditionCheck::builder()
                .table_name(table)
                .key(PK, s(pk))
                .key(SK, s(sk))
                .condition_expression(
                    self.conditions.iter().map(|c| format!("({c})")).collect::<Vec<_>>().join(" AND "),
                );
            for (attr, name) in self.names {
                check = check.expression_attribute_names(name, attr);
            }
            for (placeholder, value) in self.values {
                check = check.expression_attribute_values(placeholder, value);
            }
            return Some(
                TransactWriteItem::builder().condition_check(check.build().expect("key and condition set")).build(),
            );
        }
        let mut expr = Vec::new();
        if !self.sets.is_empty() {
            expr.push(format!(
                "SET {}",
                self.sets.iter().map(|(k, v)| format!("{k} = {v}")).collect::<Vec<_>>().join(", ")
            ));
        }
        if !self.adds.is_empty() {
            expr.push(format!(
                "ADD {}",
                self.adds.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
            ));
        }
        let mut update =
            Update::builder().table_name(table).key(PK, s(pk)).key(SK, s(sk)).update_expression(expr.join(" "));
        if !self.conditions.is_empty() {
            update = update.condition_expression(
                self.conditions.iter().map(|c| format!("({c})")).collect::<Vec<_>>().join(" AND "),
            );
        }
        for (attr, name) in self.names {
            update = update.expression_attribute_names(name, attr);
        }
        for (placeholder, value) in self.values {
            update = update.expression_attribute_values(placeholder, value);
        }
        Some(TransactWriteItem::builder().update(update.build().expect("key and expression set")).build())
    }
}

/// Every write of one commit, merged per item.
#[derive(Default)]
struct Writes {
    puts: Vec<TransactWriteItem>,
    updates: BTreeMap<(String, String), ItemUpdate>,
}

impl Writes {
    fn update(&mut self, pk: String, sk: String) -> &mut ItemUpdate {
        self.updates.entry((pk, sk)).or_default()
    }

    fn user(&mut self, user: &UserId, sk: String) -> &mut ItemUpdate {
        self.update(keys::user_pk(user), sk)
    }

    fn put(&mut self, table: &str, item: Item, condition: Option<(String, Option<AttributeValue>)>) {
        let mut put = Put::builder().table_name(table).set_item(Some(item));
        if let Some((condition, value)) = condition {
            put = put.condition_expression(condition);
            if let Some(value) = value {
                put = put.expression_attribute_values(":expected", value);
            }
        }
        self.puts.push(TransactWriteItem::builder().put(put.build().expect("item set")).build());
    }

    fn effect(&mut self, effect: &Effect, now_unix: i64, table: &str) {
        match effect {
            Effect::Earnings(e) => {
                let all = self.user(&e.referrer, keys::SK_STATS.to_string());
                all.add("earned_total", e.amount);
                all.add("credited_count", e.credited.into());
                all.add("reversed_count", e.reversed.into());
                all.add(keys::LBSCORE, e.amount);
                let shard = keys::leaderboard_shard(&e.referrer);
                all.set(keys::LBPK, s(keys::leaderboard_pk(referral_core::domain::leaderboard::ALL, shard)));
                self.user(&e.referrer, keys::day_sk(&e.day)).add("earned", e.amount);
                let month = self.user(&e.referrer, keys::month_stats_sk(&e.month));
                month.add("earned", e.amount);
                month.add(keys::LBSCORE, e.amount);
                month.set(keys::LBPK, s(keys::leaderboard_pk(&e.month, shard)));
            }
            Effect::Volume(v) if v.delta.is_zero() && v.guard.is_none() => {}
            Effect::Volume(v) => {
                let month = self.user(&v.referrer, keys::month_stats_sk(&v.month));
                let vol = month.name(super::rate_tiers::VOLUME);
                if !v.delta.is_zero() {
                    let value = month.value(n(v.delta));
                    month.adds.push((vol.clone(), value));
                }
                // The band that decided a tiered rate must still hold the volume.
                if let Some(band) = v.guard {
                    let mut parts = Vec::new();
                    if let Some(from) = band.from {
                        parts.push(format!("{vol} >= {}", month.value(n(from.decimal()))));
                    }
                    if let Some(below) = band.below {
                        let below = month.value(n(below.decimal()));
                        parts.push(if band.from.is_none() {
                            format!("attribute_not_exists({vol}) OR {vol} < {below}")
                        } else {
                            format!("{vol} < {below}")
                        });
                    }
                    if !parts.is_empty() {
                        month.conditions.push(parts.join(" AND "));
                    }
                }
            }
            Effect::Payer(p) => {
                let profile = self.user(&p.payer, keys::SK_PROFILE.to_string());
                let (day, active_for) = (profile.name("last_topup_day"), profile.name("active_for"));
                let condition = match &p.previous {
                    None => format!("attribute_exists({}) AND attribute_not_exists({day})", profile.name(PK)),
                    Some((referrer, previous_day)) => {
                        let (d, r) = (profile.value(s(previous_day.clone())), profile.value(s(referrer.as_str())));
                        format!("{day} = {d} AND {active_for} = {r}")
                    }
                };
                profile.conditions.push(condition);
                profile.set("last_topup_day", s(p.day.clone()));
                profile.set("active_for", s(p.referrer.as_str()));
                if let Some(first) = &p.first_topup {
                    let marker = profile.name("first_topup_payment_id");
                    profile.conditions.push(format!("attribute_not_exists({marker})"));
                    profile.set("first_topup_payment_id", s(first.as_str()));
                }
                if let Some(ctx) = &p.referrer_ctx {
                    profile.set("referrer_ctx", serde_dynamo::to_attribute_value(ctx).expect("context serialises"));
                }
                for (referrer, day, delta) in p.active_moves() {
                    self.user(&referrer, keys::day_sk(&day)).add("active_new", delta.into());
                }
            }
            Effect::Velocity(v) => {
                let profile = self.user(&v.referrer, keys::SK_PROFILE.to_string());
                let version = profile.name("velocity_version");
                let read = profile.value(n(v.read_version));
                profile.conditions.push(if v.read_version == 0 {
                    format!("attribute_not_exists({version}) OR {version} = {read}")
                } else {
                    format!("{version} = {read}")
                });
                profile.set("first_topups", AttributeValue::L(v.window.iter().map(n).collect()));
                profile.set("velocity_version", n(v.read_version + 1));
            }
            Effect::ReferrerGuard(g) => {
                let profile = self.user(&g.referrer, keys::SK_PROFILE.to_string());
                let version = profile.name("ctx_version");
                let read = profile.value(n(g.ctx_version));
                profile.conditions.push(if g.ctx_version == 0 {
                    format!("attribute_not_exists({version}) OR {version} = {read}")
                } else {
                    format!("{version} = {read}")
                });
            }
            Effect::Outbox(message) => self.put(table, outbox_item(message, now_unix), None),
            Effect::Activity(a) => {
                let marker = self.update(keys::activity_pk(&a.referrer), a.referrer.to_string());
                for (attr, value) in super::reconcile::activity_attributes(a, now_unix) {
                    marker.set(attr, value);
                }
            }
        }
    }
}

impl DynamoStore {
    pub(super) fn commit_items(&self, commit: &Commit, now_unix: i64) -> Vec<TransactWriteItem> {
        let table = self.table();
        let mut writes = Writes::default();
        if let Some(record) = &commit.payment {
            let condition = match record.version {
                0 | 1 => ("attribute_not_exists(PK)".to_string(), None),
                v => ("version = :expected".to_string(), Some(n(v - 1))),
            };
            writes.put(table, record_item(record), Some(condition));
        }
        if let Some(change) = &commit.bonus {
            let condition = match change.expected_version {
                None => ("attribute_not_exists(PK)".to_string(), None),
                Some(v) => ("version = :expected".to_string(), Some(n(v))),
            };
            writes.put(table, bonus_item(&change.bonus), Some(condition));
            for effect in &change.effects {
                writes.effect(effect, now_unix, table);
            }
        }
        let mut items = writes.puts;
        items.extend(writes.updates.into_iter().filter_map(|((pk, sk), update)| update.build(table, pk, sk)));
        items
    }
}

impl Payments for DynamoStore {
    async fn payment_snapshot(
        &self,
        payment: &PaymentId,
        payer: Option<&UserId>,
    ) -> Result<PaymentSnapshot, StoreError> {
        let payment_pk = keys::payment_pk(payment);
        let bonus_pk = keys::bonus_pk(payment);
        let payer_pk = payer.map(keys::user_pk);
        let cached_tiers = self.cached_tiers();
        let mut wanted =
            vec![item_key(payment_pk.clone(), keys::SK_PAYMENT), item_key(bonus_pk.clone(), keys::SK_BONUS)];
        if cached_tiers.is_none() {
            wanted.push(super::rate_tiers::config_key());
        }
        if let Some(pk) = &payer_pk {
            wanted.push(item_key(pk.clone(), keys::SK_PROFILE));
        }
        let mut snapshot = PaymentSnapshot { rate_tiers: cached_tiers.clone().flatten(), ..PaymentSnapshot::default() };
        let mut tiers_read = None;
        for item in self.batch_get("payment", wanted).await? {
            let Some(AttributeValue::S(pk)) = item.get(PK).cloned() else { continue };
            if pk == payment_pk {
                snapshot.record = Some(from_item(&pk, item)?);
            } else if pk == bonus_pk {
                snapshot.bonus = Some(from_item(&pk, item)?);
            } else if pk == keys::CONFIG_PK {
                tiers_read = Some(super::rate_tiers::tiers_of(item)?);
            } else if Some(&pk) == payer_pk.as_ref() {
                snapshot.payer = Some(from_item(&pk, item)?);
            }
        }
        if cached_tiers.is_none() {
            // Read now (absent item = flat default).
            let tiers = tiers_read.flatten();
            self.remember_tiers(tiers.clone());
            snapshot.rate_tiers = tiers;
        }
        Ok(snapshot)
    }

    async fn referrer_snapshot(&self, referrer: &UserId, month: &str) -> Result<ReferrerSnapshot, StoreError> {
        self.read_referrer_snapshot(referrer, month).await
    }

    async fn bonus(&self, payment: &PaymentId) -> Result<Option<Bonus>, StoreError> {
        let pk = keys::bonus_pk(payment);
        match self.get(pk.clone(), keys::SK_BONUS).await? {
            Some(item) => Ok(Some(from_item(&pk, item)?)),
            None => Ok(None),
        }
    }

    async fn commit(&self, commit: &Commit) -> Result<CommitOutcome, StoreError> {
        let items = self.commit_items(commit, referral_core::clock::now().unix_timestamp());
        if items.is_empty() {
            return Ok(CommitOutcome::Committed);
        }
        match self.client().transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(CommitOutcome::Committed),
            Err(e) => match super::cancellation_reasons(&e) {
                Some(reasons)
                    if reasons
                        .iter()
                        .any(|r| matches!(r.as_deref(), Some("ConditionalCheckFailed" | "TransactionConflict"))) =>
                {
                    Ok(CommitOutcome::Conflict)
                }
                _ => Err(sdk_error("TransactWriteItems(commit)", e)),
            },
        }
    }
}
