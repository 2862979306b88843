//! A Dungeons & Dragons game day's injections through the API (scope `gameday`): a chaos
//! tool, or a villain with `curl`, reports a fault it injected and its end.
//!
//! LitmusChaos's `httpProbe` can send no header and cannot read the answer, so these
//! routes also take the token as `?token=` (a token whose only scope is `gameday`: the
//! query string is never logged, but it travels in more places than a header does), the
//! game day as `current`, and a `key` of the caller's choosing to end an injection by.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::api::{holder, token_scopes, Holder};
use super::writes::actor;
use super::ApiError;
use crate::app::AppState;
use crate::domain::gameday::{injection_text, Injection};
use crate::domain::Team;
use crate::incidents::{GamedayRef, GamedayRefused};
use crate::store::{InjectionRef, NewInjection};
use crate::tokens::Scope;

/// Longest `key` taken.
const MAX_KEY_CHARS: usize = 100;

/// Who reports: `token:NAME`, from the `Authorization` header or `?token=`.
async fn reporter(
    state: &AppState,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<String, ApiError> {
    let in_query = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("token="));
    let holder = match in_query {
        None => holder(headers, state, Scope::Gameday).await?,
        Some(token) => match token_scopes(state, token).await? {
            (Holder::Token(name), scopes) if scopes == [Scope::Gameday] => Holder::Token(name),
            _ => {
                return Err(ApiError::Forbidden(
                    "`?token=` takes only a token whose sole scope is `gameday` \
                     (`pompier tokens create NAME --scope gameday`), never the operator's"
                        .into(),
                ))
            }
        },
    };
    Ok(actor(&holder).to_string())
}

fn gameday_ref(id: &str) -> Result<GamedayRef, ApiError> {
    if id == "current" {
        return Ok(GamedayRef::Current);
    }
    id.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(GamedayRef::Id)
        .ok_or_else(|| {
            ApiError::BadRequest(format!("`{id}` is not a game day: a number, or `current`"))
        })
}

fn object(body: &[u8]) -> Result<Value, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) if value.is_object() => Ok(value),
        _ => Err(ApiError::BadRequest(
            "the body must be a JSON object".into(),
        )),
    }
}

/// Field `name`: absent, or a string.
fn optional<'a>(body: &'a Value, name: &str) -> Result<Option<&'a str>, ApiError> {
    match &body[name] {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.as_str())),
        _ => Err(ApiError::BadRequest(format!("`{name}`: a string"))),
    }
}

fn key(body: &Value) -> Result<Option<String>, ApiError> {
    optional(body, "key")?
        .map(|key| {
            let fine = !key.is_empty()
                && key.chars().count() <= MAX_KEY_CHARS
                && key.chars().all(|c| c.is_ascii_graphic());
            fine.then(|| key.to_owned()).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "`key`: visible ASCII, at most {MAX_KEY_CHARS} characters"
                ))
            })
        })
        .transpose()
}

fn refused(refused: GamedayRefused) -> ApiError {
    match refused {
        GamedayRefused::NoneRunning => {
            ApiError::Conflict("no game day is running (or not this one)".into())
        }
        GamedayRefused::NotDnd(day) => ApiError::Conflict(format!(
            "game day {} is not a Dungeons & Dragons one (`mode:dnd`): it takes no injections",
            day.id
        )),
        GamedayRefused::StartedAt => {
            ApiError::BadRequest("`started_at`: now, or less than an hour ago (RFC 3339)".into())
        }
        GamedayRefused::NoInjection(which) => ApiError::NotFound(format!("no injection {which}")),
        other => ApiError::Conflict(format!("{other:?}")),
    }
}

/// `POST /api/v1/gamedays/{id}/injections`: `{"team", "description", "target", "key",
/// "started_at"}` → 201 `{"id", "started_at"}`; a key sent again gets the first answer
/// again (a probe's retry after a lost answer), and records nothing.
pub async fn inject(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let by = reporter(&state, &headers, query.as_deref()).await?;
    let which = gameday_ref(&id)?;
    let body = object(&body)?;
    let team = match optional(&body, "team")? {
        Some(team) => team
            .parse::<Team>()
            .map_err(|e| ApiError::BadRequest(format!("`team`: {e}")))?,
        None => Team::unassigned(),
    };
    let text = |name: &str| {
        optional(&body, name)?
            .map(|t| {
                injection_text(t, name).map_err(|e| ApiError::BadRequest(format!("`{name}`: {e}")))
            })
            .transpose()
    };
    let description = text("description")?
        .filter(|d| !d.is_empty())
        .ok_or_else(|| ApiError::BadRequest("`description`: what was done is required".into()))?;
    let now = crate::now();
    let started_at = match optional(&body, "started_at")? {
        None => now,
        Some(at) => DateTime::parse_from_rfc3339(at)
            .map_err(|e| ApiError::BadRequest(format!("`started_at`: {e} (RFC 3339)")))?
            .with_timezone(&Utc),
    };
    let new = NewInjection {
        team,
        description,
        target: text("target")?.filter(|t| !t.is_empty()),
        key: key(&body)?,
        by,
        started_at,
    };
    let (injection, _first) = state.incidents.inject(which, new).await?.map_err(refused)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": injection.id, "started_at": injection.started_at})),
    ))
}

/// `POST /api/v1/injections/{id}/end`: the fault is removed.
pub async fn end(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Injection>, ApiError> {
    reporter(&state, &headers, query.as_deref()).await?;
    let id = id
        .parse::<i64>()
        .map_err(|_| ApiError::BadRequest(format!("`{id}` is not an injection number")))?;
    ended(&state, InjectionRef::Id(id)).await
}

/// `POST /api/v1/gamedays/{id}/injections/end`: `{"key"}`: the fault is removed.
pub async fn end_by_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Injection>, ApiError> {
    reporter(&state, &headers, query.as_deref()).await?;
    let which = gameday_ref(&id)?;
    let key = key(&object(&body)?)?
        .ok_or_else(|| ApiError::BadRequest("`key`: the injection's key is required".into()))?;
    let day = state
        .incidents
        .gameday_id(which)
        .await?
        .ok_or_else(|| refused(GamedayRefused::NoneRunning))?;
    ended(&state, InjectionRef::Key(day, key)).await
}

async fn ended(state: &AppState, which: InjectionRef) -> Result<Json<Injection>, ApiError> {
    Ok(Json(
        state
            .incidents
            .end_injection(which)
            .await?
            .map_err(refused)?,
    ))
}
