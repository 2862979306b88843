//! Scoped API tokens: their names, scopes and hashes, never the tokens.

use chrono::{DateTime, Utc};

use tokio::sync::watch;

use super::token_cache::{self, Cached};
use super::{Db, Store, StoreError};
use crate::tokens::{self, Scope};

/// A token as `pompier tokens list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub name: String,
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

type Row = (
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

/// How stale `last_used_at` may get before a use records it again: one write a minute
/// per token at most.
const USE_RECORDED_EVERY: chrono::Duration = chrono::Duration::minutes(1);

impl Store {
    /// The name of the revoked token whose hash is `hash`, if it is one (for the audit
    /// trail: a revoked token still in use).
    pub async fn revoked_token(&self, hash: &str) -> Result<Option<String>, StoreError> {
        Ok(with_db!(self, read pool => {
            sqlx::query_scalar(
                "SELECT name FROM api_tokens WHERE hash = $1 AND revoked_at IS NOT NULL",
            )
            .bind(hash)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Stores a token named `name` whose SHA-256 is `hash`; `Duplicate` when the name is
    /// taken (revoked tokens keep theirs).
    pub async fn create_token(
        &self,
        name: &str,
        hash: &str,
        scopes: &[Scope],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let created = with_db!(self, write pool => {
            sqlx::query(
                "INSERT INTO api_tokens (name, hash, scopes, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(hash)
            .bind(tokens::join(scopes))
            .bind(at)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if created == 0 {
            return Err(StoreError::Duplicate(format!(
                "a token named {name} exists"
            )));
        }
        Ok(())
    }

    /// Every token, by name.
    pub async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let rows: Vec<Row> = with_db!(self, read pool => {
            sqlx::query_as(
                "SELECT name, scopes, created_at, last_used_at, revoked_at FROM api_tokens ORDER BY name",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(name, scopes, created_at, last_used_at, revoked_at)| TokenRecord {
                    name,
                    scopes: tokens::split(&scopes),
                    created_at,
                    last_used_at,
                    revoked_at,
                },
            )
            .collect())
    }

    /// Revokes token `name` at `at`; false when there is no such token still valid. On
    /// PostgreSQL every instance's token cache hears of it when this commits.
    pub async fn revoke_token(&self, name: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
        const REVOKE: &str =
            "UPDATE api_tokens SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL";
        let revoked = with_db!(self,
            postgres pool => {
                let mut tx = pool.begin().await?;
                let revoked = sqlx::query(REVOKE).bind(name).bind(at).execute(&mut *tx).await?;
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(token_cache::CHANNEL)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                revoked.rows_affected()
            },
            sqlite pool => sqlx::query(REVOKE).bind(name).bind(at).execute(pool).await?.rows_affected()
        );
        Ok(revoked == 1)
    }

    /// The valid token whose SHA-256 is `hash`: its name and scopes. Its use at `now` is
    /// recorded (at most once a minute). On PostgreSQL, a token seen before is answered
    /// from the cache while its listener is alive.
    pub async fn use_token(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(String, Vec<Scope>)>, StoreError> {
        let generation = match self.tokens.get(hash) {
            Ok(cached) => {
                if is_stale(cached.recorded_at, now) {
                    self.record_use(&cached.name, now).await?;
                    self.tokens.recorded(hash, now);
                }
                return Ok(Some((cached.name, cached.scopes)));
            }
            Err(generation) => generation,
        };
        let found: Option<(String, String, Option<DateTime<Utc>>)> = with_db!(self, read pool => {
            sqlx::query_as(
                "SELECT name, scopes, last_used_at FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL",
            )
            .bind(hash)
            .fetch_optional(pool)
            .await?
        });
        let Some((name, scopes, mut recorded_at)) = found else {
            return Ok(None);
        };
        if is_stale(recorded_at, now) {
            self.record_use(&name, now).await?;
            recorded_at = Some(now);
        }
        let scopes = tokens::split(&scopes);
        let cached = Cached {
            name: name.clone(),
            scopes: scopes.clone(),
            recorded_at,
        };
        self.tokens.keep(hash, cached, generation);
        Ok(Some((name, scopes)))
    }

    async fn record_use(&self, name: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        with_db!(self, write pool => {
            sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE name = $1")
                .bind(name)
                .bind(now)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Keeps the token cache true to the database until `stopping` is set (PostgreSQL;
    /// on SQLite, where a lookup costs no round trip, there is no cache and this returns).
    pub async fn keep_tokens_cached(&self, stopping: watch::Receiver<bool>) {
        if let Db::Postgres(pool) = &self.db {
            self.tokens.listen(pool.clone(), stopping).await;
        }
    }

    /// The PostgreSQL pool, for what listens on its channels; none on SQLite.
    pub fn postgres_pool(&self) -> Option<sqlx::PgPool> {
        match &self.db {
            Db::Postgres(pool) => Some(pool.clone()),
            _ => None,
        }
    }

    /// Whether tokens are answered from the cache now (for tests and `/metrics`).
    pub fn tokens_cached(&self) -> bool {
        self.tokens.is_live()
    }
}

fn is_stale(recorded_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    recorded_at.is_none_or(|at| at + USE_RECORDED_EVERY < now)
}
