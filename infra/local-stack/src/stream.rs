//! A local stand-in for Lambda's DynamoDB stream event source mapping (the outbox): read the
//! table's stream from moto shard by shard, keep only what the template's `FilterCriteria`
//! keeps (`INSERT` of `SK = OUTBOX` items), hand the batch to the function as a DynamoDB
//! `Event`, and on `batchItemFailures` rewind each shard to its first failed record (Lambda
//! retries from the failed record on, as here). Used by the tests (function called
//! in-process) and by the `stream-poller` binary that feeds `cargo lambda watch` during
//! `make dev`.

use std::collections::BTreeMap;
use std::future::Future;

use aws_lambda_events::event::dynamodb::{Event, EventRecord, StreamRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};

/// The filter pattern of `OutboxDispatcherFunction`'s event source mapping in template.yaml
/// (a schema test checks that they are the same).
pub const OUTBOX_FILTER_PATTERN: &str = r#"{"eventName": ["INSERT"], "dynamodb": {"Keys": {"SK": {"S": ["OUTBOX"]}}}}"#;

/// What the mapping's filter keeps.
fn passes_filter(record: &Record) -> bool {
    let insert = record.event_name().is_some_and(|n| n.as_str() == "INSERT");
    let outbox = record
        .dynamodb()
        .and_then(|d| d.keys())
        .and_then(|k| k.get("SK"))
        .and_then(|v| v.as_s().ok())
        .is_some_and(|sk| sk == "OUTBOX");
    insert && outbox
}

fn event_record(record: &Record, shard: &str) -> EventRecord {
    let change = record.dynamodb();
    let item = |image: Option<&std::collections::HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>| {
        serde_dynamo::Item::from(image.cloned().unwrap_or_default())
    };
    let mut stream = StreamRecord::default();
    stream.keys = item(change.and_then(|c| c.keys.as_ref()));
    stream.new_image = item(change.and_then(|c| c.new_image.as_ref()));
    stream.old_image = item(change.and_then(|c| c.old_image.as_ref()));
    stream.sequence_number = change.and_then(|c| c.sequence_number.clone());
    let mut out = EventRecord::default();
    out.aws_region = "us-east-1".into();
    out.event_id = record.event_id.clone().unwrap_or_default();
    out.event_name = record.event_name().map(|n| n.as_str().to_string()).unwrap_or_default();
    out.event_source = Some("aws:dynamodb".into());
    out.event_source_arn = Some(shard.to_string());
    out.change = stream;
    out
}

/// Reads one table stream; remembers where each shard stands.
pub struct StreamReader {
    client: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    /// Shard id → next iterator (`None`: the shard is closed and drained).
    iterators: BTreeMap<String, Option<String>>,
    /// The records handed out by the last `poll`, by shard (to rewind on failures).
    last_batch: BTreeMap<String, Vec<String>>,
}

impl StreamReader {
    pub fn new(sdk: &aws_config::SdkConfig, stream_arn: impl Into<String>) -> Self {
        Self {
            client: aws_sdk_dynamodbstreams::Client::new(sdk),
            stream_arn: stream_arn.into(),
            iterators: BTreeMap::new(),
            last_batch: BTreeMap::new(),
        }
    }

    async fn iterator(
        &self,
        shard: &str,
        kind: ShardIteratorType,
        sequence: Option<&str>,
    ) -> Result<Option<String>, String> {
        let out = self
            .client
            .get_shard_iterator()
            .stream_arn(&self.stream_arn)
            .shard_id(shard)
            .shard_iterator_type(kind)
            .set_sequence_number(sequence.map(str::to_string))
            .send()
            .await
            .map_err(|e| aws_sdk_dynamodbstreams::error::DisplayErrorContext(e).to_string())?;
        Ok(out.shard_iterator)
    }

    /// Picks up new shards (read from their beginning: `TRIM_HORIZON`, as the mapping).
    async fn refresh_shards(&mut self) -> Result<(), String> {
        let out = self
            .client
            .describe_stream()
            .stream_arn(&self.stream_arn)
            .send()
            .await
            .map_err(|e| aws_sdk_dynamodbstreams::error::DisplayErrorContext(e).to_string())?;
        let shards = out.stream_description.map(|d| d.shards.unwrap_or_default()).unwrap_or_default();
        for shard in shards {
            let Some(id) = shard.shard_id else { continue };
            if !self.iterators.contains_key(&id) {
                let it = self.iterator(&id, ShardIteratorType::TrimHorizon, None).await?;
                self.iterators.insert(id, it);
            }
        }
        Ok(())
    }

    /// The records that arrived since the last poll and pass the filter, as one event
    /// (`None` when there is nothing new).
    pub async fn poll(&mut self, max: usize) -> Result<Option<Event>, String> {
        self.refresh_shards().await?;
        let mut event = Event::default();
        self.last_batch.clear();
        let shards: Vec<String> = self.iterators.keys().cloned().collect();
        for shard in shards {
            // Read the shard up to its end (or `max` kept records): a page may hold only
            // records the filter drops.
            while event.records.len() < max {
                let Some(Some(iterator)) = self.iterators.get(&shard).cloned() else { break };
                let out = self
                    .client
                    .get_records()
                    .shard_iterator(iterator)
                    .limit(1000)
                    .send()
                    .await
                    .map_err(|e| aws_sdk_dynamodbstreams::error::DisplayErrorContext(e).to_string())?;
                self.iterators.insert(shard.clone(), out.next_shard_iterator.clone());
                let records = out.records.unwrap_or_default();
                if records.is_empty() {
                    break;
                }
                for record in records {
                    if passes_filter(&record) {
                        let r = event_record(&record, &shard);
                        self.last_batch.entry(shard.clone()).or_default().extend(r.change.sequence_number.clone());
                        event.records.push(r);
                    }
                }
            }
        }
        Ok((!event.records.is_empty()).then_some(event))
    }

    /// After the function answered: every shard with a reported failure is read again from
    /// its first failed record on.
    pub async fn settle(&mut self, response: &DynamoDbEventResponse) -> Result<usize, String> {
        let failed: Vec<&str> =
            response.batch_item_failures.iter().filter_map(|f| f.item_identifier.as_deref()).collect();
        let mut rewound = 0;
        let batch = std::mem::take(&mut self.last_batch);
        for (shard, sequences) in batch {
            if let Some(first) = sequences.iter().find(|s| failed.contains(&s.as_str())) {
                let it = self.iterator(&shard, ShardIteratorType::AtSequenceNumber, Some(first)).await?;
                self.iterators.insert(shard, it);
                rewound += 1;
            }
        }
        Ok(rewound)
    }

    /// One poll → invoke → settle cycle. `None` when nothing new arrived.
    pub async fn poll_once<F, Fut>(&mut self, invoke: F) -> Result<Option<DynamoDbEventResponse>, String>
    where
        F: FnOnce(Event) -> Fut,
        Fut: Future<Output = Result<DynamoDbEventResponse, String>>,
    {
        let Some(event) = self.poll(100).await? else { return Ok(None) };
        let response = invoke(event).await?;
        self.settle(&response).await?;
        Ok(Some(response))
    }
}
