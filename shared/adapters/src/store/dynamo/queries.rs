//! Bonus listings on the two GSIs: moderation queue by status, history by referrer.

use super::{from_item, keys, s, sdk_error, DynamoStore};
use crate::domain::{BonusStatus, UserId};
use crate::store::{cursor, BonusQueries, BonusRecord, Page, QueryError};

impl DynamoStore {
    async fn query_index(
        &self,
        index: &str,
        pk_attr: &str,
        sk_attr: &str,
        pk_value: String,
        limit: i32,
        cursor_in: Option<&str>,
    ) -> Result<Page<BonusRecord>, QueryError> {
        let start = cursor_in
            .map(|c| cursor::decode(c, pk_attr, &pk_value, &[keys::PK, keys::SK, pk_attr, sk_attr]))
            .transpose()?;
        let out = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(index)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", pk_attr)
            .expression_attribute_values(":pk", s(pk_value.clone()))
            .scan_index_forward(false)
            .limit(limit.clamp(1, 100))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| sdk_error("Query", e))?;
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| from_item::<BonusRecord>(&pk_value, item))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, next_cursor: out.last_evaluated_key.as_ref().map(cursor::encode) })
    }
}

impl BonusQueries for DynamoStore {
    async fn list_by_status(
        &self,
        status: BonusStatus,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<BonusRecord>, QueryError> {
        self.query_index(keys::GSI1, keys::GSI1PK, keys::GSI1SK, keys::status_gsi_pk(status), limit, cursor).await
    }

    async fn list_by_referrer(
        &self,
        referrer: &UserId,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<BonusRecord>, QueryError> {
        self.query_index(keys::GSI2, keys::GSI2PK, keys::GSI2SK, keys::referrer_gsi_pk(referrer), limit, cursor).await
    }
}
