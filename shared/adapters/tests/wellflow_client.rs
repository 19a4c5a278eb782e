//! `WellflowClient` against the fake Wellflow: transfers, balances, replays, and how every
//! failure (faults, timeouts, bad key, conflicts, bad input) maps onto `WellflowError`.

use std::time::Duration;

use adapters::wellflow::{Transfer, WellflowClient, WellflowError};
use fake_wellflow::{FakeWellflow, Fault};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

const API_KEY: &str = "wf-secret-test-key";

async fn setup(timeout: Duration) -> (FakeWellflow, WellflowClient) {
    let fake = FakeWellflow::start(API_KEY).await.expect("fake wellflow");
    let client = WellflowClient::new(&fake.base_url, API_KEY.to_owned(), timeout).expect("client");
    (fake, client)
}

fn assert_key_not_shown(err: &WellflowError) {
    assert!(!err.to_string().contains(API_KEY), "{err}");
    assert!(!format!("{err:?}").contains(API_KEY), "{err:?}");
}

#[tokio::test]
async fn credit_debit_and_balance() {
    let (fake, client) = setup(Duration::from_secs(5)).await;

    let credit = client.credit("user-1", dec!(2.5), "reward-1", "referral reward").await.unwrap();
    assert_eq!(
        credit,
        Transfer { transaction_id: "wf_tx_1".into(), amount: dec!(2.50), balance: dec!(2.50), replayed: false }
    );
    let debit = client.debit("user-1", dec!(4), "spend-1", "").await.unwrap();
    assert_eq!((debit.amount, debit.balance, debit.replayed), (dec!(4), dec!(-1.50), false));

    assert_eq!(client.balance("user-1").await.unwrap(), dec!(-1.50));
    assert_eq!(client.balance("never-seen").await.unwrap(), Decimal::ZERO);
    let stats = fake.stats();
    assert_eq!((stats.credits_applied, stats.debits_applied), (1, 1));
    assert_eq!(stats.transactions[0].amount, "2.50");
}

#[tokio::test]
async fn account_ids_are_percent_encoded() {
    let (fake, client) = setup(Duration::from_secs(5)).await;
    client.credit("team/a b?c#d%", dec!(1), "k-1", "").await.unwrap();
    assert_eq!(fake.balance("team/a b?c#d%"), dec!(1));
    assert_eq!(client.balance("team/a b?c#d%").await.unwrap(), dec!(1));
}

#[tokio::test]
async fn replay_returns_original_and_changes_nothing() {
    let (fake, client) = setup(Duration::from_secs(5)).await;
    let first = client.credit("user-1", dec!(5), "reward-1", "first").await.unwrap();
    client.credit("user-1", dec!(1), "reward-2", "").await.unwrap();

    let replay = client.credit("user-1", dec!(5.00), "reward-1", "retry").await.unwrap();
    assert!(replay.replayed);
    assert_eq!(replay.transaction_id, first.transaction_id);
    assert_eq!(replay.balance, dec!(5), "replay reports the balance right after the original");
    assert_eq!(fake.balance("user-1"), dec!(6));
    assert_eq!(fake.stats().credits_applied, 2);
}

#[tokio::test]
async fn reused_key_for_another_transfer_is_rejected() {
    let (_fake, client) = setup(Duration::from_secs(5)).await;
    client.credit("user-1", dec!(5), "reward-1", "").await.unwrap();

    let err = client.credit("user-1", dec!(6), "reward-1", "").await.unwrap_err();
    let WellflowError::Rejected { status, code, .. } = &err else { panic!("expected Rejected, got {err:?}") };
    assert_eq!((*status, code.as_str()), (409, "idempotency_conflict"));
    assert!(!err.is_retryable());
    assert_eq!(err.code(), "wellflow_rejected");

    let err = client.debit("user-1", dec!(5), "reward-1", "").await.unwrap_err();
    assert!(matches!(err, WellflowError::Rejected { status: 409, .. }), "{err:?}");
}

#[tokio::test]
async fn down_is_unreachable_and_retryable() {
    let (fake, client) = setup(Duration::from_secs(5)).await;
    client.balance("user-1").await.unwrap(); // leaves a pooled keep-alive connection
    fake.set_fault(Fault::Down);

    for key in ["k-1", "k-2"] {
        let err = client.credit("user-1", dec!(1), key, "").await.unwrap_err();
        assert!(matches!(err, WellflowError::Unreachable(_)), "{err:?}");
        assert!(err.is_retryable());
        assert_eq!(err.code(), "wellflow_unreachable");
        assert_key_not_shown(&err);
    }
    assert_eq!(fake.stats().credits_applied, 0);

    fake.set_fault(Fault::Ok);
    let retried = client.credit("user-1", dec!(1), "k-1", "").await.unwrap();
    assert!(!retried.replayed);
}

#[tokio::test]
async fn nothing_listening_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = WellflowClient::new(&base_url, API_KEY.to_owned(), Duration::from_secs(2)).unwrap();

    let err = client.balance("user-1").await.unwrap_err();
    assert!(matches!(err, WellflowError::Unreachable(_)), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn server_errors_are_retryable() {
    let (fake, client) = setup(Duration::from_secs(5)).await;
    fake.set_fault(Fault::Unavailable);

    let err = client.debit("user-1", dec!(1), "k-1", "").await.unwrap_err();
    let WellflowError::Server { status, message } = &err else { panic!("expected Server, got {err:?}") };
    assert_eq!(*status, 503);
    assert!(message.contains("unavailable"), "{message}");
    assert!(err.is_retryable());
    assert_eq!(err.code(), "wellflow_5xx");
    assert!(matches!(client.balance("user-1").await, Err(WellflowError::Server { status: 503, .. })));
    assert_eq!(fake.stats().debits_applied, 0);
}

#[tokio::test]
async fn slow_answer_within_timeout_succeeds() {
    let (fake, client) = setup(Duration::from_secs(5)).await;
    fake.set_fault(Fault::Slow(Duration::from_millis(300)));
    let transfer = client.credit("user-1", dec!(3), "k-1", "").await.unwrap();
    assert_eq!(transfer.balance, dec!(3));
}

#[tokio::test]
async fn slow_answer_past_timeout_is_timeout_and_retry_replays() {
    let (fake, client) = setup(Duration::from_millis(300)).await;
    fake.set_fault(Fault::Slow(Duration::from_millis(1500)));

    let err = client.credit("user-1", dec!(3), "k-1", "").await.unwrap_err();
    assert!(matches!(err, WellflowError::Timeout), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(err.code(), "wellflow_timeout");

    // Like a real slow server, Wellflow still applies it: retrying with the same key replays.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(fake.stats().credits_applied, 1);
    fake.set_fault(Fault::Ok);
    let retried = client.credit("user-1", dec!(3), "k-1", "").await.unwrap();
    assert!(retried.replayed);
    assert_eq!(fake.balance("user-1"), dec!(3));
}

#[tokio::test]
async fn wrong_key_is_unauthorized() {
    let fake = FakeWellflow::start(API_KEY).await.unwrap();
    let client = WellflowClient::new(&fake.base_url, "not-the-key".into(), Duration::from_secs(5)).unwrap();

    let err = client.credit("user-1", dec!(1), "k-1", "").await.unwrap_err();
    assert!(matches!(err, WellflowError::Unauthorized), "{err:?}");
    assert!(err.to_string().contains("WELLFLOW_API_KEY"));
    assert!(!err.to_string().contains("not-the-key"));
    assert!(!err.is_retryable());
    assert_eq!(err.code(), "wellflow_unauthorized");
    assert!(matches!(client.balance("user-1").await, Err(WellflowError::Unauthorized)));
}

#[tokio::test]
async fn invalid_input_is_refused_before_sending() {
    let (fake, client) = setup(Duration::from_secs(5)).await;
    let attempts = [
        client.credit("user-1", dec!(0), "k", "").await,
        client.credit("user-1", dec!(-1), "k", "").await,
        client.credit("user-1", dec!(1.005), "k", "").await,
        client.credit("", dec!(1), "k", "").await,
        client.credit("..", dec!(1), "k", "").await,
        client.debit("user-1", dec!(1), "", "").await,
        client.debit("user-1", dec!(1), "has space", "").await,
        client.debit("user-1", dec!(1), &"k".repeat(256), "").await,
    ];
    for result in attempts {
        let err = result.unwrap_err();
        assert!(matches!(err, WellflowError::InvalidInput(_)), "{err:?}");
        assert!(!err.is_retryable());
    }
    assert_eq!(fake.stats().requests, 0);
}

#[tokio::test]
async fn client_debug_never_shows_the_key() {
    let (_fake, client) = setup(Duration::from_secs(5)).await;
    let debug = format!("{client:?}");
    assert!(!debug.contains(API_KEY), "{debug}");
    assert!(debug.contains("127.0.0.1"), "{debug}");
}

#[tokio::test]
async fn the_listing_pages_through_an_accounts_window_as_the_ledger_history_port() {
    use referral_core::bonus::MoveKind;
    use referral_core::ports::LedgerHistory;
    let (fake, client) = setup(Duration::from_secs(5)).await;
    let pages = adapters::wellflow::LIST_PAGE_LIMIT as usize;
    for i in 0..pages + 5 {
        fake.edit(fake_wellflow::LedgerEdit::Insert {
            account_id: "user-1".into(),
            kind: fake_wellflow::Kind::Credit,
            amount: "0.01".into(),
            idempotency_key: Some(format!("ref:auto:p{i:03}")),
            created_at: Some(format!("2026-11-25T09:{:02}:{:02}Z", i / 60, i % 60)),
        })
        .unwrap();
    }
    client.debit("user-1", dec!(1.25), "ref:auto:p000#debit-2", "").await.unwrap();
    client.credit("other", dec!(1), "ref:auto:q", "").await.unwrap();
    fake.edit(fake_wellflow::LedgerEdit::Insert {
        account_id: "user-1".into(),
        kind: fake_wellflow::Kind::Debit,
        amount: "3.00".into(),
        idempotency_key: None,
        created_at: Some("2026-11-25T09:59:00Z".into()),
    })
    .unwrap();

    let user = referral_core::domain::UserId::parse("user-1").unwrap();
    let (from, to) = ("2026-11-25T09:00:00.000Z", "2026-11-25T10:00:00.000Z");
    let first = LedgerHistory::transactions(&client, &user, from, to, None).await.unwrap();
    assert_eq!(first.entries.len(), pages);
    assert_eq!(first.entries[0].idempotency_key.as_deref(), Some("ref:auto:p000"));
    assert_eq!(
        (first.entries[0].kind, first.entries[0].amount),
        (MoveKind::Credit, referral_core::domain::Usd::cents(1))
    );
    let rest = LedgerHistory::transactions(&client, &user, from, to, first.next_cursor.as_deref()).await.unwrap();
    assert_eq!((rest.entries.len(), rest.next_cursor.as_ref()), (6, None), "5 credits and the console debit");
    let console = rest.entries.last().unwrap();
    assert_eq!(
        (console.idempotency_key.as_ref(), console.kind, console.at.as_str()),
        (None, MoveKind::Debit, "2026-11-25T09:59:00.000Z")
    );
    // Outside the window: the debit just made (now), the other account's credit.
    let now = client.transactions("user-1", "2026-11-25T10:00:00Z", "2100-01-01T00:00:00Z", None).await.unwrap();
    assert_eq!(
        now.transactions.iter().map(|t| t.idempotency_key.as_deref()).collect::<Vec<_>>(),
        [Some("ref:auto:p000#debit-2")]
    );

    fake.set_fault(Fault::Unavailable);
    let err = LedgerHistory::transactions(&client, &user, from, to, None).await.unwrap_err();
    assert_eq!((err.kind, err.code.as_str()), (referral_core::bonus::FailureKind::Unknown, "wellflow_5xx"));
    fake.set_fault(Fault::Ok);
    let bad = client.transactions("user-1", "yesterday", to, None).await.unwrap_err();
    assert!(matches!(bad, WellflowError::Rejected { status: 400, .. }), "{bad}");
    assert_key_not_shown(&bad);
}
