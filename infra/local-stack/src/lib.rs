//! Creates the DynamoDB table(s), SQS queues and Secrets Manager secrets declared in
//! `template.yaml` on a local endpoint (moto server). Reading the SAM template itself keeps
//! one schema: `make dev`, the tests and production all get the same keys, indexes, redrive
//! policies and secrets, and the functions find each secret through the same
//! `<NAME>_SECRET_ARN` variable the template sets.

pub mod apigw;
pub mod esm;
mod schema;
pub mod stream;

use std::collections::BTreeMap;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType,
};
use aws_sdk_sqs::types::QueueAttributeName;

pub use schema::{parse_template, QueueDef, Schema, SchemaError, SecretDef, SecretInit, TableDef};

/// SDK configuration for a local endpoint: fixed dummy credentials, us-east-1, no AWS access.
pub fn local_sdk_config(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .http_client(adapters::aws::https_client())
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(Credentials::new(
            "test",
            "test",
            None,
            None,
            "local-stack",
        )))
        .build()
}

/// What was created: the table name (and its stream), each queue's URL and each secret's ARN
/// by logical id, and which function variable names which secret.
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub table_name: String,
    /// The table's stream, when the template declares one (the outbox).
    pub stream_arn: Option<String>,
    pub queue_urls: BTreeMap<String, String>,
    pub secret_arns: BTreeMap<String, String>,
    /// `WEBHOOK_SECRETS_SECRET_ARN` → `WebhookSigningSecret` (from the functions' environments).
    pub secret_vars: BTreeMap<String, String>,
}

impl Provisioned {
    /// Environment variables the functions read, e.g. `TABLE_NAME`, `CREDIT_RETRY_QUEUE_URL`,
    /// `WEBHOOK_SECRETS_SECRET_ARN` (only names and ARNs, never a secret's value).
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![("TABLE_NAME".to_string(), self.table_name.clone())];
        if let Some(arn) = &self.stream_arn {
            env.push(("TABLE_STREAM_ARN".to_string(), arn.clone()));
        }
        for (logical, url) in &self.queue_urls {
            env.push((format!("{}_URL", screaming_snake(logical)), url.clone()));
        }
        for (var, logical) in &self.secret_vars {
            if let Some(arn) = self.secret_arns.get(logical) {
                env.push((var.clone(), arn.clone()));
            }
        }
        env
    }

    /// The ARN of a secret by logical id (panics with the id if the template has no such secret).
    pub fn secret_arn(&self, logical_id: &str) -> &str {
        self.secret_arns.get(logical_id).unwrap_or_else(|| panic!("no secret {logical_id} in template.yaml"))
    }
}

/// Letters and digits, like `GenerateSecretString` with `ExcludePunctuation`.
fn random_secret(length: usize) -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), length)
}

/// `CreditRetryQueue` → `CREDIT_RETRY_QUEUE`.
pub fn screaming_snake(camel: &str) -> String {
    let mut out = String::new();
    let mut prev_upper = true;
    for ch in camel.chars() {
        if ch.is_ascii_uppercase() && !prev_upper {
            out.push('_');
        }
        prev_upper = ch.is_ascii_uppercase();
        out.push(ch.to_ascii_uppercase());
    }
    out
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error("creating {what} failed: {message}")]
    Aws { what: String, message: String },
}

fn aws_err(what: impl Into<String>, err: impl std::error::Error) -> ProvisionError {
    ProvisionError::Aws { what: what.into(), message: aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string() }
}

/// Creates the (single) table as `table_name`, every queue as `<prefix>-<LogicalId>` and every
/// secret as `<prefix>-<LogicalId>`. A secret's value is `secret_values[LogicalId]` if given
/// (what `make dev` and the tests sign with), else what the template says: generated, or its
/// `SecretString` (a placeholder the functions refuse, as in AWS before the operator puts the value).
pub async fn provision(
    sdk: &SdkConfig,
    schema: &Schema,
    table_name: &str,
    queue_prefix: &str,
    secret_values: &BTreeMap<String, String>,
) -> Result<Provisioned, ProvisionError> {
    if let Some(unknown) = secret_values.keys().find(|k| !schema.secrets.iter().any(|s| &s.logical_id == *k)) {
        return Err(SchemaError::Unsupported(format!("no secret {unknown} in the template")).into());
    }
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let [table] = schema.tables.as_slice() else {
        return Err(
            SchemaError::Unsupported(format!("expected one DynamoDB table, found {}", schema.tables.len())).into()
        );
    };
    let stream_arn = create_table(&dynamo, table_name, table).await?;

    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut queue_urls = BTreeMap::new();
    let mut arns = BTreeMap::new();
    // Dead-letter queues first, so redrive policies can point at their ARNs.
    let mut ordered: Vec<&QueueDef> = schema.queues.iter().collect();
    ordered.sort_by_key(|q| q.dead_letter_target.is_some());
    for queue in ordered {
        let name = format!("{queue_prefix}-{}", queue.logical_id);
        let mut req = sqs.create_queue().queue_name(&name);
        for (key, value) in &queue.attributes {
            req = req.attributes(QueueAttributeName::from(key.as_str()), value);
        }
        if let Some((target, max_receive)) = &queue.dead_letter_target {
            let arn =
                arns.get(target).ok_or_else(|| SchemaError::Unsupported(format!("{name}: unknown DLQ {target}")))?;
            let policy = format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":{max_receive}}}"#);
            req = req.attributes(QueueAttributeName::RedrivePolicy, policy);
        }
        let url = req.send().await.map_err(|e| aws_err(format!("queue {name}"), e))?.queue_url.unwrap_or_default();
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| aws_err(format!("queue {name} attributes"), e))?;
        let arn = attrs.attributes().and_then(|a| a.get(&QueueAttributeName::QueueArn)).cloned().unwrap_or_default();
        arns.insert(queue.logical_id.clone(), arn);
        queue_urls.insert(queue.logical_id.clone(), url);
    }

    let secrets = aws_sdk_secretsmanager::Client::new(sdk);
    let mut secret_arns = BTreeMap::new();
    for secret in &schema.secrets {
        let name = format!("{queue_prefix}-{}", secret.logical_id);
        let value = match (secret_values.get(&secret.logical_id), &secret.initial) {
            (Some(value), _) => value.clone(),
            (None, SecretInit::Generate(length)) => random_secret(*length),
            (None, SecretInit::Value(value)) => value.clone(),
        };
        let out = secrets
            .create_secret()
            .name(&name)
            .secret_string(value)
            .send()
            .await
            .map_err(|e| aws_err(format!("secret {name}"), e))?;
        secret_arns.insert(secret.logical_id.clone(), out.arn.unwrap_or(name));
    }
    Ok(Provisioned {
        table_name: table_name.to_string(),
        stream_arn,
        queue_urls,
        secret_arns,
        secret_vars: schema.secret_vars.clone(),
    })
}

/// Creates the table; returns its stream ARN when it has one.
async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    def: &TableDef,
) -> Result<Option<String>, ProvisionError> {
    let key = |(attr, kind): &(String, String)| {
        KeySchemaElement::builder()
            .attribute_name(attr)
            .key_type(KeyType::from(kind.as_str()))
            .build()
            .expect("name and type set")
    };
    let mut req = client.create_table().table_name(name).billing_mode(BillingMode::PayPerRequest);
    for (attr, ty) in &def.attributes {
        req = req.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attr)
                .attribute_type(ScalarAttributeType::from(ty.as_str()))
                .build()
                .expect("name and type set"),
        );
    }
    for k in &def.key_schema {
        req = req.key_schema(key(k));
    }
    for gsi in &def.gsis {
        let projection = Projection::builder()
            .projection_type(ProjectionType::from(gsi.projection.as_str()))
            .set_non_key_attributes((!gsi.non_key_attributes.is_empty()).then(|| gsi.non_key_attributes.clone()))
            .build();
        let mut builder = GlobalSecondaryIndex::builder().index_name(&gsi.name).projection(projection);
        for k in &gsi.key_schema {
            builder = builder.key_schema(key(k));
        }
        req = req.global_secondary_indexes(builder.build().expect("index fields set"));
    }
    if let Some(view) = &def.stream_view_type {
        req = req.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(view.as_str()))
                .build()
                .expect("enabled set"),
        );
    }
    let out = req.send().await.map_err(|e| aws_err(format!("table {name}"), e))?;
    Ok(out.table_description.and_then(|t| t.latest_stream_arn))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names() {
        assert_eq!(screaming_snake("CreditRetryQueue"), "CREDIT_RETRY_QUEUE");
        assert_eq!(screaming_snake("CreditRetryDLQ"), "CREDIT_RETRY_DLQ");
    }
}
