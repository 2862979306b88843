//! Idempotency keys of declarations through the API: the first request with a key
//! claims it, declares, and records its incident in the same transaction; a later one
//! with the key gets that incident (or learns that the first still runs).

use chrono::{DateTime, Utc};

use super::{Db, Store, StoreError};
use crate::domain::IncidentId;

/// How long a key answers with its first result.
pub const KEY_KEPT: chrono::Duration = chrono::Duration::hours(24);

/// What a request finds under its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is this request's: declare, with `NewIncident::answers` set to it.
    Fresh,
    /// A request with this key declared `incident`; `same_body`: with this body.
    Answered {
        incident: IncidentId,
        same_body: bool,
    },
    /// A request with this key is still declaring.
    Running { same_body: bool },
}

impl Store {
    /// Claims `key` for a request whose body hashes to `body_hash`. A claim older than
    /// `expired_before` is forgotten; one that never declared and is older than
    /// `abandoned_before` (its request died) is taken over.
    pub async fn claim_key(
        &self,
        key: &str,
        body_hash: &str,
        now: DateTime<Utc>,
        abandoned_before: DateTime<Utc>,
        expired_before: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        with_db!(self, write pool => {
            sqlx::query(
                "DELETE FROM idempotency_keys WHERE key = $1 \
                 AND (started_at < $2 OR (incident_id IS NULL AND started_at < $3))",
            )
            .bind(key)
            .bind(expired_before)
            .bind(abandoned_before)
            .execute(pool)
            .await?;
            let fresh = sqlx::query(
                "INSERT INTO idempotency_keys (key, body_hash, started_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO NOTHING",
            )
            .bind(key)
            .bind(body_hash)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected();
            if fresh == 1 {
                return Ok(Claim::Fresh);
            }
            let found: Option<(String, Option<i64>)> = sqlx::query_as(
                "SELECT body_hash, incident_id FROM idempotency_keys WHERE key = $1",
            )
            .bind(key)
            .fetch_optional(pool)
            .await?;
            // Gone since: the first request failed and gave the key up; asked again, it
            // is free.
            let Some((hash, incident)) = found else {
                return Ok(Claim::Running { same_body: true });
            };
            let same_body = hash == body_hash;
            Ok(match incident {
                Some(id) => Claim::Answered {
                    incident: IncidentId(id),
                    same_body,
                },
                None => Claim::Running { same_body },
            })
        })
    }

    /// Gives `key` up after its declaration failed, so a retry may declare.
    pub async fn release_key(&self, key: &str) -> Result<(), StoreError> {
        with_db!(self, write pool => {
            sqlx::query("DELETE FROM idempotency_keys WHERE key = $1 AND incident_id IS NULL")
                .bind(key)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Forgets the keys claimed before `before`; how many.
    pub async fn forget_keys(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(with_db!(self, write pool => {
            sqlx::query("DELETE FROM idempotency_keys WHERE started_at < $1")
                .bind(before)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}
