//! Slack's Web API: one `reqwest` client with timeouts, the bot token as a secret, and
//! Slack's `ok:false` (sent with HTTP 200) turned into an error carrying Slack's code.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::metrics::Metrics;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackError {
    /// HTTP 429 or `ratelimited`: wait `retry_after` if Slack said.
    #[error("rate limited by Slack (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    /// Worth trying again: a 5xx, a timeout, a dropped connection, Slack's own hiccups.
    #[error("Slack unreachable or failing: {0}")]
    Transient(String),
    /// Slack refused the call; trying again will not help.
    #[error("Slack refused {method}: {code}")]
    Refused { method: String, code: String },
}

impl SlackError {
    /// Slack's error code, when Slack refused the call.
    pub fn code(&self) -> Option<&str> {
        match self {
            SlackError::Refused { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// `ok:false` codes that mean "try again later" rather than "never".
const TRANSIENT_CODES: &[&str] = &[
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "ratelimited",
    "rate_limited",
];

#[derive(Clone)]
pub struct SlackClient {
    http: reqwest::Client,
    base: String,
    token: SecretString,
    metrics: Option<Arc<Metrics>>,
}

/// The HTTP client of an outside service: every call within `timeout`, connecting
/// within 5 s of it.
pub fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5).min(timeout))
        .timeout(timeout)
        .user_agent(concat!("pompier/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("HTTP client")
}

impl SlackClient {
    pub fn new(base: &str, token: SecretString, timeout: Duration) -> SlackClient {
        let http = http_client(timeout);
        SlackClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token,
            metrics: None,
        }
    }

    /// Counts and times each call in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> SlackClient {
        self.metrics = Some(metrics);
        self
    }

    /// Calls `method` with a JSON body; the response's JSON when `ok` is true.
    #[tracing::instrument(skip(self, body))]
    pub async fn call(&self, method: &str, body: &Value) -> Result<Value, SlackError> {
        self.send(method, self.request(method).json(body)).await
    }

    /// Calls `method` with form fields: read methods such as `conversations.list` take
    /// no JSON body.
    #[tracing::instrument(skip(self, form))]
    pub async fn call_form(
        &self,
        method: &str,
        form: &[(&str, &str)],
    ) -> Result<Value, SlackError> {
        self.send(method, self.request(method).form(form)).await
    }

    fn request(&self, method: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/{method}", self.base))
            .bearer_auth(self.token.expose_secret())
    }

    async fn send(
        &self,
        method: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<Value, SlackError> {
        let start = Instant::now();
        let result = self.exchange(method, request).await;
        if let Some(metrics) = &self.metrics {
            let error = result.as_ref().err().map(|e| match e {
                SlackError::RateLimited { .. } => "rate_limited",
                SlackError::Transient(_) => "transient",
                SlackError::Refused { .. } => "refused",
            });
            metrics.call("slack", method, start.elapsed(), error);
        }
        result
    }

    async fn exchange(
        &self,
        method: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<Value, SlackError> {
        let response = request
            .send()
            .await
            .map_err(|e| SlackError::Transient(cause(e)))?;
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(SlackError::RateLimited {
                retry_after: retry_after(response.headers()),
            });
        }
        if status.is_server_error() {
            return Err(SlackError::Transient(format!("HTTP {status}")));
        }
        let headers = response.headers().clone();
        let json: Value = response.json().await.map_err(|e| {
            SlackError::Transient(format!("HTTP {status}, unreadable body: {}", cause(e)))
        })?;
        if json["ok"].as_bool() == Some(true) {
            return Ok(json);
        }
        let code = json["error"].as_str().unwrap_or("unknown_error").to_owned();
        if code == "ratelimited" || code == "rate_limited" {
            return Err(SlackError::RateLimited {
                retry_after: retry_after(&headers),
            });
        }
        if TRANSIENT_CODES.contains(&code.as_str())
            || !status.is_success() && code == "unknown_error"
        {
            return Err(SlackError::Transient(format!("HTTP {status}, {code}")));
        }
        Err(SlackError::Refused {
            method: method.to_owned(),
            code,
        })
    }
}

/// What went wrong, down to the root cause ("Connection refused", "operation timed
/// out"), without the URL (nothing secret is in it, but it says nothing useful).
pub fn cause(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(&e);
    while let Some(inner) = source {
        let said = inner.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = inner.source();
    }
    text
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}
