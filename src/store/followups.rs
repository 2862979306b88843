//! Follow-up actions of incidents.

use chrono::{DateTime, Utc};

use super::{Db, Store, StoreError};
use crate::domain::{Actor, Followup, IncidentId, SlackUserId};

const COLUMNS: &str = "number, text, owner, created_by, created_at, done_at, done_by";

type Row = (
    i64,
    String,
    Option<String>,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
);

fn followup(row: Row) -> Result<Followup, StoreError> {
    let (number, text, owner, created_by, created_at, done_at, done_by) = row;
    let user = |u: &str| {
        u.parse::<SlackUserId>()
            .map_err(|_| StoreError::Corrupt(format!("user id `{u}`")))
    };
    let actor = |a: &str| {
        a.parse::<Actor>()
            .map_err(|_| StoreError::Corrupt(format!("actor `{a}`")))
    };
    Ok(Followup {
        number,
        text,
        owner: owner.as_deref().map(user).transpose()?,
        created_by: actor(&created_by)?,
        created_at,
        done_at,
        done_by: done_by.as_deref().map(actor).transpose()?,
        jira: None,
    })
}

/// How often a follow-up's number is tried again when another took it meanwhile.
const TRIES: usize = 8;

impl Store {
    /// Adds a follow-up to incident `id`, numbered after its others, with the `jobs` its
    /// number asks for, in one transaction.
    pub async fn add_followup(
        &self,
        id: IncidentId,
        text: &str,
        owner: Option<&SlackUserId>,
        by: &Actor,
        at: DateTime<Utc>,
        jobs: impl Fn(i64) -> Vec<crate::outbox::Job>,
    ) -> Result<Followup, StoreError> {
        if self.get(id).await?.is_none() {
            return Err(StoreError::NotFound(id));
        }
        let sql = format!(
            "INSERT INTO followups (incident_id, number, text, owner, created_by, created_at) \
             VALUES ($1, (SELECT COALESCE(MAX(number), 0) + 1 FROM followups WHERE incident_id = $1), \
             $2, $3, $4, $5) RETURNING {COLUMNS}"
        );
        for _ in 0..TRIES {
            let added: Result<Row, sqlx::Error> = with_db!(self, write pool => {
                async {
                    let mut tx = pool.begin().await?;
                    let row: Row = sqlx::query_as(&sql)
                        .bind(id.0)
                        .bind(text)
                        .bind(owner.map(SlackUserId::as_str))
                        .bind(by.to_string())
                        .bind(at)
                        .fetch_one(&mut *tx)
                        .await?;
                    for job in &jobs(row.0) {
                        insert_job!(tx, id.0, job, at);
                    }
                    tx.commit().await?;
                    Ok(row)
                }
                .await
            });
            match added {
                Ok(row) => return followup(row),
                // Two added at once: the later one takes the next number.
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Contended(id))
    }

    /// The follow-ups of incident `id`, by number.
    pub async fn followups(&self, id: IncidentId) -> Result<Vec<Followup>, StoreError> {
        let rows: Vec<Row> = with_db!(self, read pool => {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM followups WHERE incident_id = $1 ORDER BY number"
            ))
            .bind(id.0)
            .fetch_all(pool)
            .await?
        });
        let mut issues = self.jira_issues(id).await?;
        rows.into_iter()
            .map(|row| {
                let mut f = followup(row)?;
                f.jira = issues
                    .iter()
                    .position(|(n, _)| *n == f.number)
                    .map(|at| issues.swap_remove(at).1);
                Ok(f)
            })
            .collect()
    }

    /// Marks follow-up `number` of incident `id` done (once: a second time changes
    /// nothing); the follow-up as it is now, `None` when there is no such follow-up.
    pub async fn finish_followup(
        &self,
        id: IncidentId,
        number: i64,
        by: &Actor,
        at: DateTime<Utc>,
    ) -> Result<Option<Followup>, StoreError> {
        let row: Option<Row> = with_db!(self, write pool => {
            sqlx::query_as(&format!(
                "UPDATE followups SET done_at = COALESCE(done_at, $3), \
                 done_by = COALESCE(done_by, $4) WHERE incident_id = $1 AND number = $2 \
                 RETURNING {COLUMNS}"
            ))
            .bind(id.0)
            .bind(number)
            .bind(at)
            .bind(by.to_string())
            .fetch_optional(pool)
            .await?
        });
        row.map(followup).transpose()
    }

    /// When each follow-up still open was made (of real incidents, not drills).
    pub async fn open_followups(&self) -> Result<Vec<DateTime<Utc>>, StoreError> {
        Ok(with_db!(self, read pool => {
            sqlx::query_scalar(
                "SELECT f.created_at FROM followups f JOIN incidents i ON i.id = f.incident_id \
                 WHERE f.done_at IS NULL AND NOT i.drill",
            )
            .fetch_all(pool)
            .await?
        }))
    }
}
