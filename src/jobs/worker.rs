//! Workers: claim a due job under a short lease, renew it while the job runs (so a job
//! whose process died runs again within a lease, not after a long one), hold the job to
//! a deadline, record how it ended. Several loops run in each `pompier serve`, each with
//! its own lease owner, and several instances may share one PostgreSQL queue.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use super::retry::{after, Backoff};
use super::{JobError, Registry, Run};
use crate::incidents::Incidents;
use crate::metrics::{JobOutcome, Metrics};
use crate::outbox::Service;
use crate::shutdown::{is_set, until_set};
use crate::store::{ClaimedJob, Finish, Store, StoreError};

/// How long a job this build cannot read waits before it is looked at again (by then a
/// newer instance may have run it).
const UNREADABLE_PAUSE: Duration = Duration::from_secs(300);
/// How long a worker waits after the queue could not be reached.
const QUEUE_ERROR_PAUSE: Duration = Duration::from_secs(5);
/// Claims between two refreshes of the queue's statistics.
const STATS_EVERY: u64 = 1000;
/// A claim slower than this suggests PostgreSQL sorts every due job to find the first:
/// its statistics of the queue are stale after a burst (a storm, the end of an
/// outage, a new database), and each claim then costs more as the queue grows. The
/// statistics are then refreshed if stale, looked at most every `STATS_PAUSE`.
const SLOW_CLAIM: Duration = Duration::from_millis(3);
const STATS_PAUSE: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub concurrency: usize,
    pub poll_interval: Duration,
    /// How long a claim holds a job without a heartbeat; renewed every third of it.
    pub lease: Duration,
    /// The longest one run of a job may take, all its calls included.
    pub job_timeout: Duration,
    /// How long a job may keep failing for now before it is given up as dead.
    pub retry_horizon: Duration,
    pub backoff: Backoff,
    /// How long finished jobs are kept.
    pub keep_done: Duration,
    /// How long the audit trail is kept.
    pub keep_audit: Duration,
}

/// Stop signals shared by the loops and their handle.
struct Signals {
    /// No more claims.
    stop: watch::Sender<bool>,
    /// Give up the jobs in hand: release their leases.
    abandon: watch::Sender<bool>,
}

#[derive(Clone)]
pub struct Worker {
    store: Store,
    handlers: Arc<Registry>,
    services: Vec<Service>,
    settings: WorkerSettings,
    metrics: Arc<Metrics>,
    /// Wakes idle loops when this process queued jobs.
    wake: Arc<Notify>,
    /// Told when another instance queued jobs (PostgreSQL, `super::wake`).
    woken_elsewhere: Arc<Notify>,
    /// Jobs claimed by this process, to refresh the queue's statistics now and then.
    claimed: Arc<AtomicU64>,
    /// When a slow claim last looked at them.
    stats_refreshed: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
    signals: Arc<Signals>,
    /// Looks for incidents due a nudge, this often.
    sweep: Option<(Incidents, Duration)>,
    /// Services that asked to be left alone (a 429's `Retry-After`), until when: a rate
    /// limit is the whole app's, so no loop of this process calls them meanwhile.
    paused: Arc<std::sync::Mutex<HashMap<Service, DateTime<Utc>>>>,
}

/// How a run of a job ended for the worker.
enum Ran {
    Finished(Finish),
    /// The lease went to another worker, or shutdown came: nothing is recorded.
    Abandoned(&'static str),
}

/// A lease owner: unique per loop, so a loop that lost its lease cannot finish a job
/// another took over.
fn new_owner() -> String {
    format!("{}-{:016x}", std::process::id(), rand::random::<u64>())
}

impl Worker {
    pub fn new(
        store: Store,
        handlers: Registry,
        settings: WorkerSettings,
        metrics: Arc<Metrics>,
        wake: Arc<Notify>,
    ) -> Worker {
        let services = handlers
            .services()
            .into_iter()
            .filter(|(_, configured)| *configured)
            .map(|(s, _)| s)
            .collect();
        Worker {
            store,
            handlers: Arc::new(handlers),
            services,
            settings,
            metrics,
            wake,
            woken_elsewhere: Arc::default(),
            claimed: Arc::default(),
            stats_refreshed: Arc::default(),
            signals: Arc::new(Signals {
                stop: watch::channel(false).0,
                abandon: watch::channel(false).0,
            }),
            sweep: None,
            paused: Arc::default(),
        }
    }

    /// The services whose jobs may be claimed at `now`: configured, and not paused.
    fn callable(&self, now: DateTime<Utc>) -> Vec<Service> {
        let paused = self.paused.lock().expect("the pause map");
        self.services
            .iter()
            .copied()
            .filter(|s| paused.get(s).is_none_or(|until| *until <= now))
            .collect()
    }

    /// Leaves `service` alone until `until`, for every loop of this process.
    fn pause(&self, service: Service, until: DateTime<Utc>) {
        let mut paused = self.paused.lock().expect("the pause map");
        let at = paused.entry(service).or_insert(until);
        *at = (*at).max(until);
        tracing::warn!(service = service.as_str(), %until, "rate limited: no calls to this service until then");
    }

    /// Claims one job due at `now` as `owner` and runs it (a row's steps one after
    /// another); how many steps ran, 0 when none is due.
    pub async fn run_one(&self, owner: &str, mut now: DateTime<Utc>) -> Result<usize, StoreError> {
        let lease = self.settings.lease;
        let services = self.callable(now);
        let started = std::time::Instant::now();
        let claimed = self
            .store
            .claim_job(owner, &services, now, after(now, lease))
            .await?;
        if started.elapsed() > SLOW_CLAIM && self.may_refresh_stats() {
            self.refresh_stats().await;
        }
        let Some(mut claimed) = claimed else {
            return Ok(0);
        };
        if self.claimed.fetch_add(1, Ordering::Relaxed) % STATS_EVERY == STATS_EVERY - 1 {
            self.refresh_stats().await;
        }
        let mut ran = 0;
        loop {
            ran += 1;
            let finish = self.run_claimed(&claimed, owner, now).await;
            // A step done with more in its row: this worker goes on with the next under
            // the same lease (the row keeps its place in the claim order), unless stopping.
            let go_on = matches!(finish, Some(Finish::Done))
                && !claimed.then.is_empty()
                && !*self.signals.stop.borrow();
            if !go_on {
                if let Some(finish) = finish {
                    self.finish(&claimed, owner, now, finish).await?;
                }
                return Ok(ran);
            }
            now = crate::now().max(now);
            match self
                .store
                .advance_job(&claimed, owner, Some(after(now, lease)))
                .await?
            {
                Some(next) => claimed = next,
                None => {
                    tracing::warn!(
                        job = claimed.id,
                        "lease lost: another worker took this job over"
                    );
                    return Ok(ran);
                }
            }
        }
    }

    /// Whether a slow claim may look at the queue's statistics now: none did for
    /// `STATS_PAUSE` (the first to ask takes the turn).
    fn may_refresh_stats(&self) -> bool {
        let mut last = self.stats_refreshed.lock().expect("the stats clock");
        if last.is_some_and(|at| at.elapsed() < STATS_PAUSE) {
            return false;
        }
        *last = Some(std::time::Instant::now());
        true
    }

    async fn refresh_stats(&self) {
        match self.store.refresh_job_stats().await {
            Ok(true) => tracing::debug!("the job queue's statistics were stale: refreshed"),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "cannot refresh the job queue's statistics"),
        }
    }

    /// Runs the job `claimed` under `owner`'s lease and counts how it ended; `None` when
    /// it was abandoned (its lease lost, or shutting down).
    async fn run_claimed(
        &self,
        claimed: &ClaimedJob,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Option<Finish> {
        let finish = match self.supervise(claimed, owner, now).await {
            Ran::Finished(finish) => finish,
            Ran::Abandoned(why) => {
                tracing::info!(job = claimed.id, incident = ?claimed.incident_id, "{why}");
                return None;
            }
        };
        let (service, kind) = match &claimed.job {
            Ok(job) => (job.service().as_str(), job.kind()),
            Err(_) => (claimed.service.as_str(), "unreadable"),
        };
        let outcome = match &finish {
            Finish::Done => JobOutcome::Done,
            Finish::Retry { .. } => JobOutcome::Retried,
            Finish::Later { .. } => JobOutcome::Paced,
            Finish::Dead { .. } => JobOutcome::Dead,
        };
        self.metrics.job_run(service, kind, outcome);
        match &finish {
            Finish::Done => {}
            Finish::Later { why, at } => {
                tracing::debug!(job = claimed.id, incident = ?claimed.incident_id, %why, next = %at, "job put off by a rate limit");
            }
            Finish::Retry { error, at } => {
                tracing::warn!(job = claimed.id, incident = ?claimed.incident_id, attempt = claimed.attempts, %error, next = %at, "job failed; will retry");
            }
            Finish::Dead { error } => {
                tracing::error!(job = claimed.id, incident = ?claimed.incident_id, attempt = claimed.attempts, %error, "job failed for good; kept as dead (`pompier jobs retry {}` once fixed)", claimed.id);
            }
        }
        Some(finish)
    }

    /// Records how `claimed` ended.
    async fn finish(
        &self,
        claimed: &ClaimedJob,
        owner: &str,
        now: DateTime<Utc>,
        finish: Finish,
    ) -> Result<(), StoreError> {
        if !self
            .store
            .finish_job(claimed, owner, crate::now().max(now), finish)
            .await?
        {
            tracing::warn!(
                job = claimed.id,
                "lease lost: another worker took this job over"
            );
        }
        Ok(())
    }

    /// Runs the job while renewing its lease, within the job deadline, until it ends or
    /// shutdown abandons it (its lease then released, so it runs again at once).
    async fn supervise(&self, claimed: &ClaimedJob, owner: &str, now: DateTime<Utc>) -> Ran {
        let lease = self.settings.lease;
        let mut abandon = self.signals.abandon.subscribe();
        let run = self.execute(claimed, now);
        tokio::pin!(run);
        let deadline = tokio::time::sleep(self.settings.job_timeout);
        tokio::pin!(deadline);
        let mut heartbeat = tokio::time::interval(lease / 3);
        heartbeat.tick().await;
        loop {
            tokio::select! {
                finish = &mut run => return Ran::Finished(finish),
                _ = &mut deadline => {
                    let error = JobError::transient(format!(
                        "did not finish within {} s (jobs.job_timeout_secs)",
                        self.settings.job_timeout.as_secs()
                    ));
                    return Ran::Finished(self.failed(claimed, now, error));
                }
                _ = heartbeat.tick() => {
                    let until = after(crate::now().max(now), lease);
                    match self.store.renew_lease(claimed.id, owner, until).await {
                        Ok(true) => {}
                        Ok(false) => return Ran::Abandoned("lease lost: another worker took this job over"),
                        Err(e) => tracing::warn!(job = claimed.id, error = %e, "cannot renew a job's lease"),
                    }
                }
                _ = until_set(&mut abandon) => {
                    if let Err(e) = self.store.release_lease(claimed.id, owner).await {
                        tracing::warn!(job = claimed.id, error = %e, "cannot release a job's lease; it runs again when the lease ends");
                    }
                    return Ran::Abandoned("shutting down: job left unfinished, its lease released");
                }
            }
        }
    }

    async fn execute(&self, claimed: &ClaimedJob, now: DateTime<Utc>) -> Finish {
        let job = match &claimed.job {
            Ok(job) => job,
            Err(_) => {
                // A newer version's job (a rolling deploy): left for it, not buried.
                tracing::warn!(
                    job = claimed.id,
                    service = claimed.service,
                    "a job this pompier cannot read (a newer version's?): handed back for {} s",
                    UNREADABLE_PAUSE.as_secs()
                );
                return Finish::Retry {
                    at: after(now, UNREADABLE_PAUSE),
                    error: "a kind of job this version cannot read".into(),
                };
            }
        };
        let run = Run {
            job_id: claimed.id,
            step: claimed.step,
            incident_id: claimed.incident_id,
            attempt: claimed.attempts,
            at: now,
        };
        match crate::outbound::on_clock(now, self.handlers.run(job, run)).await {
            Ok(()) => Finish::Done,
            Err(e) => {
                let e = match e {
                    JobError::Transient {
                        reason,
                        retry_after,
                    } => {
                        if let Some(wait) = retry_after {
                            self.pause(job.service(), after(crate::now().max(now), wait));
                        }
                        JobError::Transient {
                            reason: format!("{} {reason}", job.kind()),
                            retry_after,
                        }
                    }
                    JobError::Paced { reason, wait } => JobError::Paced {
                        reason: format!("{} {reason}", job.kind()),
                        wait,
                    },
                    JobError::Wait { reason, wait } => JobError::Wait {
                        reason: format!("{} {reason}", job.kind()),
                        wait,
                    },
                    JobError::Permanent(reason) => {
                        JobError::Permanent(format!("{} {reason}", job.kind()))
                    }
                };
                self.failed(claimed, now, e)
            }
        }
    }

    /// A failure for now is retried until the job has been failing for longer than the
    /// retry horizon; a permanent one is dead at once; a job put off by a rate limit has
    /// not failed. `claimed_at` is when the run began (a test's clock may be ahead of the
    /// real one).
    fn failed(&self, claimed: &ClaimedJob, claimed_at: DateTime<Utc>, error: JobError) -> Finish {
        let now = crate::now().max(claimed_at);
        let (reason, wait) = match error {
            JobError::Transient {
                reason,
                retry_after,
            } => {
                let wait =
                    self.settings
                        .backoff
                        .next(claimed.attempts, retry_after, rand::random());
                (reason, wait)
            }
            JobError::Wait { reason, wait } => (reason, wait),
            JobError::Paced { reason, wait } => {
                return Finish::Later {
                    at: after(now, wait),
                    why: reason,
                }
            }
            JobError::Permanent(error) => return Finish::Dead { error },
        };
        let since = claimed.failing_since.unwrap_or(now);
        if now < after(since, self.settings.retry_horizon) {
            Finish::Retry {
                at: after(now, wait),
                error: reason,
            }
        } else {
            Finish::Dead {
                error: format!("{reason} (failing since {since}, past jobs.retry_horizon_secs)"),
            }
        }
    }

    /// Runs jobs due at `now` until none is; how many (steps) ran. Tests call this to drain the
    /// queue without sleeping, passing a later `now` to let backoffs expire.
    pub async fn drain(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let owner = new_owner();
        let mut ran = 0;
        loop {
            match self.run_one(&owner, now).await? {
                0 => break,
                steps => ran += steps,
            }
        }
        Ok(ran)
    }

    /// Says once which services' jobs wait for settings, and how many.
    async fn say_what_waits(&self) {
        let Ok(counts) = self.store.job_counts(crate::now()).await else {
            return;
        };
        for (service, configured) in self.handlers.services() {
            let waiting: i64 = counts
                .iter()
                .filter(|(s, _, state, _)| s == service.as_str() && state != "dead")
                .map(|(_, _, _, n)| n)
                .sum();
            if !configured && waiting > 0 {
                tracing::warn!(
                    service = service.as_str(),
                    waiting,
                    "{} jobs wait in the queue: {}; they run once it is set and pompier restarts",
                    service.as_str(),
                    self.handlers.missing(service)
                );
            }
        }
    }

    /// Also looks, every `every`, for incidents due a nudge (the update cadence).
    pub fn with_sweep(mut self, incidents: Incidents, every: Duration) -> Worker {
        self.sweep = Some((incidents, every));
        self
    }

    /// On PostgreSQL: tells the other instances' workers each time this instance queues
    /// jobs (`super::wake`), until `stopping` is set.
    pub fn announce_to_others(&self, stopping: watch::Receiver<bool>) {
        if let Some(pool) = self.store.postgres_pool() {
            tokio::spawn(super::wake::announce(pool, self.wake.clone(), stopping));
        }
    }

    /// Starts `concurrency` loops that drain the queue whenever a request queues jobs or
    /// every poll interval, the janitor (`janitor`), and the cadence's sweep (`cadence`),
    /// until stopped.
    pub fn spawn(self) -> WorkerHandle {
        let mut tasks = JoinSet::new();
        for _ in 0..self.settings.concurrency.max(1) {
            let worker = self.clone();
            tasks.spawn(async move { worker.work().await });
        }
        let worker = self.clone();
        let stopped = self.signals.stop.subscribe();
        let (store, keep_done, keep_audit) = (
            self.store.clone(),
            self.settings.keep_done,
            self.settings.keep_audit,
        );
        tasks.spawn(async move {
            worker.say_what_waits().await;
            super::janitor::run(store, keep_done, keep_audit, stopped).await
        });
        if let Some(pool) = self.store.postgres_pool() {
            let stopped = self.signals.stop.subscribe();
            tasks.spawn(super::wake::listen(
                pool,
                self.woken_elsewhere.clone(),
                stopped,
            ));
        }
        if let Some((incidents, every)) = self.sweep.clone() {
            let stopped = self.signals.stop.subscribe();
            tasks.spawn(super::cadence::run(incidents, every, stopped));
        }
        WorkerHandle {
            signals: self.signals.clone(),
            tasks,
        }
    }

    async fn work(&self) {
        let owner = new_owner();
        let mut stopped = self.signals.stop.subscribe();
        while !is_set(&stopped) {
            // Registered before looking, so a job queued meanwhile still wakes this loop.
            let woken = self.wake.notified();
            let elsewhere = self.woken_elsewhere.notified();
            tokio::pin!(woken, elsewhere);
            woken.as_mut().enable();
            elsewhere.as_mut().enable();
            let mut pause = self.settings.poll_interval;
            while !is_set(&stopped) {
                match self.run_one(&owner, crate::now()).await {
                    Ok(0) => break,
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::error!(error = %e, "job queue unavailable");
                        pause = pause.max(QUEUE_ERROR_PAUSE);
                        break;
                    }
                }
            }
            tokio::select! {
                _ = woken => {}
                _ = elsewhere => {}
                _ = tokio::time::sleep(pause) => {}
                _ = until_set(&mut stopped) => {}
            }
        }
    }
}

/// Running workers.
pub struct WorkerHandle {
    signals: Arc<Signals>,
    tasks: JoinSet<()>,
}

impl WorkerHandle {
    /// Stops claiming, gives the jobs in hand `grace` to finish, then releases the
    /// leases of those that did not, so they run again at once elsewhere or at restart.
    pub async fn stop(mut self, grace: Duration) {
        let _ = self.signals.stop.send(true);
        let all_done = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, all_done).await.is_ok() {
            return;
        }
        tracing::warn!(
            grace_secs = grace.as_secs(),
            "jobs still running after the shutdown grace time: releasing them"
        );
        let _ = self.signals.abandon.send(true);
        let released = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_millis(800), released)
            .await
            .is_err()
        {
            self.tasks.abort_all();
        }
    }
}
