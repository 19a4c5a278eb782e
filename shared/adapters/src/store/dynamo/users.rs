//! Users: profiles, their own referral code (claimed by conditional transaction, together
//! with the code's click-counter shards).

use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};

use super::{cancelled_conditions, from_item, keys, n, s, sdk_error, to_item, DynamoStore, PK, SK};
use crate::clock;
use crate::domain::{RefCode, UserId};
use crate::store::{ClaimOutcome, CodeRecord, StoreError, UserProfile, Users};

/// How often code generation may collide before we give up (32^6 codes: practically never).
const CODE_ATTEMPTS: u32 = 8;

impl Users for DynamoStore {
    async fn user(&self, user: &UserId) -> Result<Option<UserProfile>, StoreError> {
        let pk = keys::user_pk(user);
        match self.get(pk.clone(), keys::SK_PROFILE).await? {
            Some(item) => Ok(Some(from_item(&pk, item)?)),
            None => Ok(None),
        }
    }

    async fn claim_code(&self, user: &UserId, code: RefCode) -> Result<ClaimOutcome, StoreError> {
        let now = clock::rfc3339(clock::now());
        let mut code_item = to_item(&CodeRecord { code, owner_id: user.clone(), clicks: 0, created_at: now.clone() });
        // The counter lives in the click shards (keys::CLICK_SHARDS), never on the code row.
        code_item.remove("clicks");
        code_item.insert(PK.into(), s(keys::code_pk(&code)));
        code_item.insert(SK.into(), s(keys::SK_CODE));
        let put_code = Put::builder()
            .table_name(self.table.as_ref())
            .set_item(Some(code_item))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .expect("table and item are set");
        let set_user_code = Update::builder()
            .table_name(self.table.as_ref())
            .key(PK, s(keys::user_pk(user)))
            .key(SK, s(keys::SK_PROFILE))
            .update_expression("SET code = :code, user_id = :user, created_at = if_not_exists(created_at, :now)")
            .condition_expression("attribute_not_exists(code)")
            .expression_attribute_values(":code", s(code.as_str()))
            .expression_attribute_values(":user", s(user.as_str()))
            .expression_attribute_values(":now", s(now))
            .build()
            .expect("table, key and expression are set");
        // Items 0 (code row) and 1 (user) first: the cancellation reasons below are by index.
        let mut request = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put_code).build())
            .transact_items(TransactWriteItem::builder().update(set_user_code).build());
        // Items 2..: the click-counter shards, born with the code (a click needs its shard).
        for shard in 0..keys::CLICK_SHARDS {
            let put_shard = Put::builder()
                .table_name(self.table.as_ref())
                .item(PK, s(keys::click_shard_pk(&code, shard)))
                .item(SK, s(keys::SK_CLICKS))
                .item("clicks", n(0))
                .condition_expression("attribute_not_exists(PK)")
                .build()
                .expect("table and item are set");
            request = request.transact_items(TransactWriteItem::builder().put(put_shard).build());
        }
        match request.send().await {
            Ok(_) => {
                tracing::info!(user_id = %user, code = %code, "referral code created");
                Ok(ClaimOutcome::Claimed)
            }
            Err(e) => match cancelled_conditions(&e).as_deref() {
                // The user got a code first (e.g. a concurrent first request): codes never change.
                Some([_, true, ..]) => {
                    let existing = self.user(user).await?.and_then(|p| p.code).ok_or_else(|| StoreError::Corrupt {
                        key: keys::user_pk(user),
                        reason: "code condition failed but no code stored".into(),
                    })?;
                    Ok(ClaimOutcome::UserHasCode(existing))
                }
                // The code row exists, or (orphan shards, which nothing creates) one of its shards.
                Some([code_row, _, shards @ ..]) if *code_row || shards.contains(&true) => Ok(ClaimOutcome::CodeTaken),
                _ => Err(sdk_error("TransactWriteItems(claim_code)", e)),
            },
        }
    }

    async fn ensure_code(&self, user: &UserId) -> Result<RefCode, StoreError> {
        if let Some(code) = self.user(user).await?.and_then(|p| p.code) {
            return Ok(code);
        }
        for _ in 0..CODE_ATTEMPTS {
            let code = RefCode::random();
            match self.claim_code(user, code).await? {
                ClaimOutcome::Claimed => return Ok(code),
                ClaimOutcome::UserHasCode(existing) => return Ok(existing),
                ClaimOutcome::CodeTaken => tracing::warn!(user_id = %user, "referral code collision, drawing again"),
            }
        }
        Err(StoreError::CodeSpaceExhausted(CODE_ATTEMPTS))
    }
}
