//! `sqs-poller`: during `make dev`, feeds a local queue into the function served by
//! `cargo lambda watch` (the retry queue into credit-retry, the partner webhook queue into
//! partner-webhooks), like Lambda's SQS event source mapping (batch of 10, partial batch
//! failures honoured).
//!
//! Usage: sqs-poller --endpoint http://127.0.0.1:4566 --queue-url URL
//!                   --invoke http://127.0.0.1:9000/2015-03-31/functions/credit-retry/invocations

use aws_lambda_events::event::sqs::SqsBatchResponse;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(endpoint), Some(queue_url), Some(invoke_url)) =
        (arg(&args, "--endpoint"), arg(&args, "--queue-url"), arg(&args, "--invoke"))
    else {
        eprintln!("usage: sqs-poller --endpoint URL --queue-url URL --invoke URL");
        std::process::exit(2);
    };
    let sqs = aws_sdk_sqs::Client::new(&local_stack::local_sdk_config(&endpoint));
    let http = adapters::tls::shared().reqwest_builder().build().expect("reqwest client");
    let (http, invoke_url) = (&http, invoke_url.as_str());
    eprintln!("sqs-poller: {queue_url} -> {invoke_url}");
    loop {
        let result = local_stack::esm::poll_once(&sqs, &queue_url, 5, |event| async move {
            let resp = http.post(invoke_url).json(&event).send().await.map_err(|e| e.to_string())?;
            let status = resp.status();
            let text = resp.text().await.map_err(|e| e.to_string())?;
            if !status.is_success() {
                return Err(format!("invoke answered {status}: {text}"));
            }
            serde_json::from_str::<SqsBatchResponse>(&text).map_err(|e| format!("{e}: {text}"))
        })
        .await;
        match result {
            Ok(Some(resp)) => {
                eprintln!("sqs-poller: batch done, {} message(s) to retry later", resp.batch_item_failures.len())
            }
            Ok(None) => {}
            Err(err) => {
                eprintln!("sqs-poller: {err}");
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
        }
    }
}
