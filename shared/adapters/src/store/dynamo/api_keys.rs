//! Partner API keys on DynamoDB (layout in [`keys`]):
//!
//! * create: one `TransactWriteItems` — key item `APIKEY#<id>/APIKEY` (hash, owner, scopes;
//!   `attribute_not_exists`), listing row `USER#<id>/APIKEY#<key_id>` (no hash) and the
//!   active-key counter `USER#<id>/APIKEYS` (`ADD active 1` only while `active < max`).
//! * verify: one strongly consistent `GetItem` of the key item.
//! * revoke: one transaction — key item (`owner_id = :user AND attribute_not_exists(revoked_at)`),
//!   listing row and `ADD active -1`.
//! * rate limit: one `UpdateItem` per request on `APIKEY#<id>/RL#<unix minute>`:
//!   `ADD n 1` if `n < limit`, with a TTL (`expires_at`) so old windows disappear.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use super::{cancelled_conditions, from_item, keys, n, s, sdk_error, to_item, DynamoStore, PK, SK};
use crate::domain::{ApiKeyId, UserId};
use crate::store::partner::{ApiKeyRecord, ApiKeySummary, ApiKeys, CreateKeyOutcome, RateOutcome, RevokeOutcome};
use crate::store::StoreError;

impl DynamoStore {
    fn key_update(&self, pk: String, sk: String) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
        Update::builder().table_name(self.table()).key(PK, s(pk)).key(SK, s(sk))
    }
}

impl ApiKeys for DynamoStore {
    async fn create_api_key(&self, record: &ApiKeyRecord, max_active: u32) -> Result<CreateKeyOutcome, StoreError> {
        let mut key_item = to_item(record);
        key_item.insert(PK.into(), s(keys::api_key_pk(&record.key_id)));
        key_item.insert(SK.into(), s(keys::SK_API_KEY));
        let put_key = Put::builder()
            .table_name(self.table())
            .set_item(Some(key_item))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .expect("table and item are set");
        let mut listing = to_item(&record.summary());
        listing.insert(PK.into(), s(keys::user_pk(&record.owner_id)));
        listing.insert(SK.into(), s(keys::api_key_listing_sk(&record.key_id)));
        let put_listing = Put::builder()
            .table_name(self.table())
            .set_item(Some(listing))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .expect("table and item are set");
        let count = self
            .key_update(keys::user_pk(&record.owner_id), keys::SK_API_KEY_COUNT.into())
            .update_expression("ADD active :one")
            .condition_expression("attribute_not_exists(active) OR active < :max")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(max_active))
            .build()
            .expect("table, key and expression are set");
        let result = self
            .client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put_key).build())
            .transact_items(TransactWriteItem::builder().put(put_listing).build())
            .transact_items(TransactWriteItem::builder().update(count).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(CreateKeyOutcome::Created),
            Err(e) => match cancelled_conditions(&e).as_deref() {
                Some([true, ..]) | Some([_, true, _]) => Ok(CreateKeyOutcome::IdTaken),
                Some([_, _, true]) => Ok(CreateKeyOutcome::LimitReached),
                _ => Err(sdk_error("TransactWriteItems(create_api_key)", e)),
            },
        }
    }

    async fn api_key(&self, id: &ApiKeyId) -> Result<Option<ApiKeyRecord>, StoreError> {
        let pk = keys::api_key_pk(id);
        match self.get(pk.clone(), keys::SK_API_KEY).await? {
            Some(item) => Ok(Some(from_item(&pk, item)?)),
            None => Ok(None),
        }
    }

    async fn api_keys(&self, user: &UserId) -> Result<Vec<ApiKeySummary>, StoreError> {
        let pk = keys::user_pk(user);
        // At most MAX_ACTIVE_KEYS active plus the revoked ones: small; paginate to be exact.
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .prefix_query(&pk, keys::API_KEY_LISTING_PREFIX)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("Query(api_keys)", e))?;
            for item in page.items.unwrap_or_default() {
                out.push(from_item(&pk, item)?);
            }
            match page.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return Ok(out),
            }
        }
    }

    async fn revoke_api_key(&self, user: &UserId, id: &ApiKeyId, at: &str) -> Result<RevokeOutcome, StoreError> {
        let revoke_key = self
            .key_update(keys::api_key_pk(id), keys::SK_API_KEY.into())
            .update_expression("SET revoked_at = :at")
            .condition_expression("attribute_exists(PK) AND owner_id = :user AND attribute_not_exists(revoked_at)")
            .expression_attribute_values(":at", s(at))
            .expression_attribute_values(":user", s(user.as_str()))
            .build()
            .expect("table, key and expression are set");
        let revoke_listing = self
            .key_update(keys::user_pk(user), keys::api_key_listing_sk(id))
            .update_expression("SET revoked_at = :at")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":at", s(at))
            .build()
            .expect("table, key and expression are set");
        let count = self
            .key_update(keys::user_pk(user), keys::SK_API_KEY_COUNT.into())
            .update_expression("ADD active :minus_one")
            .expression_attribute_values(":minus_one", n(-1))
            .build()
            .expect("table, key and expression are set");
        let result = self
            .client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(revoke_key).build())
            .transact_items(TransactWriteItem::builder().update(revoke_listing).build())
            .transact_items(TransactWriteItem::builder().update(count).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(RevokeOutcome::Revoked),
            Err(e) if cancelled_conditions(&e).is_some_and(|c| c.contains(&true)) => {
                // Tell "revoked before" from "not yours / no such key" with one read.
                match self.api_key(id).await? {
                    Some(key) if key.owner_id == *user && key.revoked_at.is_some() => Ok(RevokeOutcome::AlreadyRevoked),
                    _ => Ok(RevokeOutcome::NotFound),
                }
            }
            Err(e) => Err(sdk_error("TransactWriteItems(revoke_api_key)", e)),
        }
    }

    async fn count_key_request(
        &self,
        id: &ApiKeyId,
        minute: i64,
        limit: u32,
        expires_at: i64,
    ) -> Result<RateOutcome, StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(keys::api_key_pk(id)))
            .key(SK, s(keys::rate_window_sk(minute)))
            .update_expression("SET expires_at = :exp ADD n :one")
            .condition_expression("attribute_not_exists(n) OR n < :limit")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(limit))
            .expression_attribute_values(":exp", AttributeValue::N(expires_at.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(RateOutcome::Allowed),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                Ok(RateOutcome::Limited)
            }
            Err(e) => Err(sdk_error("UpdateItem(rate_limit)", e)),
        }
    }
}
