//! AWS SDK clients, built once per cold start from the standard environment.
//!
//! One code path for AWS and local runs: `AWS_ENDPOINT_URL` (moto locally), `AWS_REGION`
//! and the credentials chain all come from the environment.

use aws_config::{BehaviorVersion, SdkConfig};

/// Loads region, credentials and endpoint from the environment.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

pub fn dynamodb(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}

pub fn sqs(config: &SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(config)
}
