//! Configuration from the environment (set by template.yaml in AWS, by `make dev` locally).
//!
//! Every function reads only what it needs through these helpers; a missing or malformed
//! variable fails the cold start with a message that names the variable and how to fix it.
//! Secret values are never printed.

use std::collections::HashMap;

use url::Url;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("missing environment variable {key}: {hint}")]
    Missing { key: &'static str, hint: &'static str },
    #[error("invalid environment variable {key}: {reason}")]
    Invalid { key: &'static str, reason: String },
}

/// Where configuration values come from: the process environment, a map in tests, or either
/// with secrets layered on top (`crate::secrets::SecretEnv`). `Sync` so cold-start futures
/// that hold one stay `Send`.
pub trait Source: Sync {
    fn get(&self, key: &str) -> Option<String>;
}

/// The real process environment.
pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
}

impl Source for HashMap<String, String> {
    fn get(&self, key: &str) -> Option<String> {
        HashMap::get(self, key).cloned()
    }
}

impl Source for HashMap<&str, &str> {
    fn get(&self, key: &str) -> Option<String> {
        HashMap::get(self, key).map(|v| v.to_string())
    }
}

/// A non-empty value, or `Missing` with the hint.
pub fn required(src: &dyn Source, key: &'static str, hint: &'static str) -> Result<String, ConfigError> {
    match src.get(key) {
        Some(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
        _ => Err(ConfigError::Missing { key, hint }),
    }
}

/// A non-empty value, if set.
pub fn optional(src: &dyn Source, key: &'static str) -> Option<String> {
    src.get(key).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// A parsed value with a default.
pub fn parsed_or<T: std::str::FromStr>(src: &dyn Source, key: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match optional(src, key) {
        None => Ok(default),
        Some(raw) => {
            raw.parse().map_err(|e: T::Err| ConfigError::Invalid { key, reason: format!("{e} (got {raw:?})") })
        }
    }
}

/// A comma-separated list of secrets (several are accepted during rotation; the first signs).
pub fn secrets(src: &dyn Source, key: &'static str, hint: &'static str) -> Result<Vec<String>, ConfigError> {
    let raw = required(src, key, hint)?;
    let list: Vec<String> = raw.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    if list.iter().any(|s| s.len() < 16) {
        return Err(ConfigError::Invalid { key, reason: "each secret must be at least 16 characters".into() });
    }
    Ok(list)
}

/// An origin such as `https://app.example.com` (scheme + host + optional port, nothing else).
pub fn origin(src: &dyn Source, key: &'static str, hint: &'static str) -> Result<Url, ConfigError> {
    let raw = required(src, key, hint)?;
    parse_origin(&raw).map_err(|reason| ConfigError::Invalid { key, reason })
}

pub fn parse_origin(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("{e} (got {raw:?})"))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(format!("must be an http(s) origin such as https://example.com, got {raw:?}"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(format!("must be an origin without path, query or credentials, got {raw:?}"));
    }
    Ok(url)
}

/// The DynamoDB table every function uses.
pub fn table_name(src: &dyn Source) -> Result<String, ConfigError> {
    required(src, "TABLE_NAME", "set it to the referrals table name (template.yaml passes !Ref ReferralsTable)")
}

/// A fixed environment for unit tests (`env(&[("KEY", "value")])`).
#[cfg(test)]
pub(crate) fn test_env(pairs: &[(&'static str, &'static str)]) -> HashMap<&'static str, &'static str> {
    pairs.iter().copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::test_env as env;

    #[test]
    fn missing_names_the_variable_and_fix() {
        let err = table_name(&env(&[])).unwrap_err();
        assert!(err.to_string().contains("TABLE_NAME"));
        assert!(err.to_string().contains("template.yaml"));
        assert_eq!(table_name(&env(&[("TABLE_NAME", " t ")])).unwrap(), "t");
    }

    #[test]
    fn origins_are_strict() {
        assert!(parse_origin("https://example.com").is_ok());
        assert!(parse_origin("http://127.0.0.1:8080").is_ok());
        assert!(parse_origin("https://example.com/path").is_err());
        assert!(parse_origin("javascript:alert(1)").is_err());
        assert!(parse_origin("https://user@example.com").is_err());
        assert!(parse_origin("example.com").is_err());
    }

    #[test]
    fn secrets_are_split_and_checked_without_echo() {
        let list = secrets(&env(&[("S", "aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbb")]), "S", "h").unwrap();
        assert_eq!(list.len(), 2);
        let err = secrets(&env(&[("S", "short-secret")]), "S", "h").unwrap_err().to_string();
        assert!(!err.contains("short-secret"));
    }

    #[test]
    fn parsed_or_reports_bad_values() {
        assert_eq!(parsed_or(&env(&[]), "N", 5u32).unwrap(), 5);
        assert_eq!(parsed_or(&env(&[("N", "7")]), "N", 5u32).unwrap(), 7);
        assert!(parsed_or(&env(&[("N", "x")]), "N", 5u32).is_err());
    }
}
