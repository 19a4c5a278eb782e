//! `apigw-front`: during `make dev`, stands where API Gateway stands in AWS. It serves
//! `http://127.0.0.1:<port>/lambda-url/<function>/<path>` (the URL scheme of `cargo lambda
//! watch`, so every local URL stays the same), turns each request into the payload-2.0 event
//! API Gateway would send (`local_stack::apigw`), invokes the function through `cargo lambda
//! watch`'s Lambda invoke API and answers what API Gateway would make of the response. Any
//! other path (`/2015-03-31/functions/<fn>/invocations`, …) is passed to `cargo lambda watch`
//! unchanged.
//!
//! Usage: apigw-front --port 9000 --lambda http://127.0.0.1:9001

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use local_stack::apigw::{self, Answer, Incoming};

/// API Gateway's request payload limit (HTTP APIs: 10 MB); Lambda's own limit is 6 MB.
const MAX_BODY: usize = 10 * 1024 * 1024;

#[derive(Clone)]
struct Front {
    http: reqwest::Client,
    lambda: String,
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(port), Some(lambda)) = (arg(&args, "--port"), arg(&args, "--lambda")) else {
        eprintln!("usage: apigw-front --port PORT --lambda http://127.0.0.1:WATCH_PORT");
        std::process::exit(2);
    };
    let http = adapters::tls::shared()
        .reqwest_builder()
        // The first invocation of each function compiles it under `cargo lambda watch`.
        .timeout(Duration::from_secs(600))
        .build()
        .expect("reqwest client");
    let front = Front { http, lambda: lambda.trim_end_matches('/').to_string() };
    let app = Router::new().fallback(serve).layer(DefaultBodyLimit::max(MAX_BODY)).with_state(front);
    let listener =
        tokio::net::TcpListener::bind(("127.0.0.1", port.parse::<u16>().expect("port"))).await.expect("bind 127.0.0.1");
    eprintln!("apigw-front: http://127.0.0.1:{port}/lambda-url/<function>/<path> -> {lambda}");
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.expect("serve");
}

async fn serve(State(front): State<Front>, ConnectInfo(peer): ConnectInfo<SocketAddr>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return reply(too_large()),
    };
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or_default().to_string();
    let Some(rest) = path.strip_prefix("/lambda-url/") else {
        return pass_through(&front, &parts, body).await;
    };
    let (function, fn_path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let request_id = format!("local-{}", now.as_nanos());
    let event = apigw::event(&Incoming {
        method: parts.method.as_str(),
        path: fn_path,
        query: &query,
        headers: &headers,
        body: &body,
        source_ip: &peer.ip().to_string(),
        request_id: &request_id,
        time_epoch_ms: now.as_millis() as i64,
    });
    let url = format!("{}/2015-03-31/functions/{function}/invocations", front.lambda);
    let answer = match front.http.post(&url).json(&event).send().await {
        Ok(resp) if resp.status().is_success() && !resp.headers().contains_key("x-amz-function-error") => {
            match resp.json::<serde_json::Value>().await {
                Ok(value) => apigw::answer(&value),
                Err(err) => {
                    eprintln!("apigw-front: {function}: response is not JSON: {err}");
                    apigw::internal_error()
                }
            }
        }
        Ok(resp) => {
            let status = resp.status();
            eprintln!("apigw-front: {function}: invoke answered {status}: {}", resp.text().await.unwrap_or_default());
            apigw::internal_error()
        }
        Err(err) => {
            eprintln!("apigw-front: {function}: {err}");
            apigw::internal_error()
        }
    };
    reply(answer)
}

/// API Gateway's answer to a body over its limit.
fn too_large() -> Answer {
    Answer {
        status: 413,
        headers: vec![("content-type".into(), "application/json".into())],
        body: br#"{"message":"Request Entity Too Large"}"#.to_vec(),
    }
}

fn reply(answer: Answer) -> Response {
    let mut resp = Response::new(Body::from(answer.body));
    *resp.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in answer.headers {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            resp.headers_mut().append(n, v);
        }
    }
    resp
}

/// Anything that is not a function URL goes to `cargo lambda watch` as it came.
async fn pass_through(front: &Front, parts: &axum::http::request::Parts, body: Bytes) -> Response {
    let target = format!("{}{}", front.lambda, parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let mut req = front.http.request(parts.method.clone(), &target).body(body);
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            req = req.header(name, value);
        }
    }
    match req.send().await {
        Ok(resp) => {
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.bytes().await.unwrap_or_default();
            let mut out = Response::new(Body::from(body));
            *out.status_mut() = status;
            for (n, v) in &headers {
                if n != "content-length" && n != "transfer-encoding" {
                    out.headers_mut().append(n, v.clone());
                }
            }
            out
        }
        Err(err) => {
            eprintln!("apigw-front: pass-through {target}: {err}");
            reply(apigw::internal_error())
        }
    }
}
