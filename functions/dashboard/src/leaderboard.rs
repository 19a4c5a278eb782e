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
use adapters::http::{Json, Response, Router};
use adapters::ApiError;
use axum::extract::State;
use axum::routing::{get, put};
use lambda_http::http::{StatusCode, Uri};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::principal::{Reader, Session};
use crate::DashboardStore;

const DEFAULT_LIMIT: i32 = 10;
const MAX_PROFILE_BODY: usize = 1024;

pub fn router<S: DashboardStore>() -> Router<crate::State<S>> {
    Router::new()
        .route("/referrals/leaderboard", get(leaderboard::<S>))
        .route("/referrals/profile", put(put_profile::<S>))
}

/// A read: JWT or an API key with the `read` scope.
async fn leaderboard<S: DashboardStore>(
    Reader(principal): Reader,
    State(api): State<crate::State<S>>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let user = &principal.user;
    let period = Period::parse(adapters::http::query_param(&uri, "period").as_deref())?;
    let limit = adapters::http::limit_param(&uri, DEFAULT_LIMIT)?;
    let board = Board::current(period, adapters::clock::now());
    let keys = &api.cfg.leaderboard;
    let cursor = adapters::http::query_param(&uri, "cursor").map(|raw| keys.open(&raw, board.scope())).transpose()?;
    let after = cursor.as_ref().map(|c| &c.position);
    let (page, me) =
        tokio::join!(api.store.leaderboard_page(board.scope(), limit, after), api.store.standing(board.scope(), user));
    let (page, me) = (page?, me?);

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileBody {
    /// A string (opt in with that name) or `null` (opt out); required.
    public_name: Value,
}

/// Changes what others see: the signed-in user only (JWT).
async fn put_profile<S: DashboardStore>(
    Session(principal): Session,
    State(api): State<crate::State<S>>,
    Json(body): Json<ProfileBody, MAX_PROFILE_BODY>,
) -> Result<Response, ApiError> {
    let user = &principal.user;
    let name = match body.public_name {
        Value::Null => None,
        Value::String(raw) => Some(PublicName::parse(&raw)?),
        _ => return Err(ApiError::bad_request("invalid_body", "public_name must be a string or null")),
    };
    api.store.set_public_name(user, name.as_ref().map(PublicName::as_str)).await?;
    tracing::info!(user_id = %user, opted_in = name.is_some(), "public name updated");
    Ok(adapters::http::json(StatusCode::OK, &json!({ "public_name": name.as_ref().map(PublicName::as_str) })))
}
