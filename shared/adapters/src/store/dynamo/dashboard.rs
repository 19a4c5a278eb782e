//! The referrer dashboard's aggregates: one `Query` over the referrer's partition (window
//! day buckets + profile + stats) and one `BatchGetItem` for the code row and its
//! `CLICK_SHARDS` click-counter shards. The cost is bounded by the window length and the
//! shard count, whatever the bonus history size.

use aws_sdk_dynamodb::types::AttributeValue;
use rust_decimal::Decimal;

use super::{from_item, keys, number, sdk_error, DynamoStore, SK};
use crate::domain::UserId;
use crate::store::{Dashboard, ReferrerKpis, StoreError, UserProfile};

impl Dashboard for DynamoStore {
    async fn referrer_kpis(&self, user: &UserId, window_start: &str, today: &str) -> Result<ReferrerKpis, StoreError> {
        let pk = keys::user_pk(user);
        // SK order: DAY#<window_start> … DAY#<today> < PROFILE < STATS.
        let out = self
            .range_query(&pk, &keys::day_sk(window_start), keys::SK_STATS)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("Query(kpis)", e))?;
        let items = out.items.unwrap_or_default();
        let mut kpis = ReferrerKpis {
            code: None,
            total_earned: Decimal::ZERO,
            earned_in_window: Decimal::ZERO,
            signups: 0,
            active_referred_users: 0,
            clicks: 0,
            items_read: items.len(),
        };
        let last_day = keys::day_sk(today);
        for item in items {
            let sk = match item.get(SK) {
                Some(AttributeValue::S(sk)) => sk.clone(),
                _ => continue,
            };
            if sk == keys::SK_STATS {
                kpis.total_earned = number(&item, "earned_total");
                kpis.signups = number(&item, "signups");
            } else if sk == keys::SK_PROFILE {
                kpis.code = from_item::<UserProfile>(&pk, item)?.code;
            } else if sk.starts_with("DAY#") && sk <= last_day {
                kpis.earned_in_window += number::<Decimal>(&item, "earned");
                kpis.active_referred_users += number::<i64>(&item, "active_new");
            }
        }
        if let Some(code) = kpis.code {
            // Code row + its CLICK_SHARDS counter shards: a fixed number of keys.
            if let Some((record, read)) = self.code_with_clicks(&code).await? {
                kpis.items_read += read;
                kpis.clicks = record.clicks;
            }
        }
        kpis.total_earned.rescale(2);
        kpis.earned_in_window.rescale(2);
        Ok(kpis)
    }
}
