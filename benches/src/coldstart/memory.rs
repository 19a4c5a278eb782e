//! Memory and per-invocation cost inputs: one process serves `1 + invocations` events (fed in
//! chunks), its resident set (`VmRSS`) is read from `/proc/<pid>/status` between chunks and its
//! peak (`VmHWM`) at the end; the AWS requests it made are read from moto's call log, and its
//! log output is counted (CloudWatch Logs ingestion is billed per byte).
//!
//! "No growth" is asserted here, not in a test: RSS after the last invocation may exceed RSS
//! after [`STEADY_FROM`] invocations by at most [`GROWTH_LIMIT_KIB`] (less than half a KiB per
//! invocation over 750 invocations: a leak of one buffer per request shows; allocator noise
//! does not).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::runtime_api::RuntimeApi;
use super::Target;

/// Invocations after which the process is taken as warmed up (pools, caches, allocator arenas).
pub const STEADY_FROM: usize = 250;
/// Largest RSS increase allowed from [`STEADY_FROM`] to the last invocation.
pub const GROWTH_LIMIT_KIB: u64 = 384;
/// When RSS is sampled (invocations served; and after the last one).
const SAMPLE_AT: &[usize] = &[1, 10, 100, 250, 500, 750];

/// Requests of one kind (`X-Amz-Target`) a memory run made.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CallStats {
    pub requests: u64,
    /// Items named (writes, batch reads) or returned (queries).
    pub items: u64,
    /// Requests that asked for a strongly consistent read.
    pub consistent: u64,
    pub response_bytes: u64,
    /// Transaction members by kind (`Put`, `Update`, `ConditionCheck`, `Delete`).
    pub kinds: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemoryReport {
    pub target: String,
    /// Warm invocations after the first one.
    pub invocations: usize,
    /// `(invocations served, VmRSS KiB)`.
    pub samples: Vec<(usize, u64)>,
    pub peak_rss_kib: u64,
    /// Each warm invocation, GET /next → response posted.
    pub warm_ms: Vec<f64>,
    /// Bytes the process wrote to stdout and stderr over the whole run (log lines).
    pub log_bytes: u64,
    /// AWS requests over the whole run (first invocation included), by operation.
    pub calls: BTreeMap<String, CallStats>,
    /// Whether growth fails the bench (our functions) or is only reported (the Python peer).
    pub asserted: bool,
}

impl MemoryReport {
    fn rss_at(&self, invocations: usize) -> Option<u64> {
        self.samples.iter().find(|(n, _)| *n >= invocations).map(|(_, kib)| *kib)
    }

    /// RSS growth from [`STEADY_FROM`] to the last sample, KiB (negative: shrank).
    pub fn growth_kib(&self) -> i64 {
        match (self.rss_at(STEADY_FROM), self.samples.last()) {
            (Some(from), Some((_, to))) => *to as i64 - from as i64,
            _ => 0,
        }
    }

    /// False when an asserted target grew more than [`GROWTH_LIMIT_KIB`].
    pub fn steady(&self) -> bool {
        !self.asserted || self.growth_kib() <= GROWTH_LIMIT_KIB as i64
    }

    /// Invocations the call counts cover (the first one included).
    pub fn served(&self) -> u64 {
        self.invocations as u64 + 1
    }
}

fn status_kib(pid: u32, field: &str) -> Result<u64, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no {field} in /proc/{pid}/status"))
}

fn count_bytes<R: std::io::Read + Send + 'static>(
    stream: Option<R>,
    total: Arc<AtomicU64>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let Some(stream) = stream else { return };
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line).map(|n| n > 0).unwrap_or(false) {
            total.fetch_add(line.len() as u64, Ordering::Relaxed);
            line.clear();
        }
    })
}

/// Aggregates the call-log lines written after byte `from`.
fn calls_since(log: &Path, from: u64) -> Result<BTreeMap<String, CallStats>, String> {
    let mut file = std::fs::File::open(log).map_err(|e| format!("{}: {e}", log.display()))?;
    file.seek(SeekFrom::Start(from)).map_err(|e| e.to_string())?;
    let mut out: BTreeMap<String, CallStats> = BTreeMap::new();
    for line in BufReader::new(file).lines().map_while(Result::ok) {
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        let target = entry["target"].as_str().unwrap_or("?").to_string();
        let stats = out.entry(target).or_default();
        stats.requests += 1;
        stats.items += entry["items"].as_u64().unwrap_or(0);
        stats.consistent += u64::from(entry["consistent"].as_bool().unwrap_or(false));
        stats.response_bytes += entry["response_bytes"].as_u64().unwrap_or(0);
        for kind in entry["kinds"].as_array().into_iter().flatten() {
            *stats.kinds.entry(kind.as_str().unwrap_or("?").to_string()).or_default() += 1;
        }
    }
    Ok(out)
}

/// One process, `1 + invocations` events of `event()`, RSS between chunks.
pub fn measure(
    api: &RuntimeApi,
    target: &Target,
    env: &[(String, String)],
    invocations: usize,
    event: &dyn Fn() -> Result<Vec<u8>, String>,
    calls_log: &Path,
) -> Result<MemoryReport, String> {
    let log_start = std::fs::metadata(calls_log).map(|m| m.len()).unwrap_or(0);
    let total = invocations + 1;
    let mut points: Vec<usize> = SAMPLE_AT.iter().copied().filter(|&n| n < total).collect();
    points.push(total);
    api.begin(Vec::new());
    let mut child = target.spawn(env)?;
    let pid = child.id();
    let log_bytes = Arc::new(AtomicU64::new(0));
    let readers =
        [count_bytes(child.stdout.take(), log_bytes.clone()), count_bytes(child.stderr.take(), log_bytes.clone())];
    let result = (|| {
        let mut samples = Vec::new();
        let mut fed = 0;
        for &point in &points {
            let chunk = (fed..point).map(|_| event()).collect::<Result<Vec<_>, _>>()?;
            fed = point;
            api.extend(chunk);
            let record = api.wait(Duration::from_secs(300));
            if let Some(error) = record.error {
                return Err(format!("{}: {error}", target.name));
            }
            if record.responses.len() < point {
                return Err(format!("{}: {} of {point} responses within 300 s", target.name, record.responses.len()));
            }
            for body in &record.responses[record.responses.len() - (point - samples.last().map_or(0, |(n, _)| *n))..] {
                let resp: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("not JSON ({e})"))?;
                (target.check)(&resp).map_err(|e| format!("{}: {e}", target.name))?;
            }
            samples.push((point, status_kib(pid, "VmRSS:")?));
        }
        let peak = status_kib(pid, "VmHWM:")?;
        let record = api.wait(Duration::from_secs(1));
        let warm_ms = (1..record.responses.len())
            .map(|i| (record.response_at[i] - record.next_at[i]).as_secs_f64() * 1_000.0)
            .collect();
        Ok((samples, peak, warm_ms))
    })();
    let _ = child.kill();
    let _ = child.wait();
    for reader in readers {
        let _ = reader.join();
    }
    let (samples, peak_rss_kib, warm_ms) = result?;
    // moto writes its log line after answering: give the last one a moment.
    std::thread::sleep(Duration::from_millis(200));
    Ok(MemoryReport {
        target: target.name.clone(),
        invocations,
        samples,
        peak_rss_kib,
        warm_ms,
        log_bytes: log_bytes.load(Ordering::Relaxed),
        calls: calls_since(calls_log, log_start)?,
        asserted: !target.name.starts_with("python"),
    })
}
