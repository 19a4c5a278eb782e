//! IAM versus calls: what a function's code asks AWS for, recorded at the HTTP layer, and what
//! its policy in `template.yaml` allows — compared as sets of `(action, resource)`.
//!
//! [`Recorder`] is an SDK HTTP client wrapped around the real one: every request any client
//! built from its `SdkConfig` sends (DynamoDB, SQS, Secrets Manager — including the cold-start
//! secret fetch) is turned into the IAM permissions it needs, by the rules AWS evaluates:
//! `TransactWriteItems` is authorised per item (`PutItem`, `UpdateItem`, `DeleteItem`,
//! `ConditionCheckItem`), a `Query` on an index needs the index's ARN, a `BatchGetItem` needs
//! `dynamodb:BatchGetItem` on each table it names. Resources are named by the template's
//! logical ids (`ReferralsTable`, `ReferralsTable/index/GSI1`, `CreditRetryQueue`,
//! `WellflowApiKeySecret`), mapped from the physical names the local stack provisioned.
//!
//! [`template_policies`] reads every function's `Policies` from `template.yaml`: inline
//! statements and the SAM policy templates the template uses (an unknown one is an error, so a
//! new template cannot slip past the comparison).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use serde_json::Value;

/// One IAM permission: an action on a resource (by logical id).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Permission {
    pub action: String,
    pub resource: String,
}

impl Permission {
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Permission {
        Permission { action: action.into(), resource: resource.into() }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on {}", self.action, self.resource)
    }
}

/// Physical name → logical id of the stack's resources.
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub tables: BTreeMap<String, String>,
    /// Queue name (the URL's last segment) → logical id.
    pub queues: BTreeMap<String, String>,
    /// Secret ARN → logical id.
    pub secrets: BTreeMap<String, String>,
}

impl Names {
    fn table(&self, name: &str) -> String {
        self.tables.get(name).cloned().unwrap_or_else(|| format!("unknown-table:{name}"))
    }

    fn queue(&self, url: &str) -> String {
        let name = url.rsplit('/').next().unwrap_or(url);
        self.queues.get(name).cloned().unwrap_or_else(|| format!("unknown-queue:{name}"))
    }

    fn secret(&self, id: &str) -> String {
        self.secrets
            .get(id)
            .cloned()
            .or_else(|| {
                self.secrets.iter().find(|(arn, _)| arn.contains(&format!(":secret:{id}"))).map(|(_, l)| l.clone())
            })
            .unwrap_or_else(|| format!("unknown-secret:{id}"))
    }
}

/// What one request needs, by AWS's authorisation rules.
pub fn permissions_of(target: &str, body: &Value, names: &Names) -> Vec<Permission> {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let Some((service, op)) = target.split_once('.') else {
        return vec![Permission::new(format!("unknown:{target}"), "?")];
    };
    match service {
        s if s.starts_with("DynamoDB_") => {
            let table_of = |v: &Value| {
                let table = names.table(&text(v, "TableName"));
                match v.get("IndexName").and_then(Value::as_str) {
                    Some(index) => format!("{table}/index/{index}"),
                    None => table,
                }
            };
            match op {
                "TransactWriteItems" => body["TransactItems"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|item| {
                        [
                            ("Put", "PutItem"),
                            ("Update", "UpdateItem"),
                            ("Delete", "DeleteItem"),
                            ("ConditionCheck", "ConditionCheckItem"),
                        ]
                        .into_iter()
                        .filter_map(|(kind, action)| {
                            item.get(kind).map(|v| Permission::new(format!("dynamodb:{action}"), table_of(v)))
                        })
                    })
                    .collect(),
                "TransactGetItems" => body["TransactItems"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|item| item.get("Get").map(|v| Permission::new("dynamodb:GetItem", table_of(v))))
                    .collect(),
                "BatchGetItem" | "BatchWriteItem" => body["RequestItems"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(table, _)| Permission::new(format!("dynamodb:{op}"), names.table(table)))
                    .collect(),
                _ => vec![Permission::new(format!("dynamodb:{op}"), table_of(body))],
            }
        }
        "AmazonSQS" => vec![Permission::new(format!("sqs:{op}"), names.queue(&text(body, "QueueUrl")))],
        "secretsmanager" => {
            vec![Permission::new(format!("secretsmanager:{op}"), names.secret(&text(body, "SecretId")))]
        }
        _ => vec![Permission::new(format!("unknown:{target}"), "?")],
    }
}

/// An SDK HTTP client that records the permissions of every request, then sends it with the
/// real client. Give it to `SdkConfig::builder().http_client(..)`.
#[derive(Clone)]
pub struct Recorder {
    inner: SharedHttpClient,
    names: Arc<Names>,
    seen: Arc<Mutex<BTreeSet<Permission>>>,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

impl Recorder {
    pub fn new(inner: SharedHttpClient, names: Names) -> Recorder {
        Recorder { inner, names: Arc::new(names), seen: Arc::default() }
    }

    /// The permissions used so far.
    pub fn used(&self) -> BTreeSet<Permission> {
        self.seen.lock().expect("recorder lock").clone()
    }

    fn record(&self, request: &HttpRequest) {
        let target = request.headers().get("x-amz-target").unwrap_or_default().to_string();
        let body: Value = request.body().bytes().and_then(|b| serde_json::from_slice(b).ok()).unwrap_or(Value::Null);
        let permissions = permissions_of(&target, &body, &self.names);
        self.seen.lock().expect("recorder lock").extend(permissions);
    }
}

impl HttpClient for Recorder {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(RecordingConnector {
            recorder: self.clone(),
            inner: self.inner.http_connector(settings, components),
        })
    }
}

#[derive(Debug)]
struct RecordingConnector {
    recorder: Recorder,
    inner: SharedHttpConnector,
}

impl HttpConnector for RecordingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        self.recorder.record(&request);
        self.inner.call(request)
    }
}

/// An SDK config whose every request is recorded, on `stack`'s moto: build a function with it
/// (`<crate>::App::from_env`), drive it, then [`Recording::assert_policy_of`].
pub struct Recording {
    pub sdk: adapters::aws::SdkConfig,
    pub recorder: Recorder,
}

impl Recording {
    pub fn new(stack: &crate::stack::TestStack) -> Recording {
        let p = &stack.provisioned;
        let names = Names {
            tables: [(stack.table().to_string(), "ReferralsTable".to_string())].into(),
            queues: p
                .queue_urls
                .iter()
                .map(|(logical, url)| (url.rsplit('/').next().unwrap_or(url).to_string(), logical.clone()))
                .collect(),
            secrets: p.secret_arns.iter().map(|(logical, arn)| (arn.clone(), logical.clone())).collect(),
        };
        let recorder = Recorder::new(adapters::aws::https_client(), names);
        let sdk = local_stack::local_sdk_config(&stack.endpoint).to_builder().http_client(recorder.clone()).build();
        Recording { sdk, recorder }
    }

    /// Panics with the difference unless `function`'s code used exactly what its policy grants.
    pub fn assert_policy_of(&self, function: &str) {
        let template = std::fs::read_to_string(crate::workspace_root().join("template.yaml")).expect("template.yaml");
        let policies = template_policies(&template).unwrap_or_else(|e| panic!("template.yaml: {e}"));
        let granted = policies.get(function).unwrap_or_else(|| panic!("no function {function} in template.yaml"));
        let used = self.recorder.used();
        assert!(!used.is_empty(), "{function}: nothing recorded (is the SDK config the recording one?)");
        if let Err(diff) = compare(function, &used, granted) {
            panic!("{diff}\nused: {used:#?}");
        }
        // The comparison has teeth: without any one of its grants the function is refused a call.
        for grant in granted.iter().filter(|g| g.action != "secretsmanager:DescribeSecret") {
            let mut fewer = granted.clone();
            fewer.remove(grant);
            let err = compare(function, &used, &fewer).expect_err("a missing grant is caught");
            assert!(err.contains("without permission: [") && !err.contains("without permission: []"), "{err}");
        }
    }
}

// ------------------------------------------------------------------ template.yaml side ----

/// The logical id a CloudFormation reference names: `!GetAtt X.Arn` → `X`,
/// `!Sub "${X.Arn}/index/GSI1"` → `X/index/GSI1`, `!Ref X` → `X`, `!GetAtt X.QueueName` → `X`.
fn logical(value: &serde_yaml::Value) -> Option<String> {
    use serde_yaml::Value as Y;
    match value {
        Y::Tagged(tagged) => {
            let inner = tagged.value.as_str().map(str::to_string);
            match tagged.tag.to_string().as_str() {
                "!Ref" => inner,
                "!GetAtt" => inner.map(|s| s.split('.').next().unwrap_or(&s).to_string()),
                "!Sub" => inner.map(|s| {
                    let mut out = String::new();
                    let mut rest = s.as_str();
                    while let Some(start) = rest.find("${") {
                        out.push_str(&rest[..start]);
                        let end = rest[start..].find('}').map(|e| start + e).unwrap_or(rest.len());
                        let reference = &rest[start + 2..end];
                        out.push_str(reference.split('.').next().unwrap_or(reference));
                        rest = &rest[(end + 1).min(rest.len())..];
                    }
                    out.push_str(rest);
                    out
                }),
                _ => None,
            }
        }
        Y::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn strings(value: &serde_yaml::Value) -> Vec<serde_yaml::Value> {
    match value {
        serde_yaml::Value::Sequence(items) => items.clone(),
        other => vec![other.clone()],
    }
}

/// One policy entry (a statement document or a SAM policy template), `!If` branches included
/// (a conditional grant counts: the test stack has every option on).
fn policy_permissions(policy: &serde_yaml::Value, out: &mut BTreeSet<Permission>) -> Result<(), String> {
    use serde_yaml::Value as Y;
    if let Y::Tagged(tagged) = policy {
        if tagged.tag == "!If" {
            for branch in strings(&tagged.value).iter().skip(1) {
                policy_permissions(branch, out)?;
            }
            return Ok(());
        }
        if tagged.tag == "!Ref" && tagged.value.as_str() == Some("AWS::NoValue") {
            return Ok(());
        }
        return Err(format!("policy entry {policy:?} not understood"));
    }
    let Y::Mapping(map) = policy else { return Err(format!("policy entry {policy:?} not understood")) };
    for (key, body) in map {
        let key = key.as_str().unwrap_or_default();
        match key {
            "Statement" => {
                for statement in strings(body) {
                    if statement.get("Effect").and_then(Y::as_str) != Some("Allow") {
                        return Err(format!("statement {statement:?}: only Allow statements are understood"));
                    }
                    let actions = strings(statement.get("Action").ok_or("statement without Action")?);
                    let resources = strings(statement.get("Resource").ok_or("statement without Resource")?);
                    for action in &actions {
                        let action = action.as_str().ok_or("Action not a string")?;
                        for resource in &resources {
                            let resource =
                                logical(resource).ok_or_else(|| format!("resource {resource:?} not understood"))?;
                            out.insert(Permission::new(action, resource));
                        }
                    }
                }
            }
            "Version" => {}
            // The SAM policy templates the template uses, with the actions SAM expands them to
            // (aws/serverless-application-model, policy_templates.json).
            "AWSSecretsManagerGetSecretValuePolicy" => {
                let secret = logical(body.get("SecretArn").ok_or("SecretArn missing")?).ok_or("SecretArn")?;
                out.insert(Permission::new("secretsmanager:GetSecretValue", secret.clone()));
                out.insert(Permission::new("secretsmanager:DescribeSecret", secret));
            }
            "SQSSendMessagePolicy" => {
                let queue = logical(body.get("QueueName").ok_or("QueueName missing")?).ok_or("QueueName")?;
                out.insert(Permission::new("sqs:SendMessage*", queue));
            }
            other => {
                return Err(format!("policy template {other} is not known to tests/src/iam.rs: add its expansion"))
            }
        }
    }
    Ok(())
}

/// Every `AWS::Serverless::Function`'s granted permissions, by logical id.
pub fn template_policies(template: &str) -> Result<BTreeMap<String, BTreeSet<Permission>>, String> {
    let doc: serde_yaml::Value = serde_yaml::from_str(template).map_err(|e| e.to_string())?;
    let resources = doc.get("Resources").and_then(|r| r.as_mapping()).ok_or("no Resources")?;
    let mut out = BTreeMap::new();
    for (id, resource) in resources {
        if resource.get("Type").and_then(|t| t.as_str()) != Some("AWS::Serverless::Function") {
            continue;
        }
        let id = id.as_str().unwrap_or_default().to_string();
        let mut granted = BTreeSet::new();
        if let Some(policies) = resource.get("Properties").and_then(|p| p.get("Policies")) {
            for policy in strings(policies) {
                policy_permissions(&policy, &mut granted).map_err(|e| format!("{id}: {e}"))?;
            }
        }
        out.insert(id, granted);
    }
    Ok(out)
}

/// Whether `granted` covers `used` (an action ending in `*` grants its prefix).
pub fn allows(granted: &BTreeSet<Permission>, used: &Permission) -> bool {
    granted.iter().any(|g| {
        g.resource == used.resource
            && match g.action.strip_suffix('*') {
                Some(prefix) => used.action.starts_with(prefix),
                None => g.action == used.action,
            }
    })
}

/// `Ok` when `used` and `granted` match exactly: every call allowed, every grant used
/// (`secretsmanager:DescribeSecret`, which SAM's template adds and nothing calls, aside).
pub fn compare(function: &str, used: &BTreeSet<Permission>, granted: &BTreeSet<Permission>) -> Result<(), String> {
    let missing: Vec<String> = used.iter().filter(|u| !allows(granted, u)).map(|p| p.to_string()).collect();
    let unused: Vec<String> = granted
        .iter()
        .filter(|g| g.action != "secretsmanager:DescribeSecret")
        .filter(|g| !used.iter().any(|u| allows(&BTreeSet::from([(*g).clone()]), u)))
        .map(|p| p.to_string())
        .collect();
    if missing.is_empty() && unused.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{function}: the code calls without permission: [{}]; the policy grants what the code never calls: [{}]",
        missing.join(", "),
        unused.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names() -> Names {
        Names {
            tables: BTreeMap::from([("t1".into(), "ReferralsTable".into())]),
            queues: BTreeMap::from([("CreditRetryQueue-x".into(), "CreditRetryQueue".into())]),
            secrets: BTreeMap::from([(
                "arn:aws:secretsmanager:us-east-1:1:secret:wf-AbC".into(),
                "WellflowApiKeySecret".into(),
            )]),
        }
    }

    #[test]
    fn a_transaction_is_authorised_item_by_item() {
        let body = json!({"TransactItems": [
            {"Put": {"TableName": "t1"}}, {"Update": {"TableName": "t1"}}, {"ConditionCheck": {"TableName": "t1"}}
        ]});
        let got: BTreeSet<_> =
            permissions_of("DynamoDB_20120810.TransactWriteItems", &body, &names()).into_iter().collect();
        assert_eq!(
            got,
            BTreeSet::from([
                Permission::new("dynamodb:PutItem", "ReferralsTable"),
                Permission::new("dynamodb:UpdateItem", "ReferralsTable"),
                Permission::new("dynamodb:ConditionCheckItem", "ReferralsTable"),
            ])
        );
    }

    #[test]
    fn queries_name_their_index_and_queues_and_secrets_their_logical_ids() {
        let q = permissions_of("DynamoDB_20120810.Query", &json!({"TableName": "t1", "IndexName": "GSI1"}), &names());
        assert_eq!(q, [Permission::new("dynamodb:Query", "ReferralsTable/index/GSI1")]);
        let s =
            permissions_of("AmazonSQS.SendMessage", &json!({"QueueUrl": "http://h/1/CreditRetryQueue-x"}), &names());
        assert_eq!(s, [Permission::new("sqs:SendMessage", "CreditRetryQueue")]);
        let arn = "arn:aws:secretsmanager:us-east-1:1:secret:wf-AbC";
        let g = permissions_of("secretsmanager.GetSecretValue", &json!({"SecretId": arn}), &names());
        assert_eq!(g, [Permission::new("secretsmanager:GetSecretValue", "WellflowApiKeySecret")]);
    }

    #[test]
    fn template_policies_read_statements_sam_templates_and_conditions() {
        let template = r#"
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - Effect: Allow
              Action: [dynamodb:Query]
              Resource:
                - !GetAtt T.Arn
                - !Sub "${T.Arn}/index/GSI1"
        - SQSSendMessagePolicy:
            QueueName: !GetAtt Q.QueueName
        - !If
          - Cond
          - AWSSecretsManagerGetSecretValuePolicy:
              SecretArn: !Ref S
          - !Ref AWS::NoValue
"#;
        let got = template_policies(template).unwrap();
        let granted = &got["Fn"];
        assert!(granted.contains(&Permission::new("dynamodb:Query", "T/index/GSI1")));
        assert!(allows(granted, &Permission::new("sqs:SendMessage", "Q")));
        assert!(allows(granted, &Permission::new("secretsmanager:GetSecretValue", "S")));
        assert!(!allows(granted, &Permission::new("dynamodb:PutItem", "T")));
        assert!(template_policies("Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Policies:\n        - DynamoDBCrudPolicy: {TableName: x}\n").is_err());
    }

    #[test]
    fn compare_names_what_is_missing_and_what_is_unused() {
        let granted =
            BTreeSet::from([Permission::new("dynamodb:GetItem", "T"), Permission::new("sqs:SendMessage*", "Q")]);
        let used = BTreeSet::from([Permission::new("dynamodb:GetItem", "T"), Permission::new("dynamodb:PutItem", "T")]);
        let err = compare("Fn", &used, &granted).unwrap_err();
        assert!(err.contains("without permission: [dynamodb:PutItem on T]"), "{err}");
        assert!(err.contains("never calls: [sqs:SendMessage* on Q]"), "{err}");
        assert!(
            compare("Fn", &used, &(&granted | &BTreeSet::from([Permission::new("dynamodb:PutItem", "T")]))).is_err()
        );
    }
}
