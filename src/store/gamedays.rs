//! Game days, the drills declared while one runs, their villains and injections.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::rows::{IncidentRow, RoleRow};
use super::{Db, Store, StoreError};
use crate::domain::gameday::{scoreboard, Injection, Mode, Played, Response, Scoreboard};
use crate::domain::{Gameday, Incident, IncidentId};

const GAMEDAY_COLUMNS: &str =
    "id, name, mode, started_at, ended_at, started_by, channel_id, report_url";

type GamedayRow = (
    i64,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    String,
    Option<String>,
    Option<String>,
);

fn gameday(
    (id, name, mode, started_at, ended_at, started_by, channel_id, report_url): GamedayRow,
) -> Gameday {
    Gameday {
        id,
        name,
        mode: Mode::parse(&mode).unwrap_or_default(),
        started_at,
        ended_at,
        started_by,
        channel_id,
        report_url,
    }
}

const INJECTION_COLUMNS: &str =
    "id, team, started_at, ended_at, detected_at, drill_id, description, target, created_by";

type InjectionRow = (
    i64,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<i64>,
    String,
    Option<String>,
    String,
);

fn injection(
    (id, team, started_at, ended_at, detected_at, drill_id, description, target, by): InjectionRow,
) -> Result<Injection, StoreError> {
    Ok(Injection {
        id,
        team: team
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("{e:?}")))?,
        started_at,
        ended_at,
        detected_at,
        drill_id: drill_id.map(IncidentId),
        description: Some(description),
        target,
        by,
    })
}

/// A new injection, as a villain or a probe reports it.
#[derive(Debug, Clone)]
pub struct NewInjection {
    pub team: crate::domain::Team,
    pub description: String,
    pub target: Option<String>,
    pub key: Option<String>,
    pub by: String,
    pub started_at: DateTime<Utc>,
}

/// Which injection to end.
#[derive(Debug, Clone)]
pub enum InjectionRef {
    Id(i64),
    /// The caller's key, in a game day.
    Key(i64, String),
}

impl Store {
    /// Starts game day `name`, its starter its first villain; `Err` with the running one
    /// when one runs already (only one at a time).
    pub async fn start_gameday(
        &self,
        name: &str,
        mode: Mode,
        by: &str,
        channel: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Result<Gameday, Gameday>, StoreError> {
        let started: Result<GamedayRow, sqlx::Error> = with_db!(self, write pool => {
            let mut tx = pool.begin().await?;
            let row: Result<GamedayRow, sqlx::Error> = sqlx::query_as(&format!(
                "INSERT INTO gamedays (name, mode, started_by, channel_id, started_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING {GAMEDAY_COLUMNS}"
            ))
            .bind(name)
            .bind(mode.as_str())
            .bind(by)
            .bind(channel)
            .bind(at)
            .fetch_one(&mut *tx)
            .await;
            if let Ok(row) = &row {
                sqlx::query("INSERT INTO gameday_villains (gameday_id, user_id) VALUES ($1, $2)")
                    .bind(row.0)
                    .bind(by)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
            row
        });
        match started {
            Ok(row) => Ok(Ok(gameday(row))),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                match self.running_gameday().await? {
                    Some(running) => Ok(Err(running)),
                    // It ended meanwhile.
                    None => Box::pin(self.start_gameday(name, mode, by, channel, at)).await,
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Ends the running game day, if one runs, and the injections still running in it;
    /// queues `jobs` (of no incident) in the same transaction.
    pub async fn end_gameday(
        &self,
        at: DateTime<Utc>,
        jobs: &[crate::outbox::Job],
    ) -> Result<Option<Gameday>, StoreError> {
        let ended: Option<GamedayRow> = with_db!(self, write pool => {
            let mut tx = pool.begin().await?;
            let ended: Option<GamedayRow> = sqlx::query_as(&format!(
                "UPDATE gamedays SET ended_at = $1 WHERE ended_at IS NULL RETURNING {GAMEDAY_COLUMNS}"
            ))
            .bind(at)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(day) = &ended {
                sqlx::query(
                    "UPDATE injections SET ended_at = $2 WHERE gameday_id = $1 AND ended_at IS NULL",
                )
                .bind(day.0)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                for job in jobs {
                    insert_unbound_job!(tx, job, at);
                }
            }
            tx.commit().await?;
            ended
        });
        Ok(ended.map(gameday))
    }

    /// The game day running now, if any.
    pub async fn running_gameday(&self) -> Result<Option<Gameday>, StoreError> {
        let row: Option<GamedayRow> = with_db!(self, read pool => {
            sqlx::query_as(&format!(
                "SELECT {GAMEDAY_COLUMNS} FROM gamedays WHERE ended_at IS NULL"
            ))
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(gameday))
    }

    /// Makes `users` villains of game day `id`.
    pub async fn add_villains(&self, id: i64, users: &[String]) -> Result<(), StoreError> {
        with_db!(self, write pool => {
            let mut tx = pool.begin().await?;
            for user in users {
                sqlx::query(
                    "INSERT INTO gameday_villains (gameday_id, user_id) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(id)
                .bind(user)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The villains of game day `id`.
    pub async fn villains(&self, id: i64) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = with_db!(self, read pool => {
            sqlx::query_as("SELECT user_id FROM gameday_villains WHERE gameday_id = $1 ORDER BY user_id")
                .bind(id)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(|(u,)| u).collect())
    }

    /// Records an injection in game day `id`; one with the same key is answered again
    /// (`false`: it existed).
    pub async fn inject(
        &self,
        id: i64,
        new: &NewInjection,
    ) -> Result<(Injection, bool), StoreError> {
        let row: Option<InjectionRow> = with_db!(self, write pool => {
            sqlx::query_as(&format!(
                "INSERT INTO injections (gameday_id, team, description, target, key, created_by, started_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING {INJECTION_COLUMNS}"
            ))
            .bind(id)
            .bind(new.team.as_str())
            .bind(&new.description)
            .bind(&new.target)
            .bind(&new.key)
            .bind(&new.by)
            .bind(new.started_at)
            .fetch_optional(pool)
            .await?
        });
        if let Some(row) = row {
            return Ok((injection(row)?, true));
        }
        let key = new.key.clone().unwrap_or_default();
        let found = self
            .find_injection(&InjectionRef::Key(id, key.clone()))
            .await?;
        found
            .map(|i| (i, false))
            .ok_or_else(|| StoreError::Corrupt(format!("injection `{key}` neither new nor there")))
    }

    async fn find_injection(&self, which: &InjectionRef) -> Result<Option<Injection>, StoreError> {
        let (filter, id, key) = match which {
            InjectionRef::Id(id) => ("id = $1 AND $2 = ''", *id, String::new()),
            InjectionRef::Key(day, key) => ("gameday_id = $1 AND key = $2", *day, key.clone()),
        };
        let row: Option<InjectionRow> = with_db!(self, read pool => {
            sqlx::query_as(&format!("SELECT {INJECTION_COLUMNS} FROM injections WHERE {filter}"))
                .bind(id)
                .bind(&key)
                .fetch_optional(pool)
                .await?
        });
        row.map(injection).transpose()
    }

    /// Ends an injection at `at` (once: a second end keeps the first); `None` when there
    /// is no such injection. With it, the id of its game day.
    pub async fn end_injection(
        &self,
        which: &InjectionRef,
        at: DateTime<Utc>,
    ) -> Result<Option<Injection>, StoreError> {
        let Some(found) = self.find_injection(which).await? else {
            return Ok(None);
        };
        with_db!(self, write pool => {
            sqlx::query("UPDATE injections SET ended_at = $2 WHERE id = $1 AND ended_at IS NULL")
                .bind(found.id)
                .bind(at)
                .execute(pool)
                .await?;
        });
        self.find_injection(&InjectionRef::Id(found.id)).await
    }

    /// Game day `id`'s injections, oldest first.
    pub async fn injections(&self, id: i64) -> Result<Vec<Injection>, StoreError> {
        let rows: Vec<InjectionRow> = with_db!(self, read pool => {
            sqlx::query_as(&format!(
                "SELECT {INJECTION_COLUMNS} FROM injections WHERE gameday_id = $1 ORDER BY started_at, id"
            ))
            .bind(id)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(injection).collect()
    }

    /// Links injection `injection` to drill `drill`, detected at `at`, unless it has a
    /// drill already; true when it did. `relink` first frees the drill and the injection
    /// of other links (a villain's correction).
    pub async fn link_injection(
        &self,
        injection: i64,
        drill: IncidentId,
        at: DateTime<Utc>,
        relink: bool,
    ) -> Result<bool, StoreError> {
        let linked = with_db!(self, write pool => {
            let mut tx = pool.begin().await?;
            if relink {
                sqlx::query(
                    "UPDATE injections SET drill_id = NULL, detected_at = NULL \
                     WHERE drill_id = $1 OR id = $2",
                )
                .bind(drill.0)
                .bind(injection)
                .execute(&mut *tx)
                .await?;
            }
            let linked = sqlx::query(
                "UPDATE injections SET drill_id = $2, detected_at = $3 WHERE id = $1 AND drill_id IS NULL \
                 AND NOT EXISTS (SELECT 1 FROM injections WHERE drill_id = $2)",
            )
            .bind(injection)
            .bind(drill.0)
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            linked
        });
        Ok(linked == 1)
    }

    /// What pompier saw of the response of game day `id`'s drills: when a lead was first
    /// named, their notes and follow-ups.
    pub async fn responses(&self, id: i64) -> Result<BTreeMap<IncidentId, Response>, StoreError> {
        type Row = (i64, Option<DateTime<Utc>>, i64, i64);
        let rows: Vec<Row> = with_db!(self, read pool => {
            sqlx::query_as(
                "SELECT i.id, \
                   (SELECT MIN(e.at) FROM events e WHERE e.incident_id = i.id AND e.kind = 'role' AND e.role = 'lead'), \
                   (SELECT COUNT(*) FROM events e WHERE e.incident_id = i.id AND e.kind = 'note'), \
                   (SELECT COUNT(*) FROM followups f WHERE f.incident_id = i.id) \
                 FROM incidents i WHERE i.gameday_id = $1",
            )
            .bind(id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(id, lead_at, notes, followups)| {
                (
                    IncidentId(id),
                    Response {
                        lead_at,
                        notes,
                        followups,
                    },
                )
            })
            .collect())
    }

    /// Game day `id`'s scoreboard as of `now`; `reveal`: with what was injected (always,
    /// once it ended).
    pub async fn scoreboard(
        &self,
        id: i64,
        reveal: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<Scoreboard>, StoreError> {
        let Some((day, drills)) = self.gameday(id).await? else {
            return Ok(None);
        };
        let (injections, responses) = tokio::try_join!(self.injections(id), self.responses(id))?;
        let reveal = reveal || day.ended_at.is_some();
        let injections = injections
            .into_iter()
            .map(|i| if reveal { i } else { i.hidden() })
            .collect();
        Ok(Some(scoreboard(Played {
            gameday: day,
            drills: &drills,
            responses: &responses,
            injections,
            now,
        })))
    }

    /// Game day `id`'s report page.
    pub async fn set_report_url(&self, id: i64, url: &str) -> Result<(), StoreError> {
        with_db!(self, write pool => {
            sqlx::query("UPDATE gamedays SET report_url = $2 WHERE id = $1")
                .bind(id)
                .bind(url)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Every game day, newest first.
    pub async fn gamedays(&self) -> Result<Vec<Gameday>, StoreError> {
        let rows: Vec<GamedayRow> = with_db!(self, read pool => {
            sqlx::query_as(&format!(
                "SELECT {GAMEDAY_COLUMNS} FROM gamedays ORDER BY id DESC"
            ))
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(gameday).collect())
    }

    /// Game day `id` and its drills.
    pub async fn gameday(&self, id: i64) -> Result<Option<(Gameday, Vec<Incident>)>, StoreError> {
        let found: Option<(GamedayRow, Vec<IncidentRow>)> = with_db!(self, read pool => {
            let day: Option<GamedayRow> = sqlx::query_as(&format!(
                "SELECT {GAMEDAY_COLUMNS} FROM gamedays WHERE id = $1"
            ))
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
