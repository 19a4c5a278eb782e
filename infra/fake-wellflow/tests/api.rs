//! HTTP tests of the `/v1` contract: credits, replays, conflicts, concurrency, debits, auth,
//! validation, balances and `/__reset`.

use fake_wellflow::FakeWellflow;
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};

const API_KEY: &str = "test-key";

async fn transfer(base_url: &str, kind: &str, account: &str, amount: &str, key: &str) -> Response {
    Client::new()
        .post(format!("{base_url}/v1/accounts/{account}/{kind}"))
        .bearer_auth(API_KEY)
        .header("Idempotency-Key", key)
        .json(&json!({ "amount": amount, "currency": "USD", "description": "test" }))
        .send()
        .await
        .expect("request failed")
}

async fn get_json(url: String) -> Value {
    let response = Client::new().get(url).bearer_auth(API_KEY).send().await.expect("request failed");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("not JSON")
}

async fn error_code(response: Response) -> String {
    let body: Value = response.json().await.expect("not JSON");
    body["error"]["code"].as_str().expect("no error.code").to_owned()
}

#[tokio::test]
async fn credit_then_replay_then_conflict() {
    let fake = FakeWellflow::start(API_KEY).await.unwrap();

    let first = transfer(&fake.base_url, "credits", "acc-1", "2.5", "key-1").await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_body: Value = first.json().await.unwrap();
    assert_eq!(
        first_body,
        json!({"transaction_id": "wf_tx_1", "account_id": "acc-1", "kind": "credit", "amount": "2.50", "balance": "2.50"})
    );

    let second = transfer(&fake.base_url, "credits", "acc-1", "10", "key-2").await;
    assert_eq!(second.json::<Value>().await.unwrap()["balance"], "12.50");

    let replay = transfer(&fake.base_url, "credits", "acc-1", "2.50", "key-1").await;
    assert_eq!(replay.status(), StatusCode::OK);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<Value>().await.unwrap(), first_body);

    for (kind, account, amount) in
        [("credits", "acc-1", "3.00"), ("credits", "acc-2", "2.50"), ("debits", "acc-1", "2.50")]
    {
        let conflict = transfer(&fake.base_url, kind, account, amount, "key-1").await;
        assert_eq!(conflict.status(), StatusCode::CONFLICT);
        assert_eq!(error_code(conflict).await, "idempotency_conflict");
    }

    let account = get_json(format!("{}/v1/accounts/acc-1", fake.base_url)).await;
    assert_eq!(account, json!({"account_id": "acc-1", "balance": "12.50"}));
    let stats = get_json(format!("{}/__stats", fake.base_url)).await;
    assert_eq!(stats["credits_applied"], 2);
    assert_eq!(stats["requests"], 7);
    let mut first = stats["transactions"][0].clone();
    let created_at = first.as_object_mut().unwrap().remove("created_at").expect("created_at");
    assert!(created_at.as_str().unwrap().ends_with('Z'), "{created_at}");
    assert_eq!(
        first,
        json!({"transaction_id": "wf_tx_1", "account_id": "acc-1", "kind": "credit", "amount": "2.50", "idempotency_key": "key-1"})
    );
}

async fn post_json(url: String, body: Value) -> Response {
    Client::new().post(url).json(&body).send().await.expect("request failed")
}

#[tokio::test]
async fn transactions_are_listed_by_window_in_stable_pages() {
    let fake = FakeWellflow::start(API_KEY).await.unwrap();
    for (i, account) in ["acc-1", "acc-2", "acc-1", "acc-1"].iter().enumerate() {
        let kind = if i == 2 { "debits" } else { "credits" };
        let status = transfer(&fake.base_url, kind, account, "1.00", &format!("k{i}")).await.status();
        assert_eq!(status, StatusCode::CREATED);
    }
    let list = |query: String| {
        let url = format!("{}/v1/accounts/acc-1/transactions?{query}", fake.base_url);
        async move { Client::new().get(url).bearer_auth(API_KEY).send().await.unwrap() }
    };
    let all = "from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z";
    let first: Value = list(format!("{all}&limit=2")).await.json().await.unwrap();
    let keys = |page: &Value| -> Vec<String> {
        page["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["idempotency_key"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(keys(&first), ["k0", "k2"]);
    assert_eq!(first["transactions"][1]["kind"], "debit");
    let cursor = first["next_cursor"].as_str().expect("more").to_string();
    // A transaction arriving between two pages lands at the end, after what was listed.
    transfer(&fake.base_url, "credits", "acc-1", "2.00", "k4").await;
    let second: Value = list(format!("{all}&limit=2&cursor={cursor}")).await.json().await.unwrap();
    assert_eq!((keys(&second), second["next_cursor"].is_null()), (vec!["k3".to_string(), "k4".to_string()], true));
    let none: Value = list("from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z".into()).await.json().await.unwrap();
    assert_eq!(none["transactions"], json!([]));
    for bad in
        ["to=2100-01-01T00:00:00Z", "from=yesterday&to=today", &format!("{all}&limit=0"), &format!("{all}&cursor=x")]
    {
        assert_eq!(list(bad.to_string()).await.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let unauthenticated =
        Client::new().get(format!("{}/v1/accounts/acc-1/transactions?{all}", fake.base_url)).send().await.unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_ledger_control_edits_the_book_behind_the_apis_back() {
    let fake = FakeWellflow::start(API_KEY).await.unwrap();
    transfer(&fake.base_url, "credits", "acc-1", "5.00", "credit-1").await;
    transfer(&fake.base_url, "debits", "acc-1", "2.00", "debit-1").await;
    let edit = |body: Value| post_json(format!("{}/__ledger", fake.base_url), body);

    // A manual adjustment with a key: booked, and the key is taken.
    let manual = edit(json!({"op": "insert", "account_id": "acc-1", "kind": "credit", "amount": "10.00",
                             "idempotency_key": "manual-1", "created_at": "2026-11-25T09:00:00Z"}))
    .await;
    assert_eq!(manual.status(), StatusCode::OK);
    assert_eq!(manual.json::<Value>().await.unwrap()["created_at"], "2026-11-25T09:00:00.000Z");
    assert_eq!(fake.balance("acc-1"), rust_decimal::Decimal::new(1300, 2));
    let replay = transfer(&fake.base_url, "credits", "acc-1", "10.00", "manual-1").await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let taken = edit(json!({"op": "insert", "account_id": "acc-1", "kind": "credit", "amount": "1.00",
                            "idempotency_key": "manual-1"}))
    .await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);

    // An altered amount, then a lost transaction whose key Wellflow still remembers.
    let changed = edit(json!({"op": "set_amount", "idempotency_key": "credit-1", "amount": "6.00"})).await;
    assert_eq!(changed.json::<Value>().await.unwrap()["amount"], "6.00");
    assert_eq!(fake.balance("acc-1"), rust_decimal::Decimal::new(1400, 2));
    let lost = edit(json!({"op": "remove", "idempotency_key": "debit-1", "forget_key": false})).await;
    assert_eq!(lost.status(), StatusCode::OK);
    assert_eq!(fake.balance("acc-1"), rust_decimal::Decimal::new(1600, 2));
    let replayed = transfer(&fake.base_url, "debits", "acc-1", "2.00", "debit-1").await;
    assert_eq!((replayed.status(), fake.balance("acc-1")), (StatusCode::OK, rust_decimal::Decimal::new(1600, 2)));
    // Removed and forgotten: the same request is applied anew.
    edit(json!({"op": "remove", "idempotency_key": "credit-1"})).await;
    let again = transfer(&fake.base_url, "credits", "acc-1", "5.00", "credit-1").await;
    assert_eq!((again.status(), fake.balance("acc-1")), (StatusCode::CREATED, rust_decimal::Decimal::new(1500, 2)));

    // Without a key (a console adjustment): listed with a null key.
    edit(json!({"op": "insert", "account_id": "acc-1", "kind": "debit", "amount": "0.50"})).await;
    let url =
        format!("{}/v1/accounts/acc-1/transactions?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z", fake.base_url);
    let listed: Value = Client::new().get(url).bearer_auth(API_KEY).send().await.unwrap().json().await.unwrap();
    let keys: Vec<Value> =
        listed["transactions"].as_array().unwrap().iter().map(|t| t["idempotency_key"].clone()).collect();
    assert_eq!(keys, [json!("manual-1"), json!("credit-1"), Value::Null], "by time: the manual one was back-dated");
    for (bad, status) in [
        (json!({"op": "remove", "idempotency_key": "nope"}), StatusCode::NOT_FOUND),
        (json!({"op": "set_amount", "idempotency_key": "credit-1", "amount": "-1"}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"op": "explode"}), StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        assert_eq!(edit(bad.clone()).await.status(), status, "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_same_key_applies_once() {
    let fake = FakeWellflow::start(API_KEY).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let base_url = fake.base_url.clone();
        tasks.spawn(async move { transfer(&base_url, "credits", "acc-1", "1.25", "same-key").await.status() });
    }
    let statuses = tasks.join_all().await;

    let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
    let replayed = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!((created, replayed), (1, 19));
    assert_eq!(fake.stats().credits_applied, 1);
    assert_eq!(fake.balance("acc-1").to_string(), "1.25");
}

#[tokio::test]
async fn debit_can_take_balance_negative() {
    let fake = FakeWellflow::start(API_KEY).await.unwrap();
    transfer(&fake.base_url, "credits", "acc-1", "1.00", "c-1").await;
    let debit = transfer(&fake.base_url, "debits", "acc-1", "3.5", "d-1").await;
    assert_eq!(debit.status(), StatusCode::CREATED);
    let body: Value = debit.json().await.unwrap();
    assert_eq!(
        (body["kind"].as_str(), body["amount"].as_str(), body["balance"].as_str()),
        (Some("debit"), Some("3.50"), Some("-2.50"))
    );
    let stats = fake.stats();
    assert_eq!((stats.credits_applied, stats.debits_applied), (1, 1));
}

#[tokio::test]
async fn unknown_account_and_encoded_account_ids() {
    let fake = FakeWellflow::start(API_KEY).await.unwrap();
    let unknown = get_json(format!("{}/v1/accounts/nobody", fake.base_url)).await;
    assert_eq!(unknown, json!({"account_id": "nobody", "balance": "0.00"}));

    let created = transfer(&fake.base_url, "credits", "user%2F1%20x", "4", "k").await;
    assert_eq!(created.json::<Value>().await.unwrap()["account_id"], "user/1 x");
    let account = get_json(format!("{}/v1/accounts/user%2F1%20x", fake.base_url)).await;
    assert_eq!(account["balance"], "4.00");
}

#[tokio::test]
async fn missing_or_wrong_api_key_is_401() {
    let fake = FakeWellflow::start(API_KEY).await.unwrap();
    let client = Client::new();
    let url = format!("{}/v1/accounts/acc-1", fake.base_url);
    let attempts = [
        client.get(&url),
        client.get(&url).bearer_auth("wrong-key"),
        client.get(&url).header("Authorization", API_KEY),
        client
            .post(format!("{url}/credits"))
            .header("Idempotency-Key", "k")
            .json(&json!({"amount": "1", "currency": "USD"})),
    ];
    for attempt in attempts {
        let response = attempt.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(error_code(response).await, "unauthorized");
    }
    assert_eq!(fake.stats().credits_applied, 0);
    assert_eq!(fake.stats().requests, 4);
}

#[tokio::test]
async fn invalid_bodies_are_422_and_missing_key_is_400() {
    let fake = FakeWellflow::start(API_KEY).await.unwrap();
    let client = Client::new();
    let url = format!("{}/v1/accounts/acc-1/credits", fake.base_url);
    let bodies = [
        (json!({"amount": "0", "currency": "USD"}), "invalid_amount"),
        (json!({"amount": "-1.00", "currency": "USD"}), "invalid_amount"),
        (json!({"amount": "1.234", "currency": "USD"}), "invalid_amount"),
        (json!({"amount": "1e2", "currency": "USD"}), "invalid_amount"),
        (json!({"amount": 2.5, "currency": "USD"}), "invalid_request"),
        (json!({"amount": "2.50", "currency": "EUR"}), "unsupported_currency"),
        (json!({"currency": "USD"}), "invalid_request"),
    ];
    for (body, code) in bodies {
        let response =
            client.post(&url).bearer_auth(API_KEY).header("Idempotency-Key", "k").json(&body).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_code(response).await, code, "{body}");
    }
    let not_json =
        client.post(&url).bearer_auth(API_KEY).header("Idempotency-Key", "k").body("{").send().await.unwrap();
    assert_eq!(not_json.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let valid = json!({"amount": "1.00", "currency": "USD"});
    let no_key = client.post(&url).bearer_auth(API_KEY).json(&valid).send().await.unwrap();
    assert_eq!(no_key.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(no_key).await, "missing_idempotency_key");
    let long_key = "k".repeat(256);
    let too_long =
        client.post(&url).bearer_auth(API_KEY).header("Idempotency-Key", &long_key).json(&valid).send().await.unwrap();
    assert_eq!(too_long.status(), StatusCode::BAD_REQUEST);
    let max_key = transfer(&fake.base_url, "credits", "acc-1", "1.00", &long_key[..255]).await;
    assert_eq!(max_key.status(), StatusCode::CREATED);
    assert_eq!(fake.stats().credits_applied, 1);
}

#[tokio::test]
async fn reset_clears_everything() {
    let fake = FakeWellflow::start(API_KEY).await.unwrap();
    transfer(&fake.base_url, "credits", "acc-1", "5", "k-1").await;
    let client = Client::new();
    client.post(format!("{}/__fault", fake.base_url)).json(&json!({"mode": "5xx"})).send().await.unwrap();

    let reset = client.post(format!("{}/__reset", fake.base_url)).send().await.unwrap();
    assert_eq!(reset.status(), StatusCode::OK);

    let fault: Value = client.get(format!("{}/__fault", fake.base_url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(fault, json!({"mode": "ok"}));
    let stats = get_json(format!("{}/__stats", fake.base_url)).await;
    assert_eq!(stats, json!({"credits_applied": 0, "debits_applied": 0, "requests": 0, "transactions": []}));
    let account = get_json(format!("{}/v1/accounts/acc-1", fake.base_url)).await;
    assert_eq!(account["balance"], "0.00");
    // The key is forgotten: the same request applies again, with a fresh transaction id.
    let again = transfer(&fake.base_url, "credits", "acc-1", "5", "k-1").await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.json::<Value>().await.unwrap()["transaction_id"], "wf_tx_2");
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let fake = FakeWellflow::start(API_KEY).await.unwrap();
    let url = format!("{}/__stats", fake.base_url);
    assert!(Client::new().get(&url).send().await.is_ok());
    fake.shutdown().await;
    let err = Client::new().get(&url).send().await.expect_err("still serving");
    assert!(err.is_connect(), "{err:?}");
}
