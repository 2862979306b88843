//! The job queue's storage: claim under a lease renewed while the job runs, finish,
//! retry, bury, revive, purge.
//!
//! PostgreSQL claims with `FOR UPDATE SKIP LOCKED`, so several instances share the work;
//! SQLite's single writer makes the same statement atomic. Only the oldest unfinished
//! job of an incident and a service is `pending`; the rest are `queued` and promoted one
//! by one as jobs finish, so they run in order and a claim needs no look at the others.

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::{Db, Store, StoreError};
use crate::domain::IncidentId;
use crate::outbox::{Job, Service, Steps};

/// The kind of job whose death holds back the rest of its incident's queue.
pub(super) const HOLDS_BACK: &str = "create_channel";

/// Queues `$job` for incident `$id` on executor `$ex`, due at `$now`: `pending` when the
/// incident has no unfinished job for that service (nor a dead one that holds the rest
/// back), else `queued` behind them. Its priority is `10 × severity + rank`
/// (`Job::rank`). A summary or announcement refresh supersedes the ones of its kind still
/// queued, and is not queued at all when one of its kind is due and not running: that
/// one shows the incident as it is when it runs. (Its row is locked by a no-op update
/// until the change commits, so a worker cannot start it on the state before.)
/// `insert_job!(…, $payload)` stores `$payload` instead of the job's own: steps
/// (`outbox::Steps`) whose first is `$job`.
macro_rules! insert_job {
    ($ex:expr, $id:expr, $job:expr, $now:expr) => {
        insert_job!($ex, $id, $job, $now, ($job).to_payload())
    };
    ($ex:expr, $id:expr, $job:expr, $now:expr, $payload:expr) => {{
        let job: &crate::outbox::Job = $job;
        let service = job.service().as_str();
        let mut covered = false;
        if job.superseded_by_later() {
            sqlx::query(
                "UPDATE jobs SET state = 'done', finished_at = $3, \
                 last_error = 'superseded by a later update' \
                 WHERE incident_id = $1 AND service = $2 AND kind = $4 \
                 AND state = 'queued'",
            )
            .bind($id)
            .bind(service)
            .bind($now)
            .bind(job.kind())
            .execute(&mut *$ex)
            .await?;
            covered = sqlx::query(
                "UPDATE jobs SET next_attempt_at = next_attempt_at WHERE id = (SELECT id \
                 FROM jobs WHERE incident_id = $1 AND service = $2 AND kind = $3 \
                 AND state = 'pending' AND lease_owner IS NULL LIMIT 1) \
                 AND lease_owner IS NULL",
            )
            .bind($id)
            .bind(service)
            .bind(job.kind())
            .execute(&mut *$ex)
            .await?
            .rows_affected()
                == 1;
        }
        if !covered {
            sqlx::query(
                "INSERT INTO jobs (incident_id, service, kind, payload, state, next_attempt_at, \
                 created_at, priority) \
                 VALUES ($1, $2, $3, $4, CASE WHEN EXISTS (SELECT 1 FROM jobs WHERE incident_id = $1 \
                         AND service = $2 AND (state IN ('pending', 'queued') \
                         OR (state = 'dead' AND kind = $6))) THEN 'queued' ELSE 'pending' END, $5, $5, \
                         $7 + 10 * COALESCE((SELECT CAST(SUBSTR(severity, 4) AS INTEGER) \
                                             FROM incidents WHERE id = $1), 4))",
            )
            .bind($id)
            .bind(service)
            .bind(job.kind())
            .bind($payload)
            .bind($now)
            .bind(crate::store::jobs::HOLDS_BACK)
            .bind(job.rank())
            .execute(&mut *$ex)
            .await?;
        }
    }};
}

/// Records delivery key `$key` as acted on at `$at` on executor `$ex`: true the first
/// time, false for a replay.
macro_rules! first_delivery {
    ($ex:expr, $key:expr, $at:expr) => {
        sqlx::query(
            "INSERT INTO slack_deliveries (key, at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind($key)
        .bind($at)
        .execute($ex)
        .await?
        .rows_affected()
            == 1
    };
}

/// A job this worker holds under its lease.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: i64,
    /// `None` for a job of no incident (an alert posted to triage).
    pub incident_id: Option<IncidentId>,
    /// Its service, as stored: finishing it promotes the next job of that service.
    pub service: String,
    /// `Err` carries the payload that did not decode (a newer version's job, during a
    /// rolling deploy): its lease is handed back for a while, for that version to run.
    pub job: Result<Job, String>,
    /// The steps stored after it in its row (`outbox::Steps`): once it is done, the row
    /// moves on to them instead of finishing.
    pub then: Vec<Job>,
    /// Its place among the steps its row was queued with (0 for a job alone).
    pub step: u32,
    /// Including this one.
    pub attempts: u32,
    /// When it first failed, if it has.
    pub failing_since: Option<DateTime<Utc>>,
}

/// How a claimed job ended.
#[derive(Debug, Clone)]
pub enum Finish {
    Done,
    /// Put off by a rate limit (not a failure): runs again at `at`.
    Later {
        at: DateTime<Utc>,
        why: String,
    },
    /// Failed for now; runs again at `at`.
    Retry {
        at: DateTime<Utc>,
        error: String,
    },
    /// Failed for good; kept as `dead` for people to see and revive.
    Dead {
        error: String,
    },
}

/// A job as stored, for operators and tests.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRecord {
    pub id: i64,
    pub incident_id: Option<i64>,
    pub service: String,
    pub kind: String,
    pub payload: String,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub failing_since: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

const JOB_COLUMNS: &str = "id, incident_id, service, kind, payload, state, attempts, \
     next_attempt_at, created_at, failing_since, last_error";

#[derive(sqlx::FromRow)]
struct ClaimRow {
    id: i64,
    incident_id: Option<i64>,
    service: String,
    payload: String,
    attempts: i32,
    failing_since: Option<DateTime<Utc>>,
}

/// Makes the next queued job of each incident and service `pending`, where none is.
const PROMOTE: &str = "UPDATE jobs SET state = 'pending' WHERE id IN ( \
     SELECT MIN(q.id) FROM jobs q WHERE q.state = 'queued' {WHERE} \
     AND NOT EXISTS (SELECT 1 FROM jobs p WHERE p.incident_id = q.incident_id \
                     AND p.service = q.service AND p.state = 'pending') \
     GROUP BY q.incident_id, q.service)";

impl Store {
    /// Claims the next job of `services` due at `now` for `owner`, leased until `until`.
    pub async fn claim_job(
        &self,
        owner: &str,
        services: &[Service],
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<ClaimedJob>, StoreError> {
        if services.is_empty() {
            return Ok(None);
        }
        // SQLite's single writer makes the statement atomic without a lock clause.
        let lock = with_db!(self, postgres _pool => " FOR UPDATE SKIP LOCKED", sqlite _pool => "");
        let row: Option<ClaimRow> = with_db!(self, kept write pool => {
            let mut claim = QueryBuilder::new("UPDATE jobs SET attempts = attempts + 1, lease_owner = ");
            claim.push_bind(owner).push(", lease_until = ").push_bind(until);
            claim
                .push(" WHERE id = (SELECT id FROM jobs WHERE state = 'pending' AND next_attempt_at <= ")
                .push_bind(now)
                .push(" AND (lease_until IS NULL OR lease_until < ")
                .push_bind(now)
                .push(") AND service IN (");
            let mut list = claim.separated(", ");
            for service in services {
                list.push_bind(service.as_str());
            }
            claim
                .push(") ORDER BY priority, id LIMIT 1")
                .push(lock)
                .push(") RETURNING id, incident_id, service, payload, attempts, failing_since");
            claim.build_query_as().fetch_optional(pool).await?
        });
        Ok(row.map(|r| {
            let (job, then, step) = match Steps::from_payload(&r.payload) {
                Some(Steps { at, mut steps }) => (Ok(steps.remove(0)), steps, at),
                None => (Err(r.payload), Vec::new(), 0),
            };
            ClaimedJob {
                id: r.id,
                incident_id: r.incident_id.map(IncidentId),
                job,
                then,
                step,
                service: r.service,
                attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
                failing_since: r.failing_since,
            }
        }))
    }

    /// Queues `jobs` for incident `id` on their own (not caused by a change).
    pub async fn queue(&self, id: IncidentId, jobs: &[Job]) -> Result<(), StoreError> {
        self.queue_once(id, &[], jobs).await.map(|_| ())
    }

    /// Extends `owner`'s lease on job `id` to `until`; false when the lease was lost.
    pub async fn renew_lease(
        &self,
        id: i64,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let renewed = with_db!(self, write pool => {
            sqlx::query(
                "UPDATE jobs SET lease_until = $3 \
                 WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
            )
            .bind(id)
            .bind(owner)
            .bind(until)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(renewed == 1)
    }

    /// Gives back `owner`'s lease on job `id`, unfinished (at shutdown): it runs again at
    /// once on whichever worker claims it.
    pub async fn release_lease(&self, id: i64, owner: &str) -> Result<(), StoreError> {
        with_db!(self, write pool => {
            sqlx::query(
                "UPDATE jobs SET lease_owner = NULL, lease_until = NULL \
                 WHERE id = $1 AND lease_owner = $2",
            )
            .bind(id)
            .bind(owner)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Records how `job` ended, if `owner` still holds it; false when its lease was lost
    /// to another worker, whose outcome then stands. A step done with steps after it in
    /// its row moves the row on to the next; a step dead that does not hold
    /// back the rest stays dead alone, and the rest go on in a new row at the head of
    /// the incident's queue.
    pub async fn finish_job(
        &self,
        job: &ClaimedJob,
        owner: &str,
        now: DateTime<Utc>,
        finish: Finish,
    ) -> Result<bool, StoreError> {
        let holds_back = matches!(&job.job, Ok(j) if j.holds_back_the_rest());
        if matches!(finish, Finish::Done) && !job.then.is_empty() {
            return Ok(self.advance_job(job, owner, None).await?.is_some());
        }
        // The rest of the row, when it goes on without this step: the row keeps this step
        // alone.
        let rest = match (&finish, &job.job, job.then.first()) {
            (Finish::Dead { .. }, Ok(head), Some(next)) if !holds_back => Some((
                Steps::payload_of(job.step, std::slice::from_ref(head)),
                next,
            )),
            _ => None,
        };
        let (state, next, error) = match &finish {
            Finish::Done => ("done", None, None),
            Finish::Later { at, why } => ("pending", Some(*at), Some(why.as_str())),
            Finish::Retry { at, error } => ("pending", Some(*at), Some(error.as_str())),
            Finish::Dead { error } => ("dead", None, Some(error.as_str())),
        };
        let promote = state == "done" || (state == "dead" && !holds_back);
        with_db!(self, kept write pool => {
            let mut tx = sqlx::Connection::begin(&mut *pool).await?;
            if matches!(self.db, Db::Postgres(_)) {
                // Serializes with changes to the incident, which queue jobs under the
                // same row lock, so no job is left queued behind nothing.
                sqlx::query("SELECT 1 FROM incidents WHERE id = $1 FOR UPDATE")
                    .bind(job.incident_id.map(|id| id.0))
                    .execute(&mut *tx)
                    .await?;
            }
            let updated = sqlx::query(
                "UPDATE jobs SET state = $3, next_attempt_at = COALESCE($4, next_attempt_at), \
                 last_error = $5, finished_at = CASE WHEN $3 = 'pending' THEN NULL ELSE $6 END, \
                 failing_since = CASE WHEN $3 = 'done' THEN NULL WHEN $7 THEN failing_since \
                                      ELSE COALESCE(failing_since, $6) END, \
                 lease_owner = NULL, lease_until = NULL, payload = COALESCE($8, payload) \
                 WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
            )
            .bind(job.id)
            .bind(owner)
            .bind(state)
            .bind(next)
            .bind(error)
            .bind(now)
            .bind(matches!(finish, Finish::Later { .. }))
            .bind(rest.as_ref().map(|(alone, _)| alone.as_str()))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 0 {
                return Ok(false);
            }
            if let Some((_, next)) = rest {
                sqlx::query(
                    "INSERT INTO jobs (incident_id, service, kind, payload, state, \
                     next_attempt_at, created_at, priority) SELECT incident_id, service, $2, $3, \
                     'pending', next_attempt_at, created_at, priority FROM jobs WHERE id = $1",
                )
                .bind(job.id)
                .bind(next.kind())
                .bind(Steps::payload_of(job.step + 1, &job.then))
                .execute(&mut *tx)
                .await?;
            } else if promote {
                sqlx::query(&PROMOTE.replace("{WHERE}", "AND q.incident_id = $1 AND q.service = $2"))
                    .bind(job.incident_id.map(|id| id.0))
                    .bind(&job.service)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(true)
    }

    /// Moves `job`'s row on to its next step, still due (its next attempt as when it was
    /// claimed): one update of columns no index holds, and the row keeps its place in
    /// the claim order. With `keep_until`, `owner` keeps the lease (to that time) and the
    /// next step, returned, is its to run; without, the lease is given back. `None`
    /// when the lease was lost or the row has no next step.
    pub async fn advance_job(
        &self,
        job: &ClaimedJob,
        owner: &str,
        keep_until: Option<DateTime<Utc>>,
    ) -> Result<Option<ClaimedJob>, StoreError> {
        let Some(next) = job.then.first() else {
            return Ok(None);
        };
        let attempts = u32::from(keep_until.is_some());
        let updated = with_db!(self, kept write pool => {
            sqlx::query(
                "UPDATE jobs SET kind = $3, payload = $4, attempts = $5, failing_since = NULL, \
                 last_error = NULL, lease_owner = CASE WHEN $6 IS NULL THEN NULL ELSE lease_owner END, \
                 lease_until = $6 WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
            )
            .bind(job.id)
            .bind(owner)
            .bind(next.kind())
            .bind(Steps::payload_of(job.step + 1, &job.then))
            .bind(i32::try_from(attempts).unwrap_or_default())
            .bind(keep_until)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok((updated == 1).then(|| ClaimedJob {
            job: Ok(next.clone()),
            then: job.then[1..].to_vec(),
            step: job.step + 1,
            attempts,
            failing_since: None,
            ..job.clone()
        }))
    }

    /// Unfinished jobs by service, kind and state (`queued`, `pending`, `running`: leased
    /// at `now`, `dead`), for metrics: an index scan over those alone, however many
    /// finished jobs are kept.
    pub async fn job_counts(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, String, String, i64)>, StoreError> {
        Ok(with_db!(self, read pool => {
            sqlx::query_as(
                "SELECT service, kind, CASE WHEN state = 'pending' AND lease_until > $1 \
                 THEN 'running' ELSE state END AS s, COUNT(*) FROM jobs WHERE state <> 'done' \
                 GROUP BY service, kind, s ORDER BY service, kind, s",
            )
            .bind(now)
            .fetch_all(pool)
            .await?
        }))
    }

    /// How long the oldest job due at `now` and not running has waited (zero when none
    /// waits): the queue's lag.
    pub async fn queue_lag(&self, now: DateTime<Utc>) -> Result<std::time::Duration, StoreError> {
        let oldest: Option<DateTime<Utc>> = with_db!(self, read pool => {
            sqlx::query_scalar(
                "SELECT MIN(next_attempt_at) FROM jobs WHERE state = 'pending' \
                 AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until < $1)",
            )
            .bind(now)
            .fetch_one(pool)
            .await?
        });
        Ok(oldest
            .and_then(|at| (now - at).to_std().ok())
            .unwrap_or_default())
    }

    /// The jobs of incident `id`, oldest first.
    pub async fn jobs_of(&self, id: IncidentId) -> Result<Vec<JobRecord>, StoreError> {
        Ok(with_db!(self, read pool => {
            sqlx::query_as(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE incident_id = $1 ORDER BY id"
            ))
            .bind(id.0)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The unfinished jobs (or the dead ones only), oldest first, at most `limit`.
    pub async fn list_jobs(
        &self,
        dead_only: bool,
        limit: i64,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let states = if dead_only {
            "state = 'dead'"
        } else {
            "state <> 'done'"
        };
        Ok(with_db!(self, read pool => {
            sqlx::query_as(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE {states} ORDER BY id LIMIT $1"
            ))
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Sends dead jobs back to the queue, due at `now`, behind nothing but the jobs of
    /// their incident that wait before them: job `id`, or every dead job. How many.
    pub async fn retry_dead(&self, id: Option<i64>, now: DateTime<Utc>) -> Result<u64, StoreError> {
        with_db!(self, write pool => {
            let mut tx = pool.begin().await?;
            if matches!(self.db, Db::Postgres(_)) {
                // The lock changes and finishing jobs take (see `finish_job`), so a job
                // queued meanwhile cannot make a second `pending` head.
                sqlx::query(
                    "SELECT 1 FROM incidents WHERE id IN (SELECT incident_id FROM jobs \
                     WHERE state = 'dead' AND ($1 IS NULL OR id = $1)) ORDER BY id FOR UPDATE",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            let revived = sqlx::query(
                "UPDATE jobs SET state = 'queued', next_attempt_at = $2, failing_since = NULL, \
                 finished_at = NULL WHERE state = 'dead' AND ($1 IS NULL OR id = $1)",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query(&PROMOTE.replace("{WHERE}", ""))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(revived)
        })
    }

    /// Deletes up to `batch` jobs finished before `before`; how many.
    pub async fn purge_done(&self, before: DateTime<Utc>, batch: i64) -> Result<u64, StoreError> {
        Ok(with_db!(self, write pool => {
            sqlx::query(
                "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs \
                 WHERE state = 'done' AND finished_at < $1 LIMIT $2)",
            )
            .bind(before)
            .bind(batch)
            .execute(pool)
            .await?
            .rows_affected()
        }))
    }

    /// Refreshes PostgreSQL's statistics of the queue when they are stale (more rows
    /// changed since they were taken than 1,000 and a tenth of the rows they counted),
    /// so that a burst of jobs (say, after a Slack outage) is claimed through the index
    /// rather than by sorting them all. Whether they were.
    pub async fn refresh_job_stats(&self) -> Result<bool, StoreError> {
        let Db::Postgres(pool) = &self.db else {
            return Ok(false);
        };
        let stale: Option<bool> = sqlx::query_scalar(
            "SELECT s.n_mod_since_analyze > 1000 + 0.1 * GREATEST(c.reltuples, 0) \
             FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
             WHERE s.relid = 'jobs'::regclass",
        )
        .fetch_optional(pool)
        .await?;
        if stale == Some(false) {
            return Ok(false);
        }
        sqlx::query("ANALYZE jobs").execute(pool).await?;
        Ok(true)
    }
}

impl Store {
    /// Queues `jobs` for incident `id` unless one of `keys` (Slack's event id, the
    /// message pinned) was seen before: Slack's retries and a second pin do nothing.
    /// The keys are recorded in the same transaction. Whether it queued.
    pub async fn queue_once(
        &self,
        id: IncidentId,
        keys: &[String],
        jobs: &[Job],
    ) -> Result<bool, StoreError> {
        let now = crate::now();
        with_db!(self, write pool => {
            let mut tx = pool.begin().await?;
            for key in keys {
                let fresh = sqlx::query(
                    "INSERT INTO slack_deliveries (key, at) VALUES ($1, $2) \
                     ON CONFLICT (key) DO NOTHING",
                )
                .bind(key)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if fresh == 0 {
                    return Ok(false);
                }
            }
            if matches!(self.db, Db::Postgres(_)) {
                // The lock its changes and finishing jobs take: see `finish_job`.
                sqlx::query("SELECT 1 FROM incidents WHERE id = $1 FOR UPDATE")
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?;
            }
            for job in jobs {
                insert_job!(tx, id.0, job, now);
            }
            tx.commit().await?;
            Ok(true)
        })
    }
}

impl Store {
    /// Records `key` as acted on at `at`; false when it already was (a replay).
    pub async fn first_time(&self, key: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
        Ok(with_db!(self, write pool => first_delivery!(pool, key, at)))
    }

    /// Forgets the delivery keys of kind `prefix` (`sig:`, `event:`…) recorded before
    /// `before`; how many.
    pub async fn forget_deliveries(
        &self,
        prefix: &str,
        before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        Ok(with_db!(self, write pool => {
            sqlx::query("DELETE FROM slack_deliveries WHERE key LIKE $1 AND at < $2")
                .bind(format!("{prefix}%"))
                .bind(before)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    /// The state of job `id`, if there is such a job.
    pub async fn job_state(&self, id: i64) -> Result<Option<String>, StoreError> {
        Ok(with_db!(self, read pool => {
            sqlx::query_scalar("SELECT state FROM jobs WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        }))
    }
}
