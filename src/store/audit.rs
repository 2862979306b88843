//! The audit trail (`audit`): administrative acts, written once, read by admins,
//! deleted past their retention.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Db, Store, StoreError};

/// One act: who (`token:NAME`, `operator`, a Slack user id, `cli`), what, on what, and
/// from where (a client address, `slack`, `cli`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub detail: String,
    pub origin: String,
}

/// Longest detail kept, in characters.
const MAX_DETAIL: usize = 500;

impl Store {
    /// Records `action` by `actor` from `origin`. A failure is logged, never the caller's:
    /// the act itself stands.
    pub async fn audit(&self, actor: &str, action: &str, detail: &str, origin: &str) {
        let detail: String = detail.chars().take(MAX_DETAIL).collect();
        let done = with_db!(self, write pool => {
            sqlx::query(
                "INSERT INTO audit (at, actor, action, detail, origin) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(crate::now())
            .bind(actor)
            .bind(action)
            .bind(&detail)
            .bind(origin)
            .execute(pool)
            .await
            .map(|_| ())
        });
        if let Err(e) = done {
            tracing::error!(error = %e, %action, "cannot record an act in the audit trail");
        }
    }

    /// Acts from `since` on, oldest first, at most `limit`, after id `after`.
    pub async fn audit_since(
        &self,
        since: DateTime<Utc>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(with_db!(self, read pool => {
            sqlx::query_as(
                "SELECT id, at, actor, action, detail, origin FROM audit \
                 WHERE at >= $1 AND id > $2 ORDER BY id LIMIT $3",
            )
            .bind(since)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The newest `limit` acts, newest first.
    pub async fn audit_latest(&self, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(with_db!(self, read pool => {
            sqlx::query_as(
                "SELECT id, at, actor, action, detail, origin FROM audit ORDER BY id DESC LIMIT $1",
            )
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Deletes the acts recorded before `before`; how many.
    pub async fn purge_audit(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(with_db!(self, write pool => {
            sqlx::query("DELETE FROM audit WHERE at < $1")
                .bind(before)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}
