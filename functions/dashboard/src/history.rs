//! The referrer's bonus history, as JSON pages and as a CSV file — the same rows, newest first,
//! with the same filters (`domain::history_filter`):
//!
//! * `GET /referrals/history?limit=1..100&cursor=&status=&from=&to=` → `{items, next_cursor}`
//! * `GET /referrals/history.csv?status=&from=&to=&cursor=` → `text/csv` attachment
//!   (`domain::history_csv`: RFC 4180, exact decimals).
//!
//! **The CSV is paged, not streamed.** The function answers through API Gateway's HTTP API,
//! which invokes Lambda buffered (response streaming needs a function URL or a REST API with
//! `STREAM` transfer mode, and `lambda_http::run_with_streaming_response`): a response is built
//! in memory and may not exceed 6 MB. So one response reads the history index page by page
//! (`MAX_HISTORY_PAGE` rows per query) into one body of at most `MAX_ROWS_PER_FILE` rows
//! (< 2 MB); when more rows remain it names the next part in `X-Next-Cursor` and
//! `Link: <…&cursor=…>; rel="next"` (each part starts with the header line). The Referrals page
//! follows the parts and saves one file.

use adapters::domain::history_csv;
use adapters::domain::history_filter::{HistoryFilter, HistoryFilterError};
use adapters::domain::UserId;
use adapters::store::{HistoryQueries, QueryError, MAX_HISTORY_PAGE};
use adapters::ApiError;
use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;

use crate::{unavailable, views};

/// The filter of the request's `status`, `from` and `to`.
pub fn filter_of(req: &Request) -> Result<HistoryFilter, ApiError> {
    let q = |name: &str| adapters::http::query_param(req, name);
    HistoryFilter::parse(q("status").as_deref(), q("from").as_deref(), q("to").as_deref()).map_err(|e| {
        let code = match e {
            HistoryFilterError::Status => "invalid_status",
            _ => "invalid_range",
        };
        ApiError::bad_request(code, e.to_string())
    })
}

fn query_error(e: QueryError) -> ApiError {
    match e {
        QueryError::Cursor(c) => ApiError::bad_request("invalid_cursor", c.to_string()),
        QueryError::Store(s) => unavailable(s),
    }
}

/// `GET /referrals/history`.
pub async fn page<S: HistoryQueries>(store: &S, req: &Request, user: &UserId) -> Result<Response<Body>, ApiError> {
    let limit = adapters::http::limit_param(req, 20)?;
    let filter = filter_of(req)?;
    let cursor = adapters::http::query_param(req, "cursor");
    let page = store
        .referrer_history(user, &filter, usize::try_from(limit).unwrap_or(20), cursor.as_deref())
        .await
        .map_err(query_error)?;
    let items: Vec<_> = page.items.iter().map(views::history_item).collect();
    Ok(adapters::http::json(StatusCode::OK, &json!({ "items": items, "next_cursor": page.next_cursor })))
}

/// `GET /referrals/history.csv`.
pub async fn csv<S: HistoryQueries>(
    store: &S,
    cfg: &crate::DashboardConfig,
    req: &Request,
    user: &UserId,
) -> Result<Response<Body>, ApiError> {
    let max_rows = cfg.csv_rows_per_file.clamp(1, history_csv::MAX_ROWS_PER_FILE);
    let base = &cfg.page.public_base_path;
    let filter = filter_of(req)?;
    let mut cursor = adapters::http::query_param(req, "cursor");
    let mut body = history_csv::header();
    let mut rows = 0usize;
    let mut reads = 0usize;
    loop {
        let want = MAX_HISTORY_PAGE.min(max_rows - rows);
        let page = store.referrer_history(user, &filter, want, cursor.as_deref()).await.map_err(query_error)?;
        reads += 1;
        body.reserve(page.items.len() * 160);
        for bonus in &page.items {
            body.push_str(&history_csv::row(bonus));
        }
        rows += page.items.len();
        cursor = page.next_cursor;
        if cursor.is_none() || rows >= max_rows {
            break;
        }
    }
    tracing::info!(user_id = %user, rows, reads, bytes = body.len(), more = cursor.is_some(), "history csv served");
    let filename = format!("referral-bonuses-{}.csv", adapters::clock::now().date());
    let mut resp = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/csv; charset=utf-8; header=present")
        .header(header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\""))
        .header(header::CACHE_CONTROL, "no-store")
        .header("x-content-type-options", "nosniff")
        .header("x-row-count", rows.to_string());
    if let Some(next) = &cursor {
        // The same filter, continued (the cursor is base64url: safe in a URL and a header).
        let mut params = url::form_urlencoded::Serializer::new(String::new());
        for name in ["status", "from", "to"] {
            if let Some(value) = adapters::http::query_param(req, name) {
                params.append_pair(name, &value);
            }
        }
        params.append_pair("cursor", next);
        resp = resp
            .header("x-next-cursor", next.as_str())
            .header(header::LINK, format!("<{base}/referrals/history.csv?{}>; rel=\"next\"", params.finish()));
    }
    Ok(resp.body(Body::Text(body)).expect("valid headers"))
}
