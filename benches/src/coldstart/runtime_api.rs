//! A minimal Lambda Runtime API (`/2018-06-01/runtime/...`) on 127.0.0.1 for the cold-start
//! proxy: hands out a fixed list of events per run and records when each one's response (or
//! an error) is posted. Runs on its own thread with a current-thread tokio runtime, so the
//! caller can manage the child process with plain blocking code.
//!
//! * `GET  /invocation/next`: the next event of the run, with `Lambda-Runtime-Aws-Request-Id`,
//!   `Lambda-Runtime-Deadline-Ms` and `Lambda-Runtime-Invoked-Function-Arn`; once the run's
//!   events are used up the call long-polls (like the real API) until the next run begins.
//! * `POST /invocation/{id}/response`: records the time and the body.
//! * `POST /invocation/{id}/error`, `POST /init/error`: record the error; the run ends.
//!
//! Every accepted connection has `TCP_NODELAY` set, and each answer leaves in one write (hyper
//! writes head and body with one vectored write): a response split over two writes on a socket
//! with Nagle's algorithm on waits for the peer's delayed ACK (~40 ms), which would be measured
//! as the function's time. [`RuntimeApi::extend`] adds events to a running run (the memory
//! bench feeds 1,000 events in chunks and samples the process between chunks).

use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{Response, StatusCode};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;

const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:bench";

/// What one run observed. Times are when the stub saw each request complete.
#[derive(Debug, Clone, Default)]
pub struct RunRecord {
    /// When each `GET /next` that received an event arrived.
    pub next_at: Vec<Instant>,
    /// When each response was posted (body fully read), in invocation order.
    pub response_at: Vec<Instant>,
    pub responses: Vec<Vec<u8>>,
    /// An init or invocation error the function reported.
    pub error: Option<String>,
}

#[derive(Default)]
struct RunState {
    run: u64,
    events: Vec<Vec<u8>>,
    served: usize,
    record: RunRecord,
}

impl RunState {
    fn finished(&self) -> bool {
        self.record.error.is_some() || (!self.events.is_empty() && self.record.responses.len() >= self.events.len())
    }
}

#[derive(Default)]
struct Shared {
    state: Mutex<RunState>,
    changed: Condvar,
}

/// The running stub; its thread ends with the process.
pub struct RuntimeApi {
    shared: Arc<Shared>,
    pub addr: SocketAddr,
}

impl RuntimeApi {
    /// Binds 127.0.0.1 on a free port and serves in the background.
    pub fn start() -> Result<Self, String> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot bind 127.0.0.1: {e}"))?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(invocation_error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        std::thread::Builder::new()
            .name("runtime-api".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener").tap_io(|tcp| {
                        let _ = tcp.set_nodelay(true);
                    });
                    axum::serve(listener, app).await.expect("runtime API server");
                });
            })
            .map_err(|e| e.to_string())?;
        Ok(Self { shared, addr })
    }

    /// Starts a new run that will hand out `events` in order (earlier runs' calls are ignored).
    pub fn begin(&self, events: Vec<Vec<u8>>) {
        let mut st = self.shared.state.lock().expect("stub state");
        st.run += 1;
        st.events = events;
        st.served = 0;
        st.record = RunRecord::default();
        self.shared.changed.notify_all();
    }

    /// Adds `events` to the current run (served after the ones already handed out).
    pub fn extend(&self, events: Vec<Vec<u8>>) {
        let mut st = self.shared.state.lock().expect("stub state");
        st.events.extend(events);
        self.shared.changed.notify_all();
    }

    /// Waits until every event of the run got a response, an error is reported, or `timeout`.
    pub fn wait(&self, timeout: Duration) -> RunRecord {
        let st = self.shared.state.lock().expect("stub state");
        let (st, _) = self.shared.changed.wait_timeout_while(st, timeout, |st| !st.finished()).expect("stub state");
        st.record.clone()
    }
}

fn request_id(run: u64, index: usize) -> String {
    format!("bench-{run}-{index}")
}

fn parse_request_id(id: &str) -> Option<(u64, usize)> {
    let (run, index) = id.strip_prefix("bench-")?.split_once('-')?;
    Some((run.parse().ok()?, index.parse().ok()?))
}

/// The next event of the current run, if one is left (and marks it served). With `only_run`,
/// nothing is taken once another run has begun.
fn take_event(shared: &Shared, only_run: Option<u64>) -> (u64, Option<(usize, Vec<u8>)>) {
    let now = Instant::now();
    let mut st = shared.state.lock().expect("stub state");
    if only_run.is_some_and(|run| run != st.run) || st.served >= st.events.len() {
        return (st.run, None);
    }
    let index = st.served;
    st.served += 1;
    st.record.next_at.push(now);
    (st.run, Some((index, st.events[index].clone())))
}

async fn next(State(shared): State<Arc<Shared>>) -> Response<Body> {
    let (run, mut served) = take_event(&shared, None);
    // No more events in this run: hold the call (as the real API does) until events are added
    // to the same run; a call of an old run's process (killed meanwhile) gives up.
    let deadline = Instant::now() + Duration::from_secs(120);
    while served.is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
        let (now_run, event) = take_event(&shared, Some(run));
        if now_run != run {
            break;
        }
        served = event;
    }
    let Some((index, event)) = served else {
        return Response::builder().status(StatusCode::GONE).body(Body::empty()).expect("static response");
    };
    let deadline_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() + 30_000;
    Response::builder()
        .status(StatusCode::OK)
        .header("Lambda-Runtime-Aws-Request-Id", request_id(run, index))
        .header("Lambda-Runtime-Deadline-Ms", deadline_ms.to_string())
        .header("Lambda-Runtime-Invoked-Function-Arn", ARN)
        .header("Content-Type", "application/json")
        .body(Body::from(event))
        .expect("valid response")
}

async fn response(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let now = Instant::now();
    let mut st = shared.state.lock().expect("stub state");
    if parse_request_id(&id).is_some_and(|(run, _)| run == st.run) {
        st.record.response_at.push(now);
        st.record.responses.push(body.to_vec());
        shared.changed.notify_all();
    }
    StatusCode::ACCEPTED
}

async fn invocation_error(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let mut st = shared.state.lock().expect("stub state");
    if parse_request_id(&id).is_some_and(|(run, _)| run == st.run) {
        st.record.error = Some(format!("invocation {id} failed: {}", String::from_utf8_lossy(&body)));
        shared.changed.notify_all();
    }
    StatusCode::ACCEPTED
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    let mut st = shared.state.lock().expect("stub state");
    st.record.error = Some(format!("init error: {}", String::from_utf8_lossy(&body)));
    shared.changed.notify_all();
    StatusCode::ACCEPTED
}
