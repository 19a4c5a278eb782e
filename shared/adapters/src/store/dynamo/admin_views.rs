//! What the admin console shows about a user (`AdminViews`): one strongly consistent
//! `BatchGetItem` of the profile (with its audit trails) and the all-time aggregates.

use aws_sdk_dynamodb::types::AttributeValue;
use rust_decimal::Decimal;

use super::{from_item, item_key, keys, number, DynamoStore, PK, SK};
use crate::domain::UserId;
use crate::store::{AdminViews, AuditEntry, ReferrerTotals, StoreError, UserAdminView, UserProfile};

impl AdminViews for DynamoStore {
    async fn user_admin_view(&self, user: &UserId) -> Result<Option<UserAdminView>, StoreError> {
        let pk = keys::user_pk(user);
        let wanted = vec![item_key(pk.clone(), keys::SK_PROFILE), item_key(pk.clone(), keys::SK_STATS)];
        let mut profile = None;
        let mut totals = ReferrerTotals::default();
        for mut item in self.batch_get("admin_view", wanted).await? {
            match item.get(SK) {
                Some(AttributeValue::S(sk)) if sk == keys::SK_STATS => {
                    totals = ReferrerTotals {
                        earned_total: number::<Decimal>(&item, "earned_total"),
                        signups: number(&item, "signups"),
                        credited_count: number(&item, "credited_count"),
                        reversed_count: number(&item, "reversed_count"),
                    };
                }
                Some(AttributeValue::S(_)) => {
                    let trail = |item: &mut super::Item, attr: &str| -> Result<Vec<AuditEntry>, StoreError> {
                        match item.remove(attr) {
                            Some(value) => serde_dynamo::from_attribute_value(value)
                                .map_err(|e| StoreError::Corrupt { key: pk.clone(), reason: format!("{attr}: {e}") }),
                            None => Ok(Vec::new()),
                        }
                    };
                    let rate_history = trail(&mut item, "rate_history")?;
                    let attribution_history = trail(&mut item, "attribution_history")?;
                    item.remove(PK);
                    profile = Some((from_item::<UserProfile>(&pk, item)?, rate_history, attribution_history));
                }
                _ => {}
            }
        }
        // Money has two decimals, also when there is no aggregate item yet (0.00, not 0).
        totals.earned_total.rescale(2);
        Ok(profile.map(|(profile, rate_history, attribution_history)| UserAdminView {
            profile,
            rate_history,
            attribution_history,
            totals,
        }))
    }
}
