//! Building `lambda_http` requests and reading responses in tests.

use lambda_http::{Body, Request, Response};

/// A GET request for `uri` with extra headers.
pub fn get(uri: &str, headers: &[(&str, &str)]) -> Request {
    request("GET", uri, headers, Body::Empty)
}

pub fn request(method: &str, uri: &str, headers: &[(&str, &str)], body: Body) -> Request {
    let mut builder = lambda_http::http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder.body(body).expect("valid test request")
}

/// A single header as text (None if absent).
pub fn header<'a>(resp: &'a Response<Body>, name: &str) -> Option<&'a str> {
    resp.headers().get(name).map(|v| v.to_str().expect("ASCII header"))
}

/// Every value of a header.
pub fn header_all<'a>(resp: &'a Response<Body>, name: &str) -> Vec<&'a str> {
    resp.headers().get_all(name).iter().map(|v| v.to_str().expect("ASCII header")).collect()
}

/// The body parsed as JSON (panics with the text if it is not JSON).
pub fn body_json(resp: &Response<Body>) -> serde_json::Value {
    let text = match resp.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}"))
}
