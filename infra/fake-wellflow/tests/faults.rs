//! HTTP tests of the fault modes (`down`, `5xx`, `4xx`, `slow`, `ok`) and of the controls staying
//! reachable in every mode.

use std::time::{Duration, Instant};

use fake_wellflow::FakeWellflow;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

const API_KEY: &str = "test-key";

async fn set_fault(client: &Client, fake: &FakeWellflow, body: Value) {
    let response = client.post(format!("{}/__fault", fake.base_url)).json(&body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

async fn credit(client: &Client, fake: &FakeWellflow, key: &str) -> reqwest::Result<reqwest::Response> {
    client
        .post(format!("{}/v1/accounts/acc-1/credits", fake.base_url))
        .bearer_auth(API_KEY)
        .header("Idempotency-Key", key)
        .json(&json!({ "amount": "1.00", "currency": "USD" }))
        .send()
        .await
}

#[tokio::test]
async fn down_drops_v1_connections_but_controls_work() {
    let fake = FakeWellflow::start(API_KEY).await.unwrap();
    let client = Client::new();
    // Open a keep-alive connection first, so "down" is also seen on an existing connection.
    assert_eq!(credit(&client, &fake, "k-0").await.unwrap().status(), StatusCode::CREATED);

    set_fault(&client, &fake, json!({"mode": "down"})).await;
    for key in ["k-1", "k-2"] {
        let err = credit(&client, &fake, key).await.expect_err("down must not answer");
        assert!(err.is_request() || err.is_connect(), "{err:?}");
        assert!(!err.is_timeout(), "{err:?}");
    }
    let fresh = credit(&Client::new(), &fake, "k-3").await;
    assert!(fresh.is_err());

    let stats: Value = client.get(format!("{}/__stats", fake.base_url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["credits_applied"], 1);
    assert_eq!(stats["requests"], 4);

    set_fault(&client, &fake, json!({"mode": "ok"})).await;
    assert_eq!(credit(&client, &fake, "k-4").await.unwrap().status(), StatusCode::CREATED);
}

#[tokio::test]
async fn unavailable_answers_503_and_applies_nothing() {
    let fake = FakeWellflow::start(API_KEY).await.unwrap();
    let client = Client::new();
    set_fault(&client, &fake, json!({"mode": "5xx"})).await;

    let response = credit(&client, &fake, "k-1").await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
    let balance = client.get(format!("{}/v1/accounts/acc-1", fake.base_url)).bearer_auth(API_KEY).send().await.unwrap();
    assert_eq!(balance.status(), StatusCode::SERVICE_UNAVAILABLE);

    assert_eq!(fake.stats().credits_applied, 0);
    assert_eq!(fake.stats().requests, 2);
    set_fault(&client, &fake, json!({"mode": "ok"})).await;
    assert_eq!(credit(&client, &fake, "k-1").await.unwrap().status(), StatusCode::CREATED);
}

#[tokio::test]
async fn refuse_answers_422_and_applies_nothing() {
    let fake = FakeWellflow::start(API_KEY).await.unwrap();
    let client = Client::new();
    set_fault(&client, &fake, json!({"mode": "4xx"})).await;
    let response = credit(&client, &fake, "k-1").await.unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "account_frozen");
    assert_eq!(fake.stats().credits_applied, 0);
    set_fault(&client, &fake, json!({"mode": "ok"})).await;
    assert_eq!(credit(&client, &fake, "k-1").await.unwrap().status(), StatusCode::CREATED, "nothing was kept");
}

#[tokio::test]
async fn slow_delays_then_applies() {
    let fake = FakeWellflow::start(API_KEY).await.unwrap();
    let client = Client::new();
    set_fault(&client, &fake, json!({"mode": "slow", "delay_ms": 300})).await;
    let fault: Value = client.get(format!("{}/__fault", fake.base_url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(fault, json!({"mode": "slow", "delay_ms": 300}));

    let started = Instant::now();
    let response = credit(&client, &fake, "k-1").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(fake.stats().credits_applied, 1);
}

#[tokio::test]
async fn slow_applies_even_when_the_client_gives_up() {
    let fake = FakeWellflow::start(API_KEY).await.unwrap();
    let client = Client::builder().timeout(Duration::from_millis(100)).build().unwrap();
    set_fault(&client, &fake, json!({"mode": "slow", "delay_ms": 300})).await;

    let err = credit(&client, &fake, "k-1").await.expect_err("should time out");
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(fake.stats().credits_applied, 0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.stats().credits_applied, 1);
}

#[tokio::test]
async fn invalid_fault_mode_is_422() {
    let fake = FakeWellflow::start(API_KEY).await.unwrap();
    let response =
        Client::new().post(format!("{}/__fault", fake.base_url)).json(&json!({"mode": "flaky"})).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
