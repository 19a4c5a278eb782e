//! `stream-poller`: during `make dev`, feeds the table's stream (the transactional outbox)
//! into the outbox dispatcher served by `cargo lambda watch`, like Lambda's DynamoDB event
//! source mapping (filtered on outbox inserts, partial batch failures honoured).
//!
//! Usage: stream-poller --endpoint http://127.0.0.1:4566 --stream-arn ARN
//!                      --invoke http://127.0.0.1:9000/2015-03-31/functions/outbox-dispatcher/invocations

use aws_lambda_events::event::streams::DynamoDbEventResponse;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(endpoint), Some(stream_arn), Some(invoke_url)) =
        (arg(&args, "--endpoint"), arg(&args, "--stream-arn"), arg(&args, "--invoke"))
    else {
        eprintln!("usage: stream-poller --endpoint URL --stream-arn ARN --invoke URL");
        std::process::exit(2);
    };
    let sdk = local_stack::local_sdk_config(&endpoint);
    let mut reader = local_stack::stream::StreamReader::new(&sdk, stream_arn.clone());
    let http = adapters::tls::shared().reqwest_builder().build().expect("reqwest client");
    let (http, invoke_url) = (&http, invoke_url.as_str());
    eprintln!("stream-poller: {stream_arn} -> {invoke_url}");
    loop {
        let result = reader
            .poll_once(|event| async move {
                let resp = http.post(invoke_url).json(&event).send().await.map_err(|e| e.to_string())?;
                let status = resp.status();
                let text = resp.text().await.map_err(|e| e.to_string())?;
                if !status.is_success() {
                    return Err(format!("invoke answered {status}: {text}"));
                }
                serde_json::from_str::<DynamoDbEventResponse>(&text).map_err(|e| format!("{e}: {text}"))
            })
            .await;
        match result {
            Ok(Some(resp)) => {
                eprintln!("stream-poller: batch done, {} record(s) to retry", resp.batch_item_failures.len())
            }
            Ok(None) => tokio::time::sleep(std::time::Duration::from_millis(250)).await,
            Err(err) => {
                eprintln!("stream-poller: {err}");
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
        }
    }
}
