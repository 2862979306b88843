use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};

use super::ApiError;
use crate::app::AppState;
use crate::metrics::{Snapshot, CONTENT_TYPE};

/// The process is up.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers, within two seconds.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let backend = state.store.backend();
    match tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => Ok(Json(json!({ "status": "ready", "database": backend }))),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check: database unreachable");
            Err(ApiError::Unavailable(format!(
                "{backend} database unreachable"
            )))
        }
        Err(_) => Err(ApiError::Unavailable(format!(
            "{backend} database did not answer in 2 s"
        ))),
    }
}

/// Prometheus (OpenMetrics) text: this process's counters and what the database says
/// now.
/// `/metrics` on the main listener: there unless it has a listener of its own.
pub async fn metrics_here(state: State<AppState>) -> Result<axum::response::Response, ApiError> {
    if state.settings.http.metrics_listen.is_some() {
        return Err(ApiError::NotFound(
            "/metrics is served on POMPIER_METRICS_LISTEN".into(),
        ));
    }
    Ok(metrics(state).await?.into_response())
}

pub async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let now = crate::now();
    let store = &state.store;
    let (jobs, incidents, queue_lag) = tokio::try_join!(
        store.job_counts(now),
        store.incident_counts(),
        store.queue_lag(now)
    )?;
    let body = state.metrics.render(&Snapshot {
        jobs,
        incidents,
        queue_lag,
        token_cache: store.tokens_cached(),
    });
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], body))
}
