//! AWS SDK clients, built once per cold start from the standard environment, and the one
//! TLS stack every outbound HTTPS call uses (rustls on ring).
//!
//! One code path for AWS and local runs: `AWS_ENDPOINT_URL` (moto locally), `AWS_REGION`
//! and the credentials chain all come from the environment.
//!
//! The SDK's `default-https-client` feature is off on purpose: it links rustls with aws-lc
//! (~2.3 MB per binary) next to whatever the Wellflow client uses. Here the SDK gets a hyper
//! client on rustls + ring and reqwest uses the same process-wide ring provider, so each
//! Lambda carries one crypto library (binary sizes in BENCHMARKS.md).

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// Installs ring as the process-wide rustls crypto provider (idempotent). Call before
/// building any reqwest client; [`https_client`] and the Wellflow client do it themselves.
pub fn install_crypto_provider() {
    // `Err` means a provider is installed already (ours, by an earlier call): nothing to do.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The SDK's HTTPS client: hyper + rustls (ring), certificates from the system trust store.
pub fn https_client() -> SharedHttpClient {
    install_crypto_provider();
    aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// Loads region, credentials and endpoint from the environment.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).http_client(https_client()).load().await
}

pub fn dynamodb(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}

pub fn sqs(config: &SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(config)
}
