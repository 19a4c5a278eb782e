//! Secrets from AWS Secrets Manager, read once per cold start.
//!
//! A function names the configuration values it keeps in Secrets Manager (`WEBHOOK_SECRETS`,
//! `WELLFLOW_API_KEY`, …). For each, the environment carries only *where* the value is:
//! `<NAME>_SECRET_ARN`, the ARN (or name) of an `AWS::SecretsManager::Secret` (template.yaml
//! passes its `!Ref`), and the function's role may `secretsmanager:GetSecretValue` on exactly
//! that secret. At cold start the function:
//!
//! 1. [`plan`]s the read: every required `<NAME>_SECRET_ARN` must be set, and no secret value
//!    may sit in the environment itself — both are checked before any network call, so a
//!    misconfigured function fails at once with an error naming the variable;
//! 2. [`Plan::fetch`]es every secret concurrently (one round trip of `GetSecretValue`s) and
//!    gets a [`SecretEnv`]: a [`config::Source`] that answers those names from the secrets and
//!    everything else from the environment, so `from_env` code reads a secret exactly like a
//!    variable. Nothing is fetched again until the next cold start.
//!
//! Adding a secret to a function is one line in its `main.rs` (`Secret::text("STRIPE_WEBHOOK_SECRETS")`)
//! plus the secret, the `<NAME>_SECRET_ARN` variable and the `AWSSecretsManagerGetSecretValuePolicy`
//! in template.yaml.
//!
//! **Formats** of a secret's value (`SecretString`):
//! * [`Kind::Text`]: a plain string, or a JSON array of strings for overlapping rotation
//!   (`["new", "old"]`: the first signs, all verify). The array reaches the config code as the
//!   comma-separated list it always understood (`new,old`), so a plain `new,old` works too.
//! * [`Kind::Json`]: any JSON document, read with [`SecretEnv::json`].
//! * A JSON object with a `placeholder` key is what the stack creates for values only the
//!   operator can supply (the payment provider's signing secret, the Wellflow key): the
//!   function refuses to start until the real value is put (docs/deploy.md, "Secrets").
//!
//! Values are never logged or printed (`Debug` is redacted); errors name the variable and the
//! secret's id, never its value.

use std::collections::HashMap;

use futures::future::try_join_all;

use crate::config::Source;

/// How a secret's value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string, or a JSON array of strings (several values during rotation).
    Text,
    /// A JSON document.
    Json,
}

/// One configuration value kept in Secrets Manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Secret {
    /// The configuration name, e.g. `WEBHOOK_SECRETS` (the secret's id is in `<name>_SECRET_ARN`).
    pub name: &'static str,
    pub kind: Kind,
    /// Optional secrets are read only when their `<name>_SECRET_ARN` is set.
    pub required: bool,
}

impl Secret {
    /// A required [`Kind::Text`] secret.
    pub const fn text(name: &'static str) -> Self {
        Self { name, kind: Kind::Text, required: true }
    }

    /// A required [`Kind::Json`] secret.
    pub const fn json(name: &'static str) -> Self {
        Self { name, kind: Kind::Json, required: true }
    }

    /// The same secret, read only if its `<name>_SECRET_ARN` is set.
    pub const fn optional(self) -> Self {
        Self { required: false, ..self }
    }

    /// The environment variable holding the secret's ARN or name.
    pub fn arn_var(&self) -> String {
        format!("{}{ARN_SUFFIX}", self.name)
    }
}

/// `<NAME>` + this = the variable holding the secret's ARN or name.
pub const ARN_SUFFIX: &str = "_SECRET_ARN";

/// `Debug` prints the message: it is what a failed cold start shows (`Error: …` from `main`).
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretsError {
    #[error(
        "missing environment variable {arn_var}: the ARN or name of the Secrets Manager secret holding {name} \
         (template.yaml passes !Ref of its AWS::SecretsManager::Secret; docs/deploy.md, \"Secrets\")"
    )]
    MissingArn { name: &'static str, arn_var: String },
    #[error(
        "environment variable {name} must not be set: secret values live in Secrets Manager, \
         set {arn_var} to the secret's ARN instead"
    )]
    ValueInEnvironment { name: &'static str, arn_var: String },
    #[error("reading secret {name} ({arn_var}={secret_id}) from Secrets Manager failed: {message}")]
    Fetch { name: &'static str, arn_var: String, secret_id: String, message: String },
    #[error("secret {name} ({arn_var}={secret_id}) {reason}")]
    Format { name: &'static str, arn_var: String, secret_id: String, reason: String },
    #[error("secret {name} is not a {expected} secret")]
    WrongKind { name: &'static str, expected: &'static str },
}

impl std::fmt::Debug for SecretsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// The secrets to read and where they are; built before any network call.
#[derive(Debug, Clone)]
pub struct Plan {
    reads: Vec<(Secret, String)>,
}

/// Checks the environment for every wanted secret (see the module doc) without fetching.
pub fn plan(env: &dyn Source, wanted: &[Secret]) -> Result<Plan, SecretsError> {
    let mut reads = Vec::new();
    for secret in wanted {
        let arn_var = secret.arn_var();
        if env.get(secret.name).is_some_and(|v| !v.trim().is_empty()) {
            return Err(SecretsError::ValueInEnvironment { name: secret.name, arn_var });
        }
        match env.get(&arn_var).map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
            Some(id) => reads.push((*secret, id)),
            None if secret.required => return Err(SecretsError::MissingArn { name: secret.name, arn_var }),
            None => {}
        }
    }
    Ok(Plan { reads })
}

impl Plan {
    /// Reads every planned secret concurrently and layers them over `base`.
    pub async fn fetch<'a>(
        self,
        client: &aws_sdk_secretsmanager::Client,
        base: &'a dyn Source,
    ) -> Result<SecretEnv<'a>, SecretsError> {
        let reads = self.reads.iter().map(|(secret, id)| async move {
            let out = client.get_secret_value().secret_id(id).send().await.map_err(|e| SecretsError::Fetch {
                name: secret.name,
                arn_var: secret.arn_var(),
                secret_id: id.clone(),
                message: aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
            })?;
            let raw = out.secret_string.ok_or_else(|| SecretsError::Format {
                name: secret.name,
                arn_var: secret.arn_var(),
                secret_id: id.clone(),
                reason: "has no SecretString (binary secrets are not supported)".into(),
            })?;
            let value = parse_value(secret.kind, &raw).map_err(|reason| SecretsError::Format {
                name: secret.name,
                arn_var: secret.arn_var(),
                secret_id: id.clone(),
                reason,
            })?;
            Ok::<_, SecretsError>((secret.name, (secret.kind, value)))
        });
        let values: HashMap<_, _> = try_join_all(reads).await?.into_iter().collect();
        tracing::info!(secrets = ?values.keys().collect::<Vec<_>>(), "secrets read from Secrets Manager");
        Ok(SecretEnv { base, values })
    }

    /// The configuration names this plan reads.
    pub fn names(&self) -> Vec<&'static str> {
        self.reads.iter().map(|(s, _)| s.name).collect()
    }
}

/// [`plan`] + [`Plan::fetch`] in one call.
pub async fn load<'a>(
    client: &aws_sdk_secretsmanager::Client,
    base: &'a dyn Source,
    wanted: &[Secret],
) -> Result<SecretEnv<'a>, SecretsError> {
    plan(base, wanted)?.fetch(client, base).await
}

/// A secret's value in the form its configuration code reads: for [`Kind::Text`] a trimmed
/// string (a JSON array joined with commas), for [`Kind::Json`] the document as given.
pub fn parse_value(kind: Kind, raw: &str) -> Result<String, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err("is empty".into());
    }
    let json = serde_json::from_str::<serde_json::Value>(trimmed).ok();
    if let Some(serde_json::Value::Object(map)) = &json {
        if map.contains_key("placeholder") {
            return Err("still holds the placeholder the stack created: put the real value \
                        (aws secretsmanager put-secret-value, docs/deploy.md \"Secrets\") and redeploy"
                .into());
        }
    }
    match kind {
        Kind::Json => json.map(|_| trimmed.to_string()).ok_or_else(|| "is not valid JSON".into()),
        Kind::Text => match json {
            Some(serde_json::Value::Array(items)) => {
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        serde_json::Value::String(s) if !s.trim().is_empty() && !s.contains(',') => {
                            values.push(s.trim().to_string())
                        }
                        _ => return Err("must be a JSON array of non-empty strings without commas".into()),
                    }
                }
                if values.is_empty() {
                    return Err("is an empty JSON array".into());
                }
                Ok(values.join(","))
            }
            Some(serde_json::Value::Object(_)) => {
                Err("is a JSON object; expected a string or a JSON array of strings".into())
            }
            _ => Ok(trimmed.to_string()),
        },
    }
}

/// The environment with the secrets read at cold start layered on top.
pub struct SecretEnv<'a> {
    base: &'a dyn Source,
    values: HashMap<&'static str, (Kind, String)>,
}

impl std::fmt::Debug for SecretEnv<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.values.keys().collect();
        names.sort();
        write!(f, "SecretEnv {{ secrets: {names:?} (values redacted) }}")
    }
}

impl SecretEnv<'_> {
    /// A [`Kind::Json`] secret decoded into `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self, name: &'static str) -> Result<Option<T>, SecretsError> {
        match self.values.get(name) {
            None => Ok(None),
            Some((Kind::Json, raw)) => serde_json::from_str(raw).map(Some).map_err(|e| SecretsError::Format {
                name,
                arn_var: format!("{name}{ARN_SUFFIX}"),
                secret_id: "(read at cold start)".into(),
                reason: format!("does not have the expected shape: {e}"),
            }),
            Some((Kind::Text, _)) => Err(SecretsError::WrongKind { name, expected: "JSON" }),
        }
    }

    /// Whether `name` was read from Secrets Manager.
    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }
}

impl Source for SecretEnv<'_> {
    fn get(&self, key: &str) -> Option<String> {
        match self.values.get(key) {
            Some((_, value)) => Some(value.clone()),
            None => self.base.get(key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::test_env as env;

    #[test]
    fn plan_names_the_missing_variable() {
        let err = plan(&env(&[]), &[Secret::text("WEBHOOK_SECRETS")]).unwrap_err();
        assert_eq!(
            err,
            SecretsError::MissingArn { name: "WEBHOOK_SECRETS", arn_var: "WEBHOOK_SECRETS_SECRET_ARN".into() }
        );
        assert!(err.to_string().starts_with("missing environment variable WEBHOOK_SECRETS_SECRET_ARN"), "{err}");
        // An optional secret without its variable is simply not read.
        let plan = plan(&env(&[]), &[Secret::text("JWT_HS256_SECRET").optional()]).unwrap();
        assert!(plan.names().is_empty());
    }

    #[test]
    fn a_value_in_the_environment_is_refused_without_echoing_it() {
        let err = plan(
            &env(&[("IP_HASH_KEY", "plaintext-key-0123456789"), ("IP_HASH_KEY_SECRET_ARN", "arn:x")]),
            &[Secret::text("IP_HASH_KEY")],
        )
        .unwrap_err();
        assert!(matches!(err, SecretsError::ValueInEnvironment { name: "IP_HASH_KEY", .. }));
        assert!(err.to_string().contains("IP_HASH_KEY_SECRET_ARN"));
        assert!(!err.to_string().contains("plaintext-key"));
        // Also for optional secrets.
        let err = plan(&env(&[("JWT_HS256_SECRET", "x")]), &[Secret::text("JWT_HS256_SECRET").optional()]);
        assert!(matches!(err, Err(SecretsError::ValueInEnvironment { .. })));
    }

    #[test]
    fn text_values_strings_and_arrays() {
        assert_eq!(parse_value(Kind::Text, "  abc  ").unwrap(), "abc");
        assert_eq!(parse_value(Kind::Text, "new,old").unwrap(), "new,old");
        assert_eq!(parse_value(Kind::Text, r#"["new", "old"]"#).unwrap(), "new,old");
        assert!(parse_value(Kind::Text, "[]").is_err());
        assert!(parse_value(Kind::Text, r#"["a,b"]"#).is_err());
        assert!(parse_value(Kind::Text, r#"["a", 1]"#).is_err());
        assert!(parse_value(Kind::Text, r#"{"key": "v"}"#).is_err());
        assert!(parse_value(Kind::Text, "   ").is_err());
    }

    #[test]
    fn placeholders_are_refused_for_every_kind() {
        let placeholder = r#"{"placeholder": "put the real value"}"#;
        for kind in [Kind::Text, Kind::Json] {
            let err = parse_value(kind, placeholder).unwrap_err();
            assert!(err.contains("placeholder"), "{err}");
        }
    }

    #[test]
    fn json_values_and_the_layered_source() {
        assert_eq!(parse_value(Kind::Json, r#"{"id": "c", "secret": "s"}"#).unwrap(), r#"{"id": "c", "secret": "s"}"#);
        assert!(parse_value(Kind::Json, "not json").is_err());
        let base = env(&[("TABLE_NAME", "t")]);
        let layered = SecretEnv {
            base: &base,
            values: HashMap::from([
                ("WEBHOOK_SECRETS", (Kind::Text, "a,b".to_string())),
                ("OAUTH", (Kind::Json, r#"{"id": "c"}"#.to_string())),
            ]),
        };
        assert_eq!(layered.get("WEBHOOK_SECRETS").as_deref(), Some("a,b"));
        assert_eq!(layered.get("TABLE_NAME").as_deref(), Some("t"));
        assert_eq!(layered.get("NOPE"), None);
        #[derive(serde::Deserialize)]
        struct OAuth {
            id: String,
        }
        assert_eq!(layered.json::<OAuth>("OAUTH").unwrap().unwrap().id, "c");
        assert!(layered.json::<OAuth>("WEBHOOK_SECRETS").is_err());
        assert!(layered.json::<OAuth>("ABSENT").unwrap().is_none());
        let shown = format!("{layered:?}");
        assert!(shown.contains("WEBHOOK_SECRETS") && !shown.contains("a,b"), "{shown}");
    }
}
