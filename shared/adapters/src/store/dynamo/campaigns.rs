//! Campaign links on DynamoDB (layout in [`keys`]).
//!
//! * Registering a campaign is one `TransactWriteItems` of `2 + CLICK_SHARDS` items: the
//!   code row's campaign count (`ADD campaigns 1` while `< max`), the listing row
//!   `USER#<id>/CAMPAIGN#<name>` (`attribute_not_exists`) and `SET camp_<name> = 0` on every
//!   click shard. The pre-created top-level counter is what lets the redirect count a
//!   campaign click with a plain `ADD` guarded by `attribute_exists(camp_<name>)`, so unknown
//!   campaign names never grow an item.
//! * Listing is one `Query` of the listing rows and one `BatchGetItem` of the shards.
//! * A campaign click is one `UpdateItem` (in `codes.rs`).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use super::{cancelled_conditions, item_key, keys, n, number, s, sdk_error, DynamoStore, PK, SK};
use crate::domain::campaign::COUNTER_PREFIX;
use crate::domain::{CampaignName, RefCode, UserId};
use crate::store::partner::{CampaignOutcome, CampaignStats, Campaigns};
use crate::store::StoreError;

impl Campaigns for DynamoStore {
    async fn create_campaign(
        &self,
        user: &UserId,
        code: &RefCode,
        name: &CampaignName,
        at: &str,
        max: u32,
    ) -> Result<CampaignOutcome, StoreError> {
        let count = Update::builder()
            .table_name(self.table())
            .key(PK, s(keys::code_pk(code)))
            .key(SK, s(keys::SK_CODE))
            .update_expression("ADD campaigns :one")
            .condition_expression("attribute_exists(PK) AND (attribute_not_exists(campaigns) OR campaigns < :max)")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(max))
            .build()
            .expect("table, key and expression are set");
        let listing = Put::builder()
            .table_name(self.table())
            .item(PK, s(keys::user_pk(user)))
            .item(SK, s(keys::campaign_sk(name)))
            .item("campaign", s(name.as_str()))
            .item("code", s(code.as_str()))
            .item("created_at", s(at))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .expect("table and item are set");
        // Items 0 (count) and 1 (listing) first: the cancellation reasons below are by index.
        let mut request = self
            .client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(count).build())
            .transact_items(TransactWriteItem::builder().put(listing).build());
        let counter = name.counter_attribute();
        for shard in 0..keys::CLICK_SHARDS {
            let zero = Update::builder()
                .table_name(self.table())
                .key(PK, s(keys::click_shard_pk(code, shard)))
                .key(SK, s(keys::SK_CLICKS))
                .update_expression("SET #camp = :zero")
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_names("#camp", counter.as_str())
                .expression_attribute_values(":zero", n(0))
                .build()
                .expect("table, key and expression are set");
            request = request.transact_items(TransactWriteItem::builder().update(zero).build());
        }
        match request.send().await {
            Ok(_) => {
                tracing::info!(user_id = %user, code = %code, campaign = %name, "campaign registered");
                Ok(CampaignOutcome::Created)
            }
            Err(e) => match cancelled_conditions(&e).as_deref() {
                Some([_, true, ..]) => Ok(CampaignOutcome::Exists),
                Some([true, ..]) => Ok(CampaignOutcome::LimitReached),
                _ => Err(sdk_error("TransactWriteItems(create_campaign)", e)),
            },
        }
    }

    async fn campaigns(&self, user: &UserId, code: &RefCode) -> Result<Vec<CampaignStats>, StoreError> {
        let pk = keys::user_pk(user);
        let listing = self.prefix_query(&pk, keys::CAMPAIGN_PREFIX).consistent_read(true).send();
        let shards = self.batch_get(
            "campaign_clicks",
            (0..keys::CLICK_SHARDS).map(|shard| item_key(keys::click_shard_pk(code, shard), keys::SK_CLICKS)).collect(),
        );
        // At most MAX_CAMPAIGNS (20) small rows: one page, read concurrently with the shards.
        let (listing, shards) = tokio::join!(listing, shards);
        let listing = listing.map_err(|e| sdk_error("Query(campaigns)", e))?;
        let mut totals: HashMap<String, u64> = HashMap::new();
        for shard in shards? {
            for (attr, value) in &shard {
                if let (Some(campaign), AttributeValue::N(_)) = (attr.strip_prefix(COUNTER_PREFIX), value) {
                    *totals.entry(campaign.to_string()).or_default() += number::<u64>(&shard, attr);
                }
            }
        }
        let mut out = Vec::new();
        for item in listing.items.unwrap_or_default() {
            let text = |attr: &str| match item.get(attr) {
                Some(AttributeValue::S(v)) => Ok(v.clone()),
                _ => Err(StoreError::Corrupt { key: pk.clone(), reason: format!("campaign row without {attr}") }),
            };
            let raw = text("campaign")?;
            let name = CampaignName::parse(&raw)
                .map_err(|e| StoreError::Corrupt { key: pk.clone(), reason: format!("campaign {raw:?}: {e}") })?;
            out.push(CampaignStats {
                clicks: totals.get(name.as_str()).copied().unwrap_or(0),
                name,
                created_at: text("created_at")?,
            });
        }
        Ok(out)
    }
}
