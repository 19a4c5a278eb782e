//! Referral codes and their sharded click counters on DynamoDB (layout in [`keys`]).
//!
//! * A click is one conditional `UpdateItem` on a random shard: one round trip, and an
//!   unknown code (no shard item) writes nothing. It also counts the click's UTC day and
//!   month on the shard (the earnings chart), removing counters older than the chart's
//!   windows (`keys::retired_click_attrs`).
//! * A click with a registered `utm_campaign` is the same single `UpdateItem`, adding to the
//!   shard's `camp_<name>` counter too (pre-created by `campaigns.rs`); an unregistered name
//!   falls back to the plain click (a second round trip, only for unregistered names).
//! * Reading the count is one `BatchGetItem` of the code row and its `CLICK_SHARDS` shards.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use rand::Rng;

use super::{from_item, item_key, keys, n, number, s, sdk_error, DynamoStore, PK, SK};
use crate::domain::{CampaignName, RefCode, UserId};
use crate::store::{ClickOutcome, CodeRecord, Codes, StoreError};

impl DynamoStore {
    /// The code row with `clicks` = the sum of its shards, and how many items DynamoDB
    /// returned (row + shards), in one `BatchGetItem`. `None` if the code does not exist.
    pub(crate) async fn code_with_clicks(&self, code: &RefCode) -> Result<Option<(CodeRecord, usize)>, StoreError> {
        let code_pk = keys::code_pk(code);
        let mut request = vec![item_key(code_pk.clone(), keys::SK_CODE)];
        request
            .extend((0..keys::CLICK_SHARDS).map(|shard| item_key(keys::click_shard_pk(code, shard), keys::SK_CLICKS)));
        let items = self.batch_get("clicks", request).await?;
        let read = items.len();
        let mut row = None;
        let mut shard_clicks = 0u64;
        for item in items {
            match item.get(PK) {
                Some(AttributeValue::S(pk)) if *pk == code_pk => row = Some(item),
                _ => shard_clicks += number::<u64>(&item, "clicks"),
            }
        }
        let Some(row) = row else { return Ok(None) };
        let mut record: CodeRecord = from_item(&code_pk, row)?;
        // The row itself stores no counter since sharding; a pre-sharding one would still count.
        record.clicks += shard_clicks;
        Ok(Some((record, read)))
    }
}

impl DynamoStore {
    /// `ADD clicks :one` on a random click shard of `code` (and `#camp :one` for a campaign),
    /// plus the click's day and month counters (`keys::click_day_attr`), `REMOVE`-ing the
    /// counters that left the chart's windows — one `UpdateItem`, conditional on the shard
    /// existing (and the campaign's counter being registered on it).
    async fn add_click(
        &self,
        code: &RefCode,
        campaign: Option<&CampaignName>,
        day: time::Date,
    ) -> Result<
        aws_sdk_dynamodb::operation::update_item::UpdateItemOutput,
        aws_sdk_dynamodb::error::SdkError<UpdateItemError>,
    > {
        let shard = rand::rng().random_range(0..keys::CLICK_SHARDS);
        let month = referral_core::domain::stats::YearMonth::of(day);
        let retired = keys::retired_click_attrs(day);
        let removals = (0..retired.len()).map(|i| format!("#r{i}")).collect::<Vec<_>>().join(", ");
        let mut request = self
            .client
            .update_item()
            .table_name(self.table.as_ref())
            .key(PK, s(keys::click_shard_pk(code, shard)))
            .key(SK, s(keys::SK_CLICKS))
            .expression_attribute_names("#day", keys::click_day_attr(day))
            .expression_attribute_names("#month", keys::click_month_attr(month))
            .expression_attribute_values(":one", n(1));
        for (i, name) in retired.into_iter().enumerate() {
            request = request.expression_attribute_names(format!("#r{i}"), name);
        }
        let request = match campaign {
            None => request
                .update_expression(format!("ADD clicks :one, #day :one, #month :one REMOVE {removals}"))
                .condition_expression("attribute_exists(PK)"),
            Some(campaign) => request
                .update_expression(format!("ADD clicks :one, #day :one, #month :one, #camp :one REMOVE {removals}"))
                .condition_expression("attribute_exists(PK) AND attribute_exists(#camp)")
                .expression_attribute_names("#camp", campaign.counter_attribute())
                // On a failed condition DynamoDB returns the shard, if it exists: tells an
                // unregistered campaign (count the plain click) from an unknown code (write nothing).
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld),
        };
        request.send().await
    }

    /// A click on `code` counted on UTC day `day` (the redirect counts today's; seeding tools
    /// and tests backdate). See [`Codes::record_campaign_click`].
    pub async fn record_click_on(
        &self,
        code: &RefCode,
        campaign: Option<&CampaignName>,
        day: time::Date,
    ) -> Result<ClickOutcome, StoreError> {
        match self.add_click(code, campaign, day).await {
            Ok(_) => Ok(ClickOutcome::Counted),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    if campaign.is_some() && failed.item().is_some_and(|item| !item.is_empty()) {
                        // Registered campaigns only: an arbitrary name never adds an attribute.
                        tracing::info!(code = %code, campaign = ?campaign.map(|c| c.to_string()), "unregistered campaign; counting the click without it");
                        Box::pin(self.record_click_on(code, None, day)).await
                    } else {
                        Ok(ClickOutcome::UnknownCode)
                    }
                }
                _ => Err(sdk_error("UpdateItem(click)", e)),
            },
        }
    }
}

impl Codes for DynamoStore {
    async fn record_click(&self, code: &RefCode) -> Result<ClickOutcome, StoreError> {
        self.record_click_on(code, None, crate::clock::now().date()).await
    }

    async fn record_campaign_click(&self, code: &RefCode, campaign: &CampaignName) -> Result<ClickOutcome, StoreError> {
        self.record_click_on(code, Some(campaign), crate::clock::now().date()).await
    }

    async fn code(&self, code: &RefCode) -> Result<Option<CodeRecord>, StoreError> {
        Ok(self.code_with_clicks(code).await?.map(|(record, _)| record))
    }

    async fn code_owner(&self, code: &RefCode) -> Result<Option<UserId>, StoreError> {
        let pk = keys::code_pk(code);
        match self.get(pk.clone(), keys::SK_CODE).await? {
            Some(item) => Ok(Some(from_item::<CodeRecord>(&pk, item)?.owner_id)),
            None => Ok(None),
        }
    }
}
