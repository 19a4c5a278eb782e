//! Signup attribution on DynamoDB: the referred user's profile gets its referrer exactly
//! once (conditional write) and the referrer's signup counters move in the same transaction:
//! the all-time `STATS`, and the day (`DAY#<date>`) and month (`STATS#<month>`) buckets of
//! the earnings chart (`domain::stats`).

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};

use super::{cancelled_conditions, keys, n, s, sdk_error, DynamoStore, PK, SK};
use crate::domain::UserId;
use crate::store::{AttributionOutcome, Attributions, NewAttribution, StoreError, Users};

impl Attributions for DynamoStore {
    async fn attribute(&self, new: &NewAttribution) -> Result<AttributionOutcome, StoreError> {
        let set_referrer = Update::builder()
            .table_name(self.table())
            .key(PK, s(keys::user_pk(&new.user)))
            .key(SK, s(keys::SK_PROFILE))
            .update_expression(
                "SET referrer_id = :referrer, referrer_code = :code, attributed_at = :at, same_ip = :same_ip, \
                 user_id = :user, created_at = if_not_exists(created_at, :at), \
                 signup_ip_hash = if_not_exists(signup_ip_hash, :ip)",
            )
            .condition_expression("attribute_not_exists(referrer_id)")
            .expression_attribute_values(":referrer", s(new.referrer.as_str()))
            .expression_attribute_values(":code", s(new.code.as_str()))
            .expression_attribute_values(":at", s(new.at.clone()))
            .expression_attribute_values(":same_ip", aws_sdk_dynamodb::types::AttributeValue::Bool(new.same_ip))
            .expression_attribute_values(":user", s(new.user.as_str()))
            .expression_attribute_values(":ip", s(new.signup_ip_hash.clone()))
            .build()
            .expect("key and expression set");
        let count_signup = Update::builder()
            .table_name(self.table())
            .key(PK, s(keys::user_pk(&new.referrer)))
            .key(SK, s(keys::SK_STATS))
            .update_expression("ADD signups :one")
            .expression_attribute_values(":one", n(1))
            .build()
            .expect("key and expression set");
        let (day, month) = (crate::clock::day_of(&new.at), crate::clock::month_of(&new.at));
        let result = self
            .client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(set_referrer).build())
            .transact_items(TransactWriteItem::builder().update(count_signup).build())
            .transact_items(self.aggregate_update(&new.referrer, keys::day_sk(day), &[("signups", n(1))]))
            .transact_items(self.aggregate_update(&new.referrer, keys::month_stats_sk(month), &[("signups", n(1))]))
            .send()
            .await;
        match result {
            Ok(_) => Ok(AttributionOutcome::Attributed),
            Err(e) => match cancelled_conditions(&e).as_deref() {
                Some([true, ..]) => {
                    let existing = self.user(&new.user).await?.ok_or_else(|| StoreError::Corrupt {
                        key: keys::user_pk(&new.user),
                        reason: "attribution condition failed but no profile".into(),
                    })?;
                    Ok(AttributionOutcome::AlreadyAttributed(Box::new(existing)))
                }
                _ => Err(sdk_error("TransactWriteItems(attribute)", e)),
            },
        }
    }

    async fn record_signup(&self, user: &UserId, signup_ip_hash: &str, at: &str) -> Result<(), StoreError> {
        self.client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(keys::user_pk(user)))
            .key(SK, s(keys::SK_PROFILE))
            .update_expression(
                "SET user_id = :user, created_at = if_not_exists(created_at, :at), \
                 signup_ip_hash = if_not_exists(signup_ip_hash, :ip)",
            )
            .expression_attribute_values(":user", s(user.as_str()))
            .expression_attribute_values(":at", s(at))
            .expression_attribute_values(":ip", s(signup_ip_hash))
            .send()
            .await
            .map_err(|e| sdk_error("UpdateItem(record_signup)", e))?;
        Ok(())
    }
}
