//! Jira issues of incidents and follow-ups: the intent written before the call, the key
//! once Jira answered.

use chrono::{DateTime, Utc};

use super::{Db, Store, StoreError};
use crate::domain::{Actor, EventKind, Followup, IncidentId};

pub use crate::domain::followup::JiraIssue;

/// Where an issue stands before a try to make it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JiraIntent {
    /// Made: nothing to do.
    Made(JiraIssue),
    /// Tried at this time, and no answer recorded: it may exist.
    Tried(DateTime<Utc>),
    /// Never tried.
    New,
}

/// An intent's row: key, url, when it was tried.
type IntentRow = (Option<String>, Option<String>, Option<DateTime<Utc>>);

impl Store {
    /// The issue of incident `id` (`followup` 0) or of one of its follow-ups.
    pub async fn jira_intent(
        &self,
        id: IncidentId,
        followup: i64,
    ) -> Result<JiraIntent, StoreError> {
        let row: Option<IntentRow> = with_db!(self, read pool => {
            sqlx::query_as(
                "SELECT key, url, attempted_at FROM jira_issues WHERE incident_id = $1 AND followup = $2",
            )
            .bind(id.0)
            .bind(followup)
            .fetch_optional(pool)
            .await?
        });
        Ok(match row {
            Some((Some(key), Some(url), _)) => JiraIntent::Made(JiraIssue { key, url }),
            Some((_, _, Some(at))) => JiraIntent::Tried(at),
            _ => JiraIntent::New,
        })
    }

    /// Records that the issue is about to be made, at `at`.
    pub async fn jira_trying(
        &self,
        id: IncidentId,
        followup: i64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        with_db!(self, write pool => {
            sqlx::query(
                "INSERT INTO jira_issues (incident_id, followup, attempted_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (incident_id, followup) DO UPDATE SET attempted_at = excluded.attempted_at",
            )
            .bind(id.0)
            .bind(followup)
            .bind(at)
            .execute(pool)
            .await
            .map(drop)?
        });
        Ok(())
    }

    /// Records the issue made (or found) for incident `id`'s `followup`.
    pub async fn jira_made(
        &self,
        id: IncidentId,
        followup: i64,
        issue: &JiraIssue,
    ) -> Result<(), StoreError> {
        with_db!(self, write pool => {
            sqlx::query(
                "INSERT INTO jira_issues (incident_id, followup, key, url) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (incident_id, followup) DO UPDATE SET key = excluded.key, url = excluded.url",
            )
            .bind(id.0)
            .bind(followup)
            .bind(&issue.key)
            .bind(&issue.url)
            .execute(pool)
            .await
            .map(drop)?
        });
        Ok(())
    }

    /// The issues of incident `id` made so far, by follow-up (0: the incident's).
    pub async fn jira_issues(&self, id: IncidentId) -> Result<Vec<(i64, JiraIssue)>, StoreError> {
        let rows: Vec<(i64, String, String)> = with_db!(self, kept read pool => {
            sqlx::query_as(
                "SELECT followup, key, url FROM jira_issues WHERE incident_id = $1 \
                 AND key IS NOT NULL AND url IS NOT NULL ORDER BY followup",
            )
            .bind(id.0)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(n, key, url)| (n, JiraIssue { key, url }))
            .collect())
    }

    /// The Jira keys of the issues of `ids` (the incidents' own, not their follow-ups').
    pub async fn jira_keys(
        &self,
        ids: &[IncidentId],
    ) -> Result<std::collections::HashMap<IncidentId, String>, StoreError> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        let rows: Vec<(i64, String)> = with_db!(self, read pool => {
            let mut query = sqlx::QueryBuilder::new(
                "SELECT incident_id, key FROM jira_issues WHERE followup = 0 \
                 AND key IS NOT NULL AND incident_id IN (",
            );
            let mut list = query.separated(", ");
            for id in ids {
                list.push_bind(id.0);
            }
            query.push(")");
            query.build_query_as().fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|(id, key)| (IncidentId(id), key))
            .collect())
    }

    /// Which follow-up issue `key` is: (incident, follow-up number), if it is one.
    pub async fn followup_of_issue(
        &self,
        key: &str,
    ) -> Result<Option<(IncidentId, i64)>, StoreError> {
        let row: Option<(i64, i64)> = with_db!(self, read pool => {
            sqlx::query_as(
                "SELECT incident_id, followup FROM jira_issues WHERE key = $1 AND followup > 0",
            )
            .bind(key)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|(id, n)| (IncidentId(id), n)))
    }

    /// Follow-up `number` of incident `id` done (or not), by `by`, with a `followup` event
    /// on the timeline, in one transaction; `None` when it already was so (or does not
    /// exist).
    pub async fn set_followup_done(
        &self,
        id: IncidentId,
        number: i64,
        done: bool,
        by: &Actor,
        at: DateTime<Utc>,
        note: &str,
    ) -> Result<Option<Followup>, StoreError> {
        let by_text = by.to_string();
        let changed = with_db!(self, write pool => {
            let mut tx = pool.begin().await?;
            let changed = sqlx::query(
                "UPDATE followups SET done_at = CASE WHEN $3 THEN $4 END, \
                 done_by = CASE WHEN $3 THEN $5 END \
                 WHERE incident_id = $1 AND number = $2 AND (done_at IS NULL) = $3",
            )
            .bind(id.0)
            .bind(number)
            .bind(done)
            .bind(at)
            .bind(&by_text)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed > 0 {
                sqlx::query(
                    "INSERT INTO events (incident_id, at, kind, actor, to_value, note) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(id.0)
                .bind(at)
                .bind(EventKind::Followup.as_str())
                .bind(&by_text)
                .bind(if done { "done" } else { "open" })
                .bind(note)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            changed
        });
        if changed == 0 {
            return Ok(None);
        }
        Ok(self
            .followups(id)
            .await?
            .into_iter()
            .find(|f| f.number == number))
    }
}
