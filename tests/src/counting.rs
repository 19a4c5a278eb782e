//! Counts DynamoDB round trips per operation through an SDK interceptor — the proof behind
//! the "≤ N round trips" numbers in docs/BENCHMARKS.md.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

/// Records the name of every operation sent (one entry per operation, retries excluded), and
/// how many items DynamoDB returned to reads (`GetItem`, `BatchGetItem`, `Query`; counted
/// from the deserialized responses, not from what the code says it read).
#[derive(Clone, Debug, Default)]
pub struct CallCounter(Arc<Mutex<Vec<String>>>, Arc<Mutex<usize>>);

impl CallCounter {
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().expect("counter lock"))
    }

    pub fn count(&self) -> usize {
        self.0.lock().expect("counter lock").len()
    }

    pub fn reset(&self) {
        self.take();
        self.take_items();
    }

    /// Items returned by reads since the last call (or reset).
    pub fn take_items(&self) -> usize {
        std::mem::take(&mut self.1.lock().expect("counter lock"))
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_serialization(
        &self,
        _ctx: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = cfg.load::<Metadata>().map(|m| m.name().to_string()).unwrap_or_else(|| "unknown".into());
        self.0.lock().expect("counter lock").push(op);
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        ctx: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        use aws_sdk_dynamodb::operation::{
            batch_get_item::BatchGetItemOutput, get_item::GetItemOutput, query::QueryOutput,
        };
        let Ok(output) = ctx.output_or_error() else { return Ok(()) };
        let items = if let Some(q) = output.downcast_ref::<QueryOutput>() {
            q.items().len()
        } else if let Some(b) = output.downcast_ref::<BatchGetItemOutput>() {
            b.responses().map(|r| r.values().map(Vec::len).sum()).unwrap_or(0)
        } else if let Some(g) = output.downcast_ref::<GetItemOutput>() {
            usize::from(g.item().is_some())
        } else {
            0
        };
        *self.1.lock().expect("counter lock") += items;
        Ok(())
    }
}

/// A DynamoDB client that reports every operation to `counter`.
pub fn counted_client(sdk: &aws_config::SdkConfig, counter: &CallCounter) -> aws_sdk_dynamodb::Client {
    let conf = aws_sdk_dynamodb::config::Builder::from(sdk).interceptor(counter.clone()).build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}
