//! Serves a `lambda_http` handler over plain HTTP on 127.0.0.1 — how the browser tests
//! reach the real dashboard function (the same handler code the Lambda runs).

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::{Body, Request, Response};
use tokio::net::TcpListener;

/// Accepts connections forever, turning each request into a `lambda_http::Request`.
pub async fn serve<H, Fut>(listener: TcpListener, handler: H)
where
    H: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send,
{
    let handler = Arc::new(handler);
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: hyper::Request<Incoming>| {
                let handler = handler.clone();
                async move {
                    let (parts, body) = req.into_parts();
                    let bytes = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                    let body = if bytes.is_empty() { Body::Empty } else { Body::Binary(bytes.to_vec()) };
                    let resp = handler(Request::from_parts(parts, body)).await;
                    let (parts, body) = resp.into_parts();
                    let bytes = match body {
                        Body::Text(t) => Bytes::from(t),
                        Body::Binary(b) => Bytes::from(b),
                        _ => Bytes::new(),
                    };
                    Ok::<_, Infallible>(hyper::Response::from_parts(parts, Full::new(bytes)))
                }
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
