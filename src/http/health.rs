use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};

use super::ApiError;
use crate::app::AppState;
use crate::metrics::QueueDepth;

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

/// Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let counts = state.store.job_counts().await?;
    let queue: Vec<QueueDepth> = counts
        .iter()
        .map(|(service, state, count)| QueueDepth {
            service,
            state,
            count: *count,
        })
        .collect();
    let body = state.metrics.render(&queue, &state.services);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body))
}
