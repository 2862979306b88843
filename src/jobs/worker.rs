//! Workers: claim a due job under a lease, run it, record how it ended. Several run in
//! each `pompier serve`, and several instances may share one PostgreSQL queue.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use super::retry::Backoff;
use super::slack_jobs::SlackJobs;
use crate::metrics::Metrics;
use crate::store::{ClaimedJob, Finish, Store, StoreError};

/// How long a worker waits after the queue could not be reached.
const QUEUE_ERROR_PAUSE: Duration = Duration::from_secs(5);

/// Claims between two refreshes of the queue's statistics.
const STATS_EVERY: u64 = 1000;

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub concurrency: usize,
    pub poll_interval: Duration,
    pub lease: Duration,
    pub max_attempts: u32,
    pub backoff: Backoff,
}

#[derive(Clone)]
pub struct Worker {
    store: Store,
    jobs: Arc<SlackJobs>,
    settings: WorkerSettings,
    metrics: Arc<Metrics>,
    /// Jobs claimed by this process, to refresh the queue's statistics now and then.
    claimed: Arc<AtomicU64>,
    /// Who holds a lease: unique per worker, so a worker that lost its lease cannot
    /// finish a job another worker took over.
    owner: String,
}

impl Worker {
    pub fn new(
        store: Store,
        jobs: SlackJobs,
        settings: WorkerSettings,
        metrics: Arc<Metrics>,
    ) -> Worker {
        Worker {
            store,
            jobs: Arc::new(jobs),
            settings,
            metrics,
            claimed: Arc::default(),
            owner: format!("{}-{:016x}", std::process::id(), rand::random::<u64>()),
        }
    }

    /// Claims and runs one job due at `now`; false when none is due.
    pub async fn run_one(&self, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let Some(claimed) = self
            .store
            .claim_job(&self.owner, now, self.settings.lease)
            .await?
        else {
            return Ok(false);
        };
        if self.claimed.fetch_add(1, Ordering::Relaxed) % STATS_EVERY == STATS_EVERY - 1 {
            if let Err(e) = self.store.refresh_job_stats().await {
                tracing::warn!(error = ?e, "cannot refresh the job queue's statistics");
            }
        }
        let finish = self.execute(&claimed, now).await;
        match &finish {
            Finish::Done { .. } => self.metrics.job_done(),
            Finish::Retry { error, .. } => {
                self.metrics.job_retried();
                tracing::warn!(job = claimed.id, incident = %claimed.incident_id, attempt = claimed.attempts, %error, "job failed; will retry");
            }
            Finish::Dead { error } => {
                self.metrics.job_dead();
                tracing::error!(job = claimed.id, incident = %claimed.incident_id, attempt = claimed.attempts, %error, "job failed for good; kept as dead");
            }
        }
        if !self
            .store
            .finish_job(&claimed, &self.owner, now, finish)
            .await?
        {
            tracing::warn!(
                job = claimed.id,
                "lease lost: another worker took this job over"
            );
        }
        Ok(true)
    }

    async fn execute(&self, claimed: &ClaimedJob, now: DateTime<Utc>) -> Finish {
        let job = match &claimed.job {
            Ok(job) => job,
            Err(payload) => {
                return Finish::Dead {
                    error: format!("unreadable job payload: {payload}"),
                }
            }
        };
        let run = super::slack_jobs::Run {
            job_id: claimed.id,
            attempt: claimed.attempts,
        };
        match self.jobs.run(claimed.incident_id, job, run).await {
            Ok(followups) => Finish::Done { followups },
            Err(e) if e.is_transient() && claimed.attempts < self.settings.max_attempts => {
                let retry_after = match &e {
                    super::slack_jobs::JobError::Slack(
                        crate::slack::client::SlackError::RateLimited { retry_after },
                    ) => *retry_after,
                    _ => None,
                };
                let wait =
                    self.settings
                        .backoff
                        .next(claimed.attempts, retry_after, rand::random());
                Finish::Retry {
                    at: super::retry::after(now, wait),
                    error: format!("{} {e}", job.kind()),
                }
            }
            Err(e) => Finish::Dead {
                error: format!("{} {e}", job.kind()),
            },
        }
    }

    /// Runs jobs due at `now` until none is; how many ran. Tests call this to drain the
    /// queue without sleeping, passing a later `now` to let backoffs expire.
    pub async fn drain(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut ran = 0;
        while self.run_one(now).await? {
            ran += 1;
        }
        Ok(ran)
    }

    /// Starts `concurrency` loops that drain the queue whenever `wake` fires or every
    /// poll interval, until stopped.
    pub fn spawn(self, wake: Arc<Notify>) -> WorkerHandle {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        for _ in 0..self.settings.concurrency.max(1) {
            let (worker, wake, mut stopped) = (self.clone(), wake.clone(), stopped.clone());
            tasks.spawn(async move {
                loop {
                    // Each job is claimed at the time it starts.
                    let mut pause = worker.settings.poll_interval;
                    loop {
                        match worker.run_one(crate::now()).await {
                            Ok(true) => continue,
                            Ok(false) => break,
                            Err(e) => {
                                tracing::error!(error = ?e, "job queue unavailable");
                                pause = pause.max(QUEUE_ERROR_PAUSE);
                                break;
                            }
                        }
                    }
                    tokio::select! {
                        _ = wake.notified() => {}
                        _ = tokio::time::sleep(pause) => {}
                        _ = stopped.changed() => break,
                    }
                }
            });
        }
        WorkerHandle { stop, tasks }
    }
}

/// Running workers; `stop` lets each finish the job in hand.
pub struct WorkerHandle {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl WorkerHandle {
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}
