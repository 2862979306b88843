//! The HTTP edge: routes, extractors, deadlines and the one error shape.

mod alert_payloads;
mod alerts;
mod api;
mod charts;
mod client;
mod dashboard;
mod error;
mod gamedays;
mod health;
mod injections;
mod openapi;
pub mod server;
mod session;
mod slack;
mod sso;
mod stats;
mod status_page;
mod webhooks;
mod writes;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use error::ApiError;

use crate::app::AppState;
use crate::metrics::Metrics;

/// Largest request body accepted; larger gets 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub fn router(state: AppState) -> Router {
    let timeout = Duration::from_secs(state.settings.http.request_timeout_secs);
    Router::new()
        .route("/slack/commands", post(slack::run_command))
        .route("/slack/interactions", post(slack::interaction))
        .route("/slack/events", post(slack::event))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics_here))
        .route(
            "/api/v1/incidents",
            get(api::list_incidents).post(writes::declare),
        )
        .route("/api/v1/alerts", post(alerts::generic))
        // Grafana's contact point may be set to PUT.
        .route(
            "/api/v1/alerts/alertmanager",
            post(alerts::alertmanager).put(alerts::alertmanager),
        )
        .route("/api/v1/incidents/{id}", get(api::get_incident))
        .route("/api/v1/incidents/{id}/{what}", post(writes::change))
        .route("/api/v1/incidents.csv", get(stats::incidents_csv))
        .route("/api/v1/stats", get(stats::stats))
        .route("/api/v1/audit", get(api::audit))
        .route("/api/v1/openapi.json", get(openapi::openapi))
        .route("/api/v1/webhooks/jira", post(webhooks::jira))
        .route("/api/v1/gamedays", get(gamedays::list))
        .route("/api/v1/gamedays/{id}", get(gamedays::one))
        .route("/api/v1/gamedays/{id}/injections", post(injections::inject))
        .route(
            "/api/v1/gamedays/{id}/injections/end",
            post(injections::end_by_key),
        )
        .route("/api/v1/injections/{id}/end", post(injections::end))
        .route("/gameday/{id}", get(gamedays::page))
        .route("/gameday/{id}/stream", get(gamedays::stream))
        .route("/status", get(status_page::page))
        .route("/status.json", get(status_page::json))
        .route("/status/feed.atom", get(status_page::atom))
        .route("/dashboard", get(dashboard::dashboard))
        .route("/dashboard/incidents/{id}", get(dashboard::incident))
        .route("/dashboard/incidents.csv", get(dashboard::incidents_csv))
        .route(
            "/dashboard/login",
            get(dashboard::login_form).post(dashboard::login),
        )
        .route("/dashboard/logout", post(dashboard::logout))
        .route("/dashboard/audit", get(dashboard::audit))
        .route("/dashboard/sso", get(sso::begin))
        .route(crate::sso::CALLBACK_PATH, get(sso::callback))
        .route("/assets/board.js", get(board_script))
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            client::client_address,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        // Outside the timeout, so a 408 has the same JSON body as every other error.
        .layer(axum::middleware::map_response(json_errors))
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            measure,
        ))
        // Every log line of a request carries its id: the client's `X-Request-Id`, or a
        // new one; the response gives it back.
        .layer(TraceLayer::new_for_http().make_span_with(
            |request: &axum::http::Request<axum::body::Body>| {
                let id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!(
                    "request",
                    id = %id,
                    method = %request.method(),
                    path = %request.uri().path(),
                )
            },
        ))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// Counts and times each request by its route's pattern, never its raw path, and by a
/// known method, so a client cannot make up new series.
async fn measure(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = match *request.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        _ => "other",
    };
    let start = Instant::now();
    let response = next.run(request).await;
    metrics.request(&route, method, response.status().as_u16(), start.elapsed());
    response
}

/// `/metrics` alone, for its own listener (`POMPIER_METRICS_LISTEN`).
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(health::metrics))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// What every page may load: its own scripts only (none inline), its own and inline
/// styles, nothing framing it.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// The security headers of every response.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", CSP),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("x-frame-options", "DENY"),
    ] {
        headers.insert(name, axum::http::HeaderValue::from_static(value));
    }
    response
}

/// `GET /assets/board.js`: the game day board's script.
async fn board_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../../assets/board.js"),
    )
        .into_response()
}

/// Every error is JSON with a reason, the framework's own included (405, 413, a path
/// that does not parse, a body that does not deserialize), except the pages made for
/// browsers, which stay HTML.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let kind = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let kept = kind.starts_with("application/json") || kind.starts_with("text/html");
    if !(status.is_client_error() || status.is_server_error()) || kept {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let reason = if text.trim().is_empty() || status.is_server_error() {
        status.canonical_reason().unwrap_or("error").to_lowercase()
    } else {
        text.trim().to_owned()
    };
    let mut json = axum::Json(serde_json::json!({ "error": reason })).into_response();
    *json.status_mut() = status;
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            json.headers_mut().insert(name.clone(), value.clone());
        }
    }
    json
}
