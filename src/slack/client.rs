//! Slack's Web API: one `reqwest` client with timeouts, the bot token as a secret, and
//! Slack's `ok:false` (sent with HTTP 200) turned into an error carrying Slack's code.

use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::metrics::Metrics;
use crate::outbound::{self, cause, retry_after};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackError {
    /// HTTP 429 or `ratelimited`: wait `retry_after` if Slack said.
    #[error("rate limited by Slack (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    /// Worth trying again: a 5xx, a timeout, a dropped connection, Slack's own hiccups.
    #[error("Slack unreachable or failing: {0}")]
    Transient(String),
    /// Slack refused the call; trying again will not help. `errors`: per item, when
    /// Slack says (`conversations.invite` of several users: user and code).
    #[error("Slack refused {method}: {code}")]
    Refused {
        method: String,
        code: String,
        errors: Vec<(String, String)>,
    },
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

impl SlackClient {
    pub fn new(base: &str, token: SecretString, timeout: Duration) -> SlackClient {
        // Slack is on the public Internet: the system's and Mozilla's roots.
        let http = outbound::client(timeout, None).expect("an HTTP client");
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
        match outbound::status(status, response.headers()) {
            outbound::Status::RateLimited(retry_after) => {
                return Err(SlackError::RateLimited { retry_after })
            }
            outbound::Status::Transient(why) => return Err(SlackError::Transient(why)),
            // Slack says what went wrong in its body, even on a 4xx.
            outbound::Status::Success | outbound::Status::Refused => {}
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
        let errors = json["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                (
                    e["user"].as_str().unwrap_or_default().to_owned(),
                    e["error"].as_str().unwrap_or("refused").to_owned(),
                )
            })
            .collect();
        Err(SlackError::Refused {
            method: method.to_owned(),
            code,
            errors,
        })
    }
}
