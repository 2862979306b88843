//! A Slack Web API for benchmarks: answers every call with success, at once or after a
//! fixed delay, on 127.0.0.1 only, and counts the calls (and the pins, which end a
//! declaration's Slack work). Shared by the benchmark tools (`#[path]`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::Notify;

/// What the fake Slack was asked.
#[derive(Default)]
pub struct Calls {
    pub all: AtomicU64,
    /// `pins.add` calls: a summary pinned.
    pub pins: AtomicU64,
    /// Told at each pin.
    pub pinned: Notify,
}

#[derive(Clone)]
struct Fake {
    calls: Arc<Calls>,
    delay: Duration,
}

async fn answer(State(fake): State<Fake>, Path(method): Path<String>) -> Json<Value> {
    let n = fake.calls.all.fetch_add(1, Ordering::Relaxed);
    if !fake.delay.is_zero() {
        tokio::time::sleep(fake.delay).await;
    }
    if method == "pins.add" {
        fake.calls.pins.fetch_add(1, Ordering::SeqCst);
        fake.calls.pinned.notify_waiters();
    }
    Json(
        json!({"ok": true, "channel": {"id": format!("C{n:09}")}, "ts": format!("1700000000.{n:06}")}),
    )
}

/// Serves on `listener` until the process ends; what it was asked.
pub fn spawn(listener: tokio::net::TcpListener, delay: Duration) -> Arc<Calls> {
    let calls = Arc::new(Calls::default());
    let app = Router::new()
        .route("/api/{method}", post(answer))
        .with_state(Fake {
            calls: calls.clone(),
            delay,
        });
    tokio::spawn(async move { axum::serve(listener, app).await });
    calls
}
