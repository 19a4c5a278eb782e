//! HTTP glue of every HTTP function: each one is an [`axum::Router`] that `main` runs through
//! `lambda_http::run` (and tests call in-process with [`call`]), finished by [`finish`] so that
//! every failure — ours, the caller's, or the framework's (404, 405) — is the JSON envelope of
//! [`ApiError`]. The input policy (docs/api/input-policy.md) is implemented here once:
//!
//! * **Order of checks, every route**: unknown path → 404; known path, other method → 405
//!   with `Allow`; then authentication (401/403/429; for signed server-to-server routes the
//!   signature over the raw bytes, after the size limit); then the body: size (413), content
//!   type (415), UTF-8 and JSON syntax (400 `invalid_json`), shape (400 `invalid_body`), then
//!   field rules (400/422 with a code naming the field).
//! * **Content type**: a JSON body may come without `Content-Type`, or with `application/json`
//!   or `application/*+json` (charset, if given, `utf-8`); anything else is 415.
//! * **Unknown fields**: rejected on user-facing writes (dashboard, admin: their body types are
//!   `#[serde(deny_unknown_fields)]`), accepted and ignored on provider and server-to-server
//!   bodies (payment webhooks, signups) — the hostile suite asserts both per route.
//! * **Path ids** are percent-decoded first, then validated ([`PathId`]): 400 naming the id.

use axum::extract::{FromRequest, FromRequestParts, RawPathParams};
use axum::response::IntoResponse;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode, Uri};
use lambda_http::{Body, Request};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tower::ServiceExt;

use crate::domain::{ApiKeyId, PaymentId, UserId};
use crate::error::ApiError;

pub use axum::Router;
/// What a route handler answers.
pub type Response = axum::response::Response;

/// A JSON response with `Cache-Control: no-store` (everything we serve is per-user or live).
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_string(value) {
        Ok(text) => {
            let mut resp = (status, text).into_response();
            resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            resp.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(err) => {
            tracing::error!(error = %err, "response serialisation failed");
            ApiError::internal().into_response()
        }
    }
}

/// `204 No Content` with `Cache-Control: no-store`.
pub fn no_content() -> Response {
    (StatusCode::NO_CONTENT, [(CACHE_CONTROL, "no-store")]).into_response()
}

/// The function's routes, finished: unmatched paths answer the 404 envelope, and every error
/// answer that is not our JSON envelope yet (axum's own 405 with its `Allow` header, a
/// framework rejection) is turned into it. Apply once, to the function's merged router.
pub fn finish(router: Router) -> Router {
    let routes = router.fallback(|uri: Uri| async move {
        ApiError::not_found("route_not_found", format!("no route {}", truncate(uri.path(), 200)))
    });
    // Wrapped from outside: axum adds `Allow` to a 405 after the route's own layers ran, so the
    // envelope must see the finished answer.
    Router::new().fallback_service(routes).layer(axum::middleware::map_response(envelope))
}

async fn envelope(resp: Response) -> Response {
    let status = resp.status();
    if status.as_u16() < 400 || is_json(resp.headers()) {
        return resp;
    }
    // axum writes `GET,HEAD`; one spelling on every route: `GET, HEAD`.
    let allow = resp
        .headers()
        .get(ALLOW)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(',').map(str::trim).filter(|m| !m.is_empty()).collect::<Vec<_>>().join(", "));
    let text = axum::body::to_bytes(resp.into_body(), 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let err = match status {
        StatusCode::METHOD_NOT_ALLOWED => ApiError::method_not_allowed(allow.as_deref().unwrap_or("")),
        StatusCode::NOT_FOUND => ApiError::not_found("route_not_found", "no such route"),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(status, "payload_too_large", text),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::unsupported_media_type(text),
        s if s.is_server_error() => {
            tracing::error!(status = s.as_u16(), body = %text, "non-envelope server error");
            ApiError::internal()
        }
        s => {
            let message =
                if text.is_empty() { s.canonical_reason().unwrap_or("bad request").to_string() } else { text };
            ApiError::new(s, "bad_request", message)
        }
    };
    err.into_response()
}

fn is_json(headers: &HeaderMap) -> bool {
    headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json"))
}

/// Calls `router` in-process with a copy of `req` and converts the answer exactly as
/// `lambda_http::run` does before handing it to API Gateway (text or binary body by content
/// type): how tests, benches and the local HTTP adapter drive the real function.
pub async fn call(router: Router, req: &Request) -> lambda_http::Response<Body> {
    let resp = match router.oneshot(copy_request(req)).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    };
    let converted: lambda_http::Response<Body> = lambda_http::IntoResponse::into_response(resp).await;
    converted
}

/// The request with its headers, body and extensions (lambda_http's request context).
pub fn copy_request(req: &Request) -> Request {
    let body = match req.body() {
        Body::Empty => Body::Empty,
        Body::Text(t) => Body::Text(t.clone()),
        Body::Binary(b) => Body::Binary(b.clone()),
        _ => Body::Empty,
    };
    let mut out = http::Request::new(body);
    *out.method_mut() = req.method().clone();
    *out.uri_mut() = req.uri().clone();
    *out.version_mut() = req.version();
    *out.headers_mut() = req.headers().clone();
    *out.extensions_mut() = req.extensions().clone();
    out
}

// ---------------------------------------------------------------------------------------------
// Bodies.

/// Reads the whole body, refusing anything larger than `limit` (413).
pub async fn read_limited(body: axum::body::Body, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|_| ApiError::payload_too_large(limit))
}

/// The raw body bytes (at most `LIMIT`): for routes that verify a signature over them before
/// parsing (payment webhooks, signups).
pub struct RawBody<const LIMIT: usize>(pub axum::body::Bytes);

impl<S: Send + Sync, const LIMIT: usize> FromRequest<S> for RawBody<LIMIT> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, _: &S) -> Result<Self, ApiError> {
        Ok(RawBody(read_limited(req.into_body(), LIMIT).await?))
    }
}

/// A JSON body of at most `LIMIT` bytes, checked by the policy above ([`parse_json_body`]).
pub struct Json<T, const LIMIT: usize = 4096>(pub T);

impl<S: Send + Sync, T: DeserializeOwned, const LIMIT: usize> FromRequest<S> for Json<T, LIMIT> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, _: &S) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let bytes = read_limited(body, LIMIT).await?;
        parse_json_body(&parts.headers, &bytes).map(Json)
    }
}

/// Like [`Json`], for a body that may be left out: an empty body is `None`.
pub struct MaybeJson<T, const LIMIT: usize = 4096>(pub Option<T>);

impl<S: Send + Sync, T: DeserializeOwned, const LIMIT: usize> FromRequest<S> for MaybeJson<T, LIMIT> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, _: &S) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let bytes = read_limited(body, LIMIT).await?;
        if bytes.is_empty() {
            return Ok(MaybeJson(None));
        }
        parse_json_body(&parts.headers, &bytes).map(|v| MaybeJson(Some(v)))
    }
}

/// The content-type rule: absent, `application/json` or `application/*+json` (charset, if
/// given, UTF-8); anything else is 415.
pub fn require_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(CONTENT_TYPE) else { return Ok(()) };
    let refuse = |got: &str| {
        ApiError::unsupported_media_type(format!(
            "the body must be JSON sent as Content-Type: application/json, got {:?}",
            truncate(got, 80)
        ))
    };
    let text = value.to_str().map_err(|_| refuse("(not ASCII)"))?;
    let mut params = text.split(';');
    let mime = params.next().unwrap_or_default().trim().to_ascii_lowercase();
    let json = mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"));
    let utf8 = params.all(|p| match p.split_once('=') {
        Some((k, v)) if k.trim().eq_ignore_ascii_case("charset") => {
            matches!(v.trim().trim_matches('"').to_ascii_lowercase().as_str(), "utf-8" | "utf8")
        }
        _ => true,
    });
    if json && utf8 {
        Ok(())
    } else {
        Err(refuse(text))
    }
}

/// The content-type rule, then [`parse_json`].
pub fn parse_json_body<T: DeserializeOwned>(headers: &HeaderMap, bytes: &[u8]) -> Result<T, ApiError> {
    require_json_content_type(headers)?;
    parse_json(bytes)
}

/// Parses a JSON body into `T` with a 400 that names the problem: empty, not UTF-8 (with the
/// offset of the first bad byte), not JSON (`invalid_json`, with line and column), or JSON of
/// the wrong shape (`invalid_body`, with the path of the offending field, e.g.
/// `tiers[1].rate`, and serde's reason: missing field, unknown field, wrong type).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("invalid_json", "request body is empty; send a JSON object"));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("request body is not UTF-8 text (invalid byte at offset {})", e.valid_up_to()),
        )
    })?;
    // Every body we take is a JSON object: serde would also read a struct from an array of its
    // fields in order (`["fraud", null]`), which no client means.
    if !text.trim_start().starts_with('{') {
        return Err(match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Ok(_) => ApiError::bad_request(
                "invalid_body",
                format!("request body must be a JSON object, got {}", json_kind(text)),
            ),
            Err(err) => json_error(err, "."),
        });
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        json_error(e.into_inner(), &path)
    })?;
    de.end().map_err(|e| json_error(e, "."))?;
    Ok(value)
}

fn json_kind(text: &str) -> &'static str {
    match text.trim_start().as_bytes().first() {
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

fn json_error(err: serde_json::Error, path: &str) -> ApiError {
    if err.is_syntax() || err.is_eof() {
        ApiError::bad_request("invalid_json", format!("request body is not valid JSON: {err}"))
    } else if path == "." {
        ApiError::bad_request("invalid_body", format!("request body: {err}"))
    } else {
        ApiError::bad_request("invalid_body", format!("request body: {path}: {err}"))
    }
}

// ---------------------------------------------------------------------------------------------
// Path ids.

/// An id taken from the path: percent-decoded first, then validated.
pub trait PathValue: Sized {
    /// The route's parameter name (`/admin/bonuses/{payment_id}/approve`).
    const NAME: &'static str;
    /// The error code of an invalid value (`invalid_payment_id`).
    const CODE: &'static str;
    fn parse_path(raw: &str) -> Result<Self, String>;
}

/// Extracts and validates the path parameter `T::NAME` (400 `T::CODE` when invalid).
pub struct PathId<T>(pub T);

impl<S: Send + Sync, T: PathValue> FromRequestParts<S> for PathId<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let invalid = |reason: String| ApiError::bad_request(T::CODE, format!("{}: {reason}", T::NAME));
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| invalid("must be UTF-8 text once percent-decoded".into()))?;
        let Some((_, raw)) = params.iter().find(|(name, _)| *name == T::NAME) else {
            tracing::error!(param = T::NAME, path = parts.uri.path(), "route has no such path parameter");
            return Err(ApiError::internal());
        };
        T::parse_path(raw).map(PathId).map_err(invalid)
    }
}

impl PathValue for PaymentId {
    const NAME: &'static str = "payment_id";
    const CODE: &'static str = "invalid_payment_id";
    fn parse_path(raw: &str) -> Result<Self, String> {
        PaymentId::parse(raw).map_err(|e| e.to_string())
    }
}

impl PathValue for UserId {
    const NAME: &'static str = "user_id";
    const CODE: &'static str = "invalid_user_id";
    fn parse_path(raw: &str) -> Result<Self, String> {
        UserId::parse(raw).map_err(|e| e.to_string())
    }
}

impl PathValue for ApiKeyId {
    const NAME: &'static str = "key_id";
    const CODE: &'static str = "invalid_key_id";
    fn parse_path(raw: &str) -> Result<Self, String> {
        ApiKeyId::parse(raw).map_err(|e| e.to_string())
    }
}

// ---------------------------------------------------------------------------------------------
// Headers and query strings.

/// A header as UTF-8 text, if present and valid.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The first value of a query parameter, decoded (read from the URI, which lambda_http
/// builds from the raw query string for every event source).
pub fn query_param(uri: &Uri, name: &str) -> Option<String> {
    url::form_urlencoded::parse(uri.query()?.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// The `limit` query parameter of a listing: 1 to 100, `default` when absent, 400 otherwise.
pub fn limit_param(uri: &Uri, default: i32) -> Result<i32, ApiError> {
    match query_param(uri, "limit") {
        None => Ok(default),
        Some(raw) => raw.parse::<i32>().ok().filter(|l| (1..=100).contains(l)).ok_or_else(|| {
            ApiError::bad_request("invalid_limit", format!("limit must be 1 to 100, got {:?}", truncate(&raw, 20)))
        }),
    }
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::{get, post};
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body2 {
        #[allow(dead_code)]
        name: String,
        #[allow(dead_code)]
        tiers: Vec<Tier>,
    }
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Tier {
        #[allow(dead_code)]
        rate: String,
    }

    fn err<T: std::fmt::Debug>(r: Result<T, ApiError>) -> (u16, &'static str, String) {
        let e = r.unwrap_err();
        (e.status.as_u16(), e.code, e.message)
    }

    #[test]
    fn json_errors_name_the_problem() {
        let (s, c, m) = err(parse_json::<Body2>(b""));
        assert_eq!((s, c), (400, "invalid_json"));
        assert!(m.contains("empty"), "{m}");
        let (_, c, m) = err(parse_json::<Body2>(b"{\"name\":\"\xff\"}"));
        assert_eq!(c, "invalid_json");
        assert!(m.contains("not UTF-8") && m.contains("offset 9"), "{m}");
        let (_, c, m) = err(parse_json::<Body2>(br#"{"name":"a","tiers":[{"rate":"1"}"#));
        assert_eq!(c, "invalid_json");
        assert!(m.contains("not valid JSON"), "{m}");
        let (_, c, m) = err(parse_json::<Body2>(br#"{"name":"a","tiers":[{"rate":"1"},{"rate":2}]}"#));
        assert_eq!(c, "invalid_body");
        assert!(m.contains("tiers[1].rate") && m.contains("invalid type"), "{m}");
        let (_, c, m) = err(parse_json::<Body2>(br#"{"name":"a","tiers":[],"x":1}"#));
        assert_eq!(c, "invalid_body");
        assert!(m.contains("unknown field `x`"), "{m}");
        let (_, c, m) = err(parse_json::<Body2>(br#"["a", []]"#));
        assert_eq!(c, "invalid_body");
        assert!(m.contains("must be a JSON object, got an array"), "{m}");
        let (_, c, _) = err(parse_json::<Body2>(b"nope"));
        assert_eq!(c, "invalid_json");
        let (_, c, _) = err(parse_json::<Body2>(br#"{"name":"a","tiers":[]} x"#));
        assert_eq!(c, "invalid_json");
    }

    #[test]
    fn content_types() {
        let with = |ct: &str| {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
            require_json_content_type(&h).map_err(|e| e.status.as_u16())
        };
        assert_eq!(require_json_content_type(&HeaderMap::new()), Ok(()));
        for ok in
            ["application/json", "application/json; charset=utf-8", "Application/JSON", "application/merge-patch+json"]
        {
            assert_eq!(with(ok), Ok(()), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/json; charset=latin1",
            "multipart/form-data",
        ] {
            assert_eq!(with(bad), Err(415), "{bad}");
        }
    }

    #[tokio::test]
    async fn framework_answers_are_envelopes() {
        let router = finish(
            Router::new()
                .route("/a", get(|| async { "ok" }))
                .route("/u/{user_id}", post(|PathId(u): PathId<UserId>| async move { u.to_string() })),
        );
        let req = |m: &str, uri: &str| {
            let mut r = Request::new(Body::Empty);
            *r.method_mut() = m.parse().unwrap();
            *r.uri_mut() = uri.parse().unwrap();
            r
        };
        let body = |r: &lambda_http::Response<Body>| -> serde_json::Value {
            match r.body() {
                Body::Text(t) => serde_json::from_str(t).unwrap(),
                other => panic!("{other:?}"),
            }
        };
        let resp = call(router.clone(), &req("GET", "/nope")).await;
        assert_eq!((resp.status().as_u16(), body(&resp)["error"]["code"].as_str()), (404, Some("route_not_found")));
        let resp = call(router.clone(), &req("DELETE", "/a")).await;
        assert_eq!(resp.status(), 405);
        assert_eq!(resp.headers()["allow"], "GET, HEAD");
        assert_eq!(body(&resp)["error"]["code"], "method_not_allowed");
        // Ids are validated after percent-decoding: `al%69ce` is alice, `a%23b` is `a#b`.
        let resp = call(router.clone(), &req("POST", "/u/al%69ce")).await;
        assert_eq!(resp.status(), 200);
        let resp = call(router.clone(), &req("POST", "/u/a%23b")).await;
        assert_eq!((resp.status().as_u16(), body(&resp)["error"]["code"].as_str()), (400, Some("invalid_user_id")));
        let resp = call(router, &req("POST", "/u/%FF")).await;
        assert_eq!(resp.status(), 400);
    }
}
