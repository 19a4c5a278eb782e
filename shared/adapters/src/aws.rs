//! AWS SDK clients, built once per cold start from the standard environment, and the one
//! TLS stack every outbound HTTPS call uses (rustls on ring).
//!
//! One code path for AWS and local runs: `AWS_REGION`, the credentials and `AWS_ENDPOINT_URL`
//! (moto locally) come from environment variables — exactly what Lambda sets for a function
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` of its execution role).
//! The SDK's full default chain (profile files, SSO, STS web identity, IMDS, ECS) is not used:
//! a Lambda never needs it, it costs file reads on cold start, and not referencing it keeps
//! those clients out of the binary (sizes in docs/BENCHMARKS.md).
//!
//! The SDK's `default-https-client` feature is off on purpose: it links rustls with aws-lc
//! (~2.3 MB per binary) next to whatever the Wellflow client uses, and loads the system roots
//! on every connector build. Here the SDK gets the HTTP client of [`crate::tls`]: hyper on
//! rustls + ring with the one compiled-in root store that reqwest uses too, so each Lambda
//! carries one crypto library and builds one root store (sizes and init times in docs/BENCHMARKS.md).

use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
pub use aws_config::SdkConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// Installs ring as the process-wide rustls crypto provider (idempotent). [`crate::tls::shared`]
/// calls it; call it yourself only for rustls code that does not go through `crate::tls`.
pub fn install_crypto_provider() {
    // `Err` means a provider is installed already (ours, by an earlier call): nothing to do.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The SDK's HTTPS client: [`crate::tls::Shared::sdk_http_client`] (the shared root store).
pub fn https_client() -> SharedHttpClient {
    crate::tls::shared().sdk_http_client()
}

/// Region, credentials and endpoint from the process environment (see the module doc).
/// `async` for the callers' sake: nothing here waits; credentials are read per request by
/// the provider, so an expired session token is never cached past its rotation.
pub async fn sdk_config() -> SdkConfig {
    sdk_config_from(|key| std::env::var(key).ok().filter(|v| !v.trim().is_empty()))
}

/// [`sdk_config`] over any variable source (tests).
pub fn sdk_config_from(var: impl Fn(&str) -> Option<String>) -> SdkConfig {
    // Lambda always sets AWS_REGION; without it, DynamoDB calls fail with a clear
    // "no region" error naming the missing configuration.
    let region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")).map(Region::new);
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(region)
        .http_client(https_client())
        .credentials_provider(SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new()));
    if let Some(endpoint) = var("AWS_ENDPOINT_URL") {
        builder = builder.endpoint_url(endpoint);
    }
    builder.build()
}

pub fn dynamodb(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}

pub fn sqs(config: &SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(config)
}

/// Secrets Manager (read once per cold start, see [`crate::secrets`]); same HTTP client as the others.
pub fn secretsmanager(config: &SdkConfig) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_and_endpoint_come_from_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        let cfg = sdk_config_from(env(&[("AWS_REGION", "eu-west-1"), ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")]));
        assert_eq!(cfg.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(cfg.endpoint_url(), Some("http://127.0.0.1:5000"));
        assert!(cfg.credentials_provider().is_some());
        let fallback = sdk_config_from(env(&[("AWS_DEFAULT_REGION", "us-west-2")]));
        assert_eq!(fallback.region().map(|r| r.as_ref()), Some("us-west-2"));
        assert_eq!(fallback.endpoint_url(), None, "production: the SDK's regional endpoint");
    }
}
