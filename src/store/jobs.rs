//! The job queue's storage: claim under a lease, finish, retry, bury.
//!
//! PostgreSQL claims with `FOR UPDATE SKIP LOCKED`, so several instances share the work;
//! SQLite's single writer makes the same statement atomic. Only an incident's oldest
//! unfinished job is `pending`; the rest are `queued` and promoted one by one as jobs
//! finish, so one incident's jobs run in order and a claim needs no look at the others.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Db, Store, StoreError};
use crate::domain::IncidentId;
use crate::jobs::Job;

/// A job this worker holds until `lease_until`.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: i64,
    pub incident_id: IncidentId,
    /// `Err` carries the payload that did not decode; such a job is buried.
    pub job: Result<Job, String>,
    /// Including this one.
    pub attempts: u32,
}

/// How a claimed job ended.
#[derive(Debug, Clone)]
pub enum Finish {
    /// Done; `followups` are queued in the same transaction.
    Done { followups: Vec<Job> },
    /// Failed for now; runs again at `at`.
    Retry { at: DateTime<Utc>, error: String },
    /// Failed for good; kept as `dead` for people and metrics to see.
    Dead { error: String },
}

/// A job as stored, for inspection.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRecord {
    pub id: i64,
    pub incident_id: i64,
    pub kind: String,
    pub payload: String,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    id: i64,
    incident_id: i64,
    payload: String,
    attempts: i32,
}

const CLAIM: &str = "UPDATE jobs SET attempts = attempts + 1, lease_owner = $1, lease_until = $3 \
     WHERE id = (SELECT id FROM jobs \
                 WHERE state = 'pending' AND next_attempt_at <= $2 \
                   AND (lease_until IS NULL OR lease_until < $2) \
                 ORDER BY next_attempt_at, id LIMIT 1 {LOCK}) \
     RETURNING id, incident_id, payload, attempts";

impl Store {
    /// Claims the next due job for `owner` until `now + lease`, if there is one.
    pub async fn claim_job(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Option<ClaimedJob>, StoreError> {
        let until = crate::jobs::retry::after(now, lease);
        let lock = match self.db {
            Db::Postgres(_) => "FOR UPDATE SKIP LOCKED",
            Db::Sqlite { .. } => "",
        };
        let claim = CLAIM.replace("{LOCK}", lock);
        let row: Option<ClaimRow> = with_db!(self, write pool => {
            sqlx::query_as(&claim)
                .bind(owner)
                .bind(now)
                .bind(until)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|r| ClaimedJob {
            id: r.id,
            incident_id: IncidentId(r.incident_id),
            job: serde_json::from_str(&r.payload).map_err(|_| r.payload.clone()),
            attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
        }))
    }

    /// Records how `job` ended, if `owner` still holds it; false when its lease was lost
    /// to another worker, whose outcome then stands.
    pub async fn finish_job(
        &self,
        job: &ClaimedJob,
        owner: &str,
        now: DateTime<Utc>,
        finish: Finish,
    ) -> Result<bool, StoreError> {
        let postgres = matches!(self.db, Db::Postgres(_));
        with_db!(self, write pool => {
            let mut tx = pool.begin().await?;
            if postgres {
                // Serializes with changes to the incident, which queue jobs under the
                // same row lock, so no job is left queued behind nothing.
                sqlx::query("SELECT 1 FROM incidents WHERE id = $1 FOR UPDATE")
                    .bind(job.incident_id.0)
                    .execute(&mut *tx)
                    .await?;
            }
            let (state, next, error) = match &finish {
                Finish::Done { .. } => ("done", None, None),
                Finish::Retry { at, error } => ("pending", Some(*at), Some(error.as_str())),
                Finish::Dead { error } => ("dead", None, Some(error.as_str())),
            };
            let updated = sqlx::query(
                "UPDATE jobs SET state = $3, next_attempt_at = COALESCE($4, next_attempt_at), \
                 last_error = $5, finished_at = CASE WHEN $3 = 'pending' THEN NULL ELSE $6 END, \
                 lease_owner = NULL, lease_until = NULL \
                 WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
            )
            .bind(job.id)
            .bind(owner)
            .bind(state)
            .bind(next)
            .bind(error)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 0 {
                return Ok(false);
            }
            if let Finish::Done { followups } = &finish {
                for followup in followups {
                    insert_job!(&mut *tx, job.incident_id.0, followup, now);
                }
            }
            if state != "pending" {
                // The next job of the incident, if one waits and none runs.
                sqlx::query(
                    "UPDATE jobs SET state = 'pending' WHERE id = (SELECT MIN(id) FROM jobs \
                     WHERE incident_id = $1 AND state = 'queued') \
                     AND NOT EXISTS (SELECT 1 FROM jobs WHERE incident_id = $1 AND state = 'pending')",
                )
                .bind(job.incident_id.0)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(true)
    }

    /// Jobs by state (`queued`, `pending`, `done`, `dead`), for metrics.
    pub async fn job_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(with_db!(self, read pool => {
            sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state ORDER BY state")
                .fetch_all(pool)
                .await?
        }))
    }

    /// The jobs of incident `id`, oldest first.
    pub async fn jobs_of(&self, id: IncidentId) -> Result<Vec<JobRecord>, StoreError> {
        Ok(with_db!(self, read pool => {
            sqlx::query_as(
                "SELECT id, incident_id, kind, payload, state, attempts, next_attempt_at, last_error \
                 FROM jobs WHERE incident_id = $1 ORDER BY id",
            )
            .bind(id.0)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Refreshes PostgreSQL's statistics of the queue, so that a burst of jobs (say,
    /// after a Slack outage) is claimed through the index rather than by sorting them all.
    pub async fn refresh_job_stats(&self) -> Result<(), StoreError> {
        if let Db::Postgres(pool) = &self.db {
            sqlx::query("ANALYZE jobs").execute(pool).await?;
        }
        Ok(())
    }

    /// Records the `ts` of the incident's pinned summary message.
    pub async fn set_summary_ts(&self, id: IncidentId, ts: &str) -> Result<(), StoreError> {
        with_db!(self, write pool => {
            sqlx::query("UPDATE incidents SET summary_ts = $2 WHERE id = $1")
                .bind(id.0)
                .bind(ts)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
