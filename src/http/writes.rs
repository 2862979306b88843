//! Writing through the API (scope `write`): moves, severity, roles and notes on one
//! incident, through the same incidents service as Slack, so the same refusals and the
//! same effects (posts, summary, announcements). The actor is `token:NAME`.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::api::{incident_json, Authorized, Holder, Needs};
use super::ApiError;
use crate::app::AppState;
use crate::domain::{Actor, Incident, IncidentId, Rejected, RoleName, Severity, Status};
use crate::incidents::{Caller, Outcome, Request};
use crate::tokens::Scope;

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

/// `POST /api/v1/incidents/{id}/{what}`.
pub async fn change(
    who: Authorized<Write>,
    State(state): State<AppState>,
    Path((id, what)): Path<(String, String)>,
    body: Option<Json<Value>>,
) -> Result<Response, ApiError> {
    let id: IncidentId = id
        .parse()
        .map_err(|e: crate::domain::Invalid| ApiError::BadRequest(e.0))?;
    let Some(Json(body)) = body else {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object (Content-Type: application/json)".into(),
        ));
    };
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
        actor: match &who.holder {
            Holder::Operator => Actor::Token(crate::tokens::OPERATOR.into()),
            Holder::Token(name) => Actor::Token(name.clone()),
        },
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
