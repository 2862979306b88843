//! Confluence's REST API: one `reqwest` client with timeouts, the token as a secret
//! (never in an error or a log), Cloud's v2 API or Data Center's v1.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use crate::config::ConfluenceApi;
use crate::metrics::Metrics;
use crate::outbound::{self, cause};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfluenceError {
    /// HTTP 429 (or a 5xx with `Retry-After`): wait `retry_after` if it said.
    #[error("Confluence asks to slow down (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    /// Worth trying again: a 5xx, a timeout, a refused connection.
    #[error("Confluence unreachable or failing: {0}")]
    Transient(String),
    /// A page with this title exists already (Confluence's 400).
    #[error("a page with this title already exists")]
    AlreadyExists,
    /// Refused; trying again will not help until someone fixes the cause.
    #[error("{0}")]
    Refused(String),
}

/// A page, with the address a person opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub id: String,
    pub url: String,
    /// Confluence's base address (`https://example.atlassian.net/wiki`).
    pub base: String,
}

impl Page {
    /// Its address to record: by id for a private incident, since Cloud's addresses end
    /// in the title's slug.
    pub fn link(&self, private: bool) -> String {
        if private {
            format!("{}/pages/viewpage.action?pageId={}", self.base, self.id)
        } else {
            self.url.clone()
        }
    }
}

enum Auth {
    Basic { user: String, token: SecretString },
    Bearer(SecretString),
}

pub struct ConfluenceClient {
    http: reqwest::Client,
    base: String,
    api: ConfluenceApi,
    auth: Auth,
    /// The space's id (Cloud) or key (Data Center).
    space: String,
    parent: Option<String>,
    metrics: Option<Arc<Metrics>>,
}

impl ConfluenceClient {
    pub fn new(
        base: &str,
        api: ConfluenceApi,
        user: Option<&str>,
        token: SecretString,
        space: &str,
        parent: Option<&str>,
        http: reqwest::Client,
    ) -> ConfluenceClient {
        ConfluenceClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
            api,
            auth: match user {
                Some(user) => Auth::Basic {
                    user: user.to_owned(),
                    token,
                },
                None => Auth::Bearer(token),
            },
            space: space.to_owned(),
            parent: parent.map(str::to_owned),
            metrics: None,
        }
    }

    /// Counts and times each call in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> ConfluenceClient {
        self.metrics = Some(metrics);
        self
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.auth {
            Auth::Basic { user, token } => request.basic_auth(user, Some(token.expose_secret())),
            Auth::Bearer(token) => request.bearer_auth(token.expose_secret()),
        }
    }

    /// What a refusal means for the operator, in words.
    fn refusal(&self, status: StatusCode, body: &Value) -> ConfluenceError {
        let space = &self.space;
        let message = body["message"]
            .as_str()
            .or_else(|| body["errors"][0]["title"].as_str())
            .unwrap_or_default();
        if status == StatusCode::BAD_REQUEST && message.contains("already exists") {
            return ConfluenceError::AlreadyExists;
        }
        ConfluenceError::Refused(match status {
            StatusCode::UNAUTHORIZED => {
                "Confluence refused the credentials (CONFLUENCE_USER, CONFLUENCE_API_TOKEN)".into()
            }
            StatusCode::FORBIDDEN => format!("the token cannot write to space {space}"),
            StatusCode::NOT_FOUND => {
                format!(
                    "space {space} (or the parent page) does not exist, or the token cannot see it"
                )
            }
            _ => format!("Confluence refused the page (HTTP {status}): {message}"),
        })
    }

    /// Sends `request`, counted in the metrics as `method` (what it does).
    async fn send(
        &self,
        method: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<Value, ConfluenceError> {
        let start = Instant::now();
        let result = self.exchange(request).await;
        if let Some(metrics) = &self.metrics {
            let error = result.as_ref().err().map(|e| match e {
                ConfluenceError::RateLimited { .. } => "rate_limited",
                ConfluenceError::Transient(_) => "transient",
                ConfluenceError::AlreadyExists | ConfluenceError::Refused(_) => "refused",
            });
            metrics.call("confluence", method, start.elapsed(), error);
        }
        result
    }

    async fn exchange(&self, request: reqwest::RequestBuilder) -> Result<Value, ConfluenceError> {
        let response = request
            .send()
            .await
            .map_err(|e| ConfluenceError::Transient(cause(e)))?;
        let status = response.status();
        match outbound::status(status, response.headers()) {
            outbound::Status::RateLimited(retry_after) => {
                return Err(ConfluenceError::RateLimited { retry_after })
            }
            outbound::Status::Transient(why) => return Err(ConfluenceError::Transient(why)),
            outbound::Status::Success | outbound::Status::Refused => {}
        }
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(self.refusal(status, &body));
        }
        Ok(body)
    }

    /// The page's address: `_links.base` + `_links.webui`, the base where Confluence
    /// gave none.
    fn page(&self, page: &Value, base: Option<&str>) -> Option<Page> {
        let id = match &page["id"] {
            Value::String(id) => id.clone(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        let webui = page["_links"]["webui"].as_str()?;
        let base = page["_links"]["base"]
            .as_str()
            .or(base)
            .unwrap_or(&self.base);
        let base = base.trim_end_matches('/');
        Some(Page {
            id,
            url: format!("{base}{webui}"),
            base: base.to_owned(),
        })
    }

    /// The current page titled `title` in the space, if there is one.
    pub async fn find_page(&self, title: &str) -> Result<Option<Page>, ConfluenceError> {
        let request = match self.api {
            ConfluenceApi::Cloud => self.request(reqwest::Method::GET, "/api/v2/pages").query(&[
                ("space-id", self.space.as_str()),
                ("title", title),
                ("status", "current"),
            ]),
            ConfluenceApi::Datacenter => self
                .request(reqwest::Method::GET, "/rest/api/content")
                .query(&[
                    ("spaceKey", self.space.as_str()),
                    ("title", title),
                    ("type", "page"),
                ]),
        };
        let found = self.send("find_page", request).await?;
        let base = found["_links"]["base"].as_str();
        Ok(found["results"]
            .as_array()
            .and_then(|pages| pages.iter().find_map(|p| self.page(p, base))))
    }

    /// Creates a current page titled `title` with `body` (storage format).
    pub async fn create_page(&self, title: &str, body: &str) -> Result<Page, ConfluenceError> {
        let request = match self.api {
            ConfluenceApi::Cloud => {
                let mut page = json!({
                    "spaceId": self.space, "status": "current", "title": title,
                    "body": {"representation": "storage", "value": body},
                });
                if let Some(parent) = &self.parent {
                    page["parentId"] = json!(parent);
                }
                self.request(reqwest::Method::POST, "/api/v2/pages")
                    .json(&page)
            }
            ConfluenceApi::Datacenter => {
                let mut page = json!({
                    "type": "page", "title": title, "space": {"key": self.space},
                    "body": {"storage": {"value": body, "representation": "storage"}},
                });
                if let Some(parent) = &self.parent {
                    page["ancestors"] = json!([{"id": parent}]);
                }
                self.request(reqwest::Method::POST, "/rest/api/content")
                    .json(&page)
            }
        };
        let created = self.send("create_page", request).await?;
        self.page(&created, None).ok_or_else(|| {
            ConfluenceError::Transient("Confluence answered without the page's id or link".into())
        })
    }

    /// Reads the space: the settings work. Its name, for the operator.
    pub async fn check(&self) -> Result<String, ConfluenceError> {
        let path = match self.api {
            ConfluenceApi::Cloud => format!("/api/v2/spaces/{}", self.space),
            ConfluenceApi::Datacenter => format!("/rest/api/space/{}", self.space),
        };
        let space = self
            .send("read_space", self.request(reqwest::Method::GET, &path))
            .await?;
        Ok(space["name"].as_str().unwrap_or(&self.space).to_owned())
    }
}
