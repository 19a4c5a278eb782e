//! Leaderboards on DynamoDB: the sparse, KEYS_ONLY index GSI3 (`LBPK` = `LB#all#<shard>` /
//! `LB#<yyyy-mm>#<shard>`, `LBSCORE` N = credited minus reversed earnings), kept in step by
//! the money-moving transaction in `payments.rs` — nothing here scans or sums history. Each
//! board is spread over `keys::LEADERBOARD_SHARDS` partitions by referrer, so no index
//! partition takes every credit of the system.
//!
//! * A page is one `Query` per shard (`LBSCORE > 0`, descending, in parallel), merged, + one
//!   `BatchGetItem` of the page's profiles for their opt-in names: constant cost per page at
//!   any board size.
//! * A referrer's rank is one `GetItem` (own score) + `Select=COUNT` queries of the scores
//!   strictly above it in every shard (paged by `LastEvaluatedKey`, 1 MB each). A KEYS_ONLY
//!   index entry is ~50 bytes, so counting costs ~1 RCU per ~80 referrers above the caller
//!   (eventually consistent reads are half price); it is never a `Scan`.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use rust_decimal::Decimal;

use super::{item_key, keys, n, number, s, sdk_error, DynamoStore, Item, PK, SK};
use crate::clock;
use crate::domain::leaderboard::ALL;
use crate::domain::UserId;
use crate::store::{BoardPosition, Leaderboard, LeaderboardEntry, LeaderboardPage, ShardMark, Standing, StoreError};

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

impl DynamoStore {
    /// One shard of a board: up to `limit` entries with a positive score, best first, after
    /// `after`; and whether the shard has more.
    async fn board_shard(
        &self,
        scope: &str,
        shard: u32,
        limit: i32,
        after: Option<(&UserId, Decimal)>,
    ) -> Result<(Vec<(UserId, Decimal)>, bool), StoreError> {
        let pk = keys::leaderboard_pk(scope, shard);
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
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":zero", n(0))
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| sdk_error("Query(leaderboard)", e))?;
        let entries = out.items.unwrap_or_default().iter().map(entry_of).collect::<Result<Vec<_>, _>>()?;
        Ok((entries, out.last_evaluated_key.is_some()))
    }
}

impl Leaderboard for DynamoStore {
    /// Every shard's next `limit` entries (one `Query` each, in parallel), merged best first
    /// (ties: by shard, then in each shard's own order); the position remembers how far each
    /// shard was taken. Plus one `BatchGetItem` for the page's opt-in names.
    async fn leaderboard_page(
        &self,
        scope: &str,
        limit: i32,
        after: Option<&BoardPosition>,
    ) -> Result<LeaderboardPage, StoreError> {
        let limit = limit.clamp(1, 100);
        let mut position = after.cloned().unwrap_or_default();
        let reads = (0..keys::LEADERBOARD_SHARDS).filter_map(|shard| {
            let mark = match position.shards.get(&shard) {
                Some(ShardMark::Done) => return None,
                Some(ShardMark::After { user, score }) => Some((user.clone(), *score)),
                None => None,
            };
            Some(async move {
                let after = mark.as_ref().map(|(u, sc)| (u, *sc));
                (shard, self.board_shard(scope, shard, limit, after).await)
            })
        });
        let mut merged: Vec<(u32, usize, UserId, Decimal)> = Vec::new();
        let mut more: BTreeMap<u32, (usize, bool)> = BTreeMap::new();
        for (shard, read) in futures::future::join_all(reads).await {
            let (entries, has_more) = read?;
            more.insert(shard, (entries.len(), has_more));
            merged.extend(entries.into_iter().enumerate().map(|(i, (user, score))| (shard, i, user, score)));
        }
        merged.sort_by(|a, b| b.3.cmp(&a.3).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
        let taken: Vec<_> = merged.iter().take(limit as usize).cloned().collect();
        // The merge takes a prefix of each shard's list: advance each shard past what it gave.
        for (shard, (returned, has_more)) in &more {
            let consumed: Vec<_> = taken.iter().filter(|t| t.0 == *shard).collect();
            let mark = match consumed.last() {
                _ if consumed.len() == *returned && !has_more => ShardMark::Done,
                Some(last) => ShardMark::After { user: last.2.clone(), score: last.3 },
                None => continue,
            };
            position.shards.insert(*shard, mark);
        }
        let left = merged.len() > taken.len()
            || (0..keys::LEADERBOARD_SHARDS).any(|shard| !matches!(position.shards.get(&shard), Some(ShardMark::Done)));
        let ranked: Vec<(UserId, Decimal)> = taken.into_iter().map(|(_, _, user, score)| (user, score)).collect();
        let next = (left && !ranked.is_empty()).then_some(position);

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

    /// One `GetItem` (own score) + a `Select=COUNT` query of the scores strictly above it in
    /// every shard (in parallel, paged by `LastEvaluatedKey`).
    async fn standing(&self, scope: &str, user: &UserId) -> Result<Standing, StoreError> {
        let score = match self.get(keys::user_pk(user), &stats_sk(scope)).await? {
            Some(item) => number::<Decimal>(&item, keys::LBSCORE),
            None => Decimal::ZERO,
        };
        if score <= Decimal::ZERO {
            return Ok(Standing { earned: money(score.max(Decimal::ZERO)), rank: None });
        }
        let counts = (0..keys::LEADERBOARD_SHARDS).map(|shard| {
            let above = self
                .index_query(keys::GSI3, keys::LBPK, &keys::leaderboard_pk(scope, shard))
                .key_condition_expression("#pk = :pk AND #score > :mine")
                .expression_attribute_names("#score", keys::LBSCORE)
                .expression_attribute_values(":mine", n(score));
            self.count_matching("Query(leaderboard_rank)", above)
        });
        let mut above = 0;
        for count in futures::future::join_all(counts).await {
            above += count?;
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
