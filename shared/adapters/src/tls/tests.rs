//! The shared TLS setup: one root store per process, no certificate file or directory read,
//! Amazon's roots present, and a real TLS exchange through the SDK's HTTP client.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// Everything the functions build on their init path (SDK config, DynamoDB, SQS and Secrets
/// Manager clients, the Wellflow client, the JWKS client, the partner-webhook style reqwest
/// client), plus one TLS
/// handshake through each kind of client with a local server whose certificate they do not
/// trust, so lazily built connectors and lazily loaded verifiers run too.
async fn build_every_client() {
    let (port, _) = tls_server().await;
    let endpoint = format!("https://localhost:{port}");
    let sdk = crate::aws::sdk_config_from(|k| match k {
        "AWS_REGION" => Some("us-east-1".into()),
        "AWS_ENDPOINT_URL" => Some(endpoint.clone()),
        _ => None,
    });
    let dynamodb = crate::aws::dynamodb(&sdk);
    let _sqs = crate::aws::sqs(&sdk);
    let _secrets = crate::aws::secretsmanager(&sdk);
    let jwks = crate::jwks::JwksCache::new(crate::jwks::JwksSettings {
        url: format!("{endpoint}/.well-known/jwks.json"),
        max_age: Duration::from_secs(600),
        min_refetch: Duration::from_secs(15),
    })
    .expect("jwks client");
    let wellflow =
        crate::wellflow::WellflowClient::new(&endpoint, "k".into(), Duration::from_secs(1)).expect("wellflow client");
    let reqwest = shared().reqwest_builder().timeout(Duration::from_secs(1)).build().expect("reqwest client");
    let one_try = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .retry_config(RetryConfig::disabled())
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("t", "t", None, None, "test"))
        .build();
    let refused = aws_sdk_dynamodb::Client::from_conf(one_try).list_tables().send().await;
    assert!(refused.is_err(), "the test CA must not be trusted");
    assert!(reqwest.get(format!("{endpoint}/")).send().await.is_err(), "the test CA must not be trusted");
    assert!(wellflow.balance("acc-1").await.is_err(), "the test CA must not be trusted");
    assert!(jwks.key("kid-1").await.is_err(), "the test CA must not be trusted");
    drop(dynamodb);
}

#[tokio::test]
async fn one_root_store_for_every_client_of_the_process() {
    build_every_client().await;
    build_every_client().await;
    assert_eq!(root_store_builds(), 1, "every client must share the one root store of adapters::tls");
    let sdk = crate::aws::sdk_config().await;
    let name = sdk.http_client().and_then(|c| c.connector_metadata()).map(|m| m.name().to_string());
    assert_eq!(name.as_deref(), Some(SDK_CONNECTOR_NAME), "the SDK must use the shared-TLS HTTP client");
    assert_eq!(root_store_builds(), 1);
}

#[test]
fn amazon_roots_are_trusted() {
    let subjects: Vec<String> = shared()
        .root_store()
        .roots
        .iter()
        .map(|anchor| String::from_utf8_lossy(anchor.subject.as_ref()).into_owned())
        .collect();
    // AWS service endpoints (DynamoDB, SQS, Secrets Manager) chain to these (ACM / Amazon Trust Services).
    for name in [
        "Amazon Root CA 1",
        "Amazon Root CA 2",
        "Amazon Root CA 3",
        "Amazon Root CA 4",
        "Starfield Services Root Certificate Authority - G2",
    ] {
        assert!(subjects.iter().any(|s| s.contains(name)), "{name} missing from the compiled-in roots");
    }
    // Public HTTPS endpoints (Wellflow, partners) use publicly trusted CAs: a few of the big ones.
    for name in ["ISRG Root X1", "DigiCert Global Root G2", "GlobalSign"] {
        assert!(subjects.iter().any(|s| s.contains(name)), "{name} missing from the compiled-in roots");
    }
    assert!(subjects.len() > 100, "Mozilla's set has well over 100 roots, got {}", subjects.len());
}

const CHILD_ENV: &str = "ADAPTERS_TLS_CHILD";

/// Child side of [`no_certificate_file_or_directory_is_opened`]: builds every client.
#[test]
fn child_builds_every_client() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return; // only meaningful when spawned by the test below
    }
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(build_every_client());
    println!("CHILD_DONE root_store_builds={}", root_store_builds());
}

/// inotify on a directory: reports every open of it or of a file in it (no strace needed).
struct OpenWatch {
    fd: i32,
}

impl OpenWatch {
    fn new(dir: &Path) -> Self {
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        assert!(fd >= 0, "inotify_init1 failed");
        let path = CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
        let wd = unsafe { libc::inotify_add_watch(fd, path.as_ptr(), libc::IN_OPEN | libc::IN_ACCESS) };
        assert!(wd >= 0, "inotify_add_watch failed");
        Self { fd }
    }

    /// Number of open/read events since the last call.
    fn events(&self) -> usize {
        let mut buf = [0u8; 8192];
        let mut count = 0;
        loop {
            let n = unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return count;
            }
            let mut offset = 0;
            while offset < n as usize {
                let event = unsafe { &*(buf.as_ptr().add(offset) as *const libc::inotify_event) };
                count += 1;
                offset += std::mem::size_of::<libc::inotify_event>() + event.len as usize;
            }
        }
    }
}

impl Drop for OpenWatch {
    fn drop(&mut self) {
        unsafe { libc::close(self.fd) };
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Fails if a directory scan (or any certificate file read) comes back: a child process builds
/// every client with `SSL_CERT_DIR` and `SSL_CERT_FILE` pointing into a watched directory, as
/// on this machine and many hosts; rustls-native-certs would open both.
#[test]
fn no_certificate_file_or_directory_is_opened() {
    let dir = temp_dir("adapters-tls-certs");
    let bundle = dir.join("ca-certificates.crt");
    // Real certificates where the host has them, so a client that loads them would succeed
    // and only the watch below can tell.
    let system =
        std::fs::read("/etc/ssl/certs/ca-certificates.crt").unwrap_or_else(|_| b"not a certificate\n".to_vec());
    std::fs::write(&bundle, &system).unwrap();
    std::fs::write(dir.join("0123abcd.0"), &system).unwrap();
    let watch = OpenWatch::new(&dir);
    // Positive control: the watch does see an open.
    let _ = std::fs::read(&bundle).unwrap();
    assert!(watch.events() > 0, "inotify saw no open of a file it watches");

    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "tls::tests::child_builds_every_client", "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, "1")
        .env("SSL_CERT_DIR", &dir)
        .env("SSL_CERT_FILE", &bundle)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("CHILD_DONE"),
        "child failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("root_store_builds=1"), "{stdout}");
    assert_eq!(
        watch.events(),
        0,
        "a client opened the certificate directory or bundle: roots must come from adapters::tls"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A TLS server on 127.0.0.1 with a certificate from a test CA, answering every request with
/// one DynamoDB `ListTables` response.
async fn tls_server() -> (u16, rustls::RootCertStore) {
    crate::aws::install_crypto_provider();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap().signed_by(&key, &ca).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let server = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()))
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let body = br#"{"TableNames":["over-tls"]}"#;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                let _ = tls.write_all(&[head.as_bytes(), body].concat()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, roots)
}

fn dynamodb_over(port: u16, http: SharedHttpClient) -> aws_sdk_dynamodb::Client {
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .endpoint_url(format!("https://localhost:{port}"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("t", "t", None, None, "test"))
        .retry_config(RetryConfig::disabled())
        .http_client(http)
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

#[tokio::test]
async fn sdk_requests_go_over_tls_with_the_shared_config_and_unknown_issuers_are_refused() {
    let (port, test_roots) = tls_server().await;
    // The same client type, trusting the test CA: a full HTTPS exchange through hyper-rustls.
    let config = rustls::ClientConfig::builder().with_root_certificates(test_roots).with_no_client_auth();
    let trusting = SharedHttpClient::new(SdkHttpClient { config: Arc::new(config), connectors: RwLock::default() });
    let tables = dynamodb_over(port, trusting).list_tables().send().await.expect("ListTables over TLS");
    assert_eq!(tables.table_names(), ["over-tls"]);

    // The production client: the test CA is not one of Mozilla's roots, so the handshake fails.
    let err = dynamodb_over(port, shared().sdk_http_client()).list_tables().send().await.unwrap_err();
    let text = format!("{}", aws_smithy_types::error::display::DisplayErrorContext(&err));
    assert!(text.contains("UnknownIssuer") || text.contains("invalid peer certificate"), "{text}");
}

#[test]
fn connect_failures_are_retryable_io_errors() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener); // closed: connection refused
        let err = dynamodb_over(port, shared().sdk_http_client()).list_tables().send().await.unwrap_err();
        let aws_sdk_dynamodb::error::SdkError::DispatchFailure(failure) = &err else { panic!("{err:?}") };
        assert!(failure.is_io(), "{failure:?}");
    });
}
