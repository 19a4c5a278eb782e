//! Rate tiers on DynamoDB: the `CONFIG / RATE_TIERS` item (versioned, conditional writes)
//! and the referrer's `STATS#<yyyy-mm>` `referred_volume` read with the profile (written by
//! the money path's commits, `payments.rs`, guarded by the tier band).

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use rust_decimal::Decimal;

use super::{from_item, item_key, keys, n, number, s, sdk_error, DynamoStore, Item, SK};
use crate::domain::{RateTiers, Usd, UserId};
use crate::store::{PutTiersOutcome, RateTierConfig, RateTierConfigs, ReferrerSnapshot, StoreError};

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
        let sent = req.send().await;
        self.forget_tiers();
        match sent {
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
