//! Dashboard sessions (`sessions`): made at sign-in, looked up on each page, ended at
//! sign-out or when idle or too old, on every instance alike.

use chrono::{DateTime, Utc};

use super::{Db, Store, StoreError};

/// A session as stored, and whether the token it signed in with is still valid.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRecord {
    pub holder: String,
    pub operator_print: Option<String>,
    pub seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// For a token's session: the token is neither revoked nor gone.
    pub token_valid: bool,
    /// For a single sign-on session: the role given at sign-in.
    pub role: Option<String>,
    /// For a single sign-on session: the Slack user of its email.
    pub slack_user: Option<String>,
}

/// A session to open.
pub struct NewSession<'a> {
    pub id_hash: &'a str,
    /// `operator`, a token's name, or `sso:EMAIL`.
    pub holder: &'a str,
    pub operator_print: Option<&'a str>,
    pub role: Option<&'a str>,
    pub slack_user: Option<&'a str>,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Store {
    pub async fn create_session(&self, new: NewSession<'_>) -> Result<(), StoreError> {
        with_db!(self, write pool => {
            sqlx::query(
                "INSERT INTO sessions (id_hash, holder, operator_print, role, slack_user, \
                 created_at, seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
            )
            .bind(new.id_hash)
            .bind(new.holder)
            .bind(new.operator_print)
            .bind(new.role)
            .bind(new.slack_user)
            .bind(new.now)
            .bind(new.expires_at)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    /// The session whose id hashes to `id_hash`, if any.
    pub async fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        Ok(with_db!(self, read pool => {
            sqlx::query_as(
                "SELECT s.holder, s.operator_print, s.seen_at, s.expires_at, s.role, s.slack_user, \
                 EXISTS (SELECT 1 FROM api_tokens t WHERE t.name = s.holder AND t.revoked_at IS NULL) \
                 AS token_valid FROM sessions s WHERE s.id_hash = $1",
            )
            .bind(id_hash)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Marks the session seen at `now` (it stays open while used).
    pub async fn touch_session(&self, id_hash: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        with_db!(self, write pool => {
            sqlx::query("UPDATE sessions SET seen_at = $2 WHERE id_hash = $1")
                .bind(id_hash)
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    /// Ends the session; whether there was one.
    pub async fn end_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        Ok(with_db!(self, write pool => {
            sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                .bind(id_hash)
                .execute(pool)
                .await?
                .rows_affected()
        }) == 1)
    }

    /// Deletes the sessions past their end (idle ones are refused, and go at theirs).
    pub async fn purge_sessions(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(with_db!(self, write pool => {
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}
