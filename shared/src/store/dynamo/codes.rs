//! Referral codes and click counters on DynamoDB.

use super::{from_item, keys, n, s, sdk_error, DynamoStore, PK, SK};
use crate::domain::RefCode;
use crate::store::{ClickOutcome, CodeRecord, Codes, StoreError};

impl Codes for DynamoStore {
    async fn record_click(&self, code: &RefCode) -> Result<ClickOutcome, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(self.table.as_ref())
            .key(PK, s(keys::code_pk(code)))
            .key(SK, s(keys::SK_CODE))
            .update_expression("ADD clicks :one")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":one", n(1))
            .send()
            .await;
        match result {
            Ok(_) => Ok(ClickOutcome::Counted),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                Ok(ClickOutcome::UnknownCode)
            }
            Err(e) => Err(sdk_error("UpdateItem(click)", e)),
        }
    }

    async fn code(&self, code: &RefCode) -> Result<Option<CodeRecord>, StoreError> {
        let pk = keys::code_pk(code);
        match self.get(pk.clone(), keys::SK_CODE).await? {
            Some(item) => Ok(Some(from_item(&pk, item)?)),
            None => Ok(None),
        }
    }
}
