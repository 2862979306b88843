//! The valid tokens this process has seen, so that an alert or an API call does not pay a
//! database round trip for its token. PostgreSQL only, and only while a `LISTEN`
//! connection is known to be alive: `pompier tokens revoke` sends a `NOTIFY` in its
//! transaction, and every instance's listener empties its cache when it arrives, within
//! milliseconds. The listener proves itself alive with a ping through the pool every few
//! seconds; when it falls silent (the database restarted, a connection cut without a
//! reset) the cache is off and every token is read from the database again until a new
//! listener is up. Unknown tokens are never kept, so a new token works at once and a
//! stranger cannot fill the cache.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::watch;

use crate::shutdown::{is_set, until_set};
use crate::tokens::Scope;

/// The channel `pompier tokens revoke` notifies.
pub(super) const CHANNEL: &str = "pompier_tokens";

/// How often the listener pings itself, and how long a silence it tolerates.
const PING_EVERY: Duration = Duration::from_secs(5);
const SILENCE: Duration = Duration::from_secs(15);

/// At most this many tokens are kept; past it the cache starts over.
const MAX_KEPT: usize = 10_000;

#[derive(Debug, Clone)]
pub(super) struct Cached {
    pub name: String,
    pub scopes: Vec<Scope>,
    /// When the token's use was last written to `last_used_at`.
    pub recorded_at: Option<DateTime<Utc>>,
}

#[derive(Default)]
struct State {
    /// Whether a listener is up: entries are used only then.
    live: bool,
    /// Changes whenever the cache is emptied, so that a lookup that began before a
    /// revocation cannot put the revoked token back.
    generation: u64,
    entries: HashMap<String, Cached>,
}

#[derive(Default)]
pub(super) struct TokenCache {
    state: Mutex<State>,
}

impl TokenCache {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The token whose hash is `hash`, if kept and the cache is live; else the
    /// generation to hand back to `keep`.
    pub fn get(&self, hash: &str) -> Result<Cached, u64> {
        self.with(|s| match s.entries.get(hash) {
            Some(found) if s.live => Ok(found.clone()),
            _ => Err(s.generation),
        })
    }

    /// Keeps `token`, read from the database during `generation`, unless the cache was
    /// emptied since.
    pub fn keep(&self, hash: &str, token: Cached, generation: u64) {
        self.with(|s| {
            if s.live && s.generation == generation {
                if s.entries.len() >= MAX_KEPT {
                    s.entries.clear();
                }
                s.entries.insert(hash.to_owned(), token);
            }
        })
    }

    /// The use of the token whose hash is `hash` was written at `at`.
    pub fn recorded(&self, hash: &str, at: DateTime<Utc>) {
        self.with(|s| {
            if let Some(token) = s.entries.get_mut(hash) {
                token.recorded_at = Some(at);
            }
        })
    }

    fn reset(&self, live: bool) {
        self.with(|s| {
            s.live = live;
            s.generation += 1;
            s.entries.clear();
        })
    }

    pub fn is_live(&self) -> bool {
        self.with(|s| s.live)
    }

    /// Keeps the cache true to the database until `stopping` is set: listens for
    /// revocations, reconnecting with a growing pause when the connection is lost.
    pub async fn listen(&self, pool: PgPool, mut stopping: watch::Receiver<bool>) {
        let pinger = tokio::spawn(ping(pool.clone(), stopping.clone()));
        let mut pause = Duration::from_secs(1);
        while !is_set(&stopping) {
            match self.follow(&pool, &mut stopping).await {
                Ok(()) => pause = Duration::from_secs(1),
                Err(e) => {
                    tracing::warn!(error = %e, "the token cache's listener failed; tokens are read from the database until it is back");
                }
            }
            self.reset(false);
            tokio::select! {
                _ = until_set(&mut stopping) => {}
                _ = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(Duration::from_secs(30));
        }
        pinger.abort();
    }

    /// One listener's life: returns when it falls silent or `stopping` is set.
    async fn follow(
        &self,
        pool: &PgPool,
        stopping: &mut watch::Receiver<bool>,
    ) -> Result<(), sqlx::Error> {
        let mut listener = tokio::time::timeout(SILENCE, async {
            let mut listener = PgListener::connect_with(pool).await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        })
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)??;
        self.reset(true);
        loop {
            tokio::select! {
                _ = until_set(stopping) => return Ok(()),
                heard = tokio::time::timeout(SILENCE, listener.try_recv()) => match heard {
                    // A revocation: forget everything (tokens are few; their names
                    // are not their hashes).
                    Ok(Ok(Some(note))) if !note.payload().is_empty() => self.reset(true),
                    // A ping.
                    Ok(Ok(Some(_))) => {}
                    // The connection was lost, or nothing came, not even a ping.
                    Ok(Ok(None)) | Err(_) => return Ok(()),
                    Ok(Err(e)) => return Err(e),
                },
            }
        }
    }
}

/// Notifies `CHANNEL` with an empty payload every `PING_EVERY`: a listener that hears
/// nothing for `SILENCE` knows its connection is dead.
async fn ping(pool: PgPool, mut stopping: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(PING_EVERY);
    loop {
        tokio::select! {
            _ = until_set(&mut stopping) => return,
            _ = every.tick() => {}
        }
        let sent = sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(&pool);
        let _ = tokio::time::timeout(PING_EVERY, sent).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(name: &str) -> Cached {
        Cached {
            name: name.into(),
            scopes: vec![Scope::Alerts],
            recorded_at: None,
        }
    }

    #[test]
    fn entries_serve_only_while_live_and_a_reset_wins_over_a_lookup_begun_before_it() {
        let cache = TokenCache::default();
        let generation = cache.get("h").unwrap_err();
        cache.keep("h", token("a"), generation);
        assert!(cache.get("h").is_err(), "not live: nothing is kept");

        cache.reset(true);
        let generation = cache.get("h").unwrap_err();
        cache.keep("h", token("a"), generation);
        assert_eq!(cache.get("h").unwrap().name, "a");

        // A lookup starts, a revocation empties the cache, the lookup ends: the token it
        // read stays out.
        let before = cache.get("other").unwrap_err();
        cache.reset(true);
        cache.keep("other", token("b"), before);
        assert!(cache.get("other").is_err());
        assert!(cache.get("h").is_err());

        let generation = cache.get("h").unwrap_err();
        cache.keep("h", token("a"), generation);
        cache.reset(false);
        assert!(
            cache.get("h").is_err(),
            "a dead listener turns the cache off"
        );
    }
}
