//! A Slack Web API for benchmarks, on 127.0.0.1 only: answers every call with success, at
//! once or after a fixed delay, and counts the calls (and the pins, which end a
//! declaration's Slack work). With tiers, it also enforces Slack's rate tiers per method
//! (per channel for `chat.postMessage`) over a sliding minute, answering 429 with
//! `Retry-After` past them, and logs each call. Shared by the benchmark tools (`#[path]`).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::Notify;

/// One call, as logged with tiers on.
#[derive(Debug, Clone)]
pub struct Logged {
    pub at: Instant,
    pub method: String,
    pub channel: Option<String>,
    /// `conversations.create`'s name; a message's text.
    pub text: Option<String>,
    /// The channel made, for `conversations.create`.
    pub made: Option<String>,
    /// Refused with a 429 for going past the tier.
    pub limited: bool,
}

/// What the fake Slack was asked.
#[derive(Default)]
pub struct Calls {
    pub all: AtomicU64,
    /// `pins.add` calls: a summary pinned.
    pub pins: AtomicU64,
    /// Told at each pin.
    pub pinned: Notify,
    /// Calls past their tier (429s), with tiers on.
    pub limited: AtomicU64,
    /// Every call, with tiers on.
    pub log: Mutex<Vec<Logged>>,
    pub tiers: Tiers,
}

/// Calls a minute Slack allows, per app and workspace (its method pages: Tier 2 20,
/// Tier 3 50, Tier 4 100; one message a second per channel). Written from Slack's pages
/// apart from pompier's own table (`slack::tiers`), so that a mistake there shows here.
pub fn tier(method: &str) -> Option<usize> {
    match method {
        "conversations.create"
        | "conversations.setTopic"
        | "conversations.archive"
        | "conversations.rename"
        | "conversations.list"
        | "pins.add"
        | "bookmarks.add"
        | "usergroups.users.list" => Some(20),
        "conversations.invite"
        | "conversations.history"
        | "conversations.replies"
        | "conversations.open"
        | "chat.update"
        | "users.lookupByEmail" => Some(50),
        "chat.postEphemeral" | "users.info" | "views.open" | "views.publish" => Some(100),
        "chat.postMessage" => Some(60),
        _ => None,
    }
}

#[derive(Clone)]
struct Fake {
    calls: Arc<Calls>,
    delay: Duration,
    tiers: bool,
}

/// Slack's tiers, enforced: the times of each method's calls of the last minute (each
/// channel's, for `chat.postMessage`).
#[derive(Default)]
pub struct Tiers {
    windows: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Tiers {
    /// Whether a call of `method` with `body` now goes past its tier: then the seconds
    /// until it would not (Slack's `Retry-After`). Counted when it does not.
    pub fn past(&self, method: &str, body: &Value) -> Option<u64> {
        let limit = tier(method)?;
        let key = match body["channel"].as_str() {
            Some(channel) if method == "chat.postMessage" => format!("{method}:{channel}"),
            _ => method.to_owned(),
        };
        let now = Instant::now();
        let mut windows = self.windows.lock().expect("windows");
        let calls = windows.entry(key).or_default();
        while calls
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
        {
            calls.pop_front();
        }
        if calls.len() >= limit {
            let oldest = now.duration_since(*calls.front()?);
            return Some(60 - oldest.as_secs());
        }
        calls.push_back(now);
        None
    }
}

/// JSON for write methods, a form for read methods, as Slack takes them.
fn body_of(headers: &HeaderMap, raw: &[u8]) -> Value {
    if headers.get("content-type").and_then(|v| v.to_str().ok()) == Some("application/json") {
        serde_json::from_slice(raw).unwrap_or(Value::Null)
    } else {
        Value::Object(
            form_urlencoded::parse(raw)
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect(),
        )
    }
}

async fn answer(
    State(fake): State<Fake>,
    Path(method): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let n = fake.calls.all.fetch_add(1, Ordering::Relaxed);
    if fake.tiers {
        let body = body_of(&headers, &raw);
        let now = Instant::now();
        let wait = fake.calls.tiers.past(&method, &body);
        let made = (method == "conversations.create" && wait.is_none()).then(|| format!("C{n:09}"));
        fake.calls.log.lock().expect("log").push(Logged {
            at: now,
            method: method.clone(),
            channel: body["channel"].as_str().map(str::to_owned),
            text: body["text"]
                .as_str()
                .or(body["name"].as_str())
                .map(str::to_owned),
            made,
            limited: wait.is_some(),
        });
        if let Some(wait) = wait {
            fake.calls.limited.fetch_add(1, Ordering::Relaxed);
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", wait.to_string())],
                Json(json!({"ok": false, "error": "ratelimited"})),
            )
                .into_response();
        }
    }
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
    .into_response()
}

/// Serves on `listener` until the process ends, enforcing Slack's tiers if `tiers`;
/// what it was asked.
pub fn spawn(listener: tokio::net::TcpListener, delay: Duration, tiers: bool) -> Arc<Calls> {
    let calls = Arc::new(Calls::default());
    let app = Router::new()
        .route("/api/{method}", post(answer))
        .with_state(Fake {
            calls: calls.clone(),
            delay,
            tiers,
        });
    tokio::spawn(async move { axum::serve(listener, app).await });
    calls
}
