#![allow(clippy::result_large_err)] // handlers return the refusal as it goes out

//! A fake Jira on a real HTTP server: Cloud's REST v3 (Basic auth, descriptions in
//! Atlassian Document Format, `/search/jql`, the old `/search` gone with 410) and Data
//! Center's v2 (Bearer token, plain-text descriptions, `/search`). It checks what the
//! real one checks (the project, the issue type, labels without spaces, the assignee),
//! its search is eventually consistent on cue, and it fails on cue.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Value};

pub const USER: &str = "bot@acme.test";
pub const TOKEN: &str = "jira-test-token";
pub const PROJECT: &str = "OPS";
/// The Jira account of Slack user U0BOB (by email).
pub const BOB_EMAIL: &str = "u0bob@acme.test";

#[derive(Debug, Clone, Copy)]
pub enum Failure {
    Status(u16),
    /// Makes the issue, then answers with this status (the answer is lost).
    AfterEffect(u16),
}

#[derive(Debug, Clone)]
pub struct Issue {
    pub key: String,
    pub fields: Value,
    /// Jira's search shows it (Cloud's search lags behind creation).
    pub searchable: bool,
}

#[derive(Default)]
struct Inner {
    issues: Vec<Issue>,
    failures: VecDeque<Failure>,
    /// New issues stay out of search results until `settle`.
    lagging: bool,
    searches: usize,
}

#[derive(Clone)]
pub struct FakeJira {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

fn answer(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), Json(body)).into_response()
}

fn refused(status: u16, errors: Value) -> Response {
    answer(status, json!({"errorMessages": [], "errors": errors}))
}

impl FakeJira {
    pub async fn start() -> FakeJira {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/rest/api/{v}/issue", post(create))
            .route("/rest/api/{v}/issue/{key}", axum::routing::put(edit))
            .route("/rest/api/{v}/search/jql", post(search))
            .route("/rest/api/{v}/search", post(old_search))
            .route("/rest/api/{v}/user/search", get(users))
            .route("/rest/api/{v}/project/{key}", get(project))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeJira { url, inner }
    }

    /// Cloud settings (or Data Center's, with `cloud` false).
    pub fn env(&self, cloud: bool) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("JIRA_BASE_URL", self.url.clone()),
            ("JIRA_API_TOKEN", TOKEN.into()),
            ("POMPIER_JIRA__PROJECT_KEY", PROJECT.into()),
        ];
        if cloud {
            env.push(("JIRA_USER", USER.into()));
        }
        env
    }

    pub fn issues(&self) -> Vec<Issue> {
        self.inner.lock().unwrap().issues.clone()
    }

    pub fn fail(&self, failures: impl IntoIterator<Item = Failure>) {
        self.inner.lock().unwrap().failures.extend(failures);
    }

    /// From now on new issues stay out of search results until `settle`.
    pub fn lag(&self) {
        self.inner.lock().unwrap().lagging = true;
    }

    /// Every issue shows in search results.
    pub fn settle(&self) {
        let mut inner = self.inner.lock().unwrap();
        inner.lagging = false;
        for issue in &mut inner.issues {
            issue.searchable = true;
        }
    }

    pub fn searches(&self) -> usize {
        self.inner.lock().unwrap().searches
    }
}

type Shared = Arc<Mutex<Inner>>;

/// Cloud (v3) takes Basic `USER:TOKEN`, Data Center (v2) the token as a Bearer.
fn authorized(v: &str, headers: &HeaderMap) -> Result<(), Response> {
    let given = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{TOKEN}"));
    let ok = match v {
        "3" => given == format!("Basic {basic}"),
        "2" => given == format!("Bearer {TOKEN}"),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(answer(
            401,
            json!({"errorMessages": ["You are not authenticated. Authentication required to perform this operation."], "errors": {}}),
        ))
    }
}

async fn create(
    State(inner): State<Shared>,
    Path(v): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = authorized(&v, &headers) {
        return r;
    }
    let mut inner = inner.lock().unwrap();
    let failure = inner.failures.pop_front();
    if let Some(Failure::Status(status)) = failure {
        return answer(status, json!({"errorMessages": ["failing on cue"]}));
    }
    let f = &body["fields"];
    if f["project"]["key"] != PROJECT {
        return refused(400, json!({"project": "valid project is required"}));
    }
    if f["issuetype"]["name"] != "Task" {
        return refused(400, json!({"issuetype": "valid issue type is required"}));
    }
    let summary = f["summary"].as_str().unwrap_or_default();
    if summary.is_empty() || summary.chars().count() > 255 || summary.contains('\n') {
        return refused(
            400,
            json!({"summary": "You must specify a summary of the issue."}),
        );
    }
    for label in f["labels"].as_array().into_iter().flatten() {
        let label = label.as_str().unwrap_or_default();
        if label.contains(' ') {
            return refused(
                400,
                json!({"labels": format!("The label '{label}' contains spaces which is invalid.")}),
            );
        }
    }
    let description_ok = match v.as_str() {
        "3" => f["description"].is_null() || f["description"]["type"] == "doc",
        _ => f["description"].is_null() || f["description"].is_string(),
    };
    if !description_ok {
        return refused(
            400,
            json!({"description": "Operation value must be an Atlassian Document (see the Atlassian Document Format)"}),
        );
    }
    if let Some(assignee) = f["assignee"].as_object() {
        let known = match v.as_str() {
            "3" => assignee.get("accountId") == Some(&json!("acc-bob")),
            _ => assignee.get("name") == Some(&json!("bob")),
        };
        if !known {
            return refused(400, json!({"assignee": "User does not exist"}));
        }
    }
    let key = format!("{PROJECT}-{}", inner.issues.len() + 1);
    let searchable = !inner.lagging;
    inner.issues.push(Issue {
        key: key.clone(),
        fields: f.clone(),
        searchable,
    });
    let status = match failure {
        Some(Failure::AfterEffect(status)) => status,
        _ => 201,
    };
    answer(
        status,
        json!({"id": "10000", "key": key, "self": format!("http://jira/rest/api/{v}/issue/10000")}),
    )
}

/// `PUT /issue/{key}`: 204, the fields changed.
async fn edit(
    State(inner): State<Shared>,
    Path((v, key)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = authorized(&v, &headers) {
        return r;
    }
    let mut inner = inner.lock().unwrap();
    let Some(issue) = inner.issues.iter_mut().find(|i| i.key == key) else {
        return answer(
            404,
            json!({"errorMessages": ["Issue does not exist or you do not have permission to see it."]}),
        );
    };
    let fields = &body["fields"];
    if let Some(summary) = fields.get("summary") {
        let summary = summary.as_str().unwrap_or_default();
        if summary.is_empty() || summary.chars().count() > 255 {
            return refused(
                400,
                json!({"summary": "You must specify a summary of the issue."}),
            );
        }
        issue.fields["summary"] = summary.into();
    }
    if let Some(description) = fields.get("description") {
        let fine = if v == "3" {
            description["type"] == "doc"
        } else {
            description.is_string()
        };
        if !fine {
            return refused(
                400,
                json!({"description": "Operation value must be an Atlassian Document (see the Atlassian Document Format)"}),
            );
        }
        issue.fields["description"] = description.clone();
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `project = "OPS" AND labels = "…"`, the only query pompier sends.
fn label_of(jql: &str) -> Option<String> {
    let rest = jql.strip_prefix(&format!("project = \"{PROJECT}\" AND labels = \""))?;
    Some(rest.strip_suffix('"')?.to_owned())
}

fn found(inner: &mut Inner, body: &Value) -> Response {
    inner.searches += 1;
    let Some(label) = label_of(body["jql"].as_str().unwrap_or_default()) else {
        return answer(400, json!({"errorMessages": ["Error in the JQL Query"]}));
    };
    let issues: Vec<Value> = inner
        .issues
        .iter()
        .filter(|i| i.searchable)
        .filter(|i| {
            i.fields["labels"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|l| l == &json!(label))
        })
        .map(|i| json!({"id": "1", "key": i.key, "fields": {"status": {"name": "To Do"}}}))
        .collect();
    answer(200, json!({"issues": issues, "isLast": true}))
}

async fn search(
    State(inner): State<Shared>,
    Path(v): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = authorized(&v, &headers) {
        return r;
    }
    if v != "3" {
        return answer(404, json!({"errorMessages": ["null for uri"]}));
    }
    found(&mut inner.lock().unwrap(), &body)
}

/// Gone from Cloud (410); Data Center's search.
async fn old_search(
    State(inner): State<Shared>,
    Path(v): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = authorized(&v, &headers) {
        return r;
    }
    if v == "3" {
        return answer(
            410,
            json!({"errorMessages": ["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."]}),
        );
    }
    let mut inner = inner.lock().unwrap();
    let mut r = found(&mut inner, &body);
    *r.status_mut() = StatusCode::OK;
    r
}

async fn users(
    Path(v): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = authorized(&v, &headers) {
        return r;
    }
    let asked = q
        .get(if v == "3" { "query" } else { "username" })
        .cloned()
        .unwrap_or_default();
    if asked != BOB_EMAIL {
        return answer(200, json!([]));
    }
    answer(
        200,
        json!([{"accountId": "acc-bob", "name": "bob", "emailAddress": BOB_EMAIL, "displayName": "Bob"}]),
    )
}

async fn project(Path((v, key)): Path<(String, String)>, headers: HeaderMap) -> Response {
    if let Err(r) = authorized(&v, &headers) {
        return r;
    }
    if key != PROJECT {
        return answer(
            404,
            json!({"errorMessages": ["No project could be found with key 'X'."]}),
        );
    }
    answer(200, json!({"key": PROJECT, "name": "Operations"}))
}
