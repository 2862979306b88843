//! Running the outbox's jobs against outside services, after the HTTP reply: workers
//! claim due jobs under a lease, run them with a deadline, and retry what failed for
//! now with backoff over a long horizon. Only a permanent refusal makes a job dead, and
//! an operator can send it back (`pompier jobs retry`).

pub mod cadence;
pub mod confluence_jobs;
pub mod janitor;
pub mod jira_jobs;
pub mod paging_jobs;
pub mod retry;
pub mod slack_jobs;
pub mod wake;
pub mod worker;

use std::time::Duration;

pub use confluence_jobs::ConfluenceJobs;
pub use jira_jobs::JiraJobs;
pub use paging_jobs::PagingJobs;
pub use slack_jobs::SlackJobs;
pub use worker::{Worker, WorkerHandle, WorkerSettings};

use futures_util::future::BoxFuture;

use crate::domain::IncidentId;
use crate::outbox::{Job, Service};
use crate::slack::client::SlackError;
use crate::store::StoreError;

/// Why a job did not finish, as the worker needs to know it: whether to try again, and
/// when. Each service's errors are mapped here, not read by the worker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Worth trying again: a timeout, a refused connection, a 5xx, a 429.
    #[error("{reason}")]
    Transient {
        reason: String,
        /// How long the service asked us to wait (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// This job (not its service) must wait `wait` before it runs again: what it needs
    /// is not there yet.
    #[error("{reason}")]
    Wait { reason: String, wait: Duration },
    /// Not run yet through no fault of its own: the service's rate limit (a method's
    /// pace, a 429) puts it off `wait`. Not a failure: the retry horizon does not count it.
    #[error("{reason}")]
    Paced { reason: String, wait: Duration },
    /// Trying again will not help until someone fixes the cause.
    #[error("{0}")]
    Permanent(String),
}

impl JobError {
    pub fn transient(reason: impl Into<String>) -> JobError {
        JobError::Transient {
            reason: reason.into(),
            retry_after: None,
        }
    }
}

impl From<SlackError> for JobError {
    fn from(e: SlackError) -> Self {
        match e {
            // The method is held back for every worker (`slack::client::Pace`); Slack's
            // other methods are not limited, so the service is not paused.
            SlackError::RateLimited { retry_after } => JobError::Paced {
                reason: e.to_string(),
                wait: retry_after.unwrap_or(Duration::from_secs(30)),
            },
            SlackError::Paced { wait, .. } => JobError::Paced {
                reason: e.to_string(),
                wait,
            },
            SlackError::Transient(_) => JobError::transient(e.to_string()),
            SlackError::Refused { .. } => JobError::Permanent(e.to_string()),
        }
    }
}

impl From<StoreError> for JobError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_) | StoreError::Corrupt(_) => JobError::Permanent(e.to_string()),
            _ => JobError::transient(e.to_string()),
        }
    }
}

/// Which run of which job this is.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub job_id: i64,
    /// Its place among the steps of its row (`outbox::Steps`; 0 for a job alone).
    pub step: u32,
    /// `None` for a job of no incident (an alert posted to triage).
    pub incident_id: Option<IncidentId>,
    /// 1 for the first.
    pub attempt: u32,
    /// When the worker took it: the job's clock for its own waits.
    pub at: chrono::DateTime<chrono::Utc>,
}

impl Run {
    /// The job's incident; a job of none that needs one is a bug, not worth retrying.
    pub fn incident(&self) -> Result<IncidentId, JobError> {
        self.incident_id
            .ok_or_else(|| JobError::Permanent(format!("job {} has no incident", self.job_id)))
    }
}

/// The runner of one outside service's jobs. A new service is one module implementing
/// this, and one `Registry::register` in `app`.
pub trait Handler: Send + Sync {
    /// Runs `job`, one of this service's.
    fn handle<'a>(&'a self, job: &'a Job, run: Run) -> BoxFuture<'a, Result<(), JobError>>;
}

/// A job that reached another service's handler: a bug, not worth retrying.
pub fn not_mine(job: &Job, service: Service) -> JobError {
    JobError::Permanent(format!("{} is not a {} job", job.kind(), service.as_str()))
}

struct Registered {
    service: Service,
    handler: Option<Box<dyn Handler>>,
    /// What the service needs before its jobs can run.
    missing: &'static str,
}

/// Every outside service, with its handler where it is configured: the worker claims
/// jobs of the configured ones, the others' wait in the queue, and say so. Metrics
/// count calls for the services listed here.
#[derive(Default)]
pub struct Registry {
    services: Vec<Registered>,
}

impl Registry {
    /// Adds `service`, run by `handler` when it is configured; `missing` says what it
    /// needs otherwise.
    pub fn register(
        &mut self,
        service: Service,
        handler: Option<impl Handler + 'static>,
        missing: &'static str,
    ) {
        self.services.push(Registered {
            service,
            handler: handler.map(|h| Box::new(h) as Box<dyn Handler>),
            missing,
        });
    }

    /// Each service, and whether it has a handler.
    pub fn services(&self) -> Vec<(Service, bool)> {
        self.services
            .iter()
            .map(|r| (r.service, r.handler.is_some()))
            .collect()
    }

    /// What `service` needs before its jobs can run.
    pub fn missing(&self, service: Service) -> &'static str {
        self.services
            .iter()
            .find(|r| r.service == service)
            .map_or("it is not registered", |r| r.missing)
    }

    async fn run(&self, job: &Job, run: Run) -> Result<(), JobError> {
        let service = job.service();
        match self.services.iter().find(|r| r.service == service) {
            Some(Registered {
                handler: Some(handler),
                ..
            }) => handler.handle(job, run).await,
            _ => Err(JobError::transient(format!(
                "{} jobs wait: {}",
                service.as_str(),
                self.missing(service)
            ))),
        }
    }
}

/// Game day `id`'s board, revealed, for its report; a game day that is gone is a
/// permanent refusal.
async fn report_board(
    store: &crate::store::Store,
    id: i64,
    run: &Run,
) -> Result<crate::domain::gameday::Scoreboard, JobError> {
    store
        .scoreboard(id, true, run.at)
        .await?
        .ok_or_else(|| JobError::Permanent(format!("no game day {id}")))
}
