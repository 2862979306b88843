#![allow(clippy::result_large_err)] // handlers return the refusal as it goes out

//! A fake Confluence: a real HTTP server on port 0 that keeps pages, checks what the
//! real one checks (credentials, the space, well-formed storage XHTML, one title per
//! space) and fails on cue. Cloud's v2 API and Data Center's v1, under `/wiki`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Value};

pub const SPACE_ID: &str = "12345";
pub const SPACE_KEY: &str = "OPS";
pub const USER: &str = "bot@acme.test";
pub const TOKEN: &str = "confluence-test-token";

#[derive(Debug, Clone)]
pub struct StoredPage {
    pub id: String,
    pub space: String,
    pub title: String,
    pub body: String,
    pub parent: Option<String>,
}

/// A page's address as Cloud gives it: it ends in the title's slug.
pub fn webui(page: &StoredPage) -> String {
    let slug: String = page
        .title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("+");
    format!("/spaces/{}/pages/{}/{slug}", page.space, page.id)
}

#[derive(Debug, Clone, Copy)]
pub enum Failure {
    Status(u16),
    /// 429 with this Retry-After.
    RateLimited(u64),
    /// Makes the page, then answers with this status.
    AfterEffect(u16),
}

#[derive(Default)]
struct Inner {
    pages: Vec<StoredPage>,
    /// (method, path, authorization header)
    calls: Vec<(String, String, String)>,
    failures: HashMap<&'static str, VecDeque<Failure>>,
}

#[derive(Clone)]
pub struct FakeConfluence {
    /// `CONFLUENCE_BASE_URL`.
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

fn authorized(headers: &HeaderMap) -> bool {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{TOKEN}"));
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    given == format!("Basic {basic}") || given == format!("Bearer {TOKEN}")
}

fn well_formed(body: &str) -> bool {
    let doc = format!(
        "<page xmlns:ac=\"http://atlassian.com/content\" \
         xmlns:ri=\"http://atlassian.com/resource/identifier\">{body}</page>"
    );
    roxmltree::Document::parse(&doc).is_ok()
}

impl FakeConfluence {
    pub async fn start() -> FakeConfluence {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = FakeConfluence {
            url: format!("http://{}/wiki", listener.local_addr().unwrap()),
            inner: Arc::default(),
        };
        let app = Router::new()
            .route("/wiki/api/v2/pages", get(find_v2).post(create_v2))
            .route("/wiki/api/v2/spaces/{id}", get(space))
            .route("/wiki/rest/api/content", get(find_v1).post(create_v1))
            .route("/wiki/rest/api/space/{key}", get(space))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        fake
    }

    /// The next calls of `what` (`create`, `find` or `space`) fail as listed.
    pub fn fail(&self, what: &'static str, failures: impl IntoIterator<Item = Failure>) {
        self.inner
            .lock()
            .unwrap()
            .failures
            .entry(what)
            .or_default()
            .extend(failures);
    }

    pub fn pages(&self) -> Vec<StoredPage> {
        self.inner.lock().unwrap().pages.clone()
    }

    pub fn calls(&self) -> Vec<(String, String, String)> {
        self.inner.lock().unwrap().calls.clone()
    }

    /// How many calls of `method` to a path ending in `path` were made.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.calls()
            .iter()
            .filter(|(m, p, _)| m == method && p.ends_with(path))
            .count()
    }

    /// A page someone already made.
    pub fn add_page(&self, space: &str, title: &str) -> String {
        let mut inner = self.inner.lock().unwrap();
        let id = format!("{}", 9000 + inner.pages.len());
        inner.pages.push(StoredPage {
            id: id.clone(),
            space: space.into(),
            title: title.into(),
            body: "<p>theirs</p>".into(),
            parent: None,
        });
        id
    }

    /// Records the call; the failure due for `what`, or a refusal of the credentials.
    fn enter(
        &self,
        method: &str,
        path: &str,
        headers: &HeaderMap,
        what: &'static str,
    ) -> Result<Option<Failure>, Response> {
        let mut inner = self.inner.lock().unwrap();
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        inner.calls.push((method.into(), path.into(), auth));
        if !authorized(headers) {
            return Err((
                StatusCode::UNAUTHORIZED,
                Json(json!({"message": "Unauthorized"})),
            )
                .into_response());
        }
        let failure = inner.failures.get_mut(what).and_then(VecDeque::pop_front);
        match failure {
            Some(Failure::Status(code)) => Err((
                StatusCode::from_u16(code).unwrap(),
                Json(json!({"message": "failing on cue"})),
            )
                .into_response()),
            Some(Failure::RateLimited(secs)) => Err((
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", secs.to_string())],
                Json(json!({"message": "slow down"})),
            )
                .into_response()),
            other => Ok(other),
        }
    }

    fn page_json(&self, page: &StoredPage) -> Value {
        json!({"id": page.id, "title": page.title, "status": "current",
               "_links": {"webui": webui(page), "base": self.url}})
    }

    fn find(&self, space: &str, title: &str) -> Value {
        let inner = self.inner.lock().unwrap();
        let results: Vec<Value> = inner
            .pages
            .iter()
            .filter(|p| p.space == space && p.title == title)
            .map(|p| self.page_json(p))
            .collect();
        json!({"results": results, "_links": {"base": self.url}})
    }

    fn create(
        &self,
        space: &str,
        title: &str,
        body: &str,
        parent: Option<String>,
        failure: Option<Failure>,
        v2: bool,
    ) -> Response {
        if space != SPACE_ID && space != SPACE_KEY {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"message": "no such space"})),
            )
                .into_response();
        }
        if !well_formed(body) {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"message": "Error parsing xhtml"})),
            )
                .into_response();
        }
        let mut inner = self.inner.lock().unwrap();
        if inner
            .pages
            .iter()
            .any(|p| p.space == space && p.title == title)
        {
            let message = "A page with this title already exists: A page already exists with the same TITLE in this space";
            let error = if v2 {
                json!({"errors": [{"status": 400, "code": "BAD_REQUEST", "title": message}]})
            } else {
                json!({"statusCode": 400, "message": format!("com.atlassian.confluence.api.service.exceptions.BadRequestException: {message}")})
            };
            return (StatusCode::BAD_REQUEST, Json(error)).into_response();
        }
        let page = StoredPage {
            id: format!("{}", 1000 + inner.pages.len()),
            space: space.into(),
            title: title.into(),
            body: body.into(),
            parent,
        };
        inner.pages.push(page.clone());
        drop(inner);
        if let Some(Failure::AfterEffect(code)) = failure {
            return (StatusCode::from_u16(code).unwrap(), "failed after the fact").into_response();
        }
        Json(self.page_json(&page)).into_response()
    }
}

async fn find_v2(
    State(fake): State<FakeConfluence>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(refused) = fake.enter("GET", "/api/v2/pages", &headers, "find") {
        return refused;
    }
    Json(fake.find(&q["space-id"], &q["title"])).into_response()
}

async fn find_v1(
    State(fake): State<FakeConfluence>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(refused) = fake.enter("GET", "/rest/api/content", &headers, "find") {
        return refused;
    }
    Json(fake.find(&q["spaceKey"], &q["title"])).into_response()
}

async fn create_v2(
    State(fake): State<FakeConfluence>,
    headers: HeaderMap,
    Json(page): Json<Value>,
) -> Response {
    let failure = match fake.enter("POST", "/api/v2/pages", &headers, "create") {
        Ok(f) => f,
        Err(refused) => return refused,
    };
    assert_eq!(page["status"], "current");
    assert_eq!(page["body"]["representation"], "storage");
    fake.create(
        page["spaceId"].as_str().unwrap_or_default(),
        page["title"].as_str().unwrap_or_default(),
        page["body"]["value"].as_str().unwrap_or_default(),
        page["parentId"].as_str().map(str::to_owned),
        failure,
        true,
    )
}

async fn create_v1(
    State(fake): State<FakeConfluence>,
    headers: HeaderMap,
    Json(page): Json<Value>,
) -> Response {
    let failure = match fake.enter("POST", "/rest/api/content", &headers, "create") {
        Ok(f) => f,
        Err(refused) => return refused,
    };
    assert_eq!(page["type"], "page");
    fake.create(
        page["space"]["key"].as_str().unwrap_or_default(),
        page["title"].as_str().unwrap_or_default(),
        page["body"]["storage"]["value"]
            .as_str()
            .unwrap_or_default(),
        page["ancestors"][0]["id"].as_str().map(str::to_owned),
        failure,
        false,
    )
}

async fn space(
    State(fake): State<FakeConfluence>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Path(id): Path<String>,
) -> Response {
    let path = uri.path().trim_start_matches("/wiki").to_owned();
    if let Err(refused) = fake.enter("GET", &path, &headers, "space") {
        return refused;
    }
    if id == SPACE_ID || id == SPACE_KEY {
        Json(json!({"id": id, "key": SPACE_KEY, "name": "Operations"})).into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "no such space"})),
        )
            .into_response()
    }
}
