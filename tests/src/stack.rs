//! A fresh, isolated copy of the production schema (from template.yaml) for one test: table,
//! queues and Secrets Manager secrets (holding the test values in `billing`), and the
//! environment a function would get (`TABLE_NAME`, `*_QUEUE_URL`, `*_SECRET_ARN`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};

use adapters::store::DynamoStore;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use local_stack::Provisioned;

use crate::{shared_moto, workspace_root};

pub struct TestStack {
    pub endpoint: String,
    pub sdk: SdkConfig,
    pub dynamo: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub store: DynamoStore,
    pub provisioned: Provisioned,
}

fn unique_name() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("t{}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed), rand::random::<u32>())
}

impl TestStack {
    /// A new table and queues on the process-wide moto server.
    pub async fn new() -> TestStack {
        Self::on(&shared_moto().endpoint).await
    }

    /// A new table and queues on the given endpoint.
    pub async fn on(endpoint: &str) -> TestStack {
        let template = std::fs::read_to_string(workspace_root().join("template.yaml")).expect("template.yaml");
        let schema = local_stack::parse_template(&template).expect("template schema");
        let sdk = local_stack::local_sdk_config(endpoint);
        let name = unique_name();
        let provisioned = local_stack::provision(&sdk, &schema, &name, &name, &crate::billing::secret_values())
            .await
            .expect("provision schema on moto");
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        TestStack {
            endpoint: endpoint.to_string(),
            store: DynamoStore::new(dynamo.clone(), name),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            secrets: adapters::aws::secretsmanager(&sdk),
            dynamo,
            sdk,
            provisioned,
        }
    }

    /// What a function's environment holds on this stack (names and ARNs, never a secret's
    /// value), plus `extra` settings.
    pub fn function_env(&self, extra: &[(&str, &str)]) -> HashMap<String, String> {
        let mut env: HashMap<String, String> = self.provisioned.env().into_iter().collect();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    }

    /// Reads `wanted` from this stack's Secrets Manager, as a function's cold start does, over `env`.
    pub async fn with_secrets<'a>(
        &self,
        env: &'a HashMap<String, String>,
        wanted: &[adapters::secrets::Secret],
    ) -> adapters::secrets::SecretEnv<'a> {
        adapters::secrets::load(&self.secrets, env, wanted).await.expect("secrets from moto's Secrets Manager")
    }

    /// Replaces a secret's value (a new version, as `aws secretsmanager put-secret-value` does).
    pub async fn put_secret(&self, logical_id: &str, value: &str) {
        self.secrets
            .put_secret_value()
            .secret_id(self.provisioned.secret_arn(logical_id))
            .secret_string(value)
            .send()
            .await
            .expect("PutSecretValue on moto");
    }

    pub fn table(&self) -> &str {
        &self.provisioned.table_name
    }

    pub fn queue_url(&self, logical_id: &str) -> &str {
        self.provisioned.queue_urls.get(logical_id).map(String::as_str).expect("queue declared in template.yaml")
    }

    /// The raw item at (PK, SK), read consistently.
    pub async fn item(&self, pk: &str, sk: &str) -> Option<HashMap<String, AttributeValue>> {
        self.dynamo
            .get_item()
            .table_name(self.table())
            .key("PK", AttributeValue::S(pk.into()))
            .key("SK", AttributeValue::S(sk.into()))
            .consistent_read(true)
            .send()
            .await
            .expect("GetItem on moto")
            .item
    }

    /// Every item in the table (tests only; tables are tiny).
    pub async fn all_items(&self) -> Vec<HashMap<String, AttributeValue>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .dynamo
                .scan()
                .table_name(self.table())
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("Scan on moto");
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return items,
            }
        }
    }
}

/// A numeric attribute as i64 (panics with the attribute name if absent or not a number).
pub fn num(item: &HashMap<String, AttributeValue>, attr: &str) -> i64 {
    match item.get(attr) {
        Some(AttributeValue::N(n)) => n.parse().unwrap_or_else(|_| panic!("{attr} = {n} is not an integer")),
        other => panic!("{attr} is not a number: {other:?}"),
    }
}

/// A string attribute (panics with the attribute name if absent).
pub fn text<'a>(item: &'a HashMap<String, AttributeValue>, attr: &str) -> &'a str {
    match item.get(attr) {
        Some(AttributeValue::S(s)) => s,
        other => panic!("{attr} is not a string: {other:?}"),
    }
}

/// A number attribute rendered with two decimals (money aggregates are DynamoDB numbers).
pub fn text_or_num(item: &HashMap<String, AttributeValue>, attr: &str) -> String {
    match item.get(attr) {
        Some(AttributeValue::N(n)) | Some(AttributeValue::S(n)) => {
            let mut d: rust_decimal::Decimal = n.parse().unwrap_or_else(|_| panic!("{attr} = {n} is not a decimal"));
            d.rescale(2);
            d.to_string()
        }
        other => panic!("{attr} is missing: {other:?}"),
    }
}
