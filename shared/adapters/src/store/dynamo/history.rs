//! A referrer's filtered bonus history on DynamoDB (`HistoryQueries`): the history index GSI2
//! (`REFERRER#<id>`, sort key `<created_at>#<payment>`, projecting every attribute), newest
//! first. The creation-time range is the key condition; the status a `FilterExpression`. One
//! call reads at most [`MAX_READS`] index pages, so a rare status costs bounded work per call
//! and the caller follows `next_cursor`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::{from_item, keys, s, sdk_error, DynamoStore, Item, PK, SK};
use crate::domain::history_filter::HistoryFilter;
use crate::domain::UserId;
use crate::store::{CursorError, HistoryQueries, Page, QueryError, MAX_HISTORY_PAGE};
use referral_core::bonus::Bonus;

/// Index pages one call reads at most (each up to `MAX_HISTORY_PAGE` entries).
const MAX_READS: usize = 10;

const KEY_ATTRS: [&str; 4] = [PK, SK, keys::GSI2PK, keys::GSI2SK];

/// The primary and index key of a history row (a cursor that resumes right after it).
fn key_of(item: &Item) -> HashMap<String, AttributeValue> {
    KEY_ATTRS.iter().filter_map(|k| item.get(*k).map(|v| (k.to_string(), v.clone()))).collect()
}

impl HistoryQueries for DynamoStore {
    async fn referrer_history(
        &self,
        referrer: &UserId,
        filter: &HistoryFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Bonus>, QueryError> {
        let limit = limit.clamp(1, MAX_HISTORY_PAGE);
        let pk = keys::referrer_gsi_pk(referrer);
        let (lower, upper) = filter.sort_key_bounds();
        let mut start = cursor.map(|c| super::super::cursor::decode(c, keys::GSI2PK, &pk, &KEY_ATTRS)).transpose()?;
        // A cursor outside the range would be refused by DynamoDB (a 5xx for a caller's mistake).
        if let Some(AttributeValue::S(sk)) = start.as_ref().and_then(|k| k.get(keys::GSI2SK)) {
            let inside =
                lower.as_deref().is_none_or(|l| sk.as_str() >= l) && upper.as_deref().is_none_or(|u| sk.as_str() < u);
            if !inside {
                return Err(CursorError.into());
            }
        }
        let mut rows: Vec<Item> = Vec::new();
        let mut next = None;
        for read in 1..=MAX_READS {
            let want = if filter.status.is_some() { MAX_HISTORY_PAGE } else { limit - rows.len() };
            let mut query = self
                .client()
                .query()
                .table_name(self.table())
                .index_name(keys::GSI2)
                .expression_attribute_names("#pk", keys::GSI2PK)
                .expression_attribute_values(":pk", s(pk.clone()))
                .scan_index_forward(false)
                .limit(want as i32)
                .set_exclusive_start_key(start.take());
            query = match (&lower, &upper) {
                (None, None) => query.key_condition_expression("#pk = :pk"),
                (Some(l), None) => {
                    query.key_condition_expression("#pk = :pk AND #sk >= :lo").expression_attribute_values(":lo", s(l))
                }
                (None, Some(u)) => {
                    query.key_condition_expression("#pk = :pk AND #sk < :hi").expression_attribute_values(":hi", s(u))
                }
                // BETWEEN is inclusive; no sort key equals the bare timestamp `upper` (every
                // one continues with `#<payment>`), so this is `[lower, upper)`.
                (Some(l), Some(u)) => query
                    .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
                    .expression_attribute_values(":lo", s(l))
                    .expression_attribute_values(":hi", s(u)),
            };
            if lower.is_some() || upper.is_some() {
                query = query.expression_attribute_names("#sk", keys::GSI2SK);
            }
            if let Some(status) = filter.status {
                query = query
                    .filter_expression("#status = :status")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":status", s(status.as_str()));
            }
            let out = query.send().await.map_err(|e| sdk_error("Query(GSI2 history)", e))?;
            let page = out.items.unwrap_or_default();
            let more = out.last_evaluated_key.filter(|k| !k.is_empty());
            let room = limit - rows.len();
            if page.len() > room {
                // Cut inside this page: resume right after the last row returned.
                rows.extend(page.into_iter().take(room));
                next = rows.last().map(key_of);
                break;
            }
            rows.extend(page);
            match more {
                Some(key) if rows.len() < limit && read < MAX_READS => start = Some(key),
                more => {
                    next = more;
                    break;
                }
            }
        }
        let items = rows.into_iter().map(|item| from_item::<Bonus>(&pk, item)).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, next_cursor: next.as_ref().map(super::super::cursor::encode) })
    }
}
