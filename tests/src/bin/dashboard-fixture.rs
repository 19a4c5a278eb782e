//! Browser-test fixture: moto + fake Wellflow + seeded data, and the real dashboard and admin
//! handlers served on one 127.0.0.1 port (`/admin…` → the admin function, everything else →
//! the dashboard function, as API Gateway routes them). Prints `REFERRALS_PAGE_URL=…` and
//! `REFERRALS_EXPECT=…` (what the Referrals page must show for alice), `PAGES_FIXTURE=…` (the
//! other users, tokens and expected figures of `pages.test.mjs` and `admin.test.mjs`), and
//! serves until its stdin closes.
//!
//! Seeded: alice's mix through the real handlers (`seed::seeded_mix`); "ambassador", 1,000
//! bonuses over 60 days (`seed::bulk_history`); "mallory", six same-IP referrals whose
//! top-ups are held for review (the console's queue, besides alice's held and failed ones);
//! one open reconciliation finding (a manual credit on alice's Wellflow account).
//!
//! Test hooks under `/__fixture/` (this binary only, never in a function): the bonus row as
//! DynamoDB holds it, what the fake Wellflow holds for a payment, a click on a campaign link
//! through the real redirect handler, and two partner-webhook delivery attempts written with
//! the store call the partner-webhooks sender makes (`record_delivery`; the sending itself is
//! tested end to end in `partner_webhooks.rs`).

use std::sync::Arc;

use adapters::domain::UserId;
use adapters::store::{PartnerWebhooks, Users};
use integration_tests::billing::{token, BillingHarness, REFERRER_IP};
use integration_tests::seed::{bulk_history, seeded_mix};
use lambda_http::{Body, Request, Response};
use rust_decimal::Decimal;
use serde_json::json;

/// Rows per CSV response here: 1,000 rows arrive in 3 parts, so the page's part-following runs.
const CSV_ROWS_PER_PART: usize = 400;
const MALLORY_PUPPETS: [&str; 6] = ["m-puppet-0", "m-puppet-1", "m-puppet-2", "m-puppet-3", "m-puppet-4", "m-puppet-5"];
/// Where the pages send a signed-out visitor (SIGN_IN_URL).
const SIGN_IN_URL: &str = "https://auth.example.com/login";

fn json_response(status: u16, value: &serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(value.to_string()))
        .expect("response")
}

async fn hook(h: &BillingHarness, req: &Request) -> Response<Body> {
    let path = req.uri().path().trim_start_matches("/__fixture/");
    let query = req.uri().query().unwrap_or_default().to_string();
    let param = |name: &str| {
        url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    };
    match path.split('/').collect::<Vec<_>>().as_slice() {
        ["bonus", payment] => match h.bonus(payment).await {
            Some(b) => json_response(
                200,
                &json!({ "status": b.status, "review": format!("{:?}", b.review), "paid_amount": b.paid_amount.to_string(),
                         "history": b.history.iter().map(|e| json!({"actor": e.actor, "note": e.note})).collect::<Vec<_>>() }),
            ),
            None => json_response(404, &json!({ "error": { "code": "not_found", "message": "no bonus" } })),
        },
        ["wellflow", payment] => json_response(200, &json!({ "net": h.wellflow_net(payment).to_string() })),
        ["click"] => {
            let user = UserId::parse(&param("user").unwrap_or_else(|| "alice".into())).expect("user");
            let code = h.store().ensure_code(&user).await.expect("code");
            let mut uri = format!("/?ref={code}");
            if let Some(c) = param("campaign") {
                uri.push_str(&format!("&utm_campaign={c}"));
            }
            let cfg = redirect::RedirectConfig {
                site_origin: url::Url::parse("https://www.example.com").expect("origin"),
                cookie_domain: None,
                touch: redirect::Touch::First,
            };
            let resp = redirect::handle(h.store(), &cfg, &integration_tests::get(&uri, &[])).await;
            json_response(200, &json!({ "status": resp.status().as_u16() }))
        }
        ["deliveries"] => {
            let user = UserId::parse(&param("user").unwrap_or_else(|| "alice".into())).expect("user");
            let now = adapters::clock::now();
            let at = |secs: i64| {
                (now - time::Duration::seconds(secs))
                    .format(&time::format_description::well_known::Rfc3339)
                    .expect("time")
            };
            let attempts = [
                (1, false, None, Some("connection refused".to_string()), 120, at(120)),
                (2, true, Some(200), None, 87, at(60)),
            ];
            for (attempt, delivered, status_code, error, duration_ms, at) in attempts {
                let record = adapters::store::DeliveryRecord {
                    event_id: "evt_fixture_1".into(),
                    event_type: adapters::domain::PartnerEventType::BonusCredited,
                    payment_id: adapters::domain::PaymentId::parse("p_fixture_hook").expect("id"),
                    attempt,
                    at,
                    delivered,
                    status_code,
                    error,
                    duration_ms,
                    expires_at: now.unix_timestamp() + 86_400,
                };
                h.store().record_delivery(&user, &record).await.expect("delivery recorded");
            }
            json_response(200, &json!({ "recorded": 2 }))
        }
        _ => json_response(404, &json!({ "error": { "code": "route_not_found", "message": "no fixture hook" } })),
    }
}

fn money(d: Decimal) -> String {
    let mut d = d;
    d.rescale(2);
    let s = d.to_string();
    let (whole, cents) = s.split_once('.').unwrap_or((&s, "00"));
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("${grouped}.{cents}")
}

#[tokio::main]
async fn main() {
    let h = Arc::new(BillingHarness::new().await);
    seeded_mix(&h).await;
    h.store().ensure_code(&UserId::parse("ambassador").expect("id")).await.expect("code");
    let bulk = bulk_history(&h, "ambassador", 1_000, 60).await;
    for puppet in MALLORY_PUPPETS {
        h.refer_from("mallory", puppet, REFERRER_IP).await;
    }
    for (i, puppet) in MALLORY_PUPPETS.iter().enumerate() {
        h.topup(&format!("p_mal_{i}"), puppet, &format!("{}.00", 20 + 10 * i)).await;
    }

    // A drift for the console's reconciliation list: a manual adjustment on alice's Wellflow
    // account that no bonus of ours planned (an unknown transaction, left open for an admin;
    // our rows and so alice's KPIs are untouched).
    h.tamper(fake_wellflow::LedgerEdit::Insert {
        account_id: "alice".into(),
        kind: fake_wellflow::Kind::Credit,
        amount: "10.00".into(),
        idempotency_key: Some("ref:auto:p_carol#manual-1".into()),
        created_at: None,
    });
    let pass = h.reconcile(referral_core::store::PassKind::Hourly).await;
    assert_eq!(pass.new_findings, 1, "one drift found: {pass:?}");

    let mut api = h.dashboard();
    api.cfg.csv_rows_per_file = CSV_ROWS_PER_PART;
    api.cfg.page.sign_in_url = Some(url::Url::parse(SIGN_IN_URL).expect("url"));
    let mut console = h.admin();
    console.console.sign_in_url = api.cfg.page.sign_in_url.clone();
    let dashboard = dashboard::router(Arc::new(api));
    let admin = admin::router(Arc::new(console));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let served = h.clone();
    let server = tokio::spawn(integration_tests::http_adapter::serve(listener, move |req: Request| {
        let (h, dashboard, admin) = (served.clone(), dashboard.clone(), admin.clone());
        async move {
            let path = req.uri().path();
            if path.starts_with("/__fixture/") {
                hook(&h, &req).await
            } else if path == "/admin" || path.starts_with("/admin/") {
                adapters::http::call(admin, &req).await
            } else {
                adapters::http::call(dashboard, &req).await
            }
        }
    }));

    let code = h.store().ensure_code(&UserId::parse("alice").expect("id")).await.expect("code");
    let origin = format!("http://127.0.0.1:{port}");
    println!("REFERRALS_PAGE_URL={origin}/referrals#token={}", token("alice", None, 3600));
    println!(
        "REFERRALS_EXPECT={}",
        json!({
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
    let today = adapters::clock::now().date();
    let window_start = (today - time::Duration::days(29)).to_string();
    let total = bulk.paid_total();
    let last_30 = bulk.earned_between(&window_start, &today.to_string());
    println!(
        "PAGES_FIXTURE={}",
        json!({
            "origin": origin,
            "alice": {
                "token": token("alice", None, 3600),
                "kpis": { "total_earned": "17.50", "signups": 5, "clicks": 3 },
                "history_rows": 5,
            },
            "ambassador": {
                "token": token("ambassador", None, 3600),
                "rows": bulk.bonuses.len(),
                "csv_parts": bulk.bonuses.len().div_ceil(CSV_ROWS_PER_PART),
                "total_earned": total.round_dp(2).to_string(),
                "earned_last_30_days": last_30.round_dp(2).to_string(),
                "total_earned_shown": money(total),
            },
            "admin": { "token": token("root", Some("admin"), 3600) },
            "user": { "token": token("nobody-admin", None, 3600) },
            "sign_in_url": SIGN_IN_URL,
            "mallory": {
                "pending": (0..MALLORY_PUPPETS.len()).map(|i| format!("p_mal_{i}")).collect::<Vec<_>>(),
                "puppets": MALLORY_PUPPETS,
            },
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
