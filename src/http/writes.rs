//! Writing through the API (scope `write`): declaring, and moves, severity, roles and
//! notes on one incident, through the same incidents service as Slack, so the same
//! refusals and the same effects (channel, posts, summary, announcements). The actor is
//! `token:NAME`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::api::{incident_json, Authorized, Holder, Needs};
use super::ApiError;
use crate::app::AppState;
use crate::domain::{
    Actor, Event, EventKind, Incident, IncidentId, Rejected, RoleName, Severity, Status,
};
use crate::incidents::{Caller, Keyed, Outcome, Request};
use crate::store::NewIncident;
use crate::tokens::Scope;

/// Longest `Idempotency-Key` taken.
const MAX_KEY_CHARS: usize = 255;

/// Declaring and changing incidents.
pub struct Write;

impl Needs for Write {
    const SCOPE: Scope = Scope::Write;
}

/// Field `name` of `body`, a string, or 400 naming it.
fn field<'a>(body: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    body[name]
        .as_str()
        .ok_or_else(|| ApiError::BadRequest(format!("`{name}`: a string is required")))
}

fn parsed<T: std::str::FromStr<Err = crate::domain::Invalid>>(
    body: &Value,
    name: &str,
) -> Result<T, ApiError> {
    field(body, name)?
        .parse()
        .map_err(|e: crate::domain::Invalid| ApiError::BadRequest(format!("`{name}`: {e}")))
}

fn note(body: &Value, name: &str) -> Result<Option<String>, ApiError> {
    match &body[name] {
        Value::Null => Ok(None),
        Value::String(text) => Incident::parse_note(text)
            .map(Some)
            .map_err(|e| ApiError::BadRequest(format!("`{name}`: {e}"))),
        _ => Err(ApiError::BadRequest(format!(
            "`{name}`: a string is required"
        ))),
    }
}

/// The actor a token's changes are recorded as: `token:NAME` (`token:admin`).
pub(super) fn actor(holder: &Holder) -> Actor {
    Actor::Token(match holder {
        Holder::Operator => crate::tokens::OPERATOR.into(),
        Holder::Token(name) => name.clone(),
    })
}

/// The body, a JSON object, or 400.
fn object(body: &[u8]) -> Result<Value, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) if value.is_object() => Ok(value),
        Ok(_) => Err(ApiError::BadRequest(
            "the body must be a JSON object".into(),
        )),
        Err(e) => Err(ApiError::BadRequest(format!(
            "the body must be a JSON object: {e}"
        ))),
    }
}

/// `value` with every object's keys in order: one text however the client ordered them.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// The request's `Idempotency-Key`, if it has one (visible ASCII, at most 255).
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .filter(|k| {
            !k.is_empty() && k.len() <= MAX_KEY_CHARS && k.bytes().all(|b| b.is_ascii_graphic())
        })
        .map(|k| Some(k.to_owned()))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "`Idempotency-Key`: 1 to {MAX_KEY_CHARS} visible ASCII characters"
            ))
        })
}

/// `POST /api/v1/incidents`: declares as `/incident open` does (channel, summary,
/// announcement) and answers 201 with the incident. Under an `Idempotency-Key`, the
/// same key within 24 hours answers the incident it declared.
pub async fn declare(
    who: Authorized<Write>,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = object(&body)?;
    let title = Incident::parse_title(field(&body, "title")?)
        .map_err(|e| ApiError::BadRequest(format!("`title`: {e}")))?;
    let severity = match &body["severity"] {
        Value::Null => Severity::DEFAULT,
        _ => parsed(&body, "severity")?,
    };
    let private = match &body["private"] {
        Value::Null => false,
        Value::Bool(private) => *private,
        _ => return Err(ApiError::BadRequest("`private`: true or false".into())),
    };
    let summary = note(&body, "summary")?;
    let team = match &body["team"] {
        Value::Null => None,
        _ => {
            let team = parsed(&body, "team")?;
            state
                .incidents
                .check_team(&team)
                .map_err(|why| ApiError::BadRequest(format!("`team`: {why}")))?;
            Some(team)
        }
    };
    let now = crate::now();
    let by = actor(&who.holder);
    let mut new = NewIncident::new(title, severity, by.clone(), now);
    new.private = private;
    new.team = team;
    if let Some(summary) = summary {
        new.first_events.push(Event {
            at: now,
            kind: EventKind::Note,
            actor: by.clone(),
            from: None,
            to: None,
            role: None,
            note: Some(summary),
        });
    }
    let declared = match idempotency_key(&headers)? {
        None => state.incidents.declare_new(new).await?,
        Some(key) => {
            // Keys are the token's own: two tokens never see each other's incidents.
            let key = format!("{by}:{key}");
            let hash = hex::encode(Sha256::digest(canonical(&body).to_string()));
            match state.incidents.declare_keyed(new, key, &hash).await? {
                Keyed::Declared(incident) => *incident,
                Keyed::Answered(incident) => {
                    let json = incident_json(&state, incident, &who.holder).await?;
                    let mut response = (StatusCode::CREATED, Json(json)).into_response();
                    response
                        .headers_mut()
                        .insert("idempotent-replayed", HeaderValue::from_static("true"));
                    return Ok(response);
                }
                Keyed::Running => return Err(ApiError::Conflict(
                    "a request with this Idempotency-Key is still declaring; ask again in a moment"
                        .into(),
                )),
                Keyed::OtherBody => return Err(ApiError::Unprocessable(
                    "this Idempotency-Key came with another body; use a new key for a new incident"
                        .into(),
                )),
            }
        }
    };
    let json = incident_json(&state, declared.id, &who.holder).await?;
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

/// `POST /api/v1/incidents/{id}/{what}`.
pub async fn change(
    who: Authorized<Write>,
    State(state): State<AppState>,
    Path((id, what)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id: IncidentId = id
        .parse()
        .map_err(|e: crate::domain::Invalid| ApiError::BadRequest(e.0))?;
    let body = object(&body)?;
    let request = match what.as_str() {
        "status" => Request::Move {
            to: parsed::<Status>(&body, "status")?,
            note: note(&body, "note")?,
        },
        "severity" => Request::Severity(parsed::<Severity>(&body, "severity")?),
        "roles" => {
            let role: RoleName = parsed(&body, "role")?;
            if !state.incidents.roles().contains(&role) {
                return Err(ApiError::BadRequest(format!(
                    "`role`: `{role}` is not a role of this team"
                )));
            }
            Request::Assign {
                role,
                user: parsed(&body, "user")?,
            }
        }
        "notes" => Request::Note(
            note(&body, "text")?
                .ok_or_else(|| ApiError::BadRequest("`text`: a string is required".into()))?,
        ),
        _ => return Err(ApiError::NotFound("no such route".into())),
    };
    let caller = Caller {
        actor: actor(&who.holder),
        channel: None,
        operator: who.holder == Holder::Operator,
    };
    // A private incident is a scoped token's as it is a non-member's: not there.
    let not_found = || ApiError::NotFound(format!("incident #{id} does not exist"));
    let member = state
        .incidents
        .as_member(id, &caller)
        .await?
        .ok_or_else(not_found)?;
    match state.incidents.apply(&member, &request).await? {
        Outcome::Changed(_) => {}
        Outcome::NotFound(_) => return Err(not_found()),
        Outcome::Rejected(_, why) => {
            let allowed: Vec<&str> = match &why {
                Rejected::Refused(_) => state
                    .incidents
                    .show(&member)
                    .await?
                    .map(|shown| shown.allowed_next.iter().map(|s| s.as_str()).collect())
                    .unwrap_or_default(),
                _ => vec![],
            };
            let mut body = json!({"error": format!("incident #{id} was not changed: {why}")});
            if matches!(why, Rejected::Refused(_)) {
                body["allowed"] = json!(allowed);
            }
            return Ok((axum::http::StatusCode::CONFLICT, Json(body)).into_response());
        }
    }
    Ok(Json(incident_json(&state, id, &who.holder).await?).into_response())
}
