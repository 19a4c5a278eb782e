//! The referrer's bonus history, as JSON pages and as a CSV file — the same rows, newest first,
//! with the same filters (`domain::history_filter`):
//!
//! * `GET /referrals/history?limit=1..100&cursor=&status=&from=&to=` → `{items, next_cursor}`
//! * `GET /referrals/history.csv?status=&from=&to=&cursor=` → `text/csv` attachment
//!   (`domain::history_csv`: RFC 4180, exact decimals).
//!
//! **The CSV is streamed page by page, in parts.** The function answers through API Gateway's
//! HTTP API, which invokes Lambda buffered (response streaming needs a function URL or a REST
//! API with `STREAM` transfer mode): a response may not exceed 6 MB. So one response reads the
//! history index page by page (`MAX_HISTORY_PAGE` rows per query, each page appended as it
//! arrives, no row kept after it is written) into one body of at most `MAX_ROWS_PER_FILE` rows
//! (< 2 MB); when more rows remain it names the next part in `X-Next-Cursor` and
//! `Link: <…&cursor=…>; rel="next"` (each part is a whole CSV file: it starts with the header
//! line). The Referrals page follows the parts and saves one file.

use adapters::domain::history_csv;
use adapters::domain::history_filter::{HistoryFilter, HistoryFilterError};
use adapters::http::{Response, Router};
use adapters::store::MAX_HISTORY_PAGE;
use adapters::ApiError;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use lambda_http::http::{header, HeaderName, HeaderValue, StatusCode, Uri};
use serde_json::json;

use crate::principal::Reader;
use crate::{views, DashboardStore};

pub fn router<S: DashboardStore>() -> Router<crate::State<S>> {
    Router::new().route("/referrals/history", get(page::<S>)).route("/referrals/history.csv", get(csv::<S>))
}

/// The filter of the request's `status`, `from` and `to`.
pub fn filter_of(uri: &Uri) -> Result<HistoryFilter, ApiError> {
    let q = |name: &str| adapters::http::query_param(uri, name);
    HistoryFilter::parse(q("status").as_deref(), q("from").as_deref(), q("to").as_deref()).map_err(|e| {
        let code = match e {
            HistoryFilterError::Status => "invalid_status",
            _ => "invalid_range",
        };
        ApiError::bad_request(code, e.to_string())
    })
}

/// `GET /referrals/history`.
async fn page<S: DashboardStore>(
    Reader(principal): Reader,
    State(api): State<crate::State<S>>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let limit = adapters::http::limit_param(&uri, 20)?;
    let filter = filter_of(&uri)?;
    let cursor = adapters::http::query_param(&uri, "cursor");
    let page = api
        .store
        .referrer_history(&principal.user, &filter, usize::try_from(limit).unwrap_or(20), cursor.as_deref())
        .await?;
    let items: Vec<_> = page.items.iter().map(views::history_item).collect();
    Ok(adapters::http::json(StatusCode::OK, &json!({ "items": items, "next_cursor": page.next_cursor })))
}

/// `GET /referrals/history.csv`.
async fn csv<S: DashboardStore>(
    Reader(principal): Reader,
    State(api): State<crate::State<S>>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let user = &principal.user;
    let max_rows = api.cfg.csv_rows_per_file.clamp(1, history_csv::MAX_ROWS_PER_FILE);
    let filter = filter_of(&uri)?;
    let mut cursor = adapters::http::query_param(&uri, "cursor");
    let mut body = history_csv::header();
    let mut rows = 0usize;
    let mut reads = 0usize;
    loop {
        let want = MAX_HISTORY_PAGE.min(max_rows - rows);
        let page = api.store.referrer_history(user, &filter, want, cursor.as_deref()).await?;
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
    let mut resp = (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8; header=present".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        body,
    )
        .into_response();
    let headers = resp.headers_mut();
    headers.insert(HeaderName::from_static("x-row-count"), HeaderValue::from(rows));
    if let Some(next) = &cursor {
        // The same filter, continued (the cursor is base64url: safe in a URL and a header).
        let mut params = url::form_urlencoded::Serializer::new(String::new());
        for name in ["status", "from", "to"] {
            if let Some(value) = adapters::http::query_param(&uri, name) {
                params.append_pair(name, &value);
            }
        }
        params.append_pair("cursor", next);
        let base = &api.cfg.page.public_base_path;
        let link = format!("<{base}/referrals/history.csv?{}>; rel=\"next\"", params.finish());
        if let (Ok(next), Ok(link)) = (HeaderValue::from_str(next), HeaderValue::from_str(&link)) {
            headers.insert(HeaderName::from_static("x-next-cursor"), next);
            headers.insert(header::LINK, link);
        }
    }
    Ok(resp)
}
