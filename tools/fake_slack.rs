//! A Slack Web API for benchmarks: answers every call with success, at once or after a
//! fixed delay, on 127.0.0.1 only. Shared by the benchmark tools (`#[path]`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

#[derive(Clone)]
struct Fake {
    calls: Arc<AtomicU64>,
    delay: Duration,
}

async fn answer(State(fake): State<Fake>, Path(_method): Path<String>) -> Json<Value> {
    let n = fake.calls.fetch_add(1, Ordering::Relaxed);
    if !fake.delay.is_zero() {
        tokio::time::sleep(fake.delay).await;
    }
    Json(
        json!({"ok": true, "channel": {"id": format!("C{n:09}")}, "ts": format!("1700000000.{n:06}")}),
    )
}

/// Serves on `listener` until the process ends; the calls it answered.
pub fn spawn(listener: tokio::net::TcpListener, delay: Duration) -> Arc<AtomicU64> {
    let calls = Arc::new(AtomicU64::new(0));
    let app = Router::new()
        .route("/api/{method}", post(answer))
        .with_state(Fake {
            calls: calls.clone(),
            delay,
        });
    tokio::spawn(async move { axum::serve(listener, app).await });
    calls
}
