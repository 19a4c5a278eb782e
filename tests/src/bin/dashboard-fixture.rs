//! Browser-test fixture: moto + fake Wellflow + the seeded history, and the real dashboard
//! handler served on 127.0.0.1. Prints `REFERRALS_PAGE_URL=…` and `REFERRALS_EXPECT=…`
//! (what the page must show) and serves until its stdin closes.

use integration_tests::billing::{token, BillingHarness};
use integration_tests::seed::seeded_mix;

#[tokio::main]
async fn main() {
    let h = BillingHarness::new().await;
    seeded_mix(&h).await;
    let api = std::sync::Arc::new(h.dashboard());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = tokio::spawn(integration_tests::http_adapter::serve(listener, move |req| {
        let api = api.clone();
        async move { dashboard::handle(&api, &req).await }
    }));
    let code = {
        use adapters::store::Users;
        h.store().ensure_code(&adapters::domain::UserId::parse("alice").expect("id")).await.expect("code")
    };
    println!("REFERRALS_PAGE_URL=http://127.0.0.1:{port}/referrals#token={}", token("alice", None, 3600));
    println!(
        "REFERRALS_EXPECT={}",
        serde_json::json!({
            "total_earned": "$17.50",
            "earned_last_30_days": "$17.50",
            "signups": "5",
            "active_referred_users": "5",
            "clicks": "3",
            "code": code.as_str(),
            "link": format!("https://go.example.com/?ref={code}"),
            "history_rows": 5,
        })
    );
    // Serve until the test runner closes our stdin (or kills us).
    let _ = tokio::task::spawn_blocking(|| {
        use std::io::Read;
        let mut sink = Vec::new();
        std::io::stdin().read_to_end(&mut sink)
    })
    .await;
    server.abort();
}
