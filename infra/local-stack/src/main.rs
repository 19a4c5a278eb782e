//! `local-stack`: provisions the template's table, queues and secrets on a local endpoint and
//! writes the resulting environment (TABLE_NAME, *_QUEUE_URL, *_SECRET_ARN) to a file for
//! `cargo lambda watch`. Secret values never go to that file: the functions read them from
//! the endpoint's Secrets Manager, as in AWS.
//!
//! Usage: local-stack --endpoint http://127.0.0.1:4566 [--template template.yaml]
//!                    [--table referrals] [--prefix local] [--env-out .local/stack.env]
//!                    [--seed USER=CODE]...       (give demo users fixed referral codes)
//!                    [--secret LogicalId=VALUE]... (a secret's local value; default: generated
//!                                                   or the template's SecretString)

use std::process::ExitCode;

use adapters::domain::{RefCode, UserId};
use adapters::store::{ClaimOutcome, DynamoStore, Users};
use local_stack::ProvisionError;

/// `USER=CODE`: gives the user that referral code (idempotent across restarts of moto).
async fn seed_user(store: &DynamoStore, spec: &str) -> Result<(), String> {
    let (user, code) = spec.split_once('=').ok_or("expected USER=CODE")?;
    let user = UserId::parse(user).map_err(|e| e.to_string())?;
    let code = RefCode::parse(code).map_err(|e| e.to_string())?;
    match store.claim_code(&user, code).await.map_err(|e| e.to_string())? {
        ClaimOutcome::Claimed => Ok(()),
        ClaimOutcome::UserHasCode(c) if c == code => Ok(()),
        other => Err(format!("{other:?}")),
    }
}

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned().unwrap_or_else(|| default.to_string())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let endpoint = arg(&args, "--endpoint", "");
    if endpoint.is_empty() {
        eprintln!("usage: local-stack --endpoint http://127.0.0.1:PORT [--template F] [--table NAME] [--prefix P] [--env-out FILE] [--seed USER=CODE]... [--secret LogicalId=VALUE]...");
        return ExitCode::from(2);
    }
    let template_path = arg(&args, "--template", "template.yaml");
    let template = match std::fs::read_to_string(&template_path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot read {template_path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = async {
        let schema = local_stack::parse_template(&template)?;
        let sdk = local_stack::local_sdk_config(&endpoint);
        let mut secret_values = std::collections::BTreeMap::new();
        for spec in args.windows(2).filter(|w| w[0] == "--secret").map(|w| w[1].as_str()) {
            let (id, value) = spec
                .split_once('=')
                .ok_or_else(|| local_stack::SchemaError::Unsupported("--secret expects LogicalId=VALUE".to_string()))?;
            secret_values.insert(id.to_string(), value.to_string());
        }
        let provisioned = local_stack::provision(
            &sdk,
            &schema,
            &arg(&args, "--table", "referrals"),
            &arg(&args, "--prefix", "local"),
            &secret_values,
        )
        .await?;
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), provisioned.table_name.clone());
        for seed in args.windows(2).filter(|w| w[0] == "--seed").map(|w| w[1].as_str()) {
            seed_user(&store, seed)
                .await
                .map_err(|message| ProvisionError::Aws { what: format!("seed {seed}"), message })?;
        }
        Ok::<_, ProvisionError>(provisioned)
    }
    .await;
    match result {
        Ok(provisioned) => {
            let env: String = provisioned.env().iter().map(|(k, v)| format!("{k}={v}\n")).collect();
            let out = arg(&args, "--env-out", "");
            if out.is_empty() {
                print!("{env}");
            } else if let Err(e) = std::fs::write(&out, &env) {
                eprintln!("cannot write {out}: {e}");
                return ExitCode::FAILURE;
            }
            eprintln!(
                "local-stack: created table {}, {} queue(s) and {} secret(s) on {endpoint}",
                provisioned.table_name,
                provisioned.queue_urls.len(),
                provisioned.secret_arns.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("local-stack: {e}");
            ExitCode::FAILURE
        }
    }
}
