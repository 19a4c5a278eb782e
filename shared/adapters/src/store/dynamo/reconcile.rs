//! Reconciliation on DynamoDB: `referral_core::store::{Reconciliation, Findings}`.
//!
//! * **Active referrers**: one `Query` per activity shard (`RECON#ACTIVE#<n>`, the markers the
//!   money path writes, `keys::activity_pk`) with `last_at >= :since` as a filter; the cursor
//!   says which shard and where in it.
//! * **A referrer's rows**: one `Query` on the history index GSI2 (`REFERRER#<id>`), more only
//!   past DynamoDB's 1 MB page.
//! * **Pass state** (`RECON#PASS` / `<kind>`) and **findings** (`RECON#FINDING#<id>`): `GetItem`
//!   (consistent) and a `PutItem` conditional on the version that was read. Findings carry
//!   their GSI1 keys (`RECON#<status>`): the admin listing is a `Query` + `BatchGetItem`, the
//!   open count a `Select=COUNT` query.
//!
//! The core decides every change; this file only turns records into items and back.

use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::{from_item, item_key, keys, s, sdk_error, to_item, DynamoStore, Item, PK, SK};
use crate::domain::UserId;
use crate::store::{
    ActiveReferrer, CommitOutcome, CursorError, Findings, Page, PassKind, PassState, QueryError, Reconciliation,
    StoreError,
};
use referral_core::bonus::reconcile::{Finding, FindingStatus};
use referral_core::bonus::{Activity, Bonus, ACTIVITY_RETENTION_DAYS};

/// Bound on the history index pages read for one referrer (each up to 1 MB).
const MAX_ROW_PAGES: usize = 100;

/// Where the walk over the activity shards stands.
#[derive(Serialize, Deserialize)]
struct ActivityCursor {
    shard: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
}

impl ActivityCursor {
    fn decode(raw: &str) -> Result<Self, CursorError> {
        if raw.len() > 512 {
            return Err(CursorError);
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| CursorError)?;
        let c: ActivityCursor = serde_json::from_slice(&bytes).map_err(|_| CursorError)?;
        let after_ok = c.after.as_deref().is_none_or(|a| UserId::parse(a).is_ok());
        if c.shard >= keys::ACTIVITY_SHARDS || !after_ok {
            return Err(CursorError);
        }
        Ok(c)
    }

    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("cursor serialises"))
    }
}

/// The attributes of a referrer's activity marker (besides its key) after `activity`.
pub(super) fn activity_attributes(activity: &Activity, now_unix: i64) -> [(&'static str, AttributeValue); 2] {
    [
        ("last_at", s(activity.at.clone())),
        ("expires_at", AttributeValue::N((now_unix + ACTIVITY_RETENTION_DAYS * 24 * 3600).to_string())),
    ]
}

/// A referrer's activity marker as a whole item (seeding tools and tests; the money path
/// writes the same attributes with an `Update` in its transaction).
pub fn activity_item(activity: &Activity, now_unix: i64) -> Item {
    let mut item = item_key(keys::activity_pk(&activity.referrer), activity.referrer.as_str());
    item.extend(activity_attributes(activity, now_unix).map(|(k, v)| (k.to_string(), v)));
    item
}

fn finding_item(finding: &Finding) -> Item {
    let mut item = to_item(finding);
    item.insert(PK.into(), s(keys::finding_pk(&finding.finding_id)));
    item.insert(SK.into(), s(keys::SK_FINDING));
    let (gsi_pk, gsi_sk) = keys::finding_gsi1(finding);
    item.insert(keys::GSI1PK.into(), s(gsi_pk));
    item.insert(keys::GSI1SK.into(), s(gsi_sk));
    item
}

impl DynamoStore {
    /// `PutItem` of `item`, conditional on the stored `version` being `expected` (`None`: no
    /// item). A failed condition is `Conflict`.
    async fn put_versioned(&self, op: &str, item: Item, expected: Option<u64>) -> Result<CommitOutcome, StoreError> {
        let mut put = self.client().put_item().table_name(self.table()).set_item(Some(item));
        put = match expected {
            None => put.condition_expression("attribute_not_exists(PK)"),
            Some(v) => put
                .condition_expression("version = :expected")
                .expression_attribute_values(":expected", AttributeValue::N(v.to_string())),
        };
        match put.send().await {
            Ok(_) => Ok(CommitOutcome::Committed),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                Ok(CommitOutcome::Conflict)
            }
            Err(e) => Err(sdk_error(op, e)),
        }
    }
}

impl Reconciliation for DynamoStore {
    async fn active_referrers(
        &self,
        since: &str,
        limit: i32,
        cursor_in: Option<&str>,
    ) -> Result<Page<ActiveReferrer>, QueryError> {
        let at = match cursor_in {
            Some(raw) => ActivityCursor::decode(raw)?,
            None => ActivityCursor { shard: 0, after: None },
        };
        let pk = keys::activity_partition(at.shard);
        let start = at.after.as_ref().map(|after| item_key(pk.clone(), after));
        let out = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("#pk = :pk")
            .filter_expression("last_at >= :since")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", s(pk.clone()))
            .expression_attribute_values(":since", s(since))
            .limit(limit.clamp(1, 1000))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| sdk_error("Query(activity)", e))?;
        let mut items = Vec::new();
        for item in out.items.unwrap_or_default() {
            let (Some(AttributeValue::S(referrer)), Some(AttributeValue::S(last_at))) =
                (item.get(SK), item.get("last_at"))
            else {
                continue;
            };
            let referrer = UserId::parse(referrer)
                .map_err(|e| StoreError::Corrupt { key: format!("{pk}/{referrer}"), reason: e.to_string() })?;
            items.push(ActiveReferrer { referrer, last_at: last_at.clone() });
        }
        let next = match out.last_evaluated_key.as_ref().and_then(|k| k.get(SK)) {
            Some(AttributeValue::S(after)) => Some(ActivityCursor { shard: at.shard, after: Some(after.clone()) }),
            _ if at.shard + 1 < keys::ACTIVITY_SHARDS => Some(ActivityCursor { shard: at.shard + 1, after: None }),
            _ => None,
        };
        Ok(Page { items, next_cursor: next.map(|c| c.encode()) })
    }

    async fn referrer_bonuses(&self, referrer: &UserId) -> Result<Vec<Bonus>, StoreError> {
        let pk = keys::referrer_gsi_pk(referrer);
        let mut rows = Vec::new();
        let mut start = None;
        for _ in 0..MAX_ROW_PAGES {
            let out = self
                .index_query(keys::GSI2, keys::GSI2PK, &pk)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("Query(GSI2, reconciliation)", e))?;
            for item in out.items.unwrap_or_default() {
                rows.push(from_item::<Bonus>(&pk, item)?);
            }
            match out.last_evaluated_key {
                Some(next) => start = Some(next),
                None => return Ok(rows),
            }
        }
        Err(StoreError::Unavailable(format!("{pk}: more than {MAX_ROW_PAGES} pages of bonus rows")))
    }

    async fn pass_state(&self, kind: PassKind) -> Result<Option<PassState>, StoreError> {
        match self.get(keys::PASS_PK.to_string(), kind.as_str()).await? {
            Some(item) => Ok(Some(from_item(&format!("{}/{}", keys::PASS_PK, kind.as_str()), item)?)),
            None => Ok(None),
        }
    }

    async fn save_pass_state(&self, state: &PassState, expected: Option<u64>) -> Result<CommitOutcome, StoreError> {
        let mut item = to_item(state);
        item.insert(PK.into(), s(keys::PASS_PK));
        item.insert(SK.into(), s(state.kind.as_str()));
        self.put_versioned("PutItem(pass state)", item, expected).await
    }
}

impl Findings for DynamoStore {
    async fn finding(&self, id: &str) -> Result<Option<Finding>, StoreError> {
        let pk = keys::finding_pk(id);
        match self.get(pk.clone(), keys::SK_FINDING).await? {
            Some(item) => Ok(Some(from_item(&pk, item)?)),
            None => Ok(None),
        }
    }

    async fn save_finding(&self, finding: &Finding, expected: Option<u64>) -> Result<CommitOutcome, StoreError> {
        self.put_versioned("PutItem(finding)", finding_item(finding), expected).await
    }

    async fn list_findings(
        &self,
        status: FindingStatus,
        limit: i32,
        cursor_in: Option<&str>,
    ) -> Result<Page<Finding>, QueryError> {
        let pk = keys::findings_gsi1_pk(status);
        let (entries, next_cursor) = self
            .index_page("Query(GSI1, findings)", (keys::GSI1, keys::GSI1PK, keys::GSI1SK), &pk, limit, cursor_in)
            .await?;
        // The index is eventually consistent: the item is the truth (left out if it moved on).
        let mut items = Vec::new();
        for item in self.items_behind(entries, keys::SK_FINDING, "findings").await? {
            let finding: Finding = from_item("finding", item)?;
            if finding.status == status {
                items.push(finding);
            }
        }
        Ok(Page { items, next_cursor })
    }

    async fn count_open_findings(&self) -> Result<u64, StoreError> {
        let pk = keys::findings_gsi1_pk(FindingStatus::Open);
        self.count_matching("Query(GSI1, open findings)", self.index_query(keys::GSI1, keys::GSI1PK, &pk)).await
    }
}
