//! A few PostgreSQL connections kept between statements, beside sqlx's pool and out of
//! its budget: for the declarations' statements and for the short work that runs on
//! every step of every job (`with_db!(self, kept …)`; finishing a job is a transaction,
//! committed before its connection goes back).
//!
//! sqlx 0.8 pings every connection it takes back into its pool, whatever
//! `test_before_acquire` says: a round trip, a spawned task and a wake-up of the server's
//! backend after every statement. The declaration is one statement, so that ping doubled
//! its round trips. Here a connection goes back to the lane only when its statement
//! finished (a future dropped mid-statement drops its connection), and it is pinged
//! before use only after it sat idle, as the pool's are. Waiters queue on one semaphore,
//! so a connection given back is seen by the next one at once.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Idle longer than this, or older than `MAX_AGE`, it is closed and replaced when next
/// taken (sqlx's pool defaults: its server-side memory is given back, a restarted server
/// is met anew). The pool closes its idle ones on a timer; at rest the lane keeps its
/// connections open, never more than its room.
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
const MAX_AGE: Duration = Duration::from_secs(1800);

pub(super) struct Lane {
    options: PgConnectOptions,
    /// Idle connections, the last given back on top: under light load the top stays warm.
    idle: Mutex<Vec<Kept>>,
    /// One per connection the lane may hold, idle or in use. Closed when the store closes.
    permits: Semaphore,
    /// The most a statement waits for its connection: a permit, a ping, a connect.
    acquire_timeout: Duration,
}

struct Kept {
    conn: PgConnection,
    born: Instant,
    used: Instant,
}

/// A connection taken from the lane. [`Held::keep`] gives it back once its statement has
/// finished; dropped otherwise, it is closed.
pub(super) struct Held<'a> {
    lane: &'a Lane,
    kept: Option<Kept>,
    _permit: SemaphorePermit<'a>,
}

impl Lane {
    /// A lane of `room` connections; none is opened before it is needed.
    pub(super) fn new(options: PgConnectOptions, room: u32, acquire_timeout: Duration) -> Lane {
        Lane {
            options,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(room as usize),
            acquire_timeout,
        }
    }

    /// A connection that answered within the last second or was pinged now, or a new one;
    /// `PoolTimedOut` after `acquire_timeout`, `PoolClosed` once the store is closed.
    pub(super) async fn take(&self) -> Result<Held<'_>, sqlx::Error> {
        let deadline = tokio::time::Instant::now() + self.acquire_timeout;
        let permit = tokio::time::timeout_at(deadline, self.permits.acquire())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        loop {
            let top = self.idle.lock().expect("lane lock").pop();
            let Some(mut kept) = top else {
                let conn = tokio::time::timeout_at(deadline, self.options.connect())
                    .await
                    .map_err(|_| sqlx::Error::PoolTimedOut)??;
                let now = Instant::now();
                let kept = Kept {
                    conn,
                    born: now,
                    used: now,
                };
                return Ok(self.held(kept, permit));
            };
            if kept.stale() {
                // Closing is polite, not needed: the server ends a backend whose socket
                // closes. It does not hold up this statement.
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(Duration::from_secs(1), kept.conn.close()).await;
                });
                continue;
            }
            if kept.used.elapsed() <= super::PING_IDLE_AFTER {
                return Ok(self.held(kept, permit));
            }
            if let Ok(Ok(())) = tokio::time::timeout_at(deadline, kept.conn.ping()).await {
                return Ok(self.held(kept, permit));
            }
            // It died while idle (a restarted server, a dropped connection): the next.
        }
    }

    fn held<'a>(&'a self, kept: Kept, permit: SemaphorePermit<'a>) -> Held<'a> {
        Held {
            lane: self,
            kept: Some(kept),
            _permit: permit,
        }
    }

    /// Refuses new statements and closes the idle connections, together; one in use is
    /// closed when its statement ends.
    pub(super) async fn close(&self) {
        self.permits.close();
        let idle = std::mem::take(&mut *self.idle.lock().expect("lane lock"));
        futures_util::future::join_all(idle.into_iter().map(|kept| kept.conn.close())).await;
    }
}

impl Kept {
    fn stale(&self) -> bool {
        self.used.elapsed() > IDLE_TIMEOUT || self.born.elapsed() > MAX_AGE
    }
}

impl Held<'_> {
    pub(super) fn conn(&mut self) -> &mut PgConnection {
        &mut self.kept.as_mut().expect("held until kept").conn
    }

    /// Gives the connection back: its statement has ended, and the server has answered
    /// all of it (an error from the server included).
    pub(super) fn keep(mut self) {
        let Some(mut kept) = self.kept.take() else {
            return;
        };
        if self.lane.permits.is_closed() || kept.stale() {
            return;
        }
        kept.used = Instant::now();
        self.lane.idle.lock().expect("lane lock").push(kept);
    }
}

/// Keeps the connection after a statement that ended with `result`: a success or the
/// server's own error leaves it ready for the next; an I/O error or a protocol surprise
/// does not.
pub(super) fn keep_after<T>(held: Held<'_>, result: &Result<T, sqlx::Error>) {
    if matches!(result, Ok(_) | Err(sqlx::Error::Database(_))) {
        held.keep();
    }
}
