//! Small helpers for building HTTP responses and reading requests in every HTTP Lambda.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::error::ApiError;

/// A JSON response with `Cache-Control: no-store` (everything we serve is per-user or live).
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_string(value) {
        Ok(text) => Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::CACHE_CONTROL, "no-store")
            .body(Body::Text(text))
            .expect("static headers are valid"),
        Err(err) => {
            tracing::error!(error = %err, "response serialisation failed");
            ApiError::internal().into_response()
        }
    }
}

/// Turns a handler result into the response, rendering errors in the standard envelope.
pub fn respond(result: Result<Response<Body>, ApiError>) -> Response<Body> {
    result.unwrap_or_else(ApiError::into_response)
}

/// The raw request body as bytes, refusing anything larger than `limit`.
pub fn body_bytes(req: &Request, limit: usize) -> Result<&[u8], ApiError> {
    let bytes: &[u8] = match req.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b.as_slice(),
        _ => &[],
    };
    if bytes.len() > limit {
        return Err(ApiError::payload_too_large(limit));
    }
    Ok(bytes)
}

/// Parses a JSON body into `T`, with a 400 that names the problem.
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|err| {
        let code = if err.is_syntax() || err.is_eof() { "invalid_json" } else { "invalid_body" };
        ApiError::bad_request(code, format!("request body: {err}"))
    })
}

/// A header as UTF-8 text, if present and valid.
pub fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The first value of a query parameter, decoded (read from the URI, which lambda_http
/// builds from the raw query string for every event source).
pub fn query_param(req: &Request, name: &str) -> Option<String> {
    url::form_urlencoded::parse(req.uri().query()?.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// The `limit` query parameter of a listing: 1 to 100, `default` when absent, 400 otherwise.
pub fn limit_param(req: &Request, default: i32) -> Result<i32, ApiError> {
    match query_param(req, "limit") {
        None => Ok(default),
        Some(raw) => raw
            .parse::<i32>()
            .ok()
            .filter(|l| (1..=100).contains(l))
            .ok_or_else(|| ApiError::bad_request("invalid_limit", "limit must be 1 to 100")),
    }
}
