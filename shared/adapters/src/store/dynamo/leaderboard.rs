//! Leaderboards on DynamoDB: the sparse, KEYS_ONLY index GSI3 (`LBPK` = `LB#all` /
//! `LB#<yyyy-mm>`, `LBSCORE` N = credited minus reversed earnings), kept in step by the
//! money-moving transaction in `bonuses.rs` — nothing here scans or sums history.
//!
//! * A page is one `Query` (`LBSCORE > 0`, descending, `Limit = limit + 1` so the last page
//!   is known without an extra empty call) + one `BatchGetItem` of the page's profiles for
//!   their opt-in names: constant cost per page at any board size.
//! * A referrer's rank is one `GetItem` (own score) + `Select=COUNT` queries of the scores
//!   strictly above it (paged by `LastEvaluatedKey`, 1 MB each). A KEYS_ONLY index entry is
//!   ~50 bytes, so counting costs ~1 RCU per ~80 referrers above the caller (eventually
//!   consistent reads are half price); it is never a `Scan`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Select};
use rust_decimal::Decimal;

use super::{item_key, keys, n, number, s, sdk_error, DynamoStore, Item, PK, SK};
use crate::clock;
use crate::domain::leaderboard::ALL;
use crate::domain::UserId;
use crate::store::{Leaderboard, LeaderboardEntry, LeaderboardPage, Standing, StoreError};

/// The sort key of the aggregate that carries a board's score.
fn stats_sk(scope: &str) -> String {
    if scope == ALL {
        keys::SK_STATS.to_string()
    } else {
        keys::month_stats_sk(scope)
    }
}

/// (user, score) of one GSI3 entry.
fn entry_of(item: &Item) -> Result<(UserId, Decimal), StoreError> {
    let corrupt = |reason: &str| StoreError::Corrupt { key: format!("{:?}", item.get(PK)), reason: reason.into() };
    let user = match item.get(PK) {
        Some(AttributeValue::S(pk)) => pk.strip_prefix("USER#").and_then(|id| UserId::parse(id).ok()),
        _ => None,
    }
    .ok_or_else(|| corrupt("leaderboard entry without a USER# key"))?;
    let score = match item.get(keys::LBSCORE) {
        Some(AttributeValue::N(raw)) => raw.parse::<Decimal>().ok(),
        _ => None,
    }
    .ok_or_else(|| corrupt("leaderboard entry without a numeric LBSCORE"))?;
    Ok((user, score))
}

fn money(mut v: Decimal) -> Decimal {
    v.rescale(2);
    v
}

impl Leaderboard for DynamoStore {
    async fn leaderboard_page(
        &self,
        scope: &str,
        limit: i32,
        after: Option<(&UserId, Decimal)>,
    ) -> Result<LeaderboardPage, StoreError> {
        let pk = keys::leaderboard_pk(scope);
        let limit = limit.clamp(1, 100);
        let start = after.map(|(user, score)| {
            let mut key = item_key(keys::user_pk(user), &stats_sk(scope));
            key.insert(keys::LBPK.into(), s(pk.clone()));
            key.insert(keys::LBSCORE.into(), n(score));
            key
        });
        let out = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(keys::GSI3)
            .key_condition_expression("#pk = :pk AND #score > :zero")
            .expression_attribute_names("#pk", keys::LBPK)
            .expression_attribute_names("#score", keys::LBSCORE)
            .expression_attribute_values(":pk", s(pk.clone()))
            .expression_attribute_values(":zero", n(0))
            .scan_index_forward(false)
            .limit(limit + 1)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| sdk_error("Query(leaderboard)", e))?;
        let more = out.last_evaluated_key.is_some();
        let mut ranked = out.items.unwrap_or_default().iter().map(entry_of).collect::<Result<Vec<_>, _>>()?;
        let has_next = ranked.len() > limit as usize || (more && !ranked.is_empty());
        ranked.truncate(limit as usize);
        let next = if has_next { ranked.last().cloned() } else { None };

        let mut names: HashMap<String, String> = HashMap::new();
        if !ranked.is_empty() {
            let profiles = ranked.iter().map(|(user, _)| item_key(keys::user_pk(user), keys::SK_PROFILE)).collect();
            for item in self.batch_get("leaderboard_names", profiles).await? {
                if let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(name))) =
                    (item.get(PK), item.get("public_name"))
                {
                    names.insert(pk.clone(), name.clone());
                }
            }
        }
        let entries = ranked
            .into_iter()
            .map(|(user, score)| LeaderboardEntry {
                public_name: names.remove(&keys::user_pk(&user)),
                user,
                earned: money(score),
            })
            .collect();
        Ok(LeaderboardPage { entries, next })
    }

    async fn standing(&self, scope: &str, user: &UserId) -> Result<Standing, StoreError> {
        let score = match self.get(keys::user_pk(user), &stats_sk(scope)).await? {
            Some(item) => number::<Decimal>(&item, keys::LBSCORE),
            None => Decimal::ZERO,
        };
        if score <= Decimal::ZERO {
            return Ok(Standing { earned: money(score.max(Decimal::ZERO)), rank: None });
        }
        let mut above: u64 = 0;
        let mut start = None;
        loop {
            let out = self
                .client()
                .query()
                .table_name(self.table())
                .index_name(keys::GSI3)
                .key_condition_expression("#pk = :pk AND #score > :mine")
                .expression_attribute_names("#pk", keys::LBPK)
                .expression_attribute_names("#score", keys::LBSCORE)
                .expression_attribute_values(":pk", s(keys::leaderboard_pk(scope)))
                .expression_attribute_values(":mine", n(score))
                .select(Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("Query(leaderboard_rank)", e))?;
            above += u64::try_from(out.count).unwrap_or_default();
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        Ok(Standing { earned: money(score), rank: Some(above + 1) })
    }

    async fn set_public_name(&self, user: &UserId, name: Option<&str>) -> Result<(), StoreError> {
        // The profile may not exist yet (a user who never signed up through us): create it
        // the way `claim_code` does, never a key-only item.
        let base = "SET user_id = if_not_exists(user_id, :user), created_at = if_not_exists(created_at, :now)";
        let mut req = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(keys::user_pk(user)))
            .key(SK, s(keys::SK_PROFILE))
            .expression_attribute_values(":user", s(user.as_str()))
            .expression_attribute_values(":now", s(clock::rfc3339(clock::now())));
        req = match name {
            Some(name) => req
                .update_expression(format!("{base}, public_name = :name"))
                .expression_attribute_values(":name", s(name)),
            None => req.update_expression(format!("{base} REMOVE public_name")),
        };
        req.send().await.map_err(|e| sdk_error("UpdateItem(public_name)", e))?;
        Ok(())
    }
}
