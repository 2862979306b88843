//! Waking the workers of every instance when jobs are queued, on PostgreSQL. Within an
//! instance the incidents service wakes its own workers at once (a `Notify`); the other
//! instances would wait for their next poll. So each instance says "jobs queued" on a
//! channel (`pg_notify`, from a task of its own: never in the declaring transaction,
//! whose commit would then queue behind every other's), and listens on it to wake its
//! workers. The first queuing after a quiet spell is said at once; under load, at most
//! once per `GAP`, the queuings of a gap said together at its end. A lost listener only
//! costs the poll's delay: it is reconnected with a growing pause.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::{watch, Notify};

use crate::shutdown::{is_set, until_set};

/// The channel.
const CHANNEL: &str = "pompier_jobs";
/// The least time between two sayings: queuings within it are said once, at its end.
const GAP: Duration = Duration::from_millis(20);
/// How long a `pg_notify` or a connection may take.
const DEADLINE: Duration = Duration::from_secs(5);
/// A listener that heard nothing this long connects again (a connection can die
/// without a word).
const SILENCE: Duration = Duration::from_secs(60);

/// Says on the channel, each time `queued` is told (jobs queued by this instance).
pub async fn announce(pool: PgPool, queued: Arc<Notify>, mut stopping: watch::Receiver<bool>) {
    // `queued` wakes only those waiting: the next wait is registered before each saying,
    // so what is queued while it is said, or during the gap after it, is said next.
    let next = queued.notified();
    tokio::pin!(next);
    next.as_mut().enable();
    loop {
        tokio::select! {
            _ = next.as_mut() => {}
            _ = until_set(&mut stopping) => return,
        }
        next.set(queued.notified());
        next.as_mut().enable();
        let said = sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(&pool);
        match tokio::time::timeout(DEADLINE, said).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::debug!(error = %e, "cannot tell other instances of new jobs"),
            Err(_) => tracing::debug!("telling other instances of new jobs timed out"),
        }
        tokio::select! {
            _ = tokio::time::sleep(GAP) => {}
            _ = until_set(&mut stopping) => return,
        }
    }
}

/// Wakes `workers` each time an instance says jobs were queued, until `stopping`.
pub async fn listen(pool: PgPool, workers: Arc<Notify>, mut stopping: watch::Receiver<bool>) {
    let mut pause = Duration::from_secs(1);
    while !is_set(&stopping) {
        match follow(&pool, &workers, &mut stopping).await {
            Ok(()) => pause = Duration::from_secs(1),
            Err(e) => {
                tracing::warn!(error = %e, "the job queue's listener failed; workers poll until it is back");
                tokio::select! {
                    _ = until_set(&mut stopping) => {}
                    _ = tokio::time::sleep(pause) => {}
                }
                pause = (pause * 2).min(Duration::from_secs(30));
            }
        }
    }
}

async fn follow(
    pool: &PgPool,
    workers: &Notify,
    stopping: &mut watch::Receiver<bool>,
) -> Result<(), sqlx::Error> {
    let mut listener = tokio::time::timeout(DEADLINE, async {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(CHANNEL).await?;
        Ok::<_, sqlx::Error>(listener)
    })
    .await
    .map_err(|_| sqlx::Error::PoolTimedOut)??;
    loop {
        tokio::select! {
            _ = until_set(stopping) => return Ok(()),
            heard = tokio::time::timeout(SILENCE, listener.try_recv()) => match heard {
                Ok(Ok(Some(_))) => workers.notify_waiters(),
                // The connection was lost, or has been silent too long.
                Ok(Ok(None)) | Err(_) => return Ok(()),
                Ok(Err(e)) => return Err(e),
            },
        }
    }
}
