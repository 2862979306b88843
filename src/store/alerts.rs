//! Alert groups: one row per (source, dedup key) while its incident is not closed. A
//! repeat is one `UPDATE`; a new group is inserted in the statement that declares its
//! incident, so concurrent posts of one group declare once (the partial unique index on
//! active groups refuses the others, which then find it and count as repeats).

use chrono::{DateTime, Utc};

use super::{Db, Store, StoreError};
use crate::domain::alert::AlertStatus;
use crate::domain::{IncidentId, Severity};
use crate::outbox::Job;

/// The start of an insert of a group (its values follow).
pub(super) const INSERT_GROUP: &str = "INSERT INTO alert_groups (source, dedup_key, \
     incident_id, declared, status, title, url, signature, severity, first_at, last_at)";

/// Inserts group `$alert` of incident `$id` on `$ex`, at `$at`; `$declared`: it declared
/// the incident. The `sqlx` result (rows added), so a unique violation can be told apart.
macro_rules! insert_alert_group {
    ($ex:expr, $id:expr, $alert:expr, $declared:expr, $at:expr) => {{
        let alert: &crate::store::NewAlert = $alert;
        sqlx::query(&format!(
            "{} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
            crate::store::alerts::INSERT_GROUP
        ))
        .bind(&alert.source)
        .bind(&alert.dedup_key)
        .bind($id)
        .bind($declared)
        .bind(alert.status.as_str())
        .bind(&alert.title)
        .bind(alert.url.as_deref())
        .bind(&alert.signature)
        .bind(alert.severity.as_str())
        .bind($at)
        .execute($ex)
        .await
        .map(|done| done.rows_affected())
    }};
}

/// A group as it is stored anew.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    pub source: String,
    pub dedup_key: String,
    pub status: AlertStatus,
    pub title: String,
    pub url: Option<String>,
    pub signature: String,
    /// What the rules decided: the incident's, now or when declared from triage.
    pub severity: Severity,
}

/// The active group of a key, as a changed post finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveAlert {
    pub id: i64,
    /// `None`: waiting in the triage channel.
    pub incident_id: Option<IncidentId>,
    pub status: AlertStatus,
    /// Posts seen: a change is written only if no other came in between.
    pub count: i64,
    /// Its incident is closed: the group is retired and the key opens a new one.
    pub closed: bool,
}

/// A group as the incident's JSON and pages show it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct AlertRecord {
    pub source: String,
    pub dedup_key: String,
    pub status: String,
    pub title: String,
    pub url: Option<String>,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    pub count: i64,
}

#[derive(sqlx::FromRow)]
struct GroupRow {
    #[sqlx(flatten)]
    record: AlertRecord,
    incident_id: Option<i64>,
    severity: String,
}

fn status(s: &str) -> Result<AlertStatus, StoreError> {
    AlertStatus::parse(s).ok_or_else(|| StoreError::Corrupt(format!("alert status `{s}`")))
}

impl Store {
    /// A post with nothing new (same `signature`) for the active group of `source` and
    /// `key`, whose incident is not closed: counted, in one statement. Its incident, or
    /// `None` when there is no such group (`Some(None)`: it waits in triage).
    pub async fn repeat_alert(
        &self,
        source: &str,
        key: &str,
        signature: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<Option<IncidentId>>, StoreError> {
        let id: Option<Option<i64>> = with_db!(self, write pool => {
            sqlx::query_scalar(
                "UPDATE alert_groups SET last_at = $4, count = count + 1 \
                 WHERE source = $1 AND dedup_key = $2 AND active AND signature = $3 \
                 AND NOT EXISTS (SELECT 1 FROM incidents i \
                                 WHERE i.id = alert_groups.incident_id AND i.status = 'closed') \
                 RETURNING incident_id",
            )
            .bind(source)
            .bind(key)
            .bind(signature)
            .bind(at)
            .fetch_optional(pool)
            .await?
        });
        Ok(id.map(|id| id.map(IncidentId)))
    }

    /// The active group of `source` and `key`, if any.
    pub async fn active_alert(
        &self,
        source: &str,
        key: &str,
    ) -> Result<Option<ActiveAlert>, StoreError> {
        let row: Option<(i64, Option<i64>, String, i64, bool)> = with_db!(self, read pool => {
            sqlx::query_as(
                "SELECT g.id, g.incident_id, g.status, g.count, COALESCE(i.status = 'closed', FALSE) \
                 FROM alert_groups g LEFT JOIN incidents i ON i.id = g.incident_id \
                 WHERE g.source = $1 AND g.dedup_key = $2 AND g.active",
            )
            .bind(source)
            .bind(key)
            .fetch_optional(pool)
            .await?
        });
        row.map(|(id, incident, s, count, closed)| {
            Ok(ActiveAlert {
                id,
                incident_id: incident.map(IncidentId),
                status: status(&s)?,
                count,
                closed,
            })
        })
        .transpose()
    }

    /// Retires group `id` (its incident is closed).
    pub async fn retire_alert(&self, id: i64) -> Result<(), StoreError> {
        with_db!(self, write pool => {
            sqlx::query("UPDATE alert_groups SET active = FALSE WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Stores what a changed post says of group `id`, if no post came since `count`
    /// were seen; false if one did.
    pub async fn update_alert(
        &self,
        id: i64,
        count: i64,
        new: &NewAlert,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let updated = with_db!(self, write pool => {
            sqlx::query(
                "UPDATE alert_groups SET status = $3, title = $4, url = COALESCE($5, url), \
                 signature = $6, last_at = $7, count = count + 1 WHERE id = $1 AND count = $2",
            )
            .bind(id)
            .bind(count)
            .bind(new.status.as_str())
            .bind(&new.title)
            .bind(new.url.as_deref())
            .bind(&new.signature)
            .bind(at)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(updated == 1)
    }

    /// Adds group `new` to incident `id` (one opened by other alerts: a storm);
    /// `Duplicate` when the key got an active group meanwhile.
    pub async fn attach_alert(
        &self,
        id: IncidentId,
        new: &NewAlert,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let added = with_db!(self, write pool => insert_alert_group!(pool, id.0, new, false, at));
        match added {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Duplicate(
                format!("alert group {}", new.dedup_key),
            )),
            other => other.map(|_| ()).map_err(StoreError::from),
        }
    }

    /// Stores group `new` to wait in the triage channel, with `job` that posts it there;
    /// `Duplicate` when the key got an active group meanwhile. The group's id.
    pub async fn triage_alert(
        &self,
        new: &NewAlert,
        job: impl Fn(i64) -> Job,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        with_db!(self, write pool => {
            let mut tx = pool.begin().await?;
            let id: Result<i64, sqlx::Error> = sqlx::query_scalar(&format!(
                "{INSERT_GROUP} VALUES ($1, $2, NULL, FALSE, $3, $4, $5, $6, $7, $8, $8) RETURNING id"
            ))
            .bind(&new.source)
            .bind(&new.dedup_key)
            .bind(new.status.as_str())
            .bind(&new.title)
            .bind(new.url.as_deref())
            .bind(&new.signature)
            .bind(new.severity.as_str())
            .bind(at)
            .fetch_one(&mut *tx)
            .await;
            let id = match id {
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    return Err(StoreError::Duplicate(format!("alert group {}", new.dedup_key)))
                }
                other => other?,
            };
            insert_unbound_job!(tx, &job(id), at);
            tx.commit().await?;
            Ok(id)
        })
    }

    /// Group `id` as the triage channel shows it, with its incident if it has one and
    /// its severity.
    pub async fn alert_group(
        &self,
        id: i64,
    ) -> Result<Option<(AlertRecord, Option<IncidentId>, Severity)>, StoreError> {
        let row: Option<GroupRow> = with_db!(self, read pool => {
            sqlx::query_as(
                "SELECT source, dedup_key, status, title, url, first_at, last_at, count, \
                 incident_id, severity FROM alert_groups WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        row.map(|row| {
            let severity = row
                .severity
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("alert severity `{}`", row.severity)))?;
            Ok((row.record, row.incident_id.map(IncidentId), severity))
        })
        .transpose()
    }

    /// How many incidents alert groups declared since `since`, counted up to `up_to`
    /// (so the count costs the same however many there were).
    pub async fn alerts_declared_since(
        &self,
        since: DateTime<Utc>,
        up_to: i64,
    ) -> Result<i64, StoreError> {
        Ok(with_db!(self, read pool => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM (SELECT 1 FROM alert_groups \
                 WHERE declared AND first_at > $1 LIMIT $2) AS recent",
            )
            .bind(since)
            .bind(up_to)
            .fetch_one(pool)
            .await?
        }))
    }

    /// The alert groups of incident `id`, oldest first.
    pub async fn alerts_of(&self, id: IncidentId) -> Result<Vec<AlertRecord>, StoreError> {
        Ok(with_db!(self, kept read pool => {
            sqlx::query_as(
                "SELECT source, dedup_key, status, title, url, first_at, last_at, count \
                 FROM alert_groups WHERE incident_id = $1 ORDER BY id",
            )
            .bind(id.0)
            .fetch_all(pool)
            .await?
        }))
    }
}
