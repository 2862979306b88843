//! The one app builder: what every request handler and job worker shares, built the
//! same way by `pompier serve` and by the tests (which thus read the server's own
//! metrics and drain its own queue).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};

use crate::config::Settings;
use crate::confluence;
use crate::incidents::Incidents;
use crate::jobs::retry::Backoff;
use crate::jobs::{
    ConfluenceJobs, JiraJobs, PagingJobs, Registry, SlackJobs, Worker, WorkerSettings,
};
use crate::metrics::Metrics;
use crate::outbox::{Effects, Service};
use crate::slack::client::SlackClient;
use crate::store::Store;

/// What every request and job reads, shared: cloning it (axum does, for each request)
/// copies one pointer.
#[derive(Clone)]
pub struct AppState(Arc<State>);

impl std::ops::Deref for AppState {
    type Target = State;

    fn deref(&self) -> &State {
        &self.0
    }
}

pub struct State {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub incidents: Incidents,
    pub alerts: crate::alerts::Alerts,
    /// The Web API client, when `SLACK_BOT_TOKEN` is set: for the jobs, and for the few
    /// calls a request must make itself (opening a modal within Slack's 3 s).
    pub slack: Option<SlackClient>,
    pub metrics: Arc<Metrics>,
    /// KiB that `/slack/*` bodies not yet verified may hold, all requests together.
    pub unverified_bodies: Arc<Semaphore>,
    /// Live boards open, and the signals that end them.
    pub streams: Arc<crate::streams::Streams>,
    /// The app's Home tab.
    pub home: Arc<crate::slack::home::Home>,
    /// People's names, for pages and exports.
    pub people: crate::people::People,
    /// Refused tokens and sign-ins by client, this minute.
    pub attempts: Arc<crate::throttle::Attempts>,
    /// Live boards, each read once for all its viewers.
    pub boards: Arc<crate::boards::Feeds>,
    /// Single sign-on, when `POMPIER_OIDC_ISSUER` is set.
    pub sso: Option<Arc<crate::sso::Sso>>,
}

/// The state, and the job worker that serves it.
pub struct App {
    pub state: AppState,
    pub worker: Worker,
}

impl App {
    /// Fails on a postmortem template that does not compile or render.
    pub fn new(store: Store, settings: Settings) -> anyhow::Result<App> {
        let jobs_queued = Arc::new(Notify::new());
        let confluence = match confluence::client(&settings) {
            Ok(client) => client,
            Err(missing) => {
                tracing::warn!(
                    "CONFLUENCE_BASE_URL is set but {missing}: no postmortem pages are drafted"
                );
                None
            }
        };
        let template = confluence::template(&settings).map_err(anyhow::Error::msg)?;
        let jira = match crate::jira::client(&settings) {
            Ok(client) => client,
            Err(missing) => {
                tracing::warn!("JIRA_BASE_URL is set but {missing}: no Jira issues are made");
                None
            }
        };
        let effects = Effects {
            announce: settings.announce_channel().is_some(),
            archive_on_close: settings.slack.archive_on_close,
            postmortem_pages: confluence.is_some(),
            paging: settings.paging(),
            jira: jira
                .is_some()
                .then_some(settings.jira.incident_min_severity),
            invites: settings.invites(),
            duties: settings.policy().duties.into_keys().collect(),
        };
        let incidents = Incidents::new(
            store.clone(),
            settings.policy(),
            settings.roles(),
            effects.clone(),
            jobs_queued.clone(),
        );
        let pagers = effects.paging.services.clone();
        let metrics = Arc::new(Metrics::new(&[
            (
                Service::Slack.as_str(),
                settings.secrets.slack_bot_token.is_some(),
            ),
            (Service::Confluence.as_str(), confluence.is_some()),
            (
                Service::PagerDuty.as_str(),
                pagers.contains(&Service::PagerDuty),
            ),
            (
                Service::Opsgenie.as_str(),
                pagers.contains(&Service::Opsgenie),
            ),
        ]));
        let confluence = confluence.map(|c| c.with_metrics(metrics.clone()));
        let slack = settings.secrets.slack_bot_token.clone().map(|token| {
            SlackClient::new(
                &settings.slack.api_url,
                token,
                Duration::from_secs(settings.slack.timeout_secs),
            )
            .with_metrics(metrics.clone())
            .with_pace(crate::slack::client::Pace::new(
                store.clone(),
                settings.slack.pace_percent,
                Duration::from_millis(settings.slack.pace_wait_ms),
            ))
        });
        let mut oncall = match &settings.secrets.pagerduty_api_token {
            Some(token) => Some(
                crate::paging::oncall::OnCall::new(
                    &settings.paging.pagerduty_api_url,
                    token.clone(),
                    Duration::from_secs(settings.paging.timeout_secs),
                )
                .map_err(anyhow::Error::msg)?,
            ),
            None => None,
        };
        let people = crate::people::People {
            store: store.clone(),
            slack: slack.clone(),
        };
        let groups = slack
            .clone()
            .map(|slack| Arc::new(crate::slack::groups::UserGroups::new(slack)));
        let incidents = incidents.with_permissions(
            settings.permissions.clone(),
            groups
                .clone()
                .map(|g| g as Arc<dyn crate::incidents::Groups>),
        );
        // Every outside service, with its handler where it is configured.
        let mut handlers = Registry::default();
        handlers.register(
            Service::Slack,
            slack.clone().map(|slack| SlackJobs {
                slack: slack.clone(),
                oncall: oncall.take(),
                groups: groups.clone().unwrap_or_else(|| {
                    Arc::new(crate::slack::groups::UserGroups::new(slack.clone()))
                }),
                store: store.clone(),
                announce_channel: settings.announce_channel(),
                triage_channel: settings.alerts.triage_channel.clone(),
                public_url: settings.public_url.clone(),
                policy: settings.policy(),
            }),
            "SLACK_BOT_TOKEN is not set",
        );
        handlers.register(
            Service::Confluence,
            confluence.map(|confluence| ConfluenceJobs {
                confluence,
                store: store.clone(),
                effects,
                template,
                people: people.clone(),
            }),
            "CONFLUENCE_BASE_URL, CONFLUENCE_API_TOKEN or the space (CONFLUENCE_SPACE_ID, \
             or CONFLUENCE_SPACE_KEY on Data Center) is not set",
        );
        for service in [Service::PagerDuty, Service::Opsgenie] {
            handlers.register(
                service,
                crate::paging::pager(&settings, service, &metrics)?.map(|pager| PagingJobs {
                    service,
                    pager,
                    store: store.clone(),
                    public_url: settings.public_url.clone(),
                }),
                match service {
                    Service::PagerDuty => "PAGERDUTY_ROUTING_KEY is not set, nor a team's key",
                    _ => "OPSGENIE_API_KEY is not set",
                },
            );
        }
        handlers.register(
            Service::Jira,
            jira.map(|jira| JiraJobs {
                jira: jira.with_metrics(metrics.clone()),
                store: store.clone(),
                slack: slack.clone(),
                public_url: settings.public_url.clone(),
                incident_type: settings.jira.incident_issue_type.clone(),
                followup_type: settings.jira.followup_issue_type.clone(),
                settle: Duration::from_secs(settings.jira.search_settle_secs),
            }),
            "JIRA_BASE_URL, JIRA_API_TOKEN or jira.project_key is not set",
        );
        let jobs = &settings.jobs;
        let worker = Worker::new(
            store.clone(),
            handlers,
            WorkerSettings {
                concurrency: jobs.concurrency,
                poll_interval: Duration::from_millis(jobs.poll_interval_ms),
                lease: Duration::from_secs(jobs.lease_secs),
                job_timeout: Duration::from_secs(jobs.job_timeout_secs),
                retry_horizon: Duration::from_secs(jobs.retry_horizon_secs),
                backoff: Backoff {
                    base: Duration::from_millis(jobs.backoff_base_ms),
                    max: Duration::from_secs(jobs.backoff_max_secs),
                },
                keep_done: Duration::from_secs(jobs.keep_done_days.saturating_mul(86_400)),
                keep_audit: Duration::from_secs(settings.audit.keep_days.saturating_mul(86_400)),
            },
            metrics.clone(),
            jobs_queued,
        )
        .with_sweep(
            incidents.clone(),
            Duration::from_secs(settings.lifecycle.cadence_sweep_secs),
        );
        let alerts = crate::alerts::Alerts::new(
            store.clone(),
            incidents.clone(),
            settings.alerts.rules(),
            settings.alerts.max_declared_per_minute,
            settings.alerts.resolve_moves_to,
        );
        let home = crate::slack::home::Home::new(
            slack.clone(),
            incidents.clone(),
            settings.public_url.clone(),
        );
        let sso = match (&settings.oidc.issuer, &settings.public_url) {
            (Some(issuer), Some(public_url)) => Some(Arc::new(
                crate::sso::Sso::new(
                    &settings.oidc,
                    issuer,
                    settings.secrets.oidc_client_secret.clone(),
                    public_url,
                    settings.ca_file.as_deref(),
                )
                .map_err(anyhow::Error::msg)?,
            )),
            _ => None,
        };
        let state = AppState(Arc::new(State {
            sso,
            home,
            people,
            attempts: Arc::default(),
            boards: Arc::default(),
            store,
            incidents,
            alerts,
            slack,
            metrics,
            unverified_bodies: Arc::new(Semaphore::new(settings.http.unverified_body_budget_kib)),
            streams: crate::streams::Streams::new(
                settings.http.max_streams,
                settings.http.max_streams_per_session,
            ),
            settings: Arc::new(settings),
        }));
        Ok(App { state, worker })
    }
}
