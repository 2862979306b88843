//! `POST /api/v1/webhooks/jira`: Jira's `jira:issue_updated`, signed with
//! `JIRA_WEBHOOK_SECRET` (`X-Hub-Signature: sha256=…`, checked before the body is
//! read). A follow-up's issue whose status category becomes `done` marks it done, and
//! back; anything else is taken and ignored (200), so Jira does not retry it.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};

use super::ApiError;
use crate::app::AppState;
use crate::domain::Actor;

pub async fn jira(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let Some(secret) = &state.settings.secrets.jira_webhook_secret else {
        return Err(ApiError::Unauthorized(
            "JIRA_WEBHOOK_SECRET is not set: Jira's webhooks are not taken".into(),
        ));
    };
    let signature = headers.get("x-hub-signature").and_then(|v| v.to_str().ok());
    if !crate::jira::signed(secret, &body, signature) {
        return Err(ApiError::Unauthorized(
            "missing or wrong X-Hub-Signature (sha256=HMAC of the body with JIRA_WEBHOOK_SECRET)"
                .into(),
        ));
    }
    let event: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not JSON: {e}")))?;
    let key = event["issue"]["key"].as_str();
    let category = event["issue"]["fields"]["status"]["statusCategory"]["key"].as_str();
    let (Some("jira:issue_updated"), Some(key), Some(category)) =
        (event["webhookEvent"].as_str(), key, category)
    else {
        return Ok(Json(json!({"taken": false})));
    };
    let actor = Actor::Integration {
        source: "jira".into(),
        name: crate::jira::actor_name(&event["user"]),
    };
    let changed = state
        .incidents
        .followup_from_jira(key, category == "done", &actor)
        .await?;
    Ok(Json(json!({"taken": changed})))
}
