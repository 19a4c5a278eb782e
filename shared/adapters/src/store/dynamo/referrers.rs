//! Admin changes to referrers (rate override) and attributions (re-attribution), each
//! appended to an audit list on the profile in the same conditional write. A re-attribution
//! moves the signup between the referrers' counters (all time, and the day and month buckets
//! of the original attribution) in the same transaction.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use super::{cancelled_conditions, keys, n, s, sdk_error, DynamoStore, PK, SK};
use crate::domain::{Rate, RefCode, UserId};
use crate::store::{AdminChange, ReattributeOutcome, ReferrerAdmin, StoreError, Users};

fn audit_entry(change: &AdminChange, fields: &[(&str, Option<String>)]) -> AttributeValue {
    let mut map = std::collections::HashMap::from([
        ("at".to_string(), s(change.at.clone())),
        ("actor".to_string(), s(change.actor.clone())),
    ]);
    if let Some(note) = &change.note {
        map.insert("note".into(), s(note.clone()));
    }
    for (k, v) in fields {
        map.insert((*k).into(), v.clone().map(s).unwrap_or(AttributeValue::Null(true)));
    }
    AttributeValue::L(vec![AttributeValue::M(map)])
}

impl ReferrerAdmin for DynamoStore {
    async fn set_rate_override(
        &self,
        user: &UserId,
        rate: Option<Rate>,
        change: &AdminChange,
    ) -> Result<bool, StoreError> {
        let entry = audit_entry(change, &[("rate", rate.map(|r| r.to_string()))]);
        let mut req = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(keys::user_pk(user)))
            .key(SK, s(keys::SK_PROFILE))
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":entry", entry)
            .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":one", n(1));
        // `ctx_version` moves with it: a referred user's copy of the old rate is then refused.
        let history = "rate_history = list_append(if_not_exists(rate_history, :empty), :entry)";
        req = match rate {
            Some(rate) => req
                .update_expression(format!("SET rate_override = :rate, {history} ADD ctx_version :one"))
                .expression_attribute_values(":rate", s(rate.to_string())),
            None => req.update_expression(format!("SET {history} REMOVE rate_override ADD ctx_version :one")),
        };
        match req.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(sdk_error("UpdateItem(rate_override)", e)),
        }
    }

    async fn reattribute(
        &self,
        user: &UserId,
        to: &UserId,
        to_code: RefCode,
        change: &AdminChange,
    ) -> Result<ReattributeOutcome, StoreError> {
        let Some(profile) = self.user(user).await? else { return Ok(ReattributeOutcome::UnknownUser) };
        let from = profile.referrer_id.clone();
        if from.as_ref() == Some(to) {
            return Ok(ReattributeOutcome::Reattributed { from });
        }
        let entry =
            audit_entry(change, &[("from", from.as_ref().map(|f| f.to_string())), ("to", Some(to.to_string()))]);
        let mut set_user = Update::builder()
            .table_name(self.table())
            .key(PK, s(keys::user_pk(user)))
            .key(SK, s(keys::SK_PROFILE))
            .update_expression(
                "SET referrer_id = :to, referrer_code = :code, attributed_at = if_not_exists(attributed_at, :at), \
                 attribution_history = list_append(if_not_exists(attribution_history, :empty), :entry)",
            )
            .expression_attribute_values(":to", s(to.as_str()))
            .expression_attribute_values(":code", s(to_code.as_str()))
            .expression_attribute_values(":at", s(change.at.clone()))
            .expression_attribute_values(":entry", entry)
            .expression_attribute_values(":empty", AttributeValue::L(Vec::new()));
        set_user = match &from {
            Some(old) => {
                set_user.condition_expression("referrer_id = :old").expression_attribute_values(":old", s(old.as_str()))
            }
            None => set_user.condition_expression("attribute_exists(PK) AND attribute_not_exists(referrer_id)"),
        };
        // The signup moves with the user, on the day (and month) it was first attributed, so
        // each referrer's day buckets keep summing to their `STATS` signups.
        let attributed_at = profile.attributed_at.clone().unwrap_or_else(|| change.at.clone());
        let (day, month) = (crate::clock::day_of(&attributed_at), crate::clock::month_of(&attributed_at));
        let mut req = self
            .client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(set_user.build().expect("key set")).build());
        let mut moves = vec![(to, 1)];
        if let Some(old) = &from {
            moves.push((old, -1));
        }
        for (who, delta) in moves {
            for sk in [keys::SK_STATS.to_string(), keys::day_sk(day), keys::month_stats_sk(month)] {
                req = req.transact_items(self.aggregate_update(who, sk, &[("signups", n(delta))]));
            }
        }
        match req.send().await {
            Ok(_) => Ok(ReattributeOutcome::Reattributed { from }),
            Err(e) => match cancelled_conditions(&e).as_deref() {
                Some([true, ..]) => Ok(ReattributeOutcome::Conflict),
                _ => Err(sdk_error("TransactWriteItems(reattribute)", e)),
            },
        }
    }
}
