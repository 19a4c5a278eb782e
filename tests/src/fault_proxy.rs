//! A toggleable TCP proxy on 127.0.0.1 for outage tests: put it between an SDK client and
//! moto, then `cut()` it to make DynamoDB unreachable (open connections are closed, new ones
//! are accepted and reset at once) and `restore()` it — moto keeps its data, unlike stopping it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use adapters::store::DynamoStore;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

struct State {
    cut: AtomicBool,
    /// Bumped on every cut: live relays watch it and drop both sides.
    generation: watch::Sender<u64>,
    relayed: AtomicU64,
    refused: AtomicU64,
    cuts: AtomicU64,
}

/// A running proxy; stops (and closes every relay) when dropped.
pub struct FaultProxy {
    /// `http://127.0.0.1:<port>`: the endpoint to give the SDK.
    pub url: String,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Proxies 127.0.0.1:<free port> to `upstream` (`http://127.0.0.1:<port>`, e.g. moto's endpoint).
    pub async fn start(upstream: &str) -> FaultProxy {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap_or_else(|e| panic!("upstream {upstream:?} is not http://<ip>:<port>: {e}"));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy port");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let state = Arc::new(State {
            cut: AtomicBool::new(false),
            generation: watch::channel(0).0,
            relayed: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            cuts: AtomicU64::new(0),
        });
        let task = tokio::spawn(accept_loop(listener, upstream, state.clone()));
        FaultProxy { url, state, task }
    }

    /// DynamoDB becomes unreachable: open connections are closed, new ones are reset.
    pub fn cut(&self) {
        if !self.state.cut.swap(true, Ordering::SeqCst) {
            self.state.cuts.fetch_add(1, Ordering::Relaxed);
        }
        self.state.generation.send_modify(|g| *g += 1);
    }

    /// Connections are relayed again.
    pub fn restore(&self) {
        self.state.cut.store(false, Ordering::SeqCst);
    }

    pub fn is_cut(&self) -> bool {
        self.state.cut.load(Ordering::SeqCst)
    }

    /// Connections relayed to the upstream so far.
    pub fn relayed(&self) -> u64 {
        self.state.relayed.load(Ordering::Relaxed)
    }

    /// Connections reset because the proxy was cut.
    pub fn refused(&self) -> u64 {
        self.state.refused.load(Ordering::Relaxed)
    }

    /// How many times the proxy was cut.
    pub fn cuts(&self) -> u64 {
        self.state.cuts.load(Ordering::Relaxed)
    }

    /// A DynamoDB store on `table` whose every request goes through this proxy. The SDK makes at
    /// most 2 attempts, 20 ms apart, so a cut surfaces within milliseconds instead of after the
    /// default backoff; an attempt gives up after 10 s (the webhook's Lambda timeout), so a stuck
    /// connection cannot hang a test.
    pub fn dynamo_store(&self, table: &str) -> DynamoStore {
        let sdk = local_stack::local_sdk_config(&self.url);
        let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .retry_config(RetryConfig::standard().with_max_attempts(2).with_initial_backoff(Duration::from_millis(20)))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(1))
                    .operation_attempt_timeout(Duration::from_secs(10))
                    .build(),
            )
            .build();
        DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(conf), table.to_string())
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.state.cut.store(true, Ordering::SeqCst);
        self.state.generation.send_modify(|g| *g += 1);
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, state: Arc<State>) {
    loop {
        let Ok((client, _)) = listener.accept().await else { continue };
        if state.cut.load(Ordering::SeqCst) {
            state.refused.fetch_add(1, Ordering::Relaxed);
            // Linger 0: the close is a TCP reset, like a host that is not there.
            let _ = client.set_zero_linger();
            drop(client);
            continue;
        }
        state.relayed.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(relay(client, upstream, state.generation.subscribe()));
    }
}

async fn relay(mut client: TcpStream, upstream: SocketAddr, mut generation: watch::Receiver<u64>) {
    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    generation.mark_unchanged();
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = generation.changed() => {
            let _ = client.set_zero_linger();
        }
    }
}
