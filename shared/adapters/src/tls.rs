//! The one TLS setup of a Lambda process: **one root store, built once, shared by every HTTPS
//! client** — the AWS SDK's HTTP client (DynamoDB, SQS, and any later SDK client such as
//! Secrets Manager) and every `reqwest` client (Wellflow, partner webhooks, a JWKS fetch).
//!
//! # How to use it
//!
//! Everything comes from [`shared()`]:
//!
//! * AWS SDK clients: [`Shared::sdk_http_client`] — `adapters::aws::sdk_config()` already puts
//!   it into the `SdkConfig`, so `aws_sdk_xyz::Client::new(&sdk)` uses it with no extra code.
//! * reqwest clients: start from [`Shared::reqwest_builder`] (a `reqwest::ClientBuilder` with the
//!   shared TLS config preset), then add timeouts, redirects, resolver… and `build()`.
//! * Anything else speaking rustls: [`Shared::client_config`] (`Arc<rustls::ClientConfig>`, no
//!   ALPN set) or [`Shared::root_store`].
//!
//! Never build a client with its own trust store (`reqwest::Client::new()`, the SDK's
//! `default-https-client`, `aws_smithy_http_client::Builder`, `rustls-native-certs`): each of
//! those loads the roots again on the cold-start path.
//!
//! # Which roots, and why compiled in
//!
//! The trust anchors are Mozilla's CA set compiled into the binary by the `webpki-roots` crate:
//! no file is opened and nothing is parsed at start-up (the anchors are constants), the same set
//! on every host (local, CI, the Lambda image). Measured before (issue 19): loading the system
//! roots through `rustls-native-certs` cost ~4.4 ms of a 7.2 ms init when `SSL_CERT_DIR` is set
//! (it stats and reads every file of `/etc/ssl/certs`, then parses the bundle), and the webhook
//! paid it twice (SDK client and reqwest). The alternative, one bundle file read with no directory
//! scan, still costs a read and ~1.1 ms of PEM parsing on each cold start.
//!
//! The trade-off: roots change **by crate release, not by OS image**. A CA added to or removed
//! from Mozilla's program reaches us when `webpki-roots` is bumped (`cargo update -p
//! webpki-roots`) and the functions are redeployed, not when the Lambda base image is patched.
//! A private or corporate CA is never trusted. Both are fine for the endpoints we call: the AWS
//! endpoints chain to the Amazon Root CAs (and their Starfield cross-sign), and Wellflow and
//! partner webhooks are public HTTPS endpoints with publicly trusted certificates — tests assert
//! the Amazon roots are in the set.
//!
//! # The SDK's HTTP client
//!
//! The SDK's own hyper client (`aws-smithy-http-client`) cannot take a prepared
//! `rustls::ClientConfig`: it rebuilds a root store from PEM or the native roots every time it
//! builds a connector (once per SDK client at construction, again on the first request). So the
//! SDK gets [`SdkHttpClient`]: hyper 1 over `hyper-rustls` with the shared config, HTTP/1.1
//! (DynamoDB, SQS and Secrets Manager speak it; a Lambda serves one request at a time, so HTTP/2
//! multiplexing buys nothing), TCP_NODELAY, the SDK's connect and read timeouts, its error
//! classes (timeout / I/O / user / other, so the SDK's retry rules apply unchanged) and its
//! connection poisoning (a connection that failed is not reused by the retry).
//!
//! [`root_store_builds`] counts the root stores built in this process (tests assert it stays 1).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connection::{CaptureSmithyConnection, ConnectionMetadata};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use hyper_util::client::legacy::connect::{
    capture_connection, CaptureConnection, HttpConnector as TcpConnector, HttpInfo,
};
use hyper_util::rt::{TokioExecutor, TokioTimer};

/// Name the SDK client reports in its connector metadata (and tests check for).
pub const SDK_CONNECTOR_NAME: &str = "adapters-tls-hyper";

static ROOT_STORE_BUILDS: AtomicUsize = AtomicUsize::new(0);
static SHARED: OnceLock<Shared> = OnceLock::new();

/// The process-wide TLS setup (see the module doc). Get it with [`shared()`].
pub struct Shared {
    roots: Arc<rustls::RootCertStore>,
    config: Arc<rustls::ClientConfig>,
    sdk: SharedHttpClient,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("roots", &self.roots.len()).finish_non_exhaustive()
    }
}

/// The process's TLS setup: root store, rustls config and SDK HTTP client, built on the first
/// call (microseconds: nothing is read or parsed) and shared by every later caller.
pub fn shared() -> &'static Shared {
    SHARED.get_or_init(|| {
        crate::aws::install_crypto_provider();
        let roots = Arc::new(root_store());
        let provider = rustls::crypto::CryptoProvider::get_default()
            .cloned()
            .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        let config = Arc::new(config);
        let sdk = SharedHttpClient::new(SdkHttpClient { config: config.clone(), connectors: RwLock::default() });
        Shared { roots, config, sdk }
    })
}

/// How many root stores this process has built (1 after [`shared()`], and it must stay 1).
pub fn root_store_builds() -> usize {
    ROOT_STORE_BUILDS.load(Ordering::Relaxed)
}

/// The compiled-in trust anchors (the only place a root store is built).
fn root_store() -> rustls::RootCertStore {
    ROOT_STORE_BUILDS.fetch_add(1, Ordering::Relaxed);
    rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() }
}

impl Shared {
    /// The trust anchors every client verifies servers against.
    pub fn root_store(&self) -> &Arc<rustls::RootCertStore> {
        &self.roots
    }

    /// The shared rustls config (ring, safe default versions, these roots, no ALPN). Clone it
    /// to set ALPN for one client; the clone shares the verifier and its roots.
    pub fn client_config(&self) -> &Arc<rustls::ClientConfig> {
        &self.config
    }

    /// The HTTP client of every AWS SDK client (see the module doc).
    pub fn sdk_http_client(&self) -> SharedHttpClient {
        self.sdk.clone()
    }

    /// A `reqwest::ClientBuilder` that uses the shared rustls config (HTTP/1.1; reqwest is built
    /// without HTTP/2). Set timeouts and the rest on it, then `build()`.
    pub fn reqwest_builder(&self) -> reqwest::ClientBuilder {
        let mut config = rustls::ClientConfig::clone(&self.config);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        reqwest::Client::builder().tls_backend_preconfigured(config)
    }
}

/// The AWS SDK's HTTP client on the shared rustls config: one hyper connector per distinct
/// (connect timeout, read timeout), as the SDK's own client does.
#[derive(Debug)]
pub struct SdkHttpClient {
    config: Arc<rustls::ClientConfig>,
    connectors: RwLock<HashMap<Timeouts, SharedHttpConnector>>,
}

/// (connect timeout, read timeout) of the SDK's connector settings.
type Timeouts = (Option<Duration>, Option<Duration>);

impl HttpClient for SdkHttpClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        if let Some(connector) = self.connectors.read().expect("connector cache").get(&key) {
            return connector.clone();
        }
        let mut cache = self.connectors.write().expect("connector cache");
        cache
            .entry(key)
            .or_insert_with(|| SharedHttpConnector::new(SdkConnector::new(&self.config, key.0, key.1)))
            .clone()
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new(SDK_CONNECTOR_NAME, None))
    }
}

type HyperClient = hyper_util::client::legacy::Client<hyper_rustls::HttpsConnector<TcpConnector>, SdkBody>;

#[derive(Debug, Clone)]
struct SdkConnector {
    client: HyperClient,
    read_timeout: Option<Duration>,
}

impl SdkConnector {
    fn new(config: &rustls::ClientConfig, connect_timeout: Option<Duration>, read_timeout: Option<Duration>) -> Self {
        let mut tcp = TcpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(connect_timeout);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config.clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        // The pool timer makes idle connections expire (hyper's default: 90 s idle).
        let client =
            hyper_util::client::legacy::Builder::new(TokioExecutor::new()).pool_timer(TokioTimer::new()).build(https);
        Self { client, read_timeout }
    }
}

impl HttpConnector for SdkConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let mut request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(err) => return HttpConnectorFuture::ready(Err(ConnectorError::user(err.into()))),
        };
        let capture = capture_connection(&mut request);
        if let Some(smithy) = request.extensions().get::<CaptureSmithyConnection>() {
            smithy.set_connection_retriever(move || connection_metadata(&capture));
        }
        let response = self.client.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            // As the SDK's own client: the read timeout covers connecting and the response head.
            let result = match read_timeout {
                Some(limit) => match tokio::time::timeout(limit, response).await {
                    Ok(result) => result,
                    Err(_) => return Err(ConnectorError::timeout(format!("no HTTP response within {limit:?}").into())),
                },
                None => response.await,
            };
            match result {
                Ok(response) => HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                    .map_err(|err| ConnectorError::other(err.into(), None)),
                Err(err) => Err(classify(err)),
            }
        })
    }
}

/// What the SDK needs to poison a failed connection (and to log its addresses).
fn connection_metadata(capture: &CaptureConnection) -> Option<ConnectionMetadata> {
    let connected = capture.connection_metadata();
    let connected = connected.as_ref()?;
    let mut extras = http::Extensions::new();
    connected.get_extras(&mut extras);
    let info = extras.get::<HttpInfo>();
    let capture = capture.clone();
    let mut builder = ConnectionMetadata::builder().proxied(connected.is_proxied()).poison_fn(move || {
        if let Some(connected) = capture.connection_metadata().as_ref() {
            connected.poison();
        }
    });
    builder.set_local_addr(info.map(HttpInfo::local_addr)).set_remote_addr(info.map(HttpInfo::remote_addr));
    Some(builder.build())
}

/// The SDK's error classes for a failed exchange (the same rules as `aws-smithy-http-client`):
/// connect failures and broken connections are I/O (retried), timeouts are timeouts (retried),
/// a truncated answer is transient, misuse is a user error.
fn classify(err: hyper_util::client::legacy::Error) -> ConnectorError {
    let timed_out = chain(&err)
        .any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut));
    let hyper_error = chain(&err).find_map(|e| e.downcast_ref::<hyper::Error>());
    let has_io = chain(&err).any(|e| e.is::<std::io::Error>());
    let connect = err.is_connect();
    let kind = if timed_out || hyper_error.is_some_and(hyper::Error::is_timeout) {
        Class::Timeout
    } else if connect {
        Class::Io
    } else if let Some(hyper_error) = hyper_error {
        if hyper_error.is_user() {
            Class::User
        } else if hyper_error.is_closed() || hyper_error.is_canceled() || has_io {
            Class::Io
        } else if hyper_error.is_incomplete_message() {
            Class::Transient
        } else {
            Class::Other
        }
    } else if has_io {
        Class::Io
    } else {
        Class::Other
    };
    let source: BoxError = err.into();
    match kind {
        Class::Timeout => ConnectorError::timeout(source),
        Class::Io => ConnectorError::io(source),
        Class::User => ConnectorError::user(source),
        Class::Transient => ConnectorError::other(source, Some(ErrorKind::TransientError)),
        Class::Other => ConnectorError::other(source, None),
    }
}

enum Class {
    Timeout,
    Io,
    User,
    Transient,
    Other,
}

/// `err` and its sources; after an `io::Error`, its payload (which `source()` skips).
fn chain<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(err), |&e| match e.downcast_ref::<std::io::Error>() {
        Some(io) => io.get_ref().map(|inner| inner as &(dyn std::error::Error + 'static)),
        None => e.source(),
    })
}

#[cfg(test)]
mod tests;
