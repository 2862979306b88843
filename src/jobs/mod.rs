//! Running the outbox's jobs against outside services, after the HTTP reply: workers
//! claim due jobs under a lease, run them with a deadline, and retry what failed for
//! now with backoff over a long horizon. Only a permanent refusal makes a job dead, and
//! an operator can send it back (`pompier jobs retry`).

pub mod confluence_jobs;
pub mod retry;
pub mod slack_jobs;
pub mod worker;

use std::time::Duration;

pub use confluence_jobs::ConfluenceJobs;
pub use slack_jobs::SlackJobs;
pub use worker::{Worker, WorkerHandle, WorkerSettings};

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
            SlackError::RateLimited { retry_after } => JobError::Transient {
                reason: e.to_string(),
                retry_after,
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
    pub incident_id: IncidentId,
    /// 1 for the first.
    pub attempt: u32,
}

/// The handler of each service, where it is configured. A service without one keeps its
/// jobs waiting in the queue, and says so.
#[derive(Default)]
pub struct Handlers {
    pub slack: Option<SlackJobs>,
    pub confluence: Option<ConfluenceJobs>,
}

impl Handlers {
    /// Each service, and whether it has a handler.
    pub fn services(&self) -> Vec<(Service, bool)> {
        Service::ALL
            .into_iter()
            .map(|s| (s, self.configured(s)))
            .collect()
    }

    pub fn configured(&self, service: Service) -> bool {
        match service {
            Service::Slack => self.slack.is_some(),
            Service::Confluence => self.confluence.is_some(),
        }
    }

    /// What a service needs before its jobs can run.
    pub fn missing(service: Service) -> &'static str {
        match service {
            Service::Slack => "SLACK_BOT_TOKEN is not set",
            Service::Confluence => {
                "CONFLUENCE_BASE_URL, CONFLUENCE_API_TOKEN or the space (CONFLUENCE_SPACE_ID, \
                 or CONFLUENCE_SPACE_KEY on Data Center) is not set"
            }
        }
    }

    async fn run(&self, job: &Job, run: Run) -> Result<(), JobError> {
        match (job.service(), &self.slack, &self.confluence) {
            (Service::Slack, Some(slack), _) => slack.run(job, run).await,
            (Service::Confluence, _, Some(confluence)) => confluence.run(job, run).await,
            (service, _, _) => Err(JobError::transient(format!(
                "{} jobs wait: {}",
                service.as_str(),
                Handlers::missing(service)
            ))),
        }
    }
}
