//! `GET /referrals/stats?granularity=day|month&from=&to=` — clicks, signups and earnings per UTC
//! day (the last 90 days) or month (the last 12), every bucket of the range listed, oldest
//! first, with totals (`domain::stats`). Read from write-time buckets: one `Query` by sort-key
//! range + the profile, then one `BatchGetItem` of the click shards — the same few items for a
//! referrer with ten bonuses or ten thousand.

use adapters::domain::stats::{Series, StatsRange, StatsRangeError};
use adapters::http::{Response, Router};
use adapters::ApiError;
use axum::extract::State;
use axum::routing::get;
use lambda_http::http::{StatusCode, Uri};
use serde_json::{json, Value};

use crate::principal::Reader;
use crate::DashboardStore;

pub fn router<S: DashboardStore>() -> Router<crate::State<S>> {
    Router::new().route("/referrals/stats", get(get_stats::<S>))
}

async fn get_stats<S: DashboardStore>(
    Reader(principal): Reader,
    State(api): State<crate::State<S>>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let q = |name: &str| adapters::http::query_param(&uri, name);
    let today = adapters::clock::now().date();
    let range = StatsRange::parse(q("granularity").as_deref(), q("from").as_deref(), q("to").as_deref(), today)
        .map_err(|e| {
            let code = if e == StatsRangeError::Granularity { "invalid_granularity" } else { "invalid_range" };
            ApiError::bad_request(code, e.to_string())
        })?;
    let user = &principal.user;
    let readout = api.store.referrer_stats(user, &range).await?;
    let series = Series::new(range, &readout.buckets);
    tracing::info!(
        user_id = %user,
        granularity = range.granularity().as_str(),
        buckets = series.buckets.len(),
        items_read = readout.items_read,
        "stats served"
    );
    Ok(adapters::http::json(StatusCode::OK, &body(&series)))
}

fn body(series: &Series) -> Value {
    let (from, to) = series.range.bounds();
    let buckets: Vec<Value> = series
        .buckets
        .iter()
        .map(|(period, v)| json!({ "period": period, "clicks": v.clicks, "signups": v.signups, "earned": v.earned.to_string() }))
        .collect();
    json!({
        "granularity": series.range.granularity().as_str(),
        "from": from,
        "to": to,
        "time_zone": "UTC",
        "currency": "USD",
        "buckets": buckets,
        "totals": {
            "clicks": series.totals.clicks,
            "signups": series.totals.signups,
            "earned": series.totals.earned.to_string(),
        },
    })
}
