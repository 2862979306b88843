//! Persistence: one contract over PostgreSQL (production, several instances) and SQLite
//! (embedded, one instance).
//!
//! Both backends run the same SQL text (`$N` parameters, `RETURNING`, `ON CONFLICT`);
//! `with_db!` expands a body once per pool type, so each query is written once. Every
//! change is a compare-and-set on the incident's `version`, in one transaction with the
//! event that records it, so concurrent writers never lose or double an update.

mod cursor;
mod rows;

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::ConnectOptions;

pub use cursor::Cursor;
pub use jobs::{ClaimedJob, Finish, JobRecord};
use rows::{EventRow, IncidentRow, RoleRow};

use crate::config::DatabaseSettings;
use crate::domain::{
    Change, ChannelId, Event, EventKind, Incident, IncidentId, Rejected, Severity, SlackUserId,
    Status,
};
use crate::jobs::Job;

/// How often a change is re-decided when another writer got there first.
const MAX_ATTEMPTS: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("incident #{0} does not exist")]
    NotFound(IncidentId),
    #[error(transparent)]
    Rejected(#[from] Rejected),
    #[error("incident #{0} is changing too fast; try again")]
    Contended(IncidentId),
    #[error("unexpected value in the database: {0}")]
    Corrupt(String),
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Database(sqlx::Error::Migrate(Box::new(e)))
    }
}

#[derive(Clone)]
enum Db {
    Postgres(PgPool),
    /// SQLite takes one writer at a time: writers queue for the single connection of
    /// `write` instead of spinning on SQLITE_BUSY, and readers use `read` meanwhile (WAL).
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
    },
}

/// Runs `$body` with `$pool` bound to whichever pool this store has: `read` for
/// queries, `write` for anything that changes the database.
macro_rules! with_db {
    ($self:ident, read $pool:ident => $body:expr) => {
        match &$self.db {
            Db::Postgres($pool) => $body,
            Db::Sqlite { read: $pool, .. } => $body,
        }
    };
    ($self:ident, write $pool:ident => $body:expr) => {
        match &$self.db {
            Db::Postgres($pool) => $body,
            Db::Sqlite { write: $pool, .. } => $body,
        }
    };
}

/// Appends `$event` to incident `$id`'s timeline on executor `$ex`.
macro_rules! insert_event {
    ($ex:expr, $id:expr, $event:expr) => {{
        let e: &Event = $event;
        sqlx::query(
            "INSERT INTO events (incident_id, at, kind, actor, from_value, to_value, role, note) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind($id)
        .bind(e.at)
        .bind(e.kind.as_str())
        .bind(e.actor.as_str())
        .bind(e.from.as_deref())
        .bind(e.to.as_deref())
        .bind(e.role.as_ref().map(|r| r.as_str()))
        .bind(e.note.as_deref())
        .execute($ex)
        .await?
    }};
}

/// Queues `$job` for incident `$id` on executor `$ex`, due at `$now`: `pending` when the
/// incident has no unfinished job, else `queued` behind the ones it has.
macro_rules! insert_job {
    ($ex:expr, $id:expr, $job:expr, $now:expr) => {{
        let job: &Job = $job;
        sqlx::query(
            "INSERT INTO jobs (incident_id, kind, payload, state, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, CASE WHEN EXISTS (SELECT 1 FROM jobs WHERE incident_id = $1 \
                     AND state = 'pending') OR EXISTS (SELECT 1 FROM jobs WHERE incident_id = $1 \
                     AND state = 'queued') THEN 'queued' ELSE 'pending' END, $4, $4)",
        )
        .bind($id)
        .bind(job.kind())
        .bind(job.to_payload())
        .bind($now)
        .execute($ex)
        .await?
    }};
}

mod jobs;

const INCIDENT_COLUMNS: &str = "id, title, severity, status, channel_id, declared_by, opened_at, \
     investigating_at, mitigated_at, resolved_at, postmortem_at, closed_at, postmortem_url, summary_ts, \
     version";

/// A new incident, as declared.
#[derive(Debug, Clone)]
pub struct NewIncident {
    pub title: String,
    pub severity: Severity,
    pub declared_by: SlackUserId,
    pub at: DateTime<Utc>,
}

/// Which incidents `list` returns, newest first.
#[derive(Debug, Clone)]
pub struct Filter {
    pub statuses: Vec<Status>,
    pub severities: Vec<Severity>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: u32,
    pub after: Option<Cursor>,
}

impl Default for Filter {
    /// Every incident, a page of 50.
    fn default() -> Self {
        Filter {
            statuses: Vec::new(),
            severities: Vec::new(),
            from: None,
            to: None,
            limit: 50,
            after: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Page {
    pub incidents: Vec<Incident>,
    pub next: Option<Cursor>,
}

#[derive(Clone)]
pub struct Store {
    db: Db,
}

impl Store {
    /// Connects to `url` (`postgres://…` or `sqlite://FILE`, created if missing).
    pub async fn connect(url: &str, settings: &DatabaseSettings) -> Result<Store, StoreError> {
        let db = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true)
                .disable_statement_logging();
            let pool = |size| {
                SqlitePoolOptions::new()
                    .max_connections(size)
                    .acquire_timeout(settings.acquire_timeout())
                    .connect_with(options.clone())
            };
            let write = pool(1).await?;
            let read = pool(settings.max_connections).await?;
            Db::Sqlite { read, write }
        } else {
            let options = PgConnectOptions::from_str(url)?.disable_statement_logging();
            let pool = PgPoolOptions::new()
                .max_connections(settings.max_connections)
                .acquire_timeout(settings.acquire_timeout())
                .connect_with(options)
                .await?;
            Db::Postgres(pool)
        };
        Ok(Store { db })
    }

    /// `postgres` or `sqlite`, for logs and metrics.
    pub fn backend(&self) -> &'static str {
        match self.db {
            Db::Postgres(_) => "postgres",
            Db::Sqlite { .. } => "sqlite",
        }
    }

    /// Applies the embedded migrations of this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.db {
            Db::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await?,
            Db::Sqlite { write, .. } => sqlx::migrate!("migrations/sqlite").run(write).await?,
        }
        Ok(())
    }

    /// The database answers a query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_db!(self, read pool => {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    pub async fn close(&self) {
        match &self.db {
            Db::Postgres(pool) => pool.close().await,
            Db::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
        }
    }

    #[tracing::instrument(skip_all, fields(severity = %new.severity))]
    /// Stores a new incident, its `declared` event and `jobs`, in one transaction.
    pub async fn declare(&self, new: NewIncident, jobs: &[Job]) -> Result<Incident, StoreError> {
        let event = Event {
            at: new.at,
            kind: EventKind::Declared,
            actor: new.declared_by.clone(),
            from: None,
            to: Some(Status::Open.to_string()),
            role: None,
            note: None,
        };
        let insert = format!(
            "INSERT INTO incidents (title, severity, status, declared_by, opened_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {INCIDENT_COLUMNS}"
        );
        let row: IncidentRow = match &self.db {
            // The hot path: one statement, so one round trip and an implicit transaction.
            Db::Postgres(pool) => {
                let queued: String = (0..jobs.len())
                    .map(|i| {
                        // A new incident: its first job runs first, the others wait.
                        format!(
                            ", job{i} AS (INSERT INTO jobs (incident_id, kind, payload, state, \
                             next_attempt_at, created_at) SELECT id, ${}, ${}, '{}', $5, $5 \
                             FROM incident)",
                            7 + 2 * i,
                            8 + 2 * i,
                            if i == 0 { "pending" } else { "queued" }
                        )
                    })
                    .collect();
                let sql = format!(
                    "WITH incident AS ({insert}), \
                     event AS (INSERT INTO events (incident_id, at, kind, actor, to_value) \
                               SELECT id, $5, $6, $4, $3 FROM incident){queued} \
                     SELECT {INCIDENT_COLUMNS} FROM incident"
                );
                let mut query = sqlx::query_as(&sql)
                    .bind(&new.title)
                    .bind(new.severity.as_str())
                    .bind(Status::Open.as_str())
                    .bind(new.declared_by.as_str())
                    .bind(new.at)
                    .bind(EventKind::Declared.as_str());
                for job in jobs {
                    query = query.bind(job.kind()).bind(job.to_payload());
                }
                query.fetch_one(pool).await?
            }
            Db::Sqlite { write, .. } => {
                let mut tx = write.begin().await?;
                let row: IncidentRow = sqlx::query_as(&insert)
                    .bind(&new.title)
                    .bind(new.severity.as_str())
                    .bind(Status::Open.as_str())
                    .bind(new.declared_by.as_str())
                    .bind(new.at)
                    .fetch_one(&mut *tx)
                    .await?;
                insert_event!(&mut *tx, row.id, &event);
                for job in jobs {
                    insert_job!(&mut *tx, row.id, job, new.at);
                }
                tx.commit().await?;
                row
            }
        };
        row.into_incident(Vec::new())
    }

    #[tracing::instrument(skip(self))]
    pub async fn get(&self, id: IncidentId) -> Result<Option<Incident>, StoreError> {
        let found: Option<(IncidentRow, Vec<RoleRow>)> = with_db!(self, read pool => {
            let row: Option<IncidentRow> = sqlx::query_as(&format!(
                "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1"
            ))
            .bind(id.0)
            .fetch_optional(pool)
            .await?;
            match row {
                None => None,
                Some(row) => {
                    let roles: Vec<RoleRow> = sqlx::query_as(
                        "SELECT incident_id, role, user_id FROM incident_roles \
                         WHERE incident_id = $1 ORDER BY role",
                    )
                    .bind(id.0)
                    .fetch_all(pool)
                    .await?;
                    Some((row, roles))
                }
            }
        });
        found
            .map(|(row, roles)| row.into_incident(roles))
            .transpose()
    }

    async fn require(&self, id: IncidentId) -> Result<Incident, StoreError> {
        self.get(id).await?.ok_or(StoreError::NotFound(id))
    }

    /// The incident whose Slack channel is `channel`, if any.
    pub async fn find_by_channel(
        &self,
        channel: &ChannelId,
    ) -> Result<Option<IncidentId>, StoreError> {
        let id: Option<i64> = with_db!(self, read pool => {
            sqlx::query_scalar("SELECT id FROM incidents WHERE channel_id = $1")
                .bind(channel.as_str())
                .fetch_optional(pool)
                .await?
        });
        Ok(id.map(IncidentId))
    }

    /// Records the Slack channel opened for incident `id`.
    pub async fn set_channel(&self, id: IncidentId, channel: &ChannelId) -> Result<(), StoreError> {
        let done = with_db!(self, write pool => {
            sqlx::query("UPDATE incidents SET channel_id = $2 WHERE id = $1")
                .bind(id.0)
                .bind(channel.as_str())
                .execute(pool)
                .await?
                .rows_affected()
        });
        if done == 0 {
            return Err(StoreError::NotFound(id));
        }
        Ok(())
    }

    /// The timeline of incident `id`, oldest first.
    pub async fn timeline(&self, id: IncidentId) -> Result<Vec<Event>, StoreError> {
        let rows: Vec<EventRow> = with_db!(self, read pool => {
            sqlx::query_as(
                "SELECT at, kind, actor, from_value, to_value, role, note FROM events \
                 WHERE incident_id = $1 ORDER BY id",
            )
            .bind(id.0)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(EventRow::into_event).collect()
    }

    /// Decides a change on the current state of incident `id` with `decide` and stores
    /// it with its event and the jobs `effects` derives from it, unless another writer
    /// changed the incident in between: then it decides again on the new state. So
    /// concurrent identical moves make one transition, and the others are rejected as
    /// already done.
    #[tracing::instrument(skip(self, decide, effects))]
    pub async fn change<F, E>(
        &self,
        id: IncidentId,
        decide: F,
        effects: E,
    ) -> Result<Change, StoreError>
    where
        F: Fn(&Incident) -> Result<Change, Rejected>,
        E: Fn(&Change) -> Vec<Job>,
    {
        for _ in 0..MAX_ATTEMPTS {
            let before = self.require(id).await?;
            let change = decide(&before)?;
            let jobs = effects(&change);
            if self.write_change(&before, &change, &jobs).await? {
                let mut change = change;
                change.after.version = before.version + 1;
                return Ok(change);
            }
        }
        Err(StoreError::Contended(id))
    }

    /// Writes `change` if the incident is still at `before.version`; false if it is not.
    async fn write_change(
        &self,
        before: &Incident,
        change: &Change,
        jobs: &[Job],
    ) -> Result<bool, StoreError> {
        let after = &change.after;
        let m = &after.milestones;
        let id = before.id.0;
        with_db!(self, write pool => {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(
                "UPDATE incidents SET title = $3, severity = $4, status = $5, \
                 investigating_at = $6, mitigated_at = $7, resolved_at = $8, postmortem_at = $9, \
                 closed_at = $10, postmortem_url = $11, version = version + 1 \
                 WHERE id = $1 AND version = $2",
            )
            .bind(id)
            .bind(before.version)
            .bind(&after.title)
            .bind(after.severity.as_str())
            .bind(after.status.as_str())
            .bind(m.investigating_at)
            .bind(m.mitigated_at)
            .bind(m.resolved_at)
            .bind(m.postmortem_at)
            .bind(m.closed_at)
            .bind(after.postmortem_url.as_deref())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 0 {
                return Ok(false);
            }
            for (role, user) in &after.roles {
                if before.roles.get(role) != Some(user) {
                    sqlx::query(
                        "INSERT INTO incident_roles (incident_id, role, user_id) VALUES ($1, $2, $3) \
                         ON CONFLICT (incident_id, role) DO UPDATE SET user_id = excluded.user_id",
                    )
                    .bind(id)
                    .bind(role.as_str())
                    .bind(user.as_str())
                    .execute(&mut *tx)
                    .await?;
                }
            }
            insert_event!(&mut *tx, id, &change.event);
            for job in jobs {
                insert_job!(&mut *tx, id, job, change.event.at);
            }
            tx.commit().await?;
        });
        Ok(true)
    }

    /// Incidents matching `filter`, newest first, with the cursor of the next page.
    pub async fn list(&self, filter: &Filter) -> Result<Page, StoreError> {
        let mut sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE 1 = 1");
        let mut params: Vec<Param> = Vec::new();
        let placeholder = |params: &mut Vec<Param>, p: Param| {
            params.push(p);
            format!("${}", params.len())
        };
        if !filter.statuses.is_empty() {
            let list: Vec<String> = filter
                .statuses
                .iter()
                .map(|s| placeholder(&mut params, Param::Text(s.as_str().into())))
                .collect();
            sql += &format!(" AND status IN ({})", list.join(", "));
        }
        if !filter.severities.is_empty() {
            let list: Vec<String> = filter
                .severities
                .iter()
                .map(|s| placeholder(&mut params, Param::Text(s.as_str().into())))
                .collect();
            sql += &format!(" AND severity IN ({})", list.join(", "));
        }
        if let Some(from) = filter.from {
            sql += &format!(
                " AND opened_at >= {}",
                placeholder(&mut params, Param::Time(from))
            );
        }
        if let Some(to) = filter.to {
            sql += &format!(
                " AND opened_at <= {}",
                placeholder(&mut params, Param::Time(to))
            );
        }
        if let Some(cursor) = &filter.after {
            let at = placeholder(&mut params, Param::Time(cursor.opened_at));
            let id = placeholder(&mut params, Param::Int(cursor.id));
            sql += &format!(" AND (opened_at < {at} OR (opened_at = {at} AND id < {id}))");
        }
        let limit = placeholder(&mut params, Param::Int(i64::from(filter.limit) + 1));
        sql += &format!(" ORDER BY opened_at DESC, id DESC LIMIT {limit}");

        let (mut rows, roles): (Vec<IncidentRow>, Vec<RoleRow>) = with_db!(self, read pool => {
            let mut query = sqlx::query_as(&sql);
            for p in &params {
                query = match p {
                    Param::Text(s) => query.bind(s),
                    Param::Time(t) => query.bind(t),
                    Param::Int(i) => query.bind(i),
                };
            }
            let rows: Vec<IncidentRow> = query.fetch_all(pool).await?;
            let roles: Vec<RoleRow> = if rows.is_empty() {
                Vec::new()
            } else {
                let ids: Vec<String> = (1..=rows.len()).map(|i| format!("${i}")).collect();
                let roles_sql = format!(
                    "SELECT incident_id, role, user_id FROM incident_roles \
                     WHERE incident_id IN ({}) ORDER BY role",
                    ids.join(", ")
                );
                let mut query = sqlx::query_as(&roles_sql);
                for row in &rows {
                    query = query.bind(row.id);
                }
                query.fetch_all(pool).await?
            };
            (rows, roles)
        });

        let more = rows.len() > filter.limit as usize;
        rows.truncate(filter.limit as usize);
        let next = more
            .then(|| {
                rows.last().map(|r| Cursor {
                    opened_at: r.opened_at,
                    id: r.id,
                })
            })
            .flatten();
        let incidents = rows
            .into_iter()
            .map(|row| {
                let mine = roles
                    .iter()
                    .filter(|r| r.incident_id == row.id)
                    .cloned()
                    .collect();
                row.into_incident(mine)
            })
            .collect::<Result<_, _>>()?;
        Ok(Page { incidents, next })
    }
}

enum Param {
    Text(String),
    Time(DateTime<Utc>),
    Int(i64),
}
