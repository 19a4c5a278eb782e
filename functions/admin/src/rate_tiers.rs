//! `/admin/rate-tiers`: the monthly-volume rate table (`adapters::domain::tiers`).
//!
//! * `GET` → the stored table (`"source": "table"`) or the flat default (`"source": "default"`)
//! * `PUT` `{"tiers": [{"up_to": "1000.00", "rate": "0.05"}, …, {"up_to": null, "rate": "0.10"}],
//!   "expected_version"?}` → validated (400 per problem, nothing stored), versioned (409 on a
//!   stale `expected_version`), stored with `updated_by` / `updated_at`
//! * `DELETE ?expected_version=` → back to the flat default (the item keeps its version)

use adapters::billing::Billing;
use adapters::clock;
use adapters::domain::{Rate, RateTier, RateTiers, Usd};
use adapters::http::{Json, Response, Router};
use adapters::store::{PutTiersOutcome, RateTierConfig, RateTierConfigs};
use adapters::ApiError;
use axum::extract::State;
use axum::routing::get;
use lambda_http::http::{StatusCode, Uri};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{AdminCaller, AdminLedger, AdminStore, MAX_BODY_BYTES};

pub fn router<S: AdminStore, L: AdminLedger>() -> Router<crate::State<S, L>> {
    Router::new().route("/admin/rate-tiers", get(get_tiers::<S, L>).put(put_tiers::<S, L>).delete(delete_tiers::<S, L>))
}

fn view(config: Option<&RateTierConfig>, default_rate: Rate) -> Value {
    let (source, tiers) = match config.and_then(|c| c.tiers.clone()) {
        Some(tiers) => ("table", tiers),
        None => ("default", RateTiers::flat(default_rate)),
    };
    json!({
        "source": source,
        "tiers": tiers,
        "version": config.map(|c| c.version).unwrap_or(0),
        "updated_by": config.map(|c| c.updated_by.clone()),
        "updated_at": config.map(|c| c.updated_at.clone()),
    })
}

/// Parses and validates the requested table; the first problem found is the 400.
fn parse_tiers(raw: Vec<TierIn>) -> Result<RateTiers, ApiError> {
    let tiers = raw
        .into_iter()
        .enumerate()
        .map(|(index, t)| {
            let up_to = t
                .up_to
                .as_deref()
                .map(Usd::parse_positive)
                .transpose()
                .map_err(|e| ApiError::bad_request("invalid_threshold", format!("tier {index}: up_to: {e}")))?;
            let rate = Rate::parse(&t.rate)
                .map_err(|e| ApiError::bad_request("invalid_rate", format!("tier {index}: {e}")))?;
            Ok(RateTier { up_to, rate })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(RateTiers::new(tiers)?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TierIn {
    up_to: Option<String>,
    rate: String,
}

async fn get_tiers<S: AdminStore, L: AdminLedger>(
    _: AdminCaller,
    State(admin): State<crate::State<S, L>>,
) -> Result<Response, ApiError> {
    let billing = &admin.billing;
    let config = billing.store.rate_tier_config().await?;
    Ok(adapters::http::json(StatusCode::OK, &view(config.as_ref(), billing.policy.default_rate)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PutBody {
    tiers: Vec<TierIn>,
    expected_version: Option<u64>,
}

async fn put_tiers<S: AdminStore, L: AdminLedger>(
    AdminCaller { actor }: AdminCaller,
    State(admin): State<crate::State<S, L>>,
    Json(parsed): Json<PutBody, MAX_BODY_BYTES>,
) -> Result<Response, ApiError> {
    let tiers = parse_tiers(parsed.tiers)?;
    store(&admin.billing, &actor, Some(&tiers), parsed.expected_version).await
}

async fn delete_tiers<S: AdminStore, L: AdminLedger>(
    AdminCaller { actor }: AdminCaller,
    State(admin): State<crate::State<S, L>>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let expected = adapters::http::query_param(&uri, "expected_version")
        .map(|raw| {
            raw.parse::<u64>().map_err(|_| {
                ApiError::bad_request("invalid_expected_version", "expected_version must be a non-negative integer")
            })
        })
        .transpose()?;
    store(&admin.billing, &actor, None, expected).await
}

async fn store<S, L>(
    billing: &Billing<S, L>,
    actor: &str,
    tiers: Option<&RateTiers>,
    expected_version: Option<u64>,
) -> Result<Response, ApiError>
where
    S: RateTierConfigs,
{
    let at = clock::rfc3339(clock::now());
    match billing.store.put_rate_tiers(tiers, expected_version, actor, &at).await? {
        PutTiersOutcome::Stored(config) => {
            tracing::info!(
                actor,
                version = config.version,
                tiers = tiers.map(|t| t.to_string()).unwrap_or_else(|| "flat default".into()),
                outcome = "rate_tiers_changed",
                "rate tier table changed"
            );
            Ok(adapters::http::json(StatusCode::OK, &view(Some(&config), billing.policy.default_rate)))
        }
        PutTiersOutcome::VersionConflict { current } => Err(ApiError::conflict(
            "version_conflict",
            format!(
                "the rate tiers are at version {current}, not {}; reload and retry",
                expected_version.unwrap_or_default()
            ),
        )),
    }
}
