//! Redirect function against moto: status, exact Location, exact cookie, first-touch,
//! unknown/malformed codes, open-redirect attempts and the click counter in the table.

use adapters::domain::{RefCode, UserId};
use adapters::store::{Codes, DynamoStore, Users};
use integration_tests::{body_json, get, header, header_all, TestStack};
use redirect::{RedirectConfig, Touch};

fn config(touch: Touch) -> RedirectConfig {
    RedirectConfig { site_origin: url::Url::parse("https://www.example.com").unwrap(), cookie_domain: None, touch }
}

async fn seeded() -> (TestStack, RefCode) {
    let stack = TestStack::new().await;
    let code = stack.store.ensure_code(&UserId::parse("referrer-1").unwrap()).await.unwrap();
    (stack, code)
}

/// The code's click total: the sum of its counter shards (see tests/tests/e2e/sharding.rs).
async fn clicks(stack: &TestStack, code: RefCode) -> u64 {
    stack.store.code(&code).await.expect("read code").expect("code row").clicks
}

fn assert_exact_cookie(set_cookie: &str, code: RefCode) {
    let c = cookie::Cookie::parse(set_cookie.to_string()).expect("valid Set-Cookie");
    assert_eq!(c.name(), "ref");
    assert_eq!(c.value(), code.as_str());
    assert_eq!(c.max_age(), Some(cookie::time::Duration::seconds(34_560_000)));
    assert_eq!(c.path(), Some("/"));
    assert_eq!(c.secure(), Some(true));
    assert_eq!(c.same_site(), Some(cookie::SameSite::Lax));
    assert_eq!(c.http_only(), None, "ref.js must be able to read the cookie");
    assert_eq!(c.domain(), None);
}

#[tokio::test]
async fn valid_code_redirects_sets_cookie_and_counts_the_click() {
    let (stack, code) = seeded().await;
    let cfg = config(Touch::First);
    let uri = format!("https://go.example.com/pricing?utm_source=tw&ref={}&plan=pro", code.as_str().to_lowercase());
    let resp = redirect::handle(&stack.store, &cfg, &get(&uri, &[])).await;

    assert_eq!(resp.status(), 302);
    assert_eq!(header(&resp, "location"), Some("https://www.example.com/pricing?utm_source=tw&plan=pro"));
    assert_eq!(header(&resp, "cache-control"), Some("no-store"));
    let cookies = header_all(&resp, "set-cookie");
    assert_eq!(cookies.len(), 1);
    assert_exact_cookie(cookies[0], code);
    assert_eq!(clicks(&stack, code).await, 1);

    redirect::handle(&stack.store, &cfg, &get(&uri, &[])).await;
    assert_eq!(clicks(&stack, code).await, 2);
}

#[tokio::test]
async fn only_ref_gives_the_clean_root() {
    let (stack, code) = seeded().await;
    let resp = redirect::handle(&stack.store, &config(Touch::First), &get(&format!("/?ref={code}"), &[])).await;
    assert_eq!(resp.status(), 302);
    assert_eq!(header(&resp, "location"), Some("https://www.example.com/"));
}

#[tokio::test]
async fn first_touch_keeps_the_existing_cookie_but_counts_the_click() {
    let (stack, code) = seeded().await;
    let first = stack.store.ensure_code(&UserId::parse("first-referrer").unwrap()).await.unwrap();
    let cookie = format!("theme=dark; ref={first}");
    let resp =
        redirect::handle(&stack.store, &config(Touch::First), &get(&format!("/?ref={code}"), &[("cookie", &cookie)]))
            .await;
    assert_eq!(resp.status(), 302);
    assert!(header_all(&resp, "set-cookie").is_empty(), "first touch must not overwrite");
    assert_eq!(clicks(&stack, code).await, 1);

    let last =
        redirect::handle(&stack.store, &config(Touch::Last), &get(&format!("/?ref={code}"), &[("cookie", &cookie)]))
            .await;
    assert_exact_cookie(header(&last, "set-cookie").expect("last touch overwrites"), code);
}

#[tokio::test]
async fn unknown_code_redirects_clean_without_cookie_or_writes() {
    let (stack, code) = seeded().await;
    let unknown = if code.as_str() == "ZZZZZZ" { "YYYYYY" } else { "ZZZZZZ" };
    let before = stack.all_items().await.len();
    let resp =
        redirect::handle(&stack.store, &config(Touch::First), &get(&format!("/a/b?ref={unknown}&x=1"), &[])).await;
    assert_eq!(resp.status(), 302);
    assert_eq!(header(&resp, "location"), Some("https://www.example.com/a/b?x=1"));
    assert!(header_all(&resp, "set-cookie").is_empty());
    assert_eq!(stack.all_items().await.len(), before, "an unknown code must not create a row");
    assert!(stack.item(&format!("CODE#{unknown}"), "CODE").await.is_none());
}

#[tokio::test]
async fn malformed_codes_redirect_clean_without_cookie() {
    let (stack, code) = seeded().await;
    for bad in ["K7M2X", "K7M2XQQ", "K7M2XI", "%3Cscript%3E", "", "K7M2X%C3%96", "%22%3B%20Domain%3Devil.com"] {
        let resp =
            redirect::handle(&stack.store, &config(Touch::First), &get(&format!("/landing?ref={bad}&y=2"), &[])).await;
        assert_eq!(resp.status(), 302, "{bad}");
        assert_eq!(header(&resp, "location"), Some("https://www.example.com/landing?y=2"), "{bad}");
        assert!(header_all(&resp, "set-cookie").is_empty(), "{bad}");
    }
    assert_eq!(clicks(&stack, code).await, 0);
}

#[tokio::test]
async fn never_an_open_redirect() {
    let (stack, code) = seeded().await;
    let attempts = [
        format!("//evil.com?ref={code}"),
        format!("//evil.com/%2F..?ref={code}"),
        format!("/%2F%2Fevil.com?ref={code}"),
        format!("/%5C%5Cevil.com?ref={code}"),
        format!("https://evil.com/?ref={code}"),
        format!("/?ref={code}&next=https%3A%2F%2Fevil.com"),
        format!("/?ref={code}%0D%0ALocation:%20https://evil.com"),
        format!("/?x=%0D%0ASet-Cookie:%20ref%3DEVIL00&ref={code}"),
    ];
    for uri in &attempts {
        let resp = redirect::handle(&stack.store, &config(Touch::First), &get(uri, &[])).await;
        assert_eq!(resp.status(), 302, "{uri}");
        let location = header(&resp, "location").unwrap();
        let parsed = url::Url::parse(location).unwrap();
        assert_eq!(
            (parsed.scheme(), parsed.host_str(), parsed.port()),
            ("https", Some("www.example.com"), None),
            "{uri} -> {location}"
        );
        assert!(!location.contains(['\r', '\n']), "{uri}");
        for c in header_all(&resp, "set-cookie") {
            assert!(c.starts_with(&format!("ref={code};")), "{uri}: {c}");
        }
    }
}

#[tokio::test]
async fn other_methods_get_a_json_405() {
    let (stack, _) = seeded().await;
    let req = integration_tests::requests::request("POST", "/?ref=K7M2XQ", &[], lambda_http::Body::Empty);
    let resp = redirect::handle(&stack.store, &config(Touch::First), &req).await;
    assert_eq!(resp.status(), 405);
    assert_eq!(header(&resp, "allow"), Some("GET, HEAD"));
    assert_eq!(body_json(&resp)["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn dynamodb_outage_still_redirects_and_keeps_attribution() {
    // Nothing listens on port 1: every DynamoDB call fails fast.
    let sdk = local_stack::local_sdk_config("http://127.0.0.1:1")
        .into_builder()
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build();
    let down = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), "referrals");
    let resp = redirect::handle(&down, &config(Touch::First), &get("/x?ref=K7M2XQ&a=1", &[])).await;
    assert_eq!(resp.status(), 302);
    assert_eq!(header(&resp, "location"), Some("https://www.example.com/x?a=1"));
    assert_exact_cookie(header(&resp, "set-cookie").unwrap(), RefCode::parse("K7M2XQ").unwrap());
}
