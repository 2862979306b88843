#![allow(clippy::result_large_err)] // handlers return the refusal as it goes out

//! Fake pagers on one real HTTP server: PagerDuty's Events API v2 (`/v2/enqueue`) and
//! Opsgenie's Alert API v2 (`/v2/alerts…`). Each checks what the real one checks (the
//! routing key or `GenieKey`, the fields and their limits), keeps its alerts the way it
//! does (one open alert per key; an acknowledge of no open alert is dropped with a 202;
//! Opsgenie's alias actions without `identifierType=alias` find no alert and still answer
//! 202), and fails on cue.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use axum::{Json, Router};
use serde_json::{json, Value};

pub const ROUTING_KEY: &str = "0123456789abcdef0123456789abcdef";
pub const TEAM_ROUTING_KEY: &str = "fedcba9876543210fedcba9876543210";
pub const GENIE_KEY: &str = "genie-test-key";
/// A PagerDuty REST API key (`PAGERDUTY_API_TOKEN`).
pub const API_TOKEN: &str = "pd-rest-test-token";
/// The escalation policy whose first level is U0DAN (`u0dan@acme.test`), its second
/// U0BOSS.
pub const POLICY: &str = "PPAY";

#[derive(Debug, Clone, Copy)]
pub enum Failure {
    Status(u16),
    /// 429 with this Retry-After.
    RateLimited(u64),
    /// Takes the event, then answers with this status (the answer is lost).
    AfterEffect(u16),
}

/// One event a pager took: which, its action, its key, and the whole body.
#[derive(Debug, Clone)]
pub struct Received {
    pub pager: &'static str,
    pub action: String,
    pub key: String,
    pub body: Value,
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    /// (pager, routing key or "", key) → "triggered" | "acknowledged" | "resolved".
    alerts: HashMap<(String, String, String), String>,
    failures: HashMap<&'static str, VecDeque<Failure>>,
    /// Every call, failed or not: (pager, action).
    calls: Vec<(String, String)>,
}

#[derive(Clone)]
pub struct FakePagers {
    /// `paging.pagerduty_url`.
    pub pagerduty_url: String,
    /// `paging.opsgenie_url`.
    pub opsgenie_url: String,
    inner: Arc<Mutex<Inner>>,
}

fn answer(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), Json(body)).into_response()
}

impl FakePagers {
    pub async fn start() -> FakePagers {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/v2/enqueue", post(pagerduty))
            .route("/v2/alerts", post(opsgenie_create).get(opsgenie_list))
            .route("/oncalls", axum::routing::get(oncalls))
            .route(
                "/v2/alerts/{alias}/{action}",
                post(opsgenie_action).put(opsgenie_message),
            )
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakePagers {
            pagerduty_url: format!("{url}/v2/enqueue"),
            opsgenie_url: url,
            inner,
        }
    }

    /// The settings that point pompier here, both pagers on.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PAGERDUTY_ROUTING_KEY", ROUTING_KEY.into()),
            ("POMPIER_PAGING__PAGERDUTY_URL", self.pagerduty_url.clone()),
            ("OPSGENIE_API_KEY", GENIE_KEY.into()),
            ("POMPIER_PAGING__OPSGENIE_URL", self.opsgenie_url.clone()),
            (
                "POMPIER_PAGING__TEAMS__PAYMENTS__PAGERDUTY_ROUTING_KEY",
                TEAM_ROUTING_KEY.into(),
            ),
            (
                "POMPIER_PAGING__TEAMS__PAYMENTS__OPSGENIE_TEAM",
                "Payments".into(),
            ),
        ]
    }

    /// The next calls to `pager` (`pagerduty`, `opsgenie`) fail as `failures` say.
    pub fn fail(&self, pager: &'static str, failures: impl IntoIterator<Item = Failure>) {
        self.inner
            .lock()
            .unwrap()
            .failures
            .entry(pager)
            .or_default()
            .extend(failures);
    }

    /// The events taken, in order.
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// (action, key) of the events `pager` took, in order.
    pub fn actions(&self, pager: &str) -> Vec<(String, String)> {
        self.received()
            .into_iter()
            .filter(|r| r.pager == pager)
            .map(|r| (r.action, r.key))
            .collect()
    }

    /// How many calls `pager` answered, failed ones included.
    pub fn calls(&self, pager: &str) -> usize {
        let inner = self.inner.lock().unwrap();
        inner.calls.iter().filter(|(p, _)| p == pager).count()
    }

    /// The state of `pager`'s alert `key` (PagerDuty's under `routing_key`).
    pub fn alert(&self, pager: &str, routing_key: &str, key: &str) -> Option<String> {
        let inner = self.inner.lock().unwrap();
        inner
            .alerts
            .get(&(pager.to_owned(), routing_key.to_owned(), key.to_owned()))
            .cloned()
    }
}

type Shared = Arc<Mutex<Inner>>;

/// The failure on cue for `pager`, if any: `Err` answers it now; `Ok(Some(status))`
/// takes the event, then answers `status`.
fn on_cue(inner: &mut Inner, pager: &'static str, action: &str) -> Result<Option<u16>, Response> {
    inner.calls.push((pager.into(), action.into()));
    match inner.failures.get_mut(pager).and_then(VecDeque::pop_front) {
        None => Ok(None),
        Some(Failure::Status(status)) => Err(answer(status, json!({"message": "failing on cue"}))),
        Some(Failure::RateLimited(secs)) => {
            let mut r = answer(429, json!({"message": "Too many requests"}));
            r.headers_mut()
                .insert("retry-after", secs.to_string().parse().unwrap());
            Err(r)
        }
        Some(Failure::AfterEffect(status)) => Ok(Some(status)),
    }
}

/// The open alert's next state after `action`, as the pager keeps it: a trigger opens
/// (or folds into) the alert of its key; acknowledge and resolve of no open alert are
/// dropped.
fn apply(
    alerts: &mut HashMap<(String, String, String), String>,
    at: (String, String, String),
    action: &str,
) {
    let open = alerts.get(&at).is_some_and(|s| s != "resolved");
    match action {
        "trigger" if open => {}
        "trigger" => {
            alerts.insert(at, "triggered".into());
        }
        "acknowledge" if open => {
            alerts.insert(at, "acknowledged".into());
        }
        "resolve" if open => {
            alerts.insert(at, "resolved".into());
        }
        _ => {}
    }
}

async fn pagerduty(State(inner): State<Shared>, Json(body): Json<Value>) -> Response {
    let mut inner = inner.lock().unwrap();
    let action = body["event_action"].as_str().unwrap_or_default().to_owned();
    let after = match on_cue(&mut inner, "pagerduty", &action) {
        Ok(after) => after,
        Err(response) => return response,
    };
    let invalid = |why: &str| {
        answer(
            400,
            json!({"status": "invalid event", "message": "Event object is invalid", "errors": [why]}),
        )
    };
    let routing_key = body["routing_key"].as_str().unwrap_or_default().to_owned();
    if routing_key != ROUTING_KEY && routing_key != TEAM_ROUTING_KEY {
        return invalid("'routing_key' is invalid");
    }
    let key = body["dedup_key"].as_str().unwrap_or_default().to_owned();
    if key.is_empty() || key.len() > 255 {
        return invalid("'dedup_key' is missing or longer than 255");
    }
    match action.as_str() {
        "trigger" => {
            let p = &body["payload"];
            let summary = p["summary"].as_str().unwrap_or_default();
            if summary.is_empty() || summary.chars().count() > 1024 {
                return invalid("'payload.summary' is missing or too long");
            }
            if p["source"].as_str().unwrap_or_default().is_empty() {
                return invalid("'payload.source' is missing");
            }
            if !["critical", "error", "warning", "info"]
                .contains(&p["severity"].as_str().unwrap_or_default())
            {
                return invalid("'payload.severity' is invalid");
            }
        }
        "acknowledge" | "resolve" => {}
        _ => return invalid("'event_action' is invalid"),
    }
    apply(
        &mut inner.alerts,
        ("pagerduty".into(), routing_key, key.clone()),
        &action,
    );
    inner.received.push(Received {
        pager: "pagerduty",
        action,
        key: key.clone(),
        body,
    });
    answer(
        after.unwrap_or(202),
        json!({"status": "success", "message": "Event processed", "dedup_key": key}),
    )
}

/// PagerDuty's REST API: `GET /oncalls` with `Authorization: Token token=…`.
async fn oncalls(
    headers: HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if given != format!("Token token={API_TOKEN}") {
        return answer(
            401,
            json!({"error": {"message": "Unauthorized", "code": 2006}}),
        );
    }
    let query = query.unwrap_or_default();
    let asked = query.contains(&format!("escalation_policy_ids%5B%5D={POLICY}"))
        || query.contains(&format!("escalation_policy_ids[]={POLICY}"));
    let oncalls = if asked {
        json!([
            {"escalation_level": 1, "escalation_policy": {"id": POLICY},
             "user": {"id": "PU1", "email": "u0dan@acme.test"}},
            {"escalation_level": 2, "escalation_policy": {"id": POLICY},
             "user": {"id": "PU2", "email": "u0boss@acme.test"}}
        ])
    } else {
        json!([])
    };
    answer(
        200,
        json!({"oncalls": oncalls, "limit": 25, "offset": 0, "more": false}),
    )
}

/// Opsgenie's check of `Authorization: GenieKey …`.
fn genie(headers: &HeaderMap) -> Result<(), Response> {
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if given == format!("GenieKey {GENIE_KEY}") {
        Ok(())
    } else {
        Err(answer(
            401,
            json!({"message": "Could not authenticate", "took": 0.0, "requestId": "r"}),
        ))
    }
}

fn processed() -> Value {
    json!({"result": "Request will be processed", "took": 0.1, "requestId": "43a29c5c"})
}

async fn opsgenie_create(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut inner = inner.lock().unwrap();
    let after = match on_cue(&mut inner, "opsgenie", "create") {
        Ok(after) => after,
        Err(response) => return response,
    };
    if let Err(refused) = genie(&headers) {
        return refused;
    }
    let message = body["message"].as_str().unwrap_or_default();
    let alias = body["alias"].as_str().unwrap_or_default().to_owned();
    if message.is_empty() || message.chars().count() > 130 || alias.chars().count() > 512 {
        return answer(
            422,
            json!({"message": "Request body is not processable", "took": 0.0}),
        );
    }
    apply(
        &mut inner.alerts,
        ("opsgenie".into(), String::new(), alias.clone()),
        "trigger",
    );
    inner.received.push(Received {
        pager: "opsgenie",
        action: "trigger".into(),
        key: alias,
        body,
    });
    answer(after.unwrap_or(202), processed())
}

async fn opsgenie_list(headers: HeaderMap) -> Response {
    if let Err(refused) = genie(&headers) {
        return refused;
    }
    answer(200, json!({"data": [], "took": 0.01, "requestId": "r"}))
}

/// `PUT /v2/alerts/{alias}/message`: the open alert's message changes.
async fn opsgenie_message(
    State(inner): State<Shared>,
    Path((alias, what)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut inner = inner.lock().unwrap();
    if let Err(response) = on_cue(&mut inner, "opsgenie", "update") {
        return response;
    }
    if let Err(refused) = genie(&headers) {
        return refused;
    }
    let message = body["message"].as_str().unwrap_or_default();
    if what != "message" || message.is_empty() || message.chars().count() > 130 {
        return answer(422, json!({"message": "Request body is not processable"}));
    }
    if query.get("identifierType").map(String::as_str) == Some("alias") {
        inner.received.push(Received {
            pager: "opsgenie",
            action: "update".into(),
            key: alias,
            body,
        });
    }
    answer(202, processed())
}

async fn opsgenie_action(
    State(inner): State<Shared>,
    Path((alias, action)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Option<Json<Value>>,
) -> Response {
    let mut inner = inner.lock().unwrap();
    let after = match on_cue(&mut inner, "opsgenie", &action) {
        Ok(after) => after,
        Err(response) => return response,
    };
    if let Err(refused) = genie(&headers) {
        return refused;
    }
    let action = match action.as_str() {
        "acknowledge" => "acknowledge",
        "close" => "resolve",
        _ => return answer(404, json!({"message": "no such action"})),
    };
    // Without identifierType=alias the alias is taken for an alert id: no such alert,
    // and the 202 hides it (as the real one does).
    if query.get("identifierType").map(String::as_str) == Some("alias") {
        apply(
            &mut inner.alerts,
            ("opsgenie".into(), String::new(), alias.clone()),
            action,
        );
    }
    inner.received.push(Received {
        pager: "opsgenie",
        action: action.into(),
        key: alias,
        body: body.map(|Json(b)| b).unwrap_or(Value::Null),
    });
    answer(after.unwrap_or(202), processed())
}
