//! The earnings chart's series on DynamoDB (`referral_core::domain::stats`): one `Query` of the
//! referrer's day (`DAY#<date>`) or month (`STATS#<month>`) buckets by sort-key range and the
//! profile's `GetItem` (for the code) concurrently, then one `BatchGetItem` of the code's
//! `CLICK_SHARDS` shards for the click counters. At most 90 (12) buckets + 1 + 16 items,
//! whatever the size of the history.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use rust_decimal::Decimal;

use super::{from_item, item_key, keys, number, sdk_error, DynamoStore, SK};
use crate::domain::stats::{BucketValues, StatsRange, YearMonth};
use crate::domain::UserId;
use crate::store::{StatsQueries, StatsReadout, StoreError, UserProfile};

impl StatsQueries for DynamoStore {
    async fn referrer_stats(&self, referrer: &UserId, range: &StatsRange) -> Result<StatsReadout, StoreError> {
        let pk = keys::user_pk(referrer);
        let (from_sk, to_sk, prefix) = match range {
            StatsRange::Days { from, to } => (keys::day_sk(&from.to_string()), keys::day_sk(&to.to_string()), "DAY#"),
            StatsRange::Months { from, to } => {
                (keys::month_stats_sk(&from.to_string()), keys::month_stats_sk(&to.to_string()), "STATS#")
            }
        };
        // Both bounds carry the prefix, so `STATS` (all time) and other items stay out.
        let buckets = self.range_query(&pk, &from_sk, &to_sk).consistent_read(true).send();
        let (buckets, profile) = tokio::join!(buckets, self.get(pk.clone(), keys::SK_PROFILE));
        let buckets = buckets.map_err(|e| sdk_error("Query(stats)", e))?;
        let mut out = StatsReadout::default();
        for item in buckets.items.unwrap_or_default() {
            out.items_read += 1;
            let Some(AttributeValue::S(sk)) = item.get(SK) else { continue };
            let Some(label) = sk.strip_prefix(prefix) else { continue };
            let values = out.buckets.entry(label.to_string()).or_default();
            values.earned += number::<Decimal>(&item, "earned");
            values.signups += number::<i64>(&item, "signups");
        }
        let code = match profile? {
            Some(item) => {
                out.items_read += 1;
                from_item::<UserProfile>(&pk, item)?.code
            }
            None => None,
        };
        let Some(code) = code else { return Ok(out) };
        // The click counters of every asked-for bucket, summed over the shards.
        let names: Vec<(String, String)> = range
            .periods()
            .into_iter()
            .map(|label| {
                let attr = match range {
                    StatsRange::Days { .. } => {
                        keys::click_day_attr(crate::domain::stats::parse_day(&label).expect("a day label"))
                    }
                    StatsRange::Months { .. } => {
                        keys::click_month_attr(YearMonth::parse(&label).expect("a month label"))
                    }
                };
                (label, attr)
            })
            .collect();
        let shards = (0..keys::CLICK_SHARDS).map(|shard| item_key(keys::click_shard_pk(&code, shard), keys::SK_CLICKS));
        let mut clicks: BTreeMap<&str, u64> = BTreeMap::new();
        for shard in self.batch_get("stats_clicks", shards.collect()).await? {
            out.items_read += 1;
            for (label, attr) in &names {
                *clicks.entry(label.as_str()).or_default() += number::<u64>(&shard, attr);
            }
        }
        for (label, count) in clicks.into_iter().filter(|(_, c)| *c > 0) {
            out.buckets.entry(label.to_string()).or_insert_with(BucketValues::default).clicks = count;
        }
        Ok(out)
    }
}
