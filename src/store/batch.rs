//! Declarations that arrive together, written together (PostgreSQL): one statement,
//! one commit for all of them. A declaration finds the statements under way and joins
//! the queue; when one ends, its runner takes everything queued meanwhile. Alone, a
//! declaration is written at once, in a statement of one: nothing waits for company.
//!
//! Each declaration's own answer follows its statement: its HTTP reply still leaves
//! only once its incident is committed. A statement the server refused wrote nothing
//! (it was one transaction), so its declarations are written again one by one, each to
//! its own verdict: a replayed delivery key fails alone, not its neighbours.

use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use super::incidents::INCIDENT_COLUMNS;
use super::rows::{IncidentRow, NumberedRow};
use super::{Db, Store, StoreError};
use crate::domain::{EventKind, Status};

/// Statements under way at once: enough to overlap one's commit with the next one's
/// work on two cores, few enough that the queue fills while they run.
const RUNNERS: usize = 4;
/// The most declarations one statement writes.
const MOST: usize = 64;

/// One declaration with nothing but its incident, its event, its jobs and its keys
/// (`NewIncident` without a drill, a team, first events or an alert).
pub(super) struct Plain {
    pub title: String,
    pub severity: &'static str,
    pub declared_by: String,
    pub at: DateTime<Utc>,
    /// Slack's delivery key, recorded with it.
    pub once: Option<String>,
    /// The idempotency key it answers.
    pub answers: Option<String>,
    /// Its job rows, in order.
    pub jobs: Vec<JobRow>,
}

/// One row of `jobs`, as a declaration inserts it.
pub(super) struct JobRow {
    pub service: &'static str,
    pub kind: &'static str,
    pub payload: String,
    /// `pending`, or `queued` behind its service's first row.
    pub state: &'static str,
    pub priority: i16,
}

struct Waiting {
    plain: Plain,
    reply: oneshot::Sender<Result<IncidentRow, StoreError>>,
    since: Instant,
}

pub(super) struct Batches {
    queue: Mutex<Queue>,
    /// The most a declaration waits for its statement to start, as it would for a
    /// connection (`database.acquire_timeout_secs`).
    patience: Duration,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiting>,
    running: usize,
}

/// A runner's place, given back if its task ends without emptying the queue (a panic,
/// the runtime shutting down), so the next declaration starts another.
struct Place(Option<Arc<Batches>>);

impl Drop for Place {
    fn drop(&mut self) {
        if let Some(batches) = self.0.take() {
            batches.queue.lock().expect("batch queue").running -= 1;
        }
    }
}

impl Batches {
    pub(super) fn new(patience: Duration) -> Batches {
        Batches {
            queue: Mutex::default(),
            patience,
        }
    }

    /// Writes `plain` with whatever declarations arrive beside it; its incident's row.
    pub(super) async fn declare(
        self: &Arc<Self>,
        store: &Store,
        plain: Plain,
    ) -> Result<IncidentRow, StoreError> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut queue = self.queue.lock().expect("batch queue");
            queue.waiting.push(Waiting {
                plain,
                reply,
                since: Instant::now(),
            });
            let start = queue.running < RUNNERS;
            if start {
                queue.running += 1;
            }
            start
        };
        if start {
            // A task of its own: a request dropped mid-way (its client gone) does not
            // strand the declarations that queued behind it.
            tokio::spawn(run(self.clone(), store.clone()));
        }
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::Database(sqlx::Error::Protocol(
                "the declaration's statement was abandoned (shutting down?)".into(),
            )))
        })
    }
}

/// Writes what is queued, a statement at a time, until nothing is.
async fn run(batches: Arc<Batches>, store: Store) {
    let mut place = Place(Some(batches.clone()));
    loop {
        let batch: Vec<Waiting> = {
            let mut queue = batches.queue.lock().expect("batch queue");
            if queue.waiting.is_empty() {
                // Given back under the lock that saw the queue empty: a declaration
                // queued after this starts a runner of its own.
                queue.running -= 1;
                place.0 = None;
                return;
            }
            let n = queue.waiting.len().min(MOST);
            queue.waiting.drain(..n).collect()
        };
        // A declaration whose caller gave up (its request's deadline) is not written:
        // its client was told it failed, and may declare again. One that waited past
        // the patience fails as a connection waited for too long would.
        let batch: Vec<Waiting> = batch
            .into_iter()
            .filter(|w| !w.reply.is_closed())
            .filter_map(|w| {
                if w.since.elapsed() <= batches.patience {
                    return Some(w);
                }
                let _ = w.reply.send(Err(sqlx::Error::PoolTimedOut.into()));
                None
            })
            .collect();
        if batch.len() > 1 {
            let (plains, replies): (Vec<Plain>, Vec<_>) =
                batch.into_iter().map(|w| (w.plain, w.reply)).unzip();
            match write(&store, &plains).await {
                Ok(rows) => {
                    let mut by_n: Vec<Option<IncidentRow>> = replies.iter().map(|_| None).collect();
                    for row in rows {
                        if let Some(slot) = by_n.get_mut(row.b_n as usize) {
                            *slot = Some(row.incident);
                        }
                    }
                    for (row, reply) in by_n.into_iter().zip(replies) {
                        let _ = reply.send(row.ok_or_else(unwritten));
                    }
                }
                // Refused by the server: nothing was written. Each again, alone.
                Err(sqlx::Error::Database(_)) => {
                    for (plain, reply) in plains.into_iter().zip(replies) {
                        let _ = reply.send(one(&store, plain).await);
                    }
                }
                Err(e) => {
                    for reply in replies {
                        let _ = reply.send(Err(StoreError::Database(copy(&e))));
                    }
                }
            }
        } else {
            for w in batch {
                let _ = w.reply.send(one(&store, w.plain).await);
            }
        }
    }
}

/// Writes `plain` in a statement of its own; its row, or what refused it.
async fn one(store: &Store, plain: Plain) -> Result<IncidentRow, StoreError> {
    let duplicate_of = plain.once.clone();
    match write(store, std::slice::from_ref(&plain)).await {
        Ok(mut rows) => rows.pop().map(|row| row.incident).ok_or_else(unwritten),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Duplicate(
            duplicate_of.unwrap_or_else(|| "declaration".into()),
        )),
        Err(e) => Err(e.into()),
    }
}

fn unwritten() -> StoreError {
    StoreError::Corrupt("a declaration's statement returned no row for it".into())
}

/// An error, for each of the declarations of a statement that met it: whether it was
/// committed is not known, as for a declaration alone.
fn copy(e: &sqlx::Error) -> sqlx::Error {
    match e {
        sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
        sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
        sqlx::Error::Io(io) => sqlx::Error::Io(std::io::Error::new(io.kind(), io.to_string())),
        other => sqlx::Error::Protocol(other.to_string()),
    }
}

/// The statement: the incidents take their ids first, so each event, job and key
/// finds its own; jobs go in in the declarations' order, so their ids follow it.
static STATEMENT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH input AS MATERIALIZED (\
           SELECT d.*, nextval(pg_get_serial_sequence('incidents', 'id')) AS b_id \
           FROM unnest($1::int4[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], \
                       $6::text[], $7::text[]) \
             AS d (b_n, b_title, b_severity, b_by, b_at, b_once, b_answers)), \
         incident AS (INSERT INTO incidents (id, title, severity, status, declared_by, \
                                             opened_at, last_event_at) \
           SELECT b_id, b_title, b_severity, $8, b_by, b_at, b_at FROM input ORDER BY b_n \
           RETURNING {INCIDENT_COLUMNS}), \
         event AS (INSERT INTO events (incident_id, at, kind, actor, to_value) \
           SELECT b_id, b_at, $9, b_by, $8 FROM input ORDER BY b_n), \
         jobs AS (INSERT INTO jobs (incident_id, service, kind, payload, state, \
                                    next_attempt_at, created_at, priority) \
           SELECT input.b_id, j.service, j.kind, j.payload, j.state, input.b_at, input.b_at, \
                  j.priority \
           FROM unnest($10::int4[], $11::text[], $12::text[], $13::text[], $14::text[], \
                       $15::int2[]) WITH ORDINALITY \
             AS j (b_n, service, kind, payload, state, priority, ord) \
           JOIN input USING (b_n) ORDER BY j.ord), \
         seen AS (INSERT INTO slack_deliveries (key, at) \
           SELECT b_once, b_at FROM input WHERE b_once IS NOT NULL), \
         answered AS (UPDATE idempotency_keys SET incident_id = input.b_id \
           FROM input WHERE key = input.b_answers) \
         SELECT input.b_n, {INCIDENT_COLUMNS} FROM incident JOIN input ON input.b_id = incident.id"
    )
});

/// Writes `plains` in one statement on a lane connection (the pool's without a lane).
async fn write(store: &Store, plains: &[Plain]) -> Result<Vec<NumberedRow>, sqlx::Error> {
    let Db::Postgres(pool) = &store.db else {
        return Err(sqlx::Error::Protocol(
            "declarations are batched on PostgreSQL only".into(),
        ));
    };
    let n: Vec<i32> = (0..plains.len() as i32).collect();
    let jobs = plains
        .iter()
        .enumerate()
        .flat_map(|(n, p)| p.jobs.iter().map(move |j| (n as i32, j)));
    let (mut job_n, mut service, mut kind, mut payload, mut state, mut priority) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for (n, job) in jobs {
        job_n.push(n);
        service.push(job.service);
        kind.push(job.kind);
        payload.push(job.payload.as_str());
        state.push(job.state);
        priority.push(job.priority);
    }
    let query = sqlx::query_as(&STATEMENT)
        .bind(n)
        .bind(plains.iter().map(|p| p.title.as_str()).collect::<Vec<_>>())
        .bind(plains.iter().map(|p| p.severity).collect::<Vec<_>>())
        .bind(
            plains
                .iter()
                .map(|p| p.declared_by.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(plains.iter().map(|p| p.at).collect::<Vec<_>>())
        .bind(plains.iter().map(|p| p.once.as_deref()).collect::<Vec<_>>())
        .bind(
            plains
                .iter()
                .map(|p| p.answers.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(Status::Open.as_str())
        .bind(EventKind::Declared.as_str())
        .bind(job_n)
        .bind(service)
        .bind(kind)
        .bind(payload)
        .bind(state)
        .bind(priority);
    match &store.lane {
        Some(lane) => {
            let mut held = lane.take().await?;
            let found = query.fetch_all(held.conn()).await;
            super::lane::keep_after(held, &found);
            found
        }
        None => query.fetch_all(pool).await,
    }
}
