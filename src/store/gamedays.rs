//! Game days, and the drills declared while one runs.

use chrono::{DateTime, Utc};

use super::rows::{IncidentRow, RoleRow};
use super::{Db, Store, StoreError};
use crate::domain::{Gameday, Incident};

type GamedayRow = (i64, String, DateTime<Utc>, Option<DateTime<Utc>>);

fn gameday((id, name, started_at, ended_at): GamedayRow) -> Gameday {
    Gameday {
        id,
        name,
        started_at,
        ended_at,
    }
}

impl Store {
    /// Starts game day `name`; `None` when one is running already (only one at a time).
    pub async fn start_gameday(
        &self,
        name: &str,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<Gameday>, StoreError> {
        let started: Result<GamedayRow, sqlx::Error> = with_db!(self, write pool => {
            sqlx::query_as(
                "INSERT INTO gamedays (name, started_by, started_at) VALUES ($1, $2, $3) \
                 RETURNING id, name, started_at, ended_at",
            )
            .bind(name)
            .bind(by)
            .bind(at)
            .fetch_one(pool)
            .await
        });
        match started {
            Ok(row) => Ok(Some(gameday(row))),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Ends the running game day, if one runs.
    pub async fn end_gameday(&self, at: DateTime<Utc>) -> Result<Option<Gameday>, StoreError> {
        let ended: Option<GamedayRow> = with_db!(self, write pool => {
            sqlx::query_as(
                "UPDATE gamedays SET ended_at = $1 WHERE ended_at IS NULL \
                 RETURNING id, name, started_at, ended_at",
            )
            .bind(at)
            .fetch_optional(pool)
            .await?
        });
        Ok(ended.map(gameday))
    }

    /// Every game day, newest first.
    pub async fn gamedays(&self) -> Result<Vec<Gameday>, StoreError> {
        let rows: Vec<GamedayRow> = with_db!(self, read pool => {
            sqlx::query_as(
                "SELECT id, name, started_at, ended_at FROM gamedays ORDER BY id DESC",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(gameday).collect())
    }

    /// Game day `id` and its drills.
    pub async fn gameday(&self, id: i64) -> Result<Option<(Gameday, Vec<Incident>)>, StoreError> {
        let found: Option<(GamedayRow, Vec<IncidentRow>)> = with_db!(self, read pool => {
            let day: Option<GamedayRow> = sqlx::query_as(
                "SELECT id, name, started_at, ended_at FROM gamedays WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?;
            match day {
                None => None,
                Some(day) => {
                    let drills: Vec<IncidentRow> = sqlx::query_as(&format!(
                        "SELECT {} FROM incidents WHERE gameday_id = $1 ORDER BY id",
                        super::incidents::INCIDENT_COLUMNS
                    ))
                    .bind(id)
                    .fetch_all(pool)
                    .await?;
                    Some((day, drills))
                }
            }
        });
        let Some((day, rows)) = found else {
            return Ok(None);
        };
        let drills = rows
            .into_iter()
            .map(|row| row.into_incident(Vec::<RoleRow>::new()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some((gameday(day), drills)))
    }
}
