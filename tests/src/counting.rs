//! Counts DynamoDB round trips per operation through an SDK interceptor — the proof behind
//! the "≤ N round trips" numbers in docs/BENCHMARKS.md.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

/// Records the name of every operation sent (one entry per operation, retries excluded).
#[derive(Clone, Debug, Default)]
pub struct CallCounter(Arc<Mutex<Vec<String>>>);

impl CallCounter {
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().expect("counter lock"))
    }

    pub fn count(&self) -> usize {
        self.0.lock().expect("counter lock").len()
    }

    pub fn reset(&self) {
        self.take();
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
}

/// A DynamoDB client that reports every operation to `counter`.
pub fn counted_client(sdk: &aws_config::SdkConfig, counter: &CallCounter) -> aws_sdk_dynamodb::Client {
    let conf = aws_sdk_dynamodb::config::Builder::from(sdk).interceptor(counter.clone()).build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}
