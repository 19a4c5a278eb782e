//! Partner webhooks on DynamoDB: the endpoint item (`USER#<id>` / `WEBHOOK`) saved together
//! with the profile's `webhook_events` mirror in one `TransactWriteItems`, and the delivery
//! log (`USER#<id>` / `WEBHOOK#DELIVERY#…`, one `PutItem` per attempt, `Query` newest first).
//!
//! Both sort keys sort after `STATS`, so the KPI query over `DAY#… .. STATS` never sees them.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};

use super::{cancelled_conditions, from_item, keys, n, s, sdk_error, to_item, DynamoStore, PK, SK};
use crate::domain::UserId;
use crate::store::{
    cursor, DeliveryRecord, Page, PartnerWebhooks, QueryError, SaveOutcome, StoreError, WebhookEndpoint,
};

fn events_value(endpoint: &WebhookEndpoint) -> AttributeValue {
    AttributeValue::L(endpoint.events.iter().map(|e| s(e.as_str())).collect())
}

impl PartnerWebhooks for DynamoStore {
    async fn webhook_endpoint(&self, user: &UserId) -> Result<Option<WebhookEndpoint>, StoreError> {
        let pk = keys::user_pk(user);
        match self.get(pk.clone(), keys::SK_WEBHOOK).await? {
            Some(item) => Ok(Some(from_item(&pk, item)?)),
            None => Ok(None),
        }
    }

    async fn save_webhook_endpoint(
        &self,
        endpoint: &WebhookEndpoint,
        expected_version: Option<u64>,
    ) -> Result<SaveOutcome, StoreError> {
        let pk = keys::user_pk(&endpoint.user_id);
        let mut item = to_item(endpoint);
        item.insert(PK.into(), s(pk.clone()));
        item.insert(SK.into(), s(keys::SK_WEBHOOK));
        let mut put = Put::builder().table_name(self.table()).set_item(Some(item));
        put = match expected_version {
            None => put.condition_expression("attribute_not_exists(PK)"),
            Some(v) => put.condition_expression("version = :read").expression_attribute_values(":read", n(v)),
        };
        // The profile may not exist yet (a user who never signed up through us): create it
        // with the attributes every profile has, like `claim_code` does.
        let mirror = Update::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(keys::SK_PROFILE))
            // `ctx_version` moves with the subscription: referred users' copies are refused.
            .update_expression(
                "SET webhook_events = :events, user_id = :user, created_at = if_not_exists(created_at, :now) \
                 ADD ctx_version :one",
            )
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":events", events_value(endpoint))
            .expression_attribute_values(":user", s(endpoint.user_id.as_str()))
            .expression_attribute_values(":now", s(endpoint.updated_at.clone()))
            .build()
            .expect("key and expression set");
        let sent = self
            .client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put.build().expect("item set")).build())
            .transact_items(TransactWriteItem::builder().update(mirror).build())
            .send()
            .await;
        match sent {
            Ok(_) => Ok(SaveOutcome::Saved),
            Err(e) => match cancelled_conditions(&e) {
                Some(failed) if failed.iter().any(|f| *f) => Ok(SaveOutcome::Conflict),
                _ => Err(sdk_error("TransactWriteItems(save_webhook_endpoint)", e)),
            },
        }
    }

    async fn delete_webhook_endpoint(&self, user: &UserId) -> Result<bool, StoreError> {
        let pk = keys::user_pk(user);
        let delete = Delete::builder()
            .table_name(self.table())
            .key(PK, s(pk.clone()))
            .key(SK, s(keys::SK_WEBHOOK))
            .condition_expression("attribute_exists(PK)")
            .build()
            .expect("key set");
        // attribute_exists: REMOVE on a missing item would create an empty one.
        let clear = Update::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(keys::SK_PROFILE))
            .update_expression("REMOVE webhook_events ADD ctx_version :one")
            .expression_attribute_values(":one", n(1))
            .condition_expression("attribute_exists(PK)")
            .build()
            .expect("key and expression set");
        let sent = self
            .client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(delete).build())
            .transact_items(TransactWriteItem::builder().update(clear).build())
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(e) => match cancelled_conditions(&e) {
                Some(failed) if failed.iter().any(|f| *f) => Ok(false),
                _ => Err(sdk_error("TransactWriteItems(delete_webhook_endpoint)", e)),
            },
        }
    }

    async fn record_delivery(&self, user: &UserId, delivery: &DeliveryRecord) -> Result<(), StoreError> {
        let mut item = to_item(delivery);
        item.insert(PK.into(), s(keys::user_pk(user)));
        item.insert(SK.into(), s(keys::webhook_delivery_sk(&delivery.at, &delivery.event_id, delivery.attempt)));
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| sdk_error("PutItem(record_delivery)", e))?;
        Ok(())
    }

    async fn list_deliveries(
        &self,
        user: &UserId,
        limit: i32,
        cursor_in: Option<&str>,
    ) -> Result<Page<DeliveryRecord>, QueryError> {
        let pk = keys::user_pk(user);
        let start = match cursor_in {
            None => None,
            Some(raw) => {
                let key = cursor::decode(raw, PK, &pk, &[PK, SK])?;
                // Only a position in this listing: a delivery sort key.
                let own_sk = matches!(key.get(SK), Some(AttributeValue::S(sk)) if sk.starts_with(keys::SK_WEBHOOK_DELIVERY_PREFIX));
                if !own_sk {
                    return Err(cursor::CursorError.into());
                }
                Some(key)
            }
        };
        let out = self
            .prefix_query(&pk, keys::SK_WEBHOOK_DELIVERY_PREFIX)
            .scan_index_forward(false)
            .limit(limit.clamp(1, 100))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| sdk_error("Query(deliveries)", e))?;
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| from_item::<DeliveryRecord>(&pk, item))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, next_cursor: out.last_evaluated_key.as_ref().map(cursor::encode) })
    }
}
