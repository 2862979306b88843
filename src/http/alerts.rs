//! Alerts in (scope `alerts`): `POST /api/v1/alerts/alertmanager` for Alertmanager and
//! Grafana, `POST /api/v1/alerts` for anything else. Answers `{"incident", "created"}`.

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::alert_payloads;
use super::api::{Authorized, Needs};
use super::ApiError;
use crate::app::AppState;
use crate::domain::alert::AlertGroup;
use crate::store::StoreError;
use crate::tokens::Scope;

/// Posting alerts.
pub struct Alerting;

impl Needs for Alerting {
    const SCOPE: Scope = Scope::Alerts;
}

/// `POST /api/v1/alerts/alertmanager`.
pub async fn alertmanager(
    _who: Authorized<Alerting>,
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    receive(&state, alert_payloads::alertmanager(&body)).await
}

/// `POST /api/v1/alerts`.
pub async fn generic(
    _who: Authorized<Alerting>,
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    receive(&state, alert_payloads::generic(&body)).await
}

async fn receive(
    state: &AppState,
    group: Result<AlertGroup, String>,
) -> Result<Json<Value>, ApiError> {
    let group = group.map_err(ApiError::BadRequest)?;
    match state.alerts.receive(&group).await {
        Ok(received) => {
            let mut answer = json!({"incident": received.incident, "created": received.created});
            if received.incident.is_none() {
                answer["triage"] = true.into();
            }
            Ok(Json(answer))
        }
        // Senders do not retry a 4xx: a group that kept losing races is asked again.
        Err(StoreError::Contended(_)) => Err(ApiError::Unavailable(
            "this alert group is changing too fast; send it again".into(),
        )),
        Err(e) => Err(e.into()),
    }
}
