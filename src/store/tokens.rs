//! Scoped API tokens: their names, scopes and hashes, never the tokens.

use chrono::{DateTime, Utc};

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

    /// Revokes token `name` at `at`; false when there is no such token still valid.
    pub async fn revoke_token(&self, name: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let revoked = with_db!(self, write pool => {
            sqlx::query("UPDATE api_tokens SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL")
                .bind(name)
                .bind(at)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(revoked == 1)
    }

    /// The valid token whose SHA-256 is `hash`: its name and scopes. Its use at `now` is
    /// recorded (at most once a minute).
    pub async fn use_token(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(String, Vec<Scope>)>, StoreError> {
        let found: Option<(String, String, Option<DateTime<Utc>>)> = with_db!(self, read pool => {
            sqlx::query_as(
                "SELECT name, scopes, last_used_at FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL",
            )
            .bind(hash)
            .fetch_optional(pool)
            .await?
        });
        let Some((name, scopes, last_used)) = found else {
            return Ok(None);
        };
        if last_used.is_none_or(|at| at + USE_RECORDED_EVERY < now) {
            with_db!(self, write pool => {
                sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE name = $1")
                    .bind(&name)
                    .bind(now)
                    .execute(pool)
                    .await?;
            });
        }
        Ok(Some((name, tokens::split(&scopes))))
    }
}
