//! Slack's Web API: one `reqwest` client with timeouts, the bot token as a secret, and
//! Slack's `ok:false` (sent with HTTP 200) turned into an error carrying Slack's code.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::tiers;
use crate::metrics::Metrics;
use crate::outbound::{self, cause, retry_after};
use crate::store::{Slot, Store};

/// How long a method is held after a 429 that gave no `Retry-After`.
const HOLD_WITHOUT_RETRY_AFTER: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackError {
    /// HTTP 429 or `ratelimited`: wait `retry_after` if Slack said.
    #[error("rate limited by Slack (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    /// Not called: the method's next slot below its tier (`slack.pace_percent`) is
    /// further than the caller may wait.
    #[error("{method} paced below Slack's rate tier: next call in {wait:?}")]
    Paced { method: String, wait: Duration },
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

/// How long an instance that paces nothing trusts its copy of the holds (`Holds`):
/// another instance's 429 holds this one back within that time.
const HOLDS_FRESH: Duration = Duration::from_secs(1);
/// The longest a call waits for the holds to be read again; past it, or when they
/// cannot be read, the last copy stands for another `HOLDS_FRESH`.
const HOLDS_READ_DEADLINE: Duration = Duration::from_secs(2);

/// Calls paced below Slack's rate tiers, and held after a 429, for every instance on
/// one database (`store::pace`).
#[derive(Clone)]
pub struct Pace {
    store: Store,
    /// The share of each tier used, in percent; 0 paces nothing (a 429 still holds its
    /// method back for everyone).
    percent: u32,
    /// The longest a call waits for its slot; a later slot is `SlackError::Paced`.
    wait: Duration,
    /// Unpaced, the holds as last read, so a call does not read the database.
    holds: Arc<tokio::sync::Mutex<Holds>>,
}

/// The keys held back by a 429, as of `read`, and those this instance held since.
#[derive(Default)]
struct Holds {
    read: Option<Instant>,
    until: HashMap<String, DateTime<Utc>>,
}

impl Pace {
    pub fn new(store: Store, percent: u32, wait: Duration) -> Pace {
        Pace {
            store,
            percent,
            wait,
            holds: Arc::default(),
        }
    }

    /// Waits for the next slot of `method` (on `key`) when it comes within `self.wait`.
    async fn slot(&self, method: &str, key: &str) -> Result<(), SlackError> {
        let Some(per_minute) = tiers::per_minute(method) else {
            return Ok(());
        };
        let now = outbound::clock();
        let latest = now + chrono::Duration::from_std(self.wait).unwrap_or_default();
        let slot = match self.percent {
            // Unpaced, a 429's hold is still kept.
            0 => Ok(match self.held(key, now).await {
                Some(until) if until > latest => Slot::NotBefore(until),
                until => Slot::Taken(until.unwrap_or(now)),
            }),
            percent => {
                let every = tiers::interval_ms(per_minute, percent);
                self.store.take_slot(key, now, every, latest).await
            }
        };
        match slot {
            Ok(Slot::Taken(at)) => {
                if let Ok(wait) = (at - now).to_std() {
                    tokio::time::sleep(wait).await;
                }
                Ok(())
            }
            Ok(Slot::NotBefore(at)) => Err(SlackError::Paced {
                method: method.to_owned(),
                wait: (at - now).to_std().unwrap_or_default(),
            }),
            Err(e) => {
                // Slack's own 429s still hold the line.
                tracing::warn!(error = %e, method, "cannot read the pace of Slack calls; calling unpaced");
                Ok(())
            }
        }
    }

    /// Until when a 429 holds `key` back at `now`, from the holds read at most
    /// `HOLDS_FRESH` ago (read again when older, within `HOLDS_READ_DEADLINE`; the last
    /// copy is kept when they cannot be, so a database that stalls delays one call a
    /// second, not every call).
    async fn held(&self, key: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut holds = self.holds.lock().await;
        if holds.read.is_none_or(|read| read.elapsed() >= HOLDS_FRESH) {
            match tokio::time::timeout(HOLDS_READ_DEADLINE, self.store.holds(now)).await {
                Ok(Ok(until)) => holds.until = until,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "cannot read which Slack methods are held back; using the last read");
                }
                Err(_) => {
                    tracing::warn!(
                        "reading which Slack methods are held back timed out; using the last read"
                    );
                }
            }
            holds.read = Some(Instant::now());
        }
        holds.until.get(key).copied().filter(|until| *until > now)
    }

    /// No call of `method` on `key` from any instance for `retry_after`.
    async fn hold(&self, method: &str, key: &str, retry_after: Option<Duration>) {
        if tiers::per_minute(method).is_none() {
            return;
        }
        let wait = retry_after.unwrap_or(HOLD_WITHOUT_RETRY_AFTER);
        let until = outbound::clock() + chrono::Duration::from_std(wait).unwrap_or_default();
        // This instance holds back at once, whatever the database says.
        let mut holds = self.holds.lock().await;
        let held = holds.until.entry(key.to_owned()).or_insert(until);
        *held = (*held).max(until);
        drop(holds);
        if let Err(e) = self.store.hold_slots(key, until).await {
            tracing::warn!(error = %e, key, "cannot hold a rate-limited Slack method back");
        }
    }
}

#[derive(Clone)]
pub struct SlackClient {
    http: reqwest::Client,
    base: String,
    token: SecretString,
    metrics: Option<Arc<Metrics>>,
    pace: Option<Pace>,
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
            pace: None,
        }
    }

    /// Paces calls below Slack's tiers and holds a method back after a 429, with every
    /// instance sharing `pace.store`.
    pub fn with_pace(mut self, pace: Pace) -> SlackClient {
        self.pace = Some(pace);
        self
    }

    /// Counts and times each call in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> SlackClient {
        self.metrics = Some(metrics);
        self
    }

    /// Calls `method` with a JSON body; the response's JSON when `ok` is true.
    #[tracing::instrument(skip(self, body))]
    pub async fn call(&self, method: &str, body: &Value) -> Result<Value, SlackError> {
        let channel = body["channel"].as_str().or(body["channel_id"].as_str());
        self.send(method, channel, self.request(method).json(body))
            .await
    }

    /// Calls `method` with form fields: read methods such as `conversations.list` take
    /// no JSON body.
    #[tracing::instrument(skip(self, form))]
    pub async fn call_form(
        &self,
        method: &str,
        form: &[(&str, &str)],
    ) -> Result<Value, SlackError> {
        let channel = form.iter().find(|(k, _)| *k == "channel").map(|(_, v)| *v);
        self.send(method, channel, self.request(method).form(form))
            .await
    }

    fn request(&self, method: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/{method}", self.base))
            .bearer_auth(self.token.expose_secret())
    }

    async fn send(
        &self,
        method: &str,
        channel: Option<&str>,
        request: reqwest::RequestBuilder,
    ) -> Result<Value, SlackError> {
        let key = tiers::key(method, channel);
        if let Some(pace) = &self.pace {
            pace.slot(method, &key).await?;
        }
        let start = Instant::now();
        let result = self.exchange(method, request).await;
        if let Some(metrics) = &self.metrics {
            let error = result.as_ref().err().map(|e| match e {
                SlackError::RateLimited { .. } => "rate_limited",
                SlackError::Transient(_) => "transient",
                SlackError::Refused { .. } => "refused",
                SlackError::Paced { .. } => "paced",
            });
            metrics.call("slack", method, start.elapsed(), error);
        }
        if let (Some(pace), Err(SlackError::RateLimited { retry_after })) = (&self.pace, &result) {
            pace.hold(method, &key, *retry_after).await;
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
