//! Signup attribution: a new user is tied to the owner of the referral code they arrived
//! with — once, permanently (conditional write), never to themselves.
//!
//! The `same_ip` rule (exact): the signup is flagged when its IP equals the IP the
//! **referrer** signed up from (both stored only as keyed hashes). A flagged user's bonuses
//! are held for moderation. We deliberately do not compare with the IP of clicks on the
//! link: the referred visitor clicks the link from the very device they sign up on, so that
//! rule would flag every genuine referral.

use std::net::IpAddr;

use crate::clock;
use crate::domain::ip::fingerprint;
use crate::domain::{RefCode, UserId};
use crate::store::{AttributionOutcome, Attributions, Codes, NewAttribution, StoreError, Users};

#[derive(Debug, Clone, PartialEq)]
pub struct Signup {
    pub user: UserId,
    /// The raw code from the cookie/localStorage (may be absent or garbage).
    pub ref_code: Option<String>,
    pub ip: IpAddr,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SignupOutcome {
    Attributed {
        referrer: UserId,
        code: RefCode,
        same_ip: bool,
    },
    /// The user was attributed before; the stored attribution is returned unchanged.
    AlreadyAttributed {
        referrer: UserId,
        code: Option<RefCode>,
        same_ip: bool,
    },
    NotAttributed {
        reason: &'static str,
    },
}

pub async fn attribute_signup<S>(store: &S, ip_key: &str, signup: &Signup) -> Result<SignupOutcome, StoreError>
where
    S: Codes + Users + Attributions,
{
    let ip_hash = fingerprint(ip_key, signup.ip);
    let at = clock::rfc3339(clock::now());
    let (ip_ref, at_ref) = (&ip_hash, &at);
    let not_attributed = |reason: &'static str| async move {
        store.record_signup(&signup.user, ip_ref, at_ref).await?;
        Ok(SignupOutcome::NotAttributed { reason })
    };
    let Some(raw) = signup.ref_code.as_deref().filter(|c| !c.is_empty()) else {
        return not_attributed("no_code").await;
    };
    let Ok(code) = RefCode::parse(raw) else { return not_attributed("invalid_code").await };
    let Some(owner) = store.code_owner(&code).await? else { return not_attributed("unknown_code").await };
    if owner == signup.user {
        return not_attributed("self_referral").await;
    }
    let referrer = store.user(&owner).await?;
    let same_ip = referrer.and_then(|r| r.signup_ip_hash).is_some_and(|h| h == ip_hash);
    let new = NewAttribution {
        user: signup.user.clone(),
        referrer: owner,
        code,
        same_ip,
        signup_ip_hash: ip_hash.clone(),
        at: at.clone(),
    };
    match store.attribute(&new).await? {
        AttributionOutcome::Attributed => {
            tracing::info!(user_id = %signup.user, referrer_id = %new.referrer, code = %code, same_ip, outcome = "attributed", "signup attributed");
            Ok(SignupOutcome::Attributed { referrer: new.referrer, code, same_ip })
        }
        AttributionOutcome::AlreadyAttributed(profile) => match profile.referrer_id {
            Some(referrer) => {
                tracing::info!(user_id = %signup.user, referrer_id = %referrer, outcome = "already_attributed", "signup already attributed");
                Ok(SignupOutcome::AlreadyAttributed { referrer, code: profile.referrer_code, same_ip: profile.same_ip })
            }
            None => Err(StoreError::Corrupt {
                key: format!("USER#{}", signup.user),
                reason: "attribution refused but no referrer stored".into(),
            }),
        },
    }
}
