//! The bonus history as CSV (`GET /referrals/history.csv`) and the history filters, against
//! moto: 1,000 rows (real handlers for a mix of statuses, the rest seeded in bulk by the real
//! state machine) whose `paid_amount` column adds up to the KPIs to the cent, the same rows as
//! the JSON pages, RFC 4180, and filters by status and creation time.

use std::collections::HashMap;

use adapters::domain::history_csv;
use integration_tests::billing::BillingHarness;
use integration_tests::seed::{bulk_history, seeded_mix};
use integration_tests::{body_json, header};
use lambda_http::Body;
use rust_decimal::Decimal;
use serde_json::Value;

/// Downloads the CSV like the Referrals page does: part after part (`X-Next-Cursor`), each
/// starting with the header line. Returns the rows (column → value) and the number of parts.
pub async fn download_csv(h: &BillingHarness, user: &str, query: &str) -> (Vec<HashMap<String, String>>, usize) {
    download_csv_from(h, &h.dashboard(), user, query).await
}

/// [`download_csv`] from `api` (e.g. with fewer rows per part).
pub async fn download_csv_from(
    h: &BillingHarness,
    api: &dashboard::DashboardApi<adapters::store::DynamoStore>,
    user: &str,
    query: &str,
) -> (Vec<HashMap<String, String>>, usize) {
    let auth = format!("Bearer {}", integration_tests::billing::token(user, None, 600));
    let mut rows = Vec::new();
    let mut parts = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut uri = format!("/referrals/history.csv?{}", query.trim_start_matches('?'));
        if let Some(c) = &cursor {
            uri.push_str(&format!("&cursor={c}"));
        }
        let resp = h.dash_call_with(api, "GET", &uri, &[("authorization", &auth)], None).await;
        assert_eq!(resp.status(), 200, "{uri}: {:?}", resp.body());
        assert_eq!(header(&resp, "content-type"), Some("text/csv; charset=utf-8; header=present"));
        let disposition = header(&resp, "content-disposition").unwrap();
        assert!(disposition.starts_with("attachment; filename=\"referral-bonuses-"), "{disposition}");
        assert_eq!(header(&resp, "cache-control"), Some("no-store"));
        let Body::Text(text) = resp.body() else { panic!("a text body") };
        assert!(text.len() < 6 * 1024 * 1024, "inside Lambda's response limit");
        let records = history_csv::parse(text).unwrap();
        assert_eq!(records[0], history_csv::COLUMNS, "every part starts with the header");
        assert!(text.ends_with("\r\n") && !text.replace("\r\n", "").contains('\n'), "CRLF line ends");
        let count: usize = header(&resp, "x-row-count").unwrap().parse().unwrap();
        assert_eq!(count, records.len() - 1);
        for record in &records[1..] {
            assert_eq!(record.len(), history_csv::COLUMNS.len());
            rows.push(history_csv::COLUMNS.iter().map(|c| c.to_string()).zip(record.iter().cloned()).collect());
        }
        parts += 1;
        cursor = header(&resp, "x-next-cursor").map(str::to_string);
        match &cursor {
            Some(next) => {
                let link = header(&resp, "link").unwrap();
                assert!(link.contains(&format!("cursor={next}")) && link.ends_with("rel=\"next\""), "{link}");
            }
            None => {
                assert!(header(&resp, "link").is_none());
                return (rows, parts);
            }
        }
    }
}

async fn json_history(h: &BillingHarness, user: &str, query: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut uri = format!("/referrals/history?limit=100&{}", query.trim_start_matches('?'));
        if let Some(c) = &cursor {
            uri.push_str(&format!("&cursor={c}"));
        }
        let v = body_json(&h.dash_get(&uri, Some(user), &[]).await);
        items.extend(v["items"].as_array().unwrap_or_else(|| panic!("{uri}: {v}")).iter().cloned());
        match v["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return items,
        }
    }
}

fn days_ago(n: i64) -> String {
    (adapters::clock::now().date() - time::Duration::days(n)).to_string()
}

#[tokio::test]
async fn a_csv_of_1000_rows_adds_up_to_the_kpis_to_the_cent() {
    let h = BillingHarness::new().await;
    seeded_mix(&h).await; // 5 rows through the real handlers: credited, refunded, failed, held
    bulk_history(&h, "alice", 995, 60).await; // over 60 days: some credits outside the 30-day window
    let kpis = body_json(&h.dash_get("/referrals/kpis", Some("alice"), &[]).await);

    let (rows, parts) = download_csv(&h, "alice", "").await;
    assert_eq!((rows.len(), parts), (1_000, 1));
    for row in &rows {
        for money in ["topup_amount", "bonus_amount", "net_amount", "paid_amount", "refunded_amount"] {
            let v = &row[money];
            let (whole, cents) = v.split_once('.').unwrap_or_else(|| panic!("{money} {v:?} has cents"));
            assert!(whole.bytes().all(|b| b.is_ascii_digit()) && cents.len() == 2, "{money} {v:?} is an exact decimal");
        }
        assert_eq!(row["currency"], "USD");
    }
    let total: Decimal = rows.iter().map(|r| r["paid_amount"].parse::<Decimal>().unwrap()).sum();
    assert_eq!(total.to_string(), kpis["total_earned"].as_str().unwrap(), "total earned, to the cent");
    let window_start = days_ago(29);
    let last_30: Decimal = rows
        .iter()
        .filter(|r| !r["credited_at"].is_empty() && r["credited_at"][..10] >= *window_start)
        .map(|r| r["paid_amount"].parse::<Decimal>().unwrap())
        .sum();
    assert_eq!(last_30.to_string(), kpis["earned_last_30_days"].as_str().unwrap(), "last 30 days, to the cent");
    assert_ne!(kpis["earned_last_30_days"], kpis["total_earned"], "the window leaves some credits out");
    println!("1,000 rows: paid_amount sums to {total} (KPI {}), last 30 days {last_30}", kpis["total_earned"]);

    // The same rows as the JSON history, in the same order, with the same values.
    let json = json_history(&h, "alice", "").await;
    assert_eq!(json.len(), rows.len());
    for (row, item) in rows.iter().zip(&json) {
        for column in history_csv::COLUMNS.iter().filter(|c| **c != "currency") {
            let expected = match &item[*column] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(row[*column], expected, "{column} of {}", row["payment_id"]);
        }
    }
    // In parts of 300 rows (the page follows `X-Next-Cursor`): the same rows, in order.
    let mut small_parts = h.dashboard();
    small_parts.cfg.csv_rows_per_file = 300;
    let (parted, parts) = download_csv_from(&h, &small_parts, "alice", "").await;
    assert_eq!(parts, 4);
    assert_eq!(parted, rows);
    let statuses: std::collections::BTreeSet<&str> = rows.iter().map(|r| r["status"].as_str()).collect();
    assert_eq!(statuses.into_iter().collect::<Vec<_>>(), ["credited", "failed", "pending", "reversed"]);
    assert_eq!(h.dash_get("/referrals/history.csv", None, &[]).await.status(), 401);
}

#[tokio::test]
async fn history_filters_select_by_status_and_creation_time_in_json_and_csv_alike() {
    let h = BillingHarness::new().await;
    let bulk = bulk_history(&h, "alice", 300, 20).await;
    let expect = |status: Option<&str>, from: &str, to: &str| -> Vec<String> {
        let mut ids: Vec<(String, String)> = bulk
            .bonuses
            .iter()
            .filter(|b| status.is_none_or(|s| b.status.as_str() == s))
            .filter(|b| b.created_at[..10] >= *from && b.created_at[..10] <= *to)
            .map(|b| (b.created_at.clone(), b.source_payment_id.to_string()))
            .collect();
        ids.sort();
        ids.reverse();
        ids.into_iter().map(|(_, id)| id).collect()
    };
    let (all_from, all_to) = (days_ago(40), days_ago(0));
    for (query, status, from, to) in [
        ("status=reversed".to_string(), Some("reversed"), all_from.clone(), all_to.clone()),
        ("status=failed".to_string(), Some("failed"), all_from.clone(), all_to.clone()),
        (format!("from={}&to={}", days_ago(5), days_ago(3)), None, days_ago(5), days_ago(3)),
        (format!("status=credited&from={}", days_ago(2)), Some("credited"), days_ago(2), all_to.clone()),
        (format!("to={}", days_ago(18)), None, all_from.clone(), days_ago(18)),
    ] {
        let want = expect(status, &from, &to);
        assert!(!want.is_empty(), "{query}");
        let json: Vec<String> = json_history(&h, "alice", &query)
            .await
            .iter()
            .map(|i| i["payment_id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(json, want, "JSON ?{query}");
        let (rows, _) = download_csv(&h, "alice", &query).await;
        let csv: Vec<String> = rows.iter().map(|r| r["payment_id"].clone()).collect();
        assert_eq!(csv, want, "CSV ?{query}");
    }
    // An instant range in the viewer's time zone (UTC-5): the UTC day starting 5 hours later.
    let day = days_ago(4);
    let next = days_ago(3);
    let query = format!("from={day}T00:00:00-05:00&to={next}T00:00:00-05:00").replace(':', "%3A").replace('+', "%2B");
    let got = json_history(&h, "alice", &query).await;
    let (lo, hi) = (format!("{day}T05:00:00.000Z"), format!("{next}T05:00:00.000Z"));
    assert!(got.iter().all(|i| {
        let c = i["created_at"].as_str().unwrap();
        c >= lo.as_str() && c < hi.as_str()
    }));
    assert_eq!(got.len(), bulk.bonuses.iter().filter(|b| b.created_at >= lo && b.created_at < hi).count());

    // A small page of a rare status still fills up to the limit and pages on.
    let first = body_json(&h.dash_get("/referrals/history?status=failed&limit=5", Some("alice"), &[]).await);
    assert_eq!(first["items"].as_array().unwrap().len(), 5, "{first}");
    assert!(first["next_cursor"].is_string());

    for (query, code) in [
        ("status=done", "invalid_status"),
        ("from=yesterday", "invalid_range"),
        ("from=2026-11-02&to=2026-11-01", "invalid_range"),
    ] {
        for path in ["/referrals/history", "/referrals/history.csv"] {
            let resp = h.dash_get(&format!("{path}?{query}"), Some("alice"), &[]).await;
            assert_eq!(
                (resp.status().as_u16(), body_json(&resp)["error"]["code"].as_str()),
                (400, Some(code)),
                "{path}?{query}"
            );
        }
    }
    // A cursor of one range is refused in another (it would point outside the range).
    let page =
        body_json(&h.dash_get(&format!("/referrals/history?limit=2&to={}", days_ago(10)), Some("alice"), &[]).await);
    let cursor = page["next_cursor"].as_str().unwrap();
    let resp =
        h.dash_get(&format!("/referrals/history?from={}&cursor={cursor}", days_ago(5)), Some("alice"), &[]).await;
    assert_eq!((resp.status().as_u16(), body_json(&resp)["error"]["code"].as_str()), (400, Some("invalid_cursor")));
}
