//! `StripeConfig`: the Stripe endpoint's settings, read once per cold start.

use adapters::config::{self, ConfigError, Source};
use referral_core::domain::signature::DEFAULT_TOLERANCE_SECS;

/// Settings of the `/webhooks/stripe` endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct StripeConfig {
    /// The endpoint's signing secrets (`whsec_…`), used as HMAC keys byte for byte, as
    /// Stripe's libraries do (stripe-python `WebhookSignature._compute_signature`:
    /// `hmac.new(secret.encode("utf-8"), …)`; the secret is not base64-decoded). Two during
    /// a rotation: Stripe then signs with both, old and new.
    pub secrets: Vec<String>,
    /// How far the header's `t=` may be from now, in seconds (Stripe's libraries: 300).
    pub tolerance_secs: i64,
    /// `true` on the live endpoint, `false` on a test-mode one: events of the other mode
    /// are ignored (Stripe marks every event with `livemode`).
    pub livemode: bool,
    /// The metadata key that carries our user id on PaymentIntents, Charges, Disputes and
    /// Checkout Sessions.
    pub user_id_metadata_key: String,
}

impl std::fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "StripeConfig {{ secrets: [{} redacted], tolerance_secs: {}, livemode: {}, user_id_metadata_key: {:?} }}",
            self.secrets.len(),
            self.tolerance_secs,
            self.livemode,
            self.user_id_metadata_key
        )
    }
}

impl StripeConfig {
    pub const SECRETS_VAR: &'static str = "STRIPE_WEBHOOK_SECRETS";
    pub const TOLERANCE_VAR: &'static str = "STRIPE_WEBHOOK_TOLERANCE_SECS";
    pub const LIVEMODE_VAR: &'static str = "STRIPE_LIVEMODE";
    pub const USER_ID_KEY_VAR: &'static str = "STRIPE_USER_ID_METADATA_KEY";
    pub const DEFAULT_USER_ID_KEY: &'static str = "user_id";
    /// Beyond an hour the timestamp no longer protects against replays.
    pub const MAX_TOLERANCE_SECS: i64 = 3600;

    pub fn from_env(src: &dyn Source) -> Result<Self, ConfigError> {
        let secrets = config::secrets(
            src,
            Self::SECRETS_VAR,
            "set it to the endpoint's signing secret from the Stripe Dashboard (whsec_…); two, comma-separated, while rotating",
        )?;
        // Never echo the value: a pasted API key (sk_live_…) is exactly what must not leak into logs.
        if secrets.iter().any(|s| !s.starts_with("whsec_")) {
            return Err(ConfigError::Invalid {
                key: Self::SECRETS_VAR,
                reason: "every entry must be a webhook signing secret starting with whsec_ (Dashboard → Developers → \
                         Webhooks → the endpoint → Signing secret), not an API key"
                    .into(),
            });
        }
        let tolerance_secs = config::parsed_or(src, Self::TOLERANCE_VAR, DEFAULT_TOLERANCE_SECS)?;
        if !(1..=Self::MAX_TOLERANCE_SECS).contains(&tolerance_secs) {
            return Err(ConfigError::Invalid {
                key: Self::TOLERANCE_VAR,
                reason: format!("must be 1 to {} seconds, got {tolerance_secs}", Self::MAX_TOLERANCE_SECS),
            });
        }
        let livemode = match config::required(
            src,
            Self::LIVEMODE_VAR,
            "set it to true for the live-mode endpoint or false for a test-mode one",
        )?
        .to_ascii_lowercase()
        .as_str()
        {
            "true" => true,
            "false" => false,
            other => {
                return Err(ConfigError::Invalid {
                    key: Self::LIVEMODE_VAR,
                    reason: format!("must be true or false, got {:?}", other.chars().take(16).collect::<String>()),
                })
            }
        };
        let user_id_metadata_key =
            config::optional(src, Self::USER_ID_KEY_VAR).unwrap_or_else(|| Self::DEFAULT_USER_ID_KEY.to_string());
        // Stripe metadata keys: at most 40 characters, no square brackets (docs.stripe.com/api/metadata).
        if user_id_metadata_key.chars().count() > 40 || user_id_metadata_key.contains(['[', ']']) {
            return Err(ConfigError::Invalid {
                key: Self::USER_ID_KEY_VAR,
                reason: "a Stripe metadata key has at most 40 characters and no square brackets".into(),
            });
        }
        Ok(Self { secrets, tolerance_secs, livemode, user_id_metadata_key })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SECRET: &str = "whsec_test_0123456789abcdefABCDEF";

    fn env(pairs: &[(&'static str, &'static str)]) -> HashMap<&'static str, &'static str> {
        pairs.iter().copied().collect()
    }

    #[test]
    fn reads_every_setting_with_defaults() {
        let cfg = StripeConfig::from_env(&env(&[
            ("STRIPE_WEBHOOK_SECRETS", "whsec_test_0123456789abcdefABCDEF, whsec_test_old_0123456789abcdef"),
            ("STRIPE_LIVEMODE", "false"),
        ]))
        .unwrap();
        assert_eq!(cfg.secrets, vec![SECRET.to_string(), "whsec_test_old_0123456789abcdef".to_string()]);
        assert_eq!(cfg.tolerance_secs, 300);
        assert!(!cfg.livemode);
        assert_eq!(cfg.user_id_metadata_key, "user_id");

        let cfg = StripeConfig::from_env(&env(&[
            ("STRIPE_WEBHOOK_SECRETS", SECRET),
            ("STRIPE_LIVEMODE", " TRUE "),
            ("STRIPE_WEBHOOK_TOLERANCE_SECS", "120"),
            ("STRIPE_USER_ID_METADATA_KEY", "referral_user"),
        ]))
        .unwrap();
        assert!(cfg.livemode);
        assert_eq!(cfg.tolerance_secs, 120);
        assert_eq!(cfg.user_id_metadata_key, "referral_user");
    }

    #[test]
    fn refuses_what_would_break_silently() {
        let err = |pairs: &[(&'static str, &'static str)]| StripeConfig::from_env(&env(pairs)).unwrap_err();
        // Livemode is required: guessing it would drop every event of the other mode.
        assert!(matches!(
            err(&[("STRIPE_WEBHOOK_SECRETS", SECRET)]),
            ConfigError::Missing { key: "STRIPE_LIVEMODE", .. }
        ));
        assert!(matches!(
            err(&[("STRIPE_WEBHOOK_SECRETS", SECRET), ("STRIPE_LIVEMODE", "yes")]),
            ConfigError::Invalid { key: "STRIPE_LIVEMODE", .. }
        ));
        assert!(matches!(
            err(&[("STRIPE_LIVEMODE", "true")]),
            ConfigError::Missing { key: "STRIPE_WEBHOOK_SECRETS", .. }
        ));
        for tolerance in ["0", "-5", "3601", "abc"] {
            let e = StripeConfig::from_env(&HashMap::from([
                ("STRIPE_WEBHOOK_SECRETS", SECRET),
                ("STRIPE_LIVEMODE", "true"),
                ("STRIPE_WEBHOOK_TOLERANCE_SECS", tolerance),
            ]))
            .unwrap_err();
            assert!(matches!(e, ConfigError::Invalid { key: "STRIPE_WEBHOOK_TOLERANCE_SECS", .. }), "{tolerance}");
        }
        let bad_key = err(&[
            ("STRIPE_WEBHOOK_SECRETS", SECRET),
            ("STRIPE_LIVEMODE", "true"),
            ("STRIPE_USER_ID_METADATA_KEY", "user[id]"),
        ]);
        assert!(matches!(bad_key, ConfigError::Invalid { key: "STRIPE_USER_ID_METADATA_KEY", .. }));
    }

    #[test]
    fn an_api_key_is_not_a_signing_secret_and_is_never_echoed() {
        let api_key = "sk_live_51FAKEFAKEFAKEFAKEFAKE";
        let e = StripeConfig::from_env(&HashMap::from([
            ("STRIPE_WEBHOOK_SECRETS".to_string(), format!("{SECRET},{api_key}")),
            ("STRIPE_LIVEMODE".to_string(), "true".to_string()),
        ]))
        .unwrap_err();
        assert!(matches!(e, ConfigError::Invalid { key: "STRIPE_WEBHOOK_SECRETS", .. }));
        assert!(!e.to_string().contains(api_key) && !e.to_string().contains("51FAKE"), "{e}");
    }

    #[test]
    fn debug_redacts_the_secrets() {
        let cfg = StripeConfig {
            secrets: vec![SECRET.into(), "whsec_test_other_0123456789".into()],
            tolerance_secs: 300,
            livemode: true,
            user_id_metadata_key: "user_id".into(),
        };
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("whsec_"), "{shown}");
        assert!(shown.contains("2 redacted") && shown.contains("livemode: true"), "{shown}");
    }
}
