//! Referral codes per user: created once, stable, unique (conditional put), concurrent-safe.

use adapters::domain::UserId;
use adapters::store::{Codes, Users};
use integration_tests::stack::text;
use integration_tests::TestStack;

#[tokio::test]
async fn a_user_gets_one_stable_code() {
    let stack = TestStack::new().await;
    let user = UserId::parse("alice").unwrap();
    let code = stack.store.ensure_code(&user).await.unwrap();
    assert_eq!(stack.store.ensure_code(&user).await.unwrap(), code);
    let row = stack.item(&format!("CODE#{code}"), "CODE").await.unwrap();
    assert_eq!(text(&row, "owner_id"), "alice");
    let record = stack.store.code(&code).await.unwrap().unwrap();
    assert_eq!(record.owner_id, user);
    assert_eq!(stack.store.user(&user).await.unwrap().unwrap().code, Some(code));
}

#[tokio::test]
async fn concurrent_first_requests_agree_on_one_code() {
    let stack = TestStack::new().await;
    let user = UserId::parse("bob").unwrap();
    let results = futures::future::join_all((0..10).map(|_| stack.store.ensure_code(&user))).await;
    let codes: std::collections::HashSet<_> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(codes.len(), 1, "all callers must see the same code: {codes:?}");
    let code_rows = stack.all_items().await.into_iter().filter(|i| text(i, "SK") == "CODE").count();
    assert_eq!(code_rows, 1, "losing attempts must not leave orphan code rows");
}

#[tokio::test]
async fn different_users_get_different_codes() {
    let stack = TestStack::new().await;
    let mut seen = std::collections::HashSet::new();
    for i in 0..20 {
        let code = stack.store.ensure_code(&UserId::parse(&format!("user-{i}")).unwrap()).await.unwrap();
        assert!(seen.insert(code), "duplicate code {code}");
    }
}
