//! Paging out: PagerDuty's Events API v2 and Opsgenie's Alert API v2, each a thin
//! client that sends one page action and says how it went. What a page says is the
//! domain's (`domain::paging`); when it is sent, the outbox's; the job runs in `jobs`.

pub mod oncall;
pub mod opsgenie;
pub mod pagerduty;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::domain::paging::PageAction;
use crate::domain::{Severity, Team};
use crate::metrics::Metrics;
use crate::outbound::{self, cause};

pub use opsgenie::Opsgenie;
pub use pagerduty::PagerDuty;

/// PagerDuty documents no `Retry-After`; its docs advise 30 s between retries of a 429.
const RATE_LIMIT_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PagerError {
    #[error("{service} asks to slow down (retry after {retry_after:?})")]
    RateLimited {
        service: &'static str,
        retry_after: Duration,
    },
    #[error("{0}")]
    Transient(String),
    /// Refused: trying again will not help until someone fixes the settings.
    #[error("{0}")]
    Refused(String),
}

/// What a page says, whichever pager carries it.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// One open alert per key: `pompier-42`, `pompier-42-payments`.
    pub key: String,
    /// `[SEV1] #42 Checkout returns 500` (never a private incident's title).
    pub summary: String,
    pub severity: Severity,
    /// (address, text): the channel, the incident page.
    pub links: Vec<(String, String)>,
    /// Facts for the responder: incident, status, lead.
    pub details: Vec<(&'static str, String)>,
    /// Said with a page by hand.
    pub message: Option<String>,
    /// The team paged, if not the default routing.
    pub team: Option<Team>,
}

/// A pager: PagerDuty or Opsgenie.
pub enum Pager {
    PagerDuty(PagerDuty),
    Opsgenie(Opsgenie),
}

impl Pager {
    /// Whether the pager takes these settings, in words.
    pub async fn check(&self) -> Result<String, String> {
        match self {
            Pager::PagerDuty(p) => p.check().await,
            Pager::Opsgenie(p) => p.check().await,
        }
    }

    pub async fn send(&self, action: PageAction, page: &Outgoing) -> Result<(), PagerError> {
        match self {
            Pager::PagerDuty(p) => p.send(action, page).await,
            Pager::Opsgenie(p) => p.send(action, page).await,
        }
    }
}

/// The pager of `service` as the settings configure it, if they do: PagerDuty with
/// `PAGERDUTY_ROUTING_KEY` or a team's key, Opsgenie with `OPSGENIE_API_KEY`.
pub fn pager(
    settings: &crate::config::Settings,
    service: crate::outbox::Service,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<Option<Pager>> {
    use crate::outbox::Service;
    let p = &settings.paging;
    let http = || {
        outbound::client(
            Duration::from_secs(p.timeout_secs),
            settings.ca_file.as_deref(),
        )
        .map_err(anyhow::Error::msg)
    };
    let metrics = Some(metrics.clone());
    Ok(match service {
        Service::PagerDuty => {
            let teams: std::collections::BTreeMap<_, _> = p
                .teams
                .iter()
                .filter_map(|(name, t)| Some((name.clone(), t.pagerduty_routing_key.clone()?)))
                .collect();
            let routing_key = settings.secrets.pagerduty_routing_key.clone();
            if routing_key.is_none() && teams.is_empty() {
                None
            } else {
                Some(Pager::PagerDuty(PagerDuty {
                    http: http()?,
                    url: p.pagerduty_url.clone(),
                    routing_key,
                    teams,
                    metrics,
                }))
            }
        }
        Service::Opsgenie => match &settings.secrets.opsgenie_api_key {
            None => None,
            Some(key) => Some(Pager::Opsgenie(Opsgenie {
                http: http()?,
                url: p.opsgenie_url.clone(),
                key: key.clone(),
                teams: p
                    .teams
                    .iter()
                    .filter_map(|(name, t)| Some((name.clone(), t.opsgenie_team.clone()?)))
                    .collect(),
                metrics,
            })),
        },
        Service::Slack | Service::Confluence | Service::Jira => None,
    })
}

/// Sends `request` to `service`, counted in `metrics` as `method`; the answer's JSON on
/// success.
async fn exchange(
    service: &'static str,
    method: &'static str,
    metrics: Option<&Arc<Metrics>>,
    request: reqwest::RequestBuilder,
) -> Result<Value, PagerError> {
    let start = Instant::now();
    let result = call(service, request).await;
    if let Some(metrics) = metrics {
        let error = result.as_ref().err().map(|e| match e {
            PagerError::RateLimited { .. } => "rate_limited",
            PagerError::Transient(_) => "transient",
            PagerError::Refused(_) => "refused",
        });
        metrics.call(service, method, start.elapsed(), error);
    }
    result
}

async fn call(
    service: &'static str,
    request: reqwest::RequestBuilder,
) -> Result<Value, PagerError> {
    let response = request
        .send()
        .await
        .map_err(|e| PagerError::Transient(format!("{service} unreachable: {}", cause(e))))?;
    let status = response.status();
    let verdict = outbound::status(status, response.headers());
    let body: Value = response.json().await.unwrap_or(Value::Null);
    match verdict {
        outbound::Status::Success => Ok(body),
        outbound::Status::RateLimited(wait) => Err(PagerError::RateLimited {
            service,
            retry_after: wait.unwrap_or(RATE_LIMIT_WAIT),
        }),
        outbound::Status::Transient(why) => Err(PagerError::Transient(format!("{service}: {why}"))),
        outbound::Status::Refused => {
            // Both say why in `message` (Opsgenie) or `message`/`errors` (PagerDuty).
            let why = body["message"].as_str().unwrap_or_default();
            let errors = body["errors"]
                .as_array()
                .map(|e| {
                    e.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default();
            let hint = match status.as_u16() {
                401 | 403 => {
                    " (check the key: PAGERDUTY_ROUTING_KEY, OPSGENIE_API_KEY, or the team's)"
                }
                _ => "",
            };
            Err(PagerError::Refused(
                format!("{service} refused the page: HTTP {status} {why} {errors}{hint}")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            ))
        }
    }
}
