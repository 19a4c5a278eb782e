//! Bonus listings: the attention index GSI1 (sharded, KEYS_ONLY: moderation queue, failed
//! list, in-flight moves, holding queue) and the history index GSI2 (by referrer).
//!
//! A GSI1 family is spread over `keys::STATUS_SHARDS` partitions. A listing queries every
//! shard in parallel, merges by sort key and hands out a cursor that remembers where each
//! shard stands; the rows themselves are then read consistently (`BatchGetItem`), because
//! the index is eventually consistent and only the row is the truth — a row that no longer
//! belongs to the listing is left out.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::{from_item, item_key, keys, s, sdk_error, DynamoStore, Item, PK, SK};
use crate::domain::{BonusStatus, UserId};
use crate::store::{BonusQueries, CursorError, HoldingQueries, Page, QueryError, UnsettledQueries};
use referral_core::bonus::Bonus;

/// Where one shard's listing stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
enum ShardPos {
    /// Exhausted.
    Done(bool),
    /// Continue after this GSI1 key (`GSI1SK`, `PK`; the rest is implied).
    After { sk: String, pk: String },
}

/// The cursor of a sharded listing: one position per shard (absent = from the start).
#[derive(Debug, Default, Serialize, Deserialize)]
struct ShardedCursor {
    family: String,
    #[serde(default)]
    shards: BTreeMap<u32, ShardPos>,
}

impl ShardedCursor {
    fn decode(raw: &str, family: &str) -> Result<Self, CursorError> {
        if raw.len() > 16 * 1024 {
            return Err(CursorError);
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| CursorError)?;
        let cursor: ShardedCursor = serde_json::from_slice(&bytes).map_err(|_| CursorError)?;
        let valid = cursor.family == family
            && cursor.shards.iter().all(|(shard, pos)| {
                *shard < keys::STATUS_SHARDS
                    && match pos {
                        ShardPos::Done(done) => *done,
                        ShardPos::After { sk, pk } => {
                            !sk.is_empty() && sk.len() <= 1024 && pk.starts_with("BONUS#") && pk.len() <= 1024
                        }
                    }
            });
        if valid {
            Ok(cursor)
        } else {
            Err(CursorError)
        }
    }

    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("cursor serialises"))
    }
}

/// Order of a listing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    NewestFirst,
    OldestFirst,
}

impl DynamoStore {
    /// One page of a GSI1 family over all shards, merged; optionally only sort keys below
    /// `below` (a time bound: `<timestamp>` sorts before `<timestamp>#…`).
    async fn sharded_page(
        &self,
        family: &str,
        order: Order,
        below: Option<&str>,
        limit: i32,
        cursor_in: Option<&str>,
    ) -> Result<(Vec<Item>, Option<String>), QueryError> {
        let limit = limit.clamp(1, 100);
        let mut cursor = match cursor_in {
            Some(raw) => ShardedCursor::decode(raw, family)?,
            None => ShardedCursor { family: family.to_string(), shards: BTreeMap::new() },
        };
        let queries = (0..keys::STATUS_SHARDS).filter_map(|shard| {
            let start = match cursor.shards.get(&shard) {
                Some(ShardPos::Done(_)) => return None,
                Some(ShardPos::After { sk, pk }) => Some(HashMap::from([
                    (keys::GSI1PK.to_string(), s(keys::gsi1_pk(family, shard))),
                    (keys::GSI1SK.to_string(), s(sk.clone())),
                    (PK.to_string(), s(pk.clone())),
                    (SK.to_string(), s(keys::SK_BONUS)),
                ])),
                None => None,
            };
            let mut query = self
                .client()
                .query()
                .table_name(self.table())
                .index_name(keys::GSI1)
                .expression_attribute_names("#pk", keys::GSI1PK)
                .expression_attribute_values(":pk", s(keys::gsi1_pk(family, shard)))
                .scan_index_forward(order == Order::OldestFirst)
                .limit(limit)
                .set_exclusive_start_key(start);
            query = match below {
                Some(bound) => query
                    .key_condition_expression("#pk = :pk AND #sk < :below")
                    .expression_attribute_names("#sk", keys::GSI1SK)
                    .expression_attribute_values(":below", s(bound)),
                None => query.key_condition_expression("#pk = :pk"),
            };
            Some(async move { (shard, query.send().await) })
        });
        let mut listed: Vec<(u32, Item)> = Vec::new();
        let mut more: BTreeMap<u32, bool> = BTreeMap::new();
        for (shard, out) in futures::future::join_all(queries).await {
            let out = out.map_err(|e| sdk_error("Query(GSI1)", e))?;
            more.insert(shard, out.last_evaluated_key.is_some());
            listed.extend(out.items.unwrap_or_default().into_iter().map(|item| (shard, item)));
        }
        let sort_key = |item: &Item| match (item.get(keys::GSI1SK), item.get(PK)) {
            (Some(AttributeValue::S(sk)), Some(AttributeValue::S(pk))) => (sk.clone(), pk.clone()),
            _ => (String::new(), String::new()),
        };
        listed.sort_by_key(|(_, item)| sort_key(item));
        if order == Order::NewestFirst {
            listed.reverse();
        }
        let taken: Vec<(u32, Item)> = listed.iter().take(limit as usize).cloned().collect();
        // Each shard's listing was sorted, and the merge takes a prefix of the global order, so
        // what was taken from a shard is a prefix of what it returned.
        for (shard, has_more) in more {
            let returned = listed.iter().filter(|(s, _)| *s == shard).count();
            let consumed: Vec<&Item> = taken.iter().filter(|(s, _)| *s == shard).map(|(_, i)| i).collect();
            let pos = match consumed.last() {
                _ if consumed.len() == returned && !has_more => ShardPos::Done(true),
                Some(last) => {
                    let (sk, pk) = sort_key(last);
                    ShardPos::After { sk, pk }
                }
                None => continue,
            };
            cursor.shards.insert(shard, pos);
        }
        let finished =
            (0..keys::STATUS_SHARDS).all(|shard| matches!(cursor.shards.get(&shard), Some(ShardPos::Done(_))));
        let next = (!finished).then(|| cursor.encode());
        let rows =
            self.items_behind(taken.into_iter().map(|(_, item)| item).collect(), keys::SK_BONUS, "bonus rows").await?;
        Ok((rows, next))
    }

    /// The items (sort key `sk`) behind index entries, read consistently (`BatchGetItem`), in the
    /// entries' order; an entry whose item is gone is left out.
    pub(super) async fn items_behind(&self, entries: Vec<Item>, sk: &str, op: &str) -> Result<Vec<Item>, QueryError> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let pks: Vec<String> = entries
            .iter()
            .filter_map(|e| match e.get(PK) {
                Some(AttributeValue::S(pk)) => Some(pk.clone()),
                _ => None,
            })
            .collect();
        let keys_wanted = pks.iter().map(|pk| item_key(pk.clone(), sk)).collect();
        let mut found: HashMap<String, Item> = self
            .batch_get(op, keys_wanted)
            .await?
            .into_iter()
            .filter_map(|item| match item.get(PK) {
                Some(AttributeValue::S(pk)) => Some((pk.clone(), item)),
                _ => None,
            })
            .collect();
        Ok(pks.iter().filter_map(|pk| found.remove(pk)).collect())
    }

    fn bonuses(items: Vec<Item>) -> Result<Vec<Bonus>, QueryError> {
        items.into_iter().map(|item| Ok(from_item::<Bonus>("bonus", item)?)).collect()
    }

    async fn referrer_page(
        &self,
        referrer: &UserId,
        limit: i32,
        cursor_in: Option<&str>,
    ) -> Result<Page<Bonus>, QueryError> {
        let pk_value = keys::referrer_gsi_pk(referrer);
        let (items, next_cursor) = self
            .index_page("Query(GSI2)", (keys::GSI2, keys::GSI2PK, keys::GSI2SK), &pk_value, limit, cursor_in)
            .await?;
        let items = items.into_iter().map(|item| from_item::<Bonus>(&pk_value, item)).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, next_cursor })
    }
}

impl BonusQueries for DynamoStore {
    /// `pending` = held for moderation (newest first); `failed` = a Wellflow call failed
    /// (most recent failure first). Other statuses are not listed (400 at the API).
    async fn list_by_status(
        &self,
        status: BonusStatus,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<Bonus>, QueryError> {
        let family = match status {
            BonusStatus::Pending => keys::GSI1_PENDING,
            BonusStatus::Failed => keys::GSI1_FAILED,
            BonusStatus::Credited | BonusStatus::Reversed => return Ok(Page { items: Vec::new(), next_cursor: None }),
        };
        let (rows, next_cursor) = self.sharded_page(family, Order::NewestFirst, None, limit, cursor).await?;
        let items = Self::bonuses(rows)?.into_iter().filter(|b| b.status == status).collect();
        Ok(Page { items, next_cursor })
    }

    async fn list_by_referrer(
        &self,
        referrer: &UserId,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<Bonus>, QueryError> {
        self.referrer_page(referrer, limit, cursor).await
    }
}

/// The cursor of the sweeper's walk: which family, then that family's sharded cursor.
#[derive(Serialize, Deserialize)]
struct UnsettledCursor {
    family: usize,
    #[serde(default)]
    inner: Option<String>,
}

const UNSETTLED_FAMILIES: [&str; 2] = [keys::GSI1_INFLIGHT, keys::GSI1_FAILED];

impl UnsettledQueries for DynamoStore {
    /// Moves in flight (no error yet) and failed ones, last changed before `idle_before`,
    /// oldest first within each.
    async fn list_unsettled(
        &self,
        idle_before: &str,
        limit: i32,
        cursor_in: Option<&str>,
    ) -> Result<Page<Bonus>, QueryError> {
        let mut at = match cursor_in {
            Some(raw) => {
                let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| CursorError)?;
                let c: UnsettledCursor = serde_json::from_slice(&bytes).map_err(|_| CursorError)?;
                if c.family >= UNSETTLED_FAMILIES.len() {
                    return Err(CursorError.into());
                }
                c
            }
            None => UnsettledCursor { family: 0, inner: None },
        };
        let (rows, inner) = self
            .sharded_page(
                UNSETTLED_FAMILIES[at.family],
                Order::OldestFirst,
                Some(idle_before),
                limit,
                at.inner.as_deref(),
            )
            .await?;
        let next = match inner {
            Some(inner) => Some(UnsettledCursor { family: at.family, inner: Some(inner) }),
            None if at.family + 1 < UNSETTLED_FAMILIES.len() => {
                at.family += 1;
                Some(UnsettledCursor { family: at.family, inner: None })
            }
            None => None,
        };
        let items = Self::bonuses(rows)?.into_iter().filter(|b| !b.is_settled()).collect();
        Ok(Page { items, next_cursor: next.map(|c| URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).expect("cursor"))) })
    }
}

impl HoldingQueries for DynamoStore {
    /// Holding bonuses with `release_at <= due_by`, oldest release first. `GSI1SK =
    /// <release_at>#<payment>` and `$` sorts right after `#`, so `< due_by$` is exactly
    /// "release_at <= due_by" for our fixed-width timestamps.
    async fn list_due_holding(
        &self,
        due_by: &str,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<Bonus>, QueryError> {
        let bound = format!("{due_by}$");
        let (rows, next_cursor) =
            self.sharded_page(keys::GSI1_HOLDING, Order::OldestFirst, Some(&bound), limit, cursor).await?;
        let items = Self::bonuses(rows)?.into_iter().filter(|b| b.is_holding()).collect();
        Ok(Page { items, next_cursor })
    }
}
