//! Extracts table, queue and secret definitions from the SAM template (CloudFormation YAML).
//!
//! Only what shapes behaviour locally is read: key schema, attribute definitions, GSIs,
//! queue attributes and redrive policies, the Secrets Manager secrets and which function
//! variable (`<NAME>_SECRET_ARN: !Ref Secret`) points at each. Intrinsics are resolved just
//! where needed (`!GetAtt Queue.Arn` in a redrive policy, `!Ref Secret` in an environment).

use serde_yaml::Value;

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("template.yaml is not valid YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
    #[error("template.yaml: {0}")]
    Unsupported(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct GsiDef {
    pub name: String,
    pub key_schema: Vec<(String, String)>,
    /// `ALL` (default), `KEYS_ONLY` or `INCLUDE` with its non-key attributes.
    pub projection: String,
    pub non_key_attributes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TableDef {
    pub logical_id: String,
    /// (attribute name, type S/N/B)
    pub attributes: Vec<(String, String)>,
    /// (attribute name, HASH/RANGE)
    pub key_schema: Vec<(String, String)>,
    pub gsis: Vec<GsiDef>,
    /// `StreamSpecification.StreamViewType` (`NEW_IMAGE`, …) when the table has a stream.
    pub stream_view_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueueDef {
    pub logical_id: String,
    /// SQS attribute name → value (VisibilityTimeout, MessageRetentionPeriod, ...).
    pub attributes: Vec<(String, String)>,
    /// (logical id of the DLQ, maxReceiveCount)
    pub dead_letter_target: Option<(String, u64)>,
}

/// An `AWS::SecretsManager::Secret`: its initial value is generated (`GenerateSecretString`)
/// or given (`SecretString`, e.g. the placeholder of a value only the operator can supply).
#[derive(Debug, Clone, PartialEq)]
pub struct SecretDef {
    pub logical_id: String,
    pub initial: SecretInit,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SecretInit {
    /// A random string of this length (letters and digits).
    Generate(usize),
    /// This exact `SecretString`.
    Value(String),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Schema {
    pub tables: Vec<TableDef>,
    pub queues: Vec<QueueDef>,
    pub secrets: Vec<SecretDef>,
    /// Function environment variable → the secret it names (`WEBHOOK_SECRETS_SECRET_ARN` → `WebhookSigningSecret`).
    pub secret_vars: std::collections::BTreeMap<String, String>,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn pairs(list: &Value, a: &str, b: &str, what: &str) -> Result<Vec<(String, String)>, SchemaError> {
    list.as_sequence()
        .ok_or_else(|| SchemaError::Unsupported(format!("{what} must be a list")))?
        .iter()
        .map(|item| match (item.get(a).and_then(text), item.get(b).and_then(text)) {
            (Some(x), Some(y)) => Ok((x, y)),
            _ => Err(SchemaError::Unsupported(format!("{what}: each entry needs {a} and {b}"))),
        })
        .collect()
}

/// Parses the template text into the local schema.
pub fn parse_template(yaml: &str) -> Result<Schema, SchemaError> {
    let doc: Value = serde_yaml::from_str(yaml)?;
    let resources = doc
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or_else(|| SchemaError::Unsupported("no Resources section".into()))?;
    let mut schema = Schema::default();
    let mut function_vars = Vec::new();
    for (id, res) in resources {
        let Some(id) = id.as_str() else { continue };
        let props = res.get("Properties").cloned().unwrap_or(Value::Null);
        match res.get("Type").and_then(Value::as_str) {
            Some("AWS::DynamoDB::Table") => schema.tables.push(table(id, &props)?),
            Some("AWS::SQS::Queue") => schema.queues.push(queue(id, &props)?),
            Some("AWS::SecretsManager::Secret") => schema.secrets.push(secret(id, &props)?),
            Some("AWS::Serverless::Function") => {
                if let Some(vars) =
                    props.get("Environment").and_then(|e| e.get("Variables")).and_then(Value::as_mapping)
                {
                    for (name, value) in vars {
                        if let (Some(name), Some(target)) = (name.as_str(), reference(value)) {
                            function_vars.push((name.to_string(), target));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    for (var, target) in function_vars {
        if schema.secrets.iter().any(|s| s.logical_id == target) {
            if let Some(previous) = schema.secret_vars.insert(var.clone(), target.clone()) {
                if previous != target {
                    return Err(SchemaError::Unsupported(format!("{var} names {previous} and {target}")));
                }
            }
        }
    }
    Ok(schema)
}

fn secret(id: &str, props: &Value) -> Result<SecretDef, SchemaError> {
    let initial = match (props.get("GenerateSecretString"), props.get("SecretString").and_then(text)) {
        (Some(generate), None) => {
            let length = generate.get("PasswordLength").and_then(|v| text(v)?.parse().ok()).unwrap_or(32);
            SecretInit::Generate(length)
        }
        (None, Some(value)) => SecretInit::Value(value),
        _ => {
            return Err(SchemaError::Unsupported(format!(
                "{id}: a secret needs exactly one of GenerateSecretString and SecretString"
            )))
        }
    };
    Ok(SecretDef { logical_id: id.to_string(), initial })
}

/// `!Ref X` (short or long form) → `X`; also `!If [Cond, !Ref X, !Ref AWS::NoValue]` (a secret
/// only some stacks have, e.g. Stripe's: locally every such secret exists).
fn reference(v: &Value) -> Option<String> {
    let conditional = |branches: &Value| match branches.as_sequence().map(Vec::as_slice) {
        Some([_, then, otherwise]) if reference(otherwise).as_deref() == Some("AWS::NoValue") => reference(then),
        _ => None,
    };
    match v {
        Value::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str().map(str::to_string),
        Value::Tagged(tagged) if tagged.tag == "If" => conditional(&tagged.value),
        Value::Mapping(m) if m.len() == 1 => match (m.get("Ref"), m.get("Fn::If")) {
            (Some(r), _) => r.as_str().map(str::to_string),
            (_, Some(branches)) => conditional(branches),
            _ => None,
        },
        _ => None,
    }
}

fn table(id: &str, props: &Value) -> Result<TableDef, SchemaError> {
    let need = |k: &str| props.get(k).ok_or_else(|| SchemaError::Unsupported(format!("{id}: missing {k}")));
    let mut gsis = Vec::new();
    if let Some(list) = props.get("GlobalSecondaryIndexes").and_then(Value::as_sequence) {
        for gsi in list {
            let name = gsi
                .get("IndexName")
                .and_then(text)
                .ok_or_else(|| SchemaError::Unsupported(format!("{id}: GSI without IndexName")))?;
            let key_schema = pairs(gsi.get("KeySchema").unwrap_or(&Value::Null), "AttributeName", "KeyType", &name)?;
            let projection = gsi.get("Projection");
            let kind = projection.and_then(|p| p.get("ProjectionType")).and_then(text).unwrap_or_else(|| "ALL".into());
            if !matches!(kind.as_str(), "ALL" | "KEYS_ONLY" | "INCLUDE") {
                return Err(SchemaError::Unsupported(format!("{name}: unknown ProjectionType {kind}")));
            }
            let non_key_attributes = projection
                .and_then(|p| p.get("NonKeyAttributes"))
                .and_then(Value::as_sequence)
                .map(|list| list.iter().filter_map(text).collect())
                .unwrap_or_default();
            gsis.push(GsiDef { name, key_schema, projection: kind, non_key_attributes });
        }
    }
    Ok(TableDef {
        logical_id: id.to_string(),
        attributes: pairs(need("AttributeDefinitions")?, "AttributeName", "AttributeType", id)?,
        key_schema: pairs(need("KeySchema")?, "AttributeName", "KeyType", id)?,
        gsis,
        stream_view_type: props.get("StreamSpecification").and_then(|s| s.get("StreamViewType")).and_then(text),
    })
}

fn queue(id: &str, props: &Value) -> Result<QueueDef, SchemaError> {
    let mut attributes = Vec::new();
    for key in ["VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds"] {
        if let Some(v) = props.get(key).and_then(text) {
            attributes.push((key.to_string(), v));
        }
    }
    let dead_letter_target = match props.get("RedrivePolicy") {
        None => None,
        Some(policy) => {
            let target = policy.get("deadLetterTargetArn").and_then(get_att_arn).ok_or_else(|| {
                SchemaError::Unsupported(format!("{id}: deadLetterTargetArn must be !GetAtt <Queue>.Arn"))
            })?;
            let max = policy
                .get("maxReceiveCount")
                .and_then(|v| text(v)?.parse().ok())
                .ok_or_else(|| SchemaError::Unsupported(format!("{id}: maxReceiveCount must be a number")))?;
            Some((target, max))
        }
    };
    Ok(QueueDef { logical_id: id.to_string(), attributes, dead_letter_target })
}

/// `!GetAtt Queue.Arn` (short or long form) → `Queue`.
fn get_att_arn(v: &Value) -> Option<String> {
    let inner = match v {
        Value::Tagged(tagged) if tagged.tag == "GetAtt" => tagged.value.clone(),
        Value::Mapping(m) => m.get("Fn::GetAtt")?.clone(),
        _ => return None,
    };
    let joined = match inner {
        Value::String(s) => s,
        Value::Sequence(parts) => parts.iter().filter_map(text).collect::<Vec<_>>().join("."),
        _ => return None,
    };
    joined.strip_suffix(".Arn").map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_real_template() {
        let schema = parse_template(include_str!("../../../template.yaml")).unwrap();
        assert_eq!(schema.tables.len(), 1);
        let table = &schema.tables[0];
        assert_eq!(table.key_schema, vec![("PK".into(), "HASH".into()), ("SK".into(), "RANGE".into())]);
        assert!(table.gsis.iter().any(|g| g.name == "GSI1" && g.projection == "KEYS_ONLY"));
        assert_eq!(table.stream_view_type.as_deref(), Some("NEW_IMAGE"), "the outbox stream");
        // A Number-typed index sort key and a KEYS_ONLY projection (the leaderboard).
        let gsi3 = table.gsis.iter().find(|g| g.name == "GSI3").unwrap();
        assert_eq!(gsi3.key_schema, vec![("LBPK".into(), "HASH".into()), ("LBSCORE".into(), "RANGE".into())]);
        assert_eq!(gsi3.projection, "KEYS_ONLY");
        assert!(table.attributes.contains(&("LBSCORE".into(), "N".into())));
        let retry = schema.queues.iter().find(|q| q.logical_id == "CreditRetryQueue").unwrap();
        assert_eq!(retry.dead_letter_target, Some(("CreditRetryDLQ".into(), 8)));
        assert!(retry.attributes.contains(&("VisibilityTimeout".into(), "60".into())));
        let partner = schema.queues.iter().find(|q| q.logical_id == "PartnerWebhookQueue").unwrap();
        assert_eq!(partner.dead_letter_target, Some(("PartnerWebhookDLQ".into(), 8)));
        // Secrets: generated ones, placeholders for what only the operator has, and the
        // variables the functions find them by.
        let secret = |id: &str| schema.secrets.iter().find(|s| s.logical_id == id).unwrap().initial.clone();
        assert_eq!(secret("IpHashKeySecret"), SecretInit::Generate(48));
        assert!(matches!(secret("WebhookSigningSecret"), SecretInit::Value(v) if v.contains("placeholder")));
        assert_eq!(
            schema.secret_vars.get("WEBHOOK_SECRETS_SECRET_ARN").map(String::as_str),
            Some("WebhookSigningSecret")
        );
        assert_eq!(schema.secret_vars.get("IP_HASH_KEY_SECRET_ARN").map(String::as_str), Some("IpHashKeySecret"));
        assert!(schema.secret_vars.keys().all(|v| v.ends_with("_SECRET_ARN")), "{:?}", schema.secret_vars);
        // A conditional secret (!If [HasStripe, !Ref ..., !Ref AWS::NoValue]) is mapped too.
        assert_eq!(
            schema.secret_vars.get("STRIPE_WEBHOOK_SECRETS_SECRET_ARN").map(String::as_str),
            Some("StripeWebhookSigningSecret")
        );
    }

    #[test]
    fn secrets_need_exactly_one_initial_value() {
        let both = "Resources:\n  S:\n    Type: AWS::SecretsManager::Secret\n    Properties:\n      SecretString: x\n      GenerateSecretString: {}\n";
        assert!(parse_template(both).is_err());
        let neither = "Resources:\n  S:\n    Type: AWS::SecretsManager::Secret\n    Properties: {}\n";
        assert!(parse_template(neither).is_err());
    }

    #[test]
    fn the_local_stream_mapping_filters_like_the_template() {
        let doc: Value = serde_yaml::from_str(include_str!("../../../template.yaml")).unwrap();
        let pattern = doc["Resources"]["OutboxDispatcherFunction"]["Properties"]["Events"]["Outbox"]["Properties"]
            ["FilterCriteria"]["Filters"][0]["Pattern"]
            .as_str()
            .expect("the outbox mapping has a filter pattern");
        assert_eq!(pattern, crate::stream::OUTBOX_FILTER_PATTERN);
    }
}
