//! Rate tiers and holding on DynamoDB: the `CONFIG / RATE_TIERS` item (versioned,
//! conditional writes), the referrer's `STATS#<yyyy-mm>` `referred_volume` (booked in the
//! bonus create transaction, guarded by the tier band when the rate came from the tiers,
//! subtracted again by a reversal), and the `HOLDING` partition of GSI1.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, TransactWriteItem, Update};
use rust_decimal::Decimal;

use super::{from_item, item_key, keys, n, number, s, sdk_error, DynamoStore, Item, PK, SK};
use crate::domain::{BonusStatus, RateTiers, Usd, UserId};
use crate::store::{
    cursor, BonusRecord, HoldingQueries, Page, PutTiersOutcome, QueryError, RateTierConfig, RateTierConfigs,
    ReferrerSnapshot, StoreError, Transition, VolumeBooking,
};

pub(super) const VOLUME: &str = "referred_volume";

pub(super) fn config_key() -> Item {
    item_key(keys::CONFIG_PK.to_string(), keys::SK_RATE_TIERS)
}

/// The tiers of a stored config item (`None` when it holds no table: flat default).
pub(super) fn tiers_of(item: Item) -> Result<Option<RateTiers>, StoreError> {
    let key = format!("{}/{}", keys::CONFIG_PK, keys::SK_RATE_TIERS);
    Ok(from_item::<RateTierConfig>(&key, item)?.tiers)
}

fn volume_of(item: &Item) -> Usd {
    Usd::from_decimal_exact(number::<Decimal>(item, VOLUME))
}

impl DynamoStore {
    /// `ADD referred_volume :topup` on the referrer's month item, conditioned on the volume
    /// still being inside the band that decided the rate (only when the tiers decided it).
    pub(super) fn volume_booking(&self, record: &BonusRecord, booking: &VolumeBooking) -> TransactWriteItem {
        let mut update = Update::builder()
            .table_name(self.table())
            .key(PK, s(keys::user_pk(&record.referrer_id)))
            .key(SK, s(keys::month_stats_sk(&booking.month)))
            .update_expression("ADD #vol :topup")
            .expression_attribute_names("#vol", VOLUME)
            .expression_attribute_values(":topup", n(record.topup_amount.decimal()));
        let band = booking.guard.map(|band| (band.from, band.below));
        let condition = match band {
            Some((None, Some(below))) => {
                update = update.expression_attribute_values(":below", n(below.decimal()));
                Some("attribute_not_exists(#vol) OR #vol < :below")
            }
            Some((Some(from), Some(below))) => {
                update = update
                    .expression_attribute_values(":from", n(from.decimal()))
                    .expression_attribute_values(":below", n(below.decimal()));
                Some("#vol >= :from AND #vol < :below")
            }
            Some((Some(from), None)) => {
                update = update.expression_attribute_values(":from", n(from.decimal()));
                Some("#vol >= :from")
            }
            // A one-band table: every volume is in it.
            Some((None, None)) | None => None,
        };
        if let Some(condition) = condition {
            update = update.condition_expression(condition);
        }
        TransactWriteItem::builder().update(update.build().expect("key and expression set")).build()
    }

    /// A reversal takes its top-up back out of the month it was booked to, so refund churn
    /// cannot lift a referrer into a higher tier: (month, negative amount) to `ADD` to that
    /// month's `referred_volume` (`Bonuses::transition` puts it in the same transaction).
    pub(super) fn volume_reversal(
        current: &BonusRecord,
        change: &Transition,
    ) -> Option<(String, rust_decimal::Decimal)> {
        let month = current.volume_month.as_deref()?;
        (change.to == BonusStatus::Reversed && current.status != BonusStatus::Reversed)
            .then(|| (month.to_string(), -current.topup_amount.decimal()))
    }

    pub(super) async fn read_referrer_snapshot(
        &self,
        referrer: &UserId,
        month: &str,
    ) -> Result<ReferrerSnapshot, StoreError> {
        let pk = keys::user_pk(referrer);
        let month_sk = keys::month_stats_sk(month);
        let found = self
            .batch_get("referrer", vec![item_key(pk.clone(), keys::SK_PROFILE), item_key(pk.clone(), &month_sk)])
            .await?;
        let mut snapshot = ReferrerSnapshot { profile: None, month_volume: Usd::ZERO };
        for item in found {
            match item.get(SK) {
                Some(AttributeValue::S(sk)) if sk == keys::SK_PROFILE => snapshot.profile = Some(from_item(&pk, item)?),
                Some(AttributeValue::S(sk)) if *sk == month_sk => snapshot.month_volume = volume_of(&item),
                _ => {}
            }
        }
        Ok(snapshot)
    }
}

impl RateTierConfigs for DynamoStore {
    async fn rate_tier_config(&self) -> Result<Option<RateTierConfig>, StoreError> {
        let key = format!("{}/{}", keys::CONFIG_PK, keys::SK_RATE_TIERS);
        match self.get(keys::CONFIG_PK.to_string(), keys::SK_RATE_TIERS).await? {
            Some(item) => Ok(Some(from_item(&key, item)?)),
            None => Ok(None),
        }
    }

    async fn put_rate_tiers(
        &self,
        tiers: Option<&RateTiers>,
        expected_version: Option<u64>,
        actor: &str,
        at: &str,
    ) -> Result<PutTiersOutcome, StoreError> {
        let mut req = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(config_key()))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":by", s(actor))
            .expression_attribute_values(":at", s(at))
            .return_values(ReturnValue::AllNew);
        let sets = "version = if_not_exists(version, :zero) + :one, updated_by = :by, updated_at = :at";
        req = match tiers {
            Some(tiers) => req.update_expression(format!("SET tiers = :tiers, {sets}")).expression_attribute_values(
                ":tiers",
                serde_dynamo::to_attribute_value(tiers).expect("tiers serialise"),
            ),
            None => req.update_expression(format!("SET {sets} REMOVE tiers")),
        };
        req = match expected_version {
            None => req,
            Some(0) => req.condition_expression("attribute_not_exists(version)"),
            Some(v) => req.condition_expression("version = :expected").expression_attribute_values(":expected", n(v)),
        };
        match req.send().await {
            Ok(out) => {
                let item = out.attributes.unwrap_or_default();
                Ok(PutTiersOutcome::Stored(from_item(&format!("{}/{}", keys::CONFIG_PK, keys::SK_RATE_TIERS), item)?))
            }
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                let current = self.rate_tier_config().await?.map(|c| c.version).unwrap_or(0);
                Ok(PutTiersOutcome::VersionConflict { current })
            }
            Err(e) => Err(sdk_error("UpdateItem(rate_tiers)", e)),
        }
    }
}

impl HoldingQueries for DynamoStore {
    async fn list_due_holding(
        &self,
        due_by: &str,
        limit: i32,
        cursor_in: Option<&str>,
    ) -> Result<Page<BonusRecord>, QueryError> {
        let start = cursor_in
            .map(|c| {
                cursor::decode(c, keys::GSI1PK, keys::GSI1PK_HOLDING, &[keys::PK, keys::SK, keys::GSI1PK, keys::GSI1SK])
            })
            .transpose()?;
        // GSI1SK = <release_at>#<payment>; '$' sorts right after '#', so `< due_by$` is
        // exactly "release_at <= due_by" for our fixed-width timestamps.
        let out = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(keys::GSI1)
            .key_condition_expression("#pk = :pk AND #sk < :due")
            .expression_attribute_names("#pk", keys::GSI1PK)
            .expression_attribute_names("#sk", keys::GSI1SK)
            .expression_attribute_values(":pk", s(keys::GSI1PK_HOLDING))
            .expression_attribute_values(":due", s(format!("{due_by}$")))
            .scan_index_forward(true)
            .limit(limit.clamp(1, 100))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| sdk_error("Query(holding)", e))?;
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| from_item::<BonusRecord>(keys::GSI1PK_HOLDING, item))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, next_cursor: out.last_evaluated_key.as_ref().map(cursor::encode) })
    }
}
