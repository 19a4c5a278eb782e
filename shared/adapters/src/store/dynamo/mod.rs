//! DynamoDB implementation of the storage traits (single table, see [`super::keys`]):
//! the client wrapper and the helpers every operation file shares.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

pub(crate) use super::keys::{self, PK, SK};
use super::StoreError;

mod admin_views;
mod api_keys;
mod attributions;
mod campaigns;
mod codes;
mod dashboard;
mod history;
mod leaderboard;
mod payments;
mod queries;
mod rate_tiers;
mod reconcile;
mod referrers;
#[cfg(test)]
mod scale_model;
mod stats;
mod users;
mod webhooks;

pub use payments::bonus_item;
pub use reconcile::activity_item;

/// The DynamoDB-backed store. Cheap to clone (clones share the client and the rate-tier
/// cache); build once per cold start.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: Arc<str>,
    /// The rate-tier table as last read, and when (see [`RATE_TIERS_TTL`]).
    tiers_cache: Arc<std::sync::Mutex<Option<TiersRead>>>,
}

/// When the rate-tier table was read, and what it held (`None`: flat default).
type TiersRead = (std::time::Instant, Option<crate::domain::RateTiers>);

/// How long a function keeps the rate-tier table before reading it again. Every top-up needs
/// it: read each time, the one `CONFIG` item would take every top-up's read (3,000 reads/s per
/// partition caps the whole system); cached, an admin's change reaches every function within
/// this delay (the function that made the change sees it at once).
pub const RATE_TIERS_TTL: std::time::Duration = std::time::Duration::from_secs(60);

pub type Item = HashMap<String, AttributeValue>;

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<Arc<str>>) -> Self {
        Self { client, table: table.into(), tiers_cache: Arc::default() }
    }

    /// The cached rate-tier table, if read less than [`RATE_TIERS_TTL`] ago.
    pub(crate) fn cached_tiers(&self) -> Option<Option<crate::domain::RateTiers>> {
        let cache = self.tiers_cache.lock().ok()?;
        cache.as_ref().filter(|(at, _)| at.elapsed() < RATE_TIERS_TTL).map(|(_, tiers)| tiers.clone())
    }

    pub(crate) fn remember_tiers(&self, tiers: Option<crate::domain::RateTiers>) {
        if let Ok(mut cache) = self.tiers_cache.lock() {
            *cache = Some((std::time::Instant::now(), tiers));
        }
    }

    /// Forget the cached table (after this function changed it).
    pub(crate) fn forget_tiers(&self) {
        if let Ok(mut cache) = self.tiers_cache.lock() {
            *cache = None;
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub(crate) async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(self.table.as_ref())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        Ok(out.item)
    }

    /// Strongly consistent `BatchGetItem` of `keys` (≤ 100, this table) in one round trip when
    /// DynamoDB serves everything; unprocessed keys (throttling) are retried with a short
    /// backoff. Keys still unprocessed after that are an error, never silently missing items.
    pub(crate) async fn batch_get(&self, op: &str, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        const ATTEMPTS: u32 = 4;
        let mut request = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .build()
            .map_err(|e| StoreError::Rejected(format!("BatchGetItem({op}): {e}")))?;
        let mut found = Vec::new();
        for attempt in 0..ATTEMPTS {
            let out = self
                .client
                .batch_get_item()
                .request_items(self.table.as_ref(), request.clone())
                .send()
                .await
                .map_err(|e| sdk_error(&format!("BatchGetItem({op})"), e))?;
            found.extend(out.responses.and_then(|mut r| r.remove(self.table.as_ref())).unwrap_or_default());
            match out.unprocessed_keys.and_then(|mut u| u.remove(self.table.as_ref())) {
                Some(rest) if !rest.keys().is_empty() => {
                    if attempt + 1 == ATTEMPTS {
                        return Err(StoreError::Unavailable(format!(
                            "BatchGetItem({op}): {} key(s) still unprocessed after {ATTEMPTS} attempts",
                            rest.keys().len()
                        )));
                    }
                    request = rest;
                    tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
                }
                _ => break,
            }
        }
        Ok(found)
    }
}

impl DynamoStore {
    /// `ADD` counters on one of a user's aggregate items (`STATS`, `DAY#…`), as a transaction item.
    pub(super) fn aggregate_update(
        &self,
        user: &crate::domain::UserId,
        sk: String,
        adds: &[(&str, AttributeValue)],
    ) -> aws_sdk_dynamodb::types::TransactWriteItem {
        let expr = adds.iter().enumerate().map(|(i, (attr, _))| format!("{attr} :v{i}")).collect::<Vec<_>>().join(", ");
        let mut update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(self.table())
            .key(PK, s(keys::user_pk(user)))
            .key(SK, s(sk))
            .update_expression(format!("ADD {expr}"));
        for (i, (_, value)) in adds.iter().enumerate() {
            update = update.expression_attribute_values(format!(":v{i}"), value.clone());
        }
        aws_sdk_dynamodb::types::TransactWriteItem::builder()
            .update(update.build().expect("key and expression set"))
            .build()
    }

    /// A `Query` of index `index` for the entries whose partition key `pk_attr` is `pk`; callers
    /// add sort-key conditions, paging, order and projection.
    pub(crate) fn index_query(
        &self,
        index: &str,
        pk_attr: &str,
        pk: &str,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(self.table.as_ref())
            .index_name(index)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", pk_attr)
            .expression_attribute_values(":pk", s(pk))
    }

    /// One page of index `index`'s partition `pk` (key attributes `pk_attr`, `sk_attr`), newest
    /// first, `limit` clamped to 1..100, after `cursor_in` — which must be a cursor handed out
    /// for this very partition (`store::cursor`). Returns the items and the next cursor.
    pub(crate) async fn index_page(
        &self,
        op: &str,
        (index, pk_attr, sk_attr): (&str, &str, &str),
        pk: &str,
        limit: i32,
        cursor_in: Option<&str>,
    ) -> Result<(Vec<Item>, Option<String>), crate::store::QueryError> {
        let start =
            cursor_in.map(|c| super::cursor::decode(c, pk_attr, pk, &[PK, SK, pk_attr, sk_attr])).transpose()?;
        let out = self
            .index_query(index, pk_attr, pk)
            .scan_index_forward(false)
            .limit(limit.clamp(1, 100))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| sdk_error(op, e))?;
        Ok((out.items.unwrap_or_default(), out.last_evaluated_key.as_ref().map(super::cursor::encode)))
    }

    /// How many items `query` matches (`Select=COUNT`, following `LastEvaluatedKey`).
    pub(crate) async fn count_matching(
        &self,
        op: &str,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> Result<u64, StoreError> {
        let mut count = 0u64;
        let mut start = None;
        loop {
            let out = query
                .clone()
                .select(aws_sdk_dynamodb::types::Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error(op, e))?;
            count += u64::try_from(out.count).unwrap_or_default();
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(count),
            }
        }
    }

    /// A `Query` of the items in partition `pk` whose sort key starts with `prefix` (a
    /// listing under one user: API keys, campaigns, webhook deliveries); callers add paging,
    /// order and consistency.
    pub(crate) fn prefix_query(
        &self,
        pk: &str,
        prefix: &str,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(self.table.as_ref())
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(prefix))
    }

    /// A `Query` of the items in partition `pk` whose sort key is between `from` and `to`,
    /// both inclusive (a user's day and month buckets); callers add consistency.
    pub(crate) fn range_query(
        &self,
        pk: &str,
        from: &str,
        to: &str,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(self.table.as_ref())
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":from", s(from))
            .expression_attribute_values(":to", s(to))
    }
}

/// The primary key of the item at (`pk`, `sk`).
pub(crate) fn item_key(pk: String, sk: &str) -> Item {
    HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))])
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// Classifies an SDK error: throttling/network/5xx are `Unavailable`, the rest `Rejected`.
pub(crate) fn sdk_error<E, R>(op: &str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let retryable = match &err {
        SdkError::ServiceError(ctx) => matches!(
            ctx.err().code(),
            Some(
                "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
                    | "ServiceUnavailable"
                    | "TransactionInProgressException"
            )
        ),
        _ => true,
    };
    let message = format!("{op}: {}", DisplayErrorContext(&err));
    if retryable {
        StoreError::Unavailable(message)
    } else {
        StoreError::Rejected(message)
    }
}

/// A numeric attribute parsed as `T` (absent or malformed counters read as zero).
pub(crate) fn number<T: std::str::FromStr + Default>(item: &Item, attr: &str) -> T {
    match item.get(attr) {
        Some(AttributeValue::N(raw)) => raw.parse().unwrap_or_default(),
        _ => T::default(),
    }
}

pub(crate) fn from_item<T: serde::de::DeserializeOwned>(key: &str, item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt { key: key.to_string(), reason: e.to_string() })
}

pub(crate) fn to_item<T: serde::Serialize>(value: &T) -> Item {
    serde_dynamo::to_item(value).expect("records serialise to DynamoDB items")
}

/// Each cancelled item's reason code (`ConditionalCheckFailed`, `TransactionConflict`, …).
pub(crate) fn cancellation_reasons<R>(
    err: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> Option<Vec<Option<String>>> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
            Some(e.cancellation_reasons().iter().map(|r| r.code().map(str::to_string)).collect())
        }
        _ => None,
    }
}

/// Which of the transaction's items failed its condition (index → true).
pub(crate) fn cancelled_conditions<R>(
    err: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> Option<Vec<bool>> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
            Some(e.cancellation_reasons().iter().map(|r| r.code() == Some("ConditionalCheckFailed")).collect())
        }
        _ => None,
    }
}
