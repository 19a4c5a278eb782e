//! What API Gateway (HTTP API, payload format 2.0) does between a caller and a function,
//! locally: an HTTP request becomes the Lambda event API Gateway would send, and the function's
//! response object becomes the HTTP answer. The `apigw-front` binary puts this in front of
//! `cargo lambda watch` during `make dev`, whose own function-URL emulation turns a non-UTF-8
//! JSON or text body into a 500 before the function runs (docs/api/input-policy.md).
//!
//! Body encoding, as API Gateway does it: a body is passed as text only when it is UTF-8 and its
//! `Content-Type` is textual; anything else (binary types, no type, bytes that are not UTF-8
//! whatever the type claims) is base64-encoded with `isBase64Encoded: true`. A JSON event
//! string cannot carry bytes that are not UTF-8, so those always arrive base64-encoded.

use base64::Engine as _;
use serde_json::{json, Map, Value};

/// A request as the front received it.
pub struct Incoming<'a> {
    pub method: &'a str,
    /// The path the function sees (after `/lambda-url/<function>`), starting with `/`.
    pub path: &'a str,
    /// The raw query string, without `?` (empty when none).
    pub query: &'a str,
    /// Header names lower-case, in arrival order; repeated names are kept.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    pub source_ip: &'a str,
    pub request_id: &'a str,
    pub time_epoch_ms: i64,
}

/// `true` when API Gateway passes a body of this `Content-Type` as text (if it is UTF-8).
pub fn is_textual(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let essence = ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/x-www-form-urlencoded"
                | "application/graphql"
        )
}

/// The payload-2.0 event for `req`: `rawPath`, `rawQueryString`, comma-joined `headers`
/// (cookies moved to `cookies`, as API Gateway does), decoded `queryStringParameters`,
/// `requestContext.http`, stage `$default` (no stage prefix in the path), and the body encoded
/// as described in the module docs.
pub fn event(req: &Incoming<'_>) -> Value {
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in req.headers {
        if name == "cookie" {
            cookies.extend(value.split(';').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()));
            continue;
        }
        match headers.get_mut(name) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(value);
            }
            _ => {
                headers.insert(name.clone(), Value::String(value.clone()));
            }
        }
    }
    let mut query = Map::new();
    for (k, v) in form_urlencoded::parse(req.query.as_bytes()) {
        match query.get_mut(k.as_ref()) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&v);
            }
            _ => {
                query.insert(k.into_owned(), Value::String(v.into_owned()));
            }
        }
    }
    let content_type = req.headers.iter().find(|(n, _)| n == "content-type").map(|(_, v)| v.as_str());
    let (body, base64) = if req.body.is_empty() {
        (Value::Null, false)
    } else {
        match std::str::from_utf8(req.body) {
            Ok(text) if is_textual(content_type) => (Value::String(text.to_string()), false),
            _ => (Value::String(base64::engine::general_purpose::STANDARD.encode(req.body)), true),
        }
    };
    let user_agent = req.headers.iter().find(|(n, _)| n == "user-agent").map(|(_, v)| v.clone());
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": req.path,
        "rawQueryString": req.query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "local",
            "http": {
                "method": req.method,
                "path": req.path,
                "protocol": "HTTP/1.1",
                "sourceIp": req.source_ip,
                "userAgent": user_agent.unwrap_or_default(),
            },
            "requestId": req.request_id,
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": req.time_epoch_ms,
        },
        "isBase64Encoded": base64,
    });
    let obj = event.as_object_mut().expect("object");
    if !cookies.is_empty() {
        obj.insert("cookies".into(), json!(cookies));
    }
    if !query.is_empty() {
        obj.insert("queryStringParameters".into(), Value::Object(query));
    }
    if !body.is_null() {
        obj.insert("body".into(), body);
    }
    event
}

/// The HTTP answer API Gateway makes of a function's response object.
#[derive(Debug, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What API Gateway answers when the function failed or returned something it can't map.
pub fn internal_error() -> Answer {
    Answer {
        status: 500,
        headers: vec![("content-type".into(), "application/json".into())],
        body: br#"{"message":"Internal Server Error"}"#.to_vec(),
    }
}

/// Maps a payload-2.0 response (`statusCode`, `headers`, `multiValueHeaders`, `cookies` →
/// `Set-Cookie`, `body`, `isBase64Encoded`) to the HTTP answer; anything else is API Gateway's
/// 500.
pub fn answer(response: &Value) -> Answer {
    let Some(obj) = response.as_object() else { return internal_error() };
    let Some(status) = obj.get("statusCode").and_then(Value::as_u64).and_then(|s| u16::try_from(s).ok()) else {
        return internal_error();
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(Value::Object(multi)) = obj.get("multiValueHeaders") {
        for (name, values) in multi {
            for v in values.as_array().into_iter().flatten().filter_map(Value::as_str) {
                headers.push((name.to_ascii_lowercase(), v.to_string()));
            }
        }
    }
    if let Some(Value::Object(single)) = obj.get("headers") {
        for (name, v) in single {
            let name = name.to_ascii_lowercase();
            if let Some(v) = v.as_str() {
                if !headers.iter().any(|(n, _)| *n == name) {
                    headers.push((name, v.to_string()));
                }
            }
        }
    }
    for cookie in obj.get("cookies").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        headers.push(("set-cookie".into(), cookie.to_string()));
    }
    let text = obj.get("body").and_then(Value::as_str).unwrap_or_default();
    let body = if obj.get("isBase64Encoded").and_then(Value::as_bool).unwrap_or(false) {
        match base64::engine::general_purpose::STANDARD.decode(text) {
            Ok(bytes) => bytes,
            Err(_) => return internal_error(),
        }
    } else {
        text.as_bytes().to_vec()
    };
    Answer { status, headers, body }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incoming<'a>(headers: &'a [(String, String)], body: &'a [u8]) -> Incoming<'a> {
        Incoming {
            method: "POST",
            path: "/webhooks/payments",
            query: "a=1&a=2&b=%20x",
            headers,
            body,
            source_ip: "127.0.0.1",
            request_id: "req-1",
            time_epoch_ms: 1_700_000_000_000,
        }
    }

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn non_utf8_bodies_are_base64_whatever_the_content_type_and_lambda_http_reads_the_bytes() {
        let bytes = b"{\"payment_id\":\"\xff\xfe\"}";
        for ct in ["application/json", "text/plain; charset=utf-8", "application/octet-stream"] {
            let headers = h(&[("content-type", ct)]);
            let ev = event(&incoming(&headers, bytes));
            assert_eq!(ev["isBase64Encoded"], true, "{ct}");
            let req = lambda_http::request::from_str(&ev.to_string()).expect("a v2 event lambda_http reads");
            assert_eq!(req.body().as_ref(), bytes.as_slice(), "{ct}");
            assert_eq!(req.uri().path(), "/webhooks/payments");
        }
    }

    #[test]
    fn utf8_textual_bodies_are_text_and_binary_types_base64() {
        let headers = h(&[("content-type", "application/json")]);
        let ev = event(&incoming(&headers, br#"{"a":1}"#));
        assert_eq!((ev["isBase64Encoded"].clone(), ev["body"].clone()), (json!(false), json!(r#"{"a":1}"#)));
        let headers = h(&[("content-type", "application/octet-stream")]);
        assert_eq!(event(&incoming(&headers, br#"{"a":1}"#))["isBase64Encoded"], true);
        assert_eq!(event(&incoming(&[], br#"{"a":1}"#))["isBase64Encoded"], true, "no content type");
        assert!(event(&incoming(&[], b"")).get("body").is_none());
    }

    #[test]
    fn headers_cookies_and_query_take_api_gateway_shape() {
        let headers = h(&[("x-a", "1"), ("x-a", "2"), ("cookie", "a=1; b=2"), ("user-agent", "curl")]);
        let ev = event(&incoming(&headers, b""));
        assert_eq!(ev["headers"]["x-a"], "1,2");
        assert!(ev["headers"].get("cookie").is_none());
        assert_eq!(ev["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(ev["queryStringParameters"], json!({"a": "1,2", "b": " x"}));
        assert_eq!(ev["rawQueryString"], "a=1&a=2&b=%20x");
        assert_eq!(ev["requestContext"]["http"]["userAgent"], "curl");
        let req = lambda_http::request::from_str(&ev.to_string()).expect("v2 event");
        assert_eq!(req.uri().query(), Some("a=1&a=2&b=%20x"));
    }

    #[test]
    fn responses_map_to_http_answers() {
        let a = answer(&json!({
            "statusCode": 302,
            "headers": {"Location": "https://x/", "content-type": "text/plain"},
            "multiValueHeaders": {"vary": ["a", "b"]},
            "cookies": ["ref=K7M2XQ; Max-Age=1", "x=1"],
            "body": "aGk=",
            "isBase64Encoded": true
        }));
        assert_eq!(a.status, 302);
        assert_eq!(a.body, b"hi");
        assert!(a.headers.contains(&("location".into(), "https://x/".into())));
        assert_eq!(a.headers.iter().filter(|(n, _)| n == "set-cookie").count(), 2);
        assert_eq!(a.headers.iter().filter(|(n, _)| n == "vary").count(), 2);
        assert_eq!(answer(&json!({"errorMessage": "boom"})), internal_error());
        assert_eq!(answer(&json!({"statusCode": 200, "body": "!!", "isBase64Encoded": true})), internal_error());
    }
}
