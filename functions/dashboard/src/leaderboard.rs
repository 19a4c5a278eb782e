//! The leaderboard and the opt-in public name, for the signed-in referrer.
//!
//! * `GET /referrals/leaderboard?period=month|all&limit=1..100&cursor=` — top referrers by
//!   credited earnings (minus reversals) of the current UTC month (default) or all time,
//!   best first, with competition ranks ("1, 2, 2, 4"); names are the referrer's opt-in
//!   public name or a masked pseudonym; `me` is the caller's own rank and earnings
//!   (`rank: null` when they earned nothing on that board). One `Query` + one `BatchGetItem`
//!   per page, plus the caller's `GetItem` and `COUNT` queries (see the store).
//! * `PUT /referrals/profile` `{"public_name": "Jane D." | null}` — opt in (or out).

use adapters::domain::leaderboard::{rank_page, Board, LeaderboardCursor, Period, PublicName, RankState};
use adapters::domain::UserId;
use adapters::store::Leaderboard;
use adapters::ApiError;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};

use crate::{unavailable, DashboardApi};

const DEFAULT_LIMIT: i32 = 10;
const MAX_PROFILE_BODY: usize = 1024;

pub async fn get<S: Leaderboard>(
    api: &DashboardApi<S>,
    req: &Request,
    user: &UserId,
) -> Result<Response<Body>, ApiError> {
    let period = Period::parse(adapters::http::query_param(req, "period").as_deref())
        .map_err(|e| ApiError::bad_request("invalid_period", e.to_string()))?;
    let limit = adapters::http::limit_param(req, DEFAULT_LIMIT)?;
    let board = Board::current(period, adapters::clock::now());
    let keys = &api.cfg.leaderboard;
    let cursor = adapters::http::query_param(req, "cursor")
        .map(|raw| keys.open(&raw, board.scope()))
        .transpose()
        .map_err(|e| ApiError::bad_request("invalid_cursor", e.to_string()))?;
    let after = cursor.as_ref().map(|c| &c.position);
    let (page, me) =
        tokio::join!(api.store.leaderboard_page(board.scope(), limit, after), api.store.standing(board.scope(), user));
    let (page, me) = (page.map_err(unavailable)?, me.map_err(unavailable)?);

    let before = cursor.map(|c| c.rank).unwrap_or_default();
    let scores: Vec<_> = page.entries.iter().map(|e| e.earned).collect();
    let (ranks, after_page): (Vec<u64>, RankState) = rank_page(&before, &scores);
    let items: Vec<Value> = page
        .entries
        .iter()
        .zip(ranks)
        .map(|(entry, rank)| {
            json!({
                "rank": rank,
                "name": entry.public_name.clone().unwrap_or_else(|| keys.pseudonym(&entry.user)),
                "earned": entry.earned.to_string(),
                "you": entry.user == *user,
            })
        })
        .collect();
    let next_cursor = page
        .next
        .map(|position| keys.seal(&LeaderboardCursor { scope: board.scope().to_string(), position, rank: after_page }));
    tracing::info!(
        user_id = %user,
        period = period.as_str(),
        scope = board.scope(),
        entries = items.len(),
        my_rank = me.rank,
        "leaderboard served"
    );
    Ok(adapters::http::json(
        StatusCode::OK,
        &json!({
            "period": period.as_str(),
            "month": board.month(),
            "items": items,
            "next_cursor": next_cursor,
            "me": { "rank": me.rank, "earned": me.earned.to_string() },
        }),
    ))
}

pub async fn put_profile<S: Leaderboard>(
    api: &DashboardApi<S>,
    req: &Request,
    user: &UserId,
) -> Result<Response<Body>, ApiError> {
    if req.method() != Method::PUT {
        return Err(ApiError::method_not_allowed("PUT"));
    }
    let body: serde_json::Map<String, Value> =
        adapters::http::parse_json(adapters::http::body_bytes(req, MAX_PROFILE_BODY)?)?;
    if body.len() != 1 {
        return Err(ApiError::bad_request("invalid_body", "body must be {\"public_name\": \"...\" | null}"));
    }
    let name = match body.get("public_name") {
        Some(Value::Null) => None,
        Some(Value::String(raw)) => {
            Some(PublicName::parse(raw).map_err(|e| ApiError::bad_request("invalid_public_name", e.to_string()))?)
        }
        _ => return Err(ApiError::bad_request("invalid_body", "body must be {\"public_name\": \"...\" | null}")),
    };
    api.store.set_public_name(user, name.as_ref().map(PublicName::as_str)).await.map_err(unavailable)?;
    tracing::info!(user_id = %user, opted_in = name.is_some(), "public name updated");
    Ok(adapters::http::json(StatusCode::OK, &json!({ "public_name": name.as_ref().map(PublicName::as_str) })))
}
