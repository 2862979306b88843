//! Persistence: one contract over PostgreSQL (production, several instances) and SQLite
//! (embedded, one instance), split by aggregate: `incidents`, `events`, `jobs`.
//!
//! Both backends run the same SQL text (`$N` parameters, `RETURNING`, `ON CONFLICT`);
//! `with_db!` expands a body once per pool type, so each query is written once, and its
//! `postgres … sqlite …` form holds what differs. Every change is a compare-and-set on
//! the incident's `version`, in one transaction with the event that records it and the
//! jobs it queues, so concurrent writers never lose or double an update.

mod batch;
mod cursor;
mod lane;
mod rows;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::ConnectOptions;

use crate::config::{DatabaseSettings, SqliteSync};
use crate::domain::{IncidentId, Rejected};

/// A PostgreSQL connection idle longer than this is pinged before it is used.
const PING_IDLE_AFTER: Duration = Duration::from_secs(1);
/// The fewest connections sqlx's pool keeps when the lane takes its share:
/// the job and token listeners hold one each, and every other query shares the rest.
const POOL_FLOOR: u32 = 4;

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
    /// The SQLite database is another process's.
    #[error("{0}")]
    Alone(String),
    /// Slack delivered this again; it was acted on the first time.
    #[error("already acted on ({0})")]
    Duplicate(String),
    /// The cause is kept: "connection refused", "pool timed out", the server's message.
    #[error("database error: {0}")]
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
/// queries, `write` for anything that changes the database; `kept read` and `kept write`
/// run a body of a statement or a few, or one short transaction it commits, on one
/// connection: the lane's on PostgreSQL (the workers' every-step statements, finishing a
/// job, reading an incident and what its summary links to). The last form gives each
/// backend its own body, for the little SQL that differs.
macro_rules! with_db {
    ($self:expr, read $pool:ident => $body:expr) => {
        match &$self.db {
            Db::Postgres($pool) => $body,
            Db::Sqlite { read: $pool, .. } => $body,
        }
    };
    ($self:expr, write $pool:ident => $body:expr) => {
        match &$self.db {
            Db::Postgres($pool) => $body,
            Db::Sqlite { write: $pool, .. } => $body,
        }
    };
    // A statement or a few, each on `&mut *$pool`, one connection: PostgreSQL's lane when
    // it has one, kept after a success with no ping (an error or an early return drops
    // it, with any transaction the body left open); elsewhere one connection of the
    // `read` or `write` pool.
    ($self:expr, kept $side:ident $pool:ident => $body:expr) => {
        match (&$self.db, &$self.lane) {
            (Db::Postgres(_), Some(lane)) => {
                let mut held = lane.take().await?;
                let $pool = held.conn();
                let value = $body;
                held.keep();
                value
            }
            _ => with_db!($self, $side each => {
                let mut conn = each.acquire().await?;
                let $pool = &mut *conn;
                $body
            }),
        }
    };
    ($self:expr, postgres $pg:ident => $pg_body:expr, sqlite $lite:ident => $lite_body:expr) => {
        match &$self.db {
            Db::Postgres($pg) => $pg_body,
            Db::Sqlite { write: $lite, .. } => $lite_body,
        }
    };
}

/// Queues `$job`, a job of no incident (a triage post, a game day's report), at `$now`.
macro_rules! insert_unbound_job {
    ($ex:expr, $job:expr, $now:expr) => {{
        let job: &crate::outbox::Job = $job;
        sqlx::query(
            "INSERT INTO jobs (incident_id, service, kind, payload, state, next_attempt_at, \
             created_at) VALUES (NULL, $1, $2, $3, 'pending', $4, $4)",
        )
        .bind(job.service().as_str())
        .bind(job.kind())
        .bind(job.to_payload())
        .bind($now)
        .execute(&mut *$ex)
        .await?;
    }};
}

#[macro_use]
pub(crate) mod alerts;
#[macro_use]
mod events;
#[macro_use]
mod jobs;
mod audit;
mod followups;
mod gamedays;
mod idempotency;
#[macro_use]
mod incidents;
mod jira;
mod names;
mod pace;
mod pages;
mod rollups;
mod sessions;
mod stats;
mod token_cache;
mod tokens;

pub use alerts::{ActiveAlert, AlertRecord, NewAlert};
pub use audit::AuditEntry;
pub use cursor::Cursor;
pub use gamedays::{InjectionRef, NewInjection};
pub use idempotency::{Claim, KEY_KEPT};
pub use incidents::{Filter, NewIncident, Page};
pub use jira::{JiraIntent, JiraIssue};
pub use jobs::{ClaimedJob, Finish, JobRecord};
pub use pace::Slot;
pub use sessions::{NewSession, SessionRecord};
pub use tokens::TokenRecord;

#[derive(Clone)]
pub struct Store {
    db: Db,
    /// PostgreSQL: connections kept between statements for one-statement work (`lane`).
    lane: Option<std::sync::Arc<lane::Lane>>,
    /// PostgreSQL: declarations that arrive together, written in one statement.
    batches: std::sync::Arc<batch::Batches>,
    tokens: std::sync::Arc<token_cache::TokenCache>,
}

impl Store {
    /// Connects to `url` (`postgres://…` or `sqlite://FILE`, created if missing).
    pub async fn connect(url: &str, settings: &DatabaseSettings) -> Result<Store, StoreError> {
        let mut lane = None;
        let db = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // By default an acknowledged command survives a power cut: each commit
                // is synced.
                .synchronous(match settings.sqlite_synchronous {
                    SqliteSync::Full => SqliteSynchronous::Full,
                    SqliteSync::Normal => SqliteSynchronous::Normal,
                })
                .busy_timeout(Duration::from_secs(5))
                .pragma(
                    "cache_size",
                    format!("-{}", settings.sqlite_cache_kib.max(64)),
                )
                .foreign_keys(true)
                .disable_statement_logging();
            let pool = |size| {
                SqlitePoolOptions::new()
                    .max_connections(size)
                    .acquire_timeout(settings.acquire_timeout())
                    // A file's connection does not die in the pool: no ping before use.
                    .test_before_acquire(false)
                    .connect_with(options.clone())
            };
            let write = pool(1).await?;
            let read = pool(settings.sqlite_readers.max(1)).await?;
            Db::Sqlite { read, write }
        } else {
            let options = PgConnectOptions::from_str(url)?.disable_statement_logging();
            // Half the connections are the lane, the rest the pool's (transactions):
            // together they never hold more than `max_connections`. The pool keeps at
            // least `POOL_FLOOR` (the two listeners hold one each for good).
            let room = (settings.max_connections / 2)
                .min(settings.max_connections.saturating_sub(POOL_FLOOR));
            if room > 0 {
                lane = Some(std::sync::Arc::new(lane::Lane::new(
                    options.clone(),
                    room,
                    settings.acquire_timeout(),
                )));
            }
            let pool = PgPoolOptions::new()
                .max_connections(settings.max_connections - room)
                .acquire_timeout(settings.acquire_timeout())
                // A connection idle for a while (the server may have restarted, a
                // firewall dropped it) is pinged before use; one in use under load is
                // not: a ping per query is a round trip the server wakes for.
                .test_before_acquire(false)
                .before_acquire(|conn, meta| {
                    Box::pin(async move {
                        if meta.idle_for > PING_IDLE_AFTER {
                            sqlx::Connection::ping(conn).await?;
                        }
                        Ok(true)
                    })
                })
                .connect_with(options)
                .await?;
            Db::Postgres(pool)
        };
        Ok(Store {
            db,
            lane,
            batches: std::sync::Arc::new(batch::Batches::new(settings.acquire_timeout())),
            tokens: Default::default(),
        })
    }

    /// On SQLite, holds the database for this process alone: a second `pompier serve` on
    /// the same file is refused (SQLite is for one instance; several go on PostgreSQL).
    /// The lock lasts as long as the returned file is open. `None` on PostgreSQL.
    pub fn hold_alone(&self, url: &str) -> Result<Option<std::fs::File>, StoreError> {
        if !matches!(self.db, Db::Sqlite { .. }) {
            return Ok(None);
        }
        let Some(path) = crate::config::sqlite_path(url) else {
            return Ok(None);
        };
        // Its real path: a symbolic link to the same file takes the same lock.
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        let path = path.display();
        let lock_path = format!("{path}.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StoreError::Alone(format!("cannot open {lock_path}: {e}")))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(_) => Err(StoreError::Alone(format!(
                "another pompier serve is using the SQLite database {path} (it holds \
                 {lock_path}); SQLite is for one instance, several share PostgreSQL"
            ))),
        }
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
        with_db!(self,
            postgres pool => sqlx::migrate!("migrations/postgres").run(pool).await?,
            sqlite pool => sqlx::migrate!("migrations/sqlite").run(pool).await?
        );
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
        if let Some(lane) = &self.lane {
            lane.close().await;
        }
        match &self.db {
            Db::Postgres(pool) => pool.close().await,
            Db::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
        }
    }
}
