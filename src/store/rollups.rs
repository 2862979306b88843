//! The daily statistics rollups (migration 0021): folding the changes the triggers log
//! into them, reading whole days of them, and rebuilding them from the incidents.
//!
//! Triggers append to `stats_changes` in the transaction of every change, so no two
//! declarations wait on one counter row. A fold takes a batch of changes out of the log
//! and adds them to the days they belong to, in one transaction; on PostgreSQL an
//! advisory lock lets one instance fold at a time. A read takes the rollups and the
//! changes not folded yet from one snapshot, so a fold between them cannot count twice.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::TryStreamExt;
use sqlx::QueryBuilder;
use tokio::sync::watch;

use super::stats::{midnight, parse};
use super::{Db, Filter, Store, StoreError};
use crate::domain::rollup::{Cell, Key, Rollup};
use crate::domain::stats::{Facts, Tally};
use crate::domain::Milestones;

/// The advisory lock that lets one PostgreSQL client fold or rebuild at a time.
const FOLD_LOCK: i64 = 0x706f_6d70_6965_7201;

/// How many changes one fold takes.
const FOLD_BATCH: i64 = 20_000;

/// How often at most the folder vacuums the log.
const TIDY_EVERY: Duration = Duration::from_secs(10);

/// Days of rollups read from SQLite in one JSON array (`tally_days`).
const JSON_DAYS: u64 = 32;

/// Rows per multi-row `INSERT` (9 values each, within both databases' bind limits).
const ROWS_PER_INSERT: usize = 1000;

const FACTS: &str = "severity, status, drill, failure_class, opened_at, investigating_at, \
                     mitigated_at, resolved_at, postmortem_at, updates, late_updates";

/// A logged change (or, at a rebuild, an incident as it is: sign 1).
#[derive(sqlx::FromRow)]
struct Change {
    sign: i64,
    severity: String,
    status: String,
    drill: bool,
    failure_class: Option<String>,
    opened_at: DateTime<Utc>,
    investigating_at: Option<DateTime<Utc>>,
    mitigated_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    postmortem_at: Option<DateTime<Utc>>,
    updates: i64,
    late_updates: i64,
}

impl Change {
    fn add_to(&self, rollup: &mut Rollup) -> Result<(), StoreError> {
        let facts = Facts {
            severity: parse(&self.severity)?,
            status: parse(&self.status)?,
            milestones: Milestones {
                opened_at: Some(self.opened_at),
                investigating_at: self.investigating_at,
                mitigated_at: self.mitigated_at,
                resolved_at: self.resolved_at,
                postmortem_at: self.postmortem_at,
                closed_at: None,
            },
            failure_class: self.failure_class.clone(),
            updates: (self.updates.max(0) as u64, self.late_updates.max(0) as u64),
        };
        rollup.add(&facts, self.drill, self.sign);
        Ok(())
    }
}

#[derive(sqlx::FromRow)]
struct DayRow {
    day: NaiveDate,
    drill: bool,
    severity: String,
    status: String,
    incidents: i64,
    updates: i64,
    late_updates: i64,
    postmortems: i64,
    durations: Vec<u8>,
}

/// A row of `stats_days` as SQLite's `json_array` of it gives it (`DayRow::from_json`):
/// the drill a number, the length of its durations last.
type DayJson<'a> = (NaiveDate, i64, &'a str, &'a str, i64, i64, i64, i64, usize);

impl DayRow {
    /// The rows of a `json_group_array` of `DayJson`s, and their durations one after
    /// the other in `durations` (a `group_concat` of them, stepped with the array).
    fn from_json(json: &str, durations: &[u8]) -> Result<Vec<DayRow>, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("the daily rollups: {what}"));
        let rows: Vec<DayJson> = serde_json::from_str(json).map_err(|e| corrupt(&e.to_string()))?;
        let mut rest = durations;
        let rows = rows
            .into_iter()
            .map(
                |(day, drill, severity, status, incidents, updates, late, postmortems, n)| {
                    if n > rest.len() {
                        return Err(corrupt("durations cut short"));
                    }
                    let (stored, after) = rest.split_at(n);
                    rest = after;
                    Ok(DayRow {
                        day,
                        drill: drill != 0,
                        severity: severity.to_owned(),
                        status: status.to_owned(),
                        incidents,
                        updates,
                        late_updates: late,
                        postmortems,
                        durations: stored.to_vec(),
                    })
                },
            )
            .collect::<Result<Vec<_>, _>>()?;
        if !rest.is_empty() {
            return Err(corrupt("durations left over"));
        }
        Ok(rows)
    }

    /// Its key, its counts (as a cell without durations) and its stored durations.
    fn split(self) -> Result<(Key, (Cell, Vec<u8>)), StoreError> {
        let key = Key {
            day: self.day,
            drill: self.drill,
            severity: parse(&self.severity)?,
            status: parse(&self.status)?,
        };
        let counts = Cell {
            count: self.incidents,
            updates: self.updates,
            late: self.late_updates,
            postmortems: self.postmortems,
            times: Default::default(),
        };
        Ok((key, (counts, self.durations)))
    }

    fn into_cell(self) -> Result<(Key, Cell), StoreError> {
        let (key, (mut cell, stored)) = self.split()?;
        cell.times = Cell::decode_times(&stored)
            .ok_or_else(|| StoreError::Corrupt(format!("the durations of {}", key.day)))?;
        Ok((key, cell))
    }
}

/// Deletes the rows of `$table` on `$days` left with no incident, in one statement.
macro_rules! delete_emptied {
    ($ex:expr, $table:expr, $days:expr) => {{
        let days: &BTreeSet<NaiveDate> = $days;
        // `IN ()` is no SQL: with no day there is nothing to delete.
        if !days.is_empty() {
            let mut query = QueryBuilder::new(format!(
                "DELETE FROM {} WHERE incidents = 0 AND day IN (",
                $table
            ));
            let mut list = query.separated(", ");
            for day in days {
                list.push_bind(*day);
            }
            query.push(")");
            query.build().execute(&mut *$ex).await?;
        }
    }};
}

/// Writes `$cells` as they are (insert or replace) into `stats_days` through `$ex`, then
/// deletes the rows of `$days` left empty.
macro_rules! put_cells {
    ($ex:expr, $cells:expr, $days:expr) => {{
        let cells: Vec<(&Key, &Cell)> = $cells;
        for chunk in cells.chunks(ROWS_PER_INSERT) {
            let mut query = QueryBuilder::new(
                "INSERT INTO stats_days (day, drill, severity, status, incidents, updates, \
                 late_updates, postmortems, durations) ",
            );
            query.push_values(chunk, |mut row, (key, cell)| {
                row.push_bind(key.day)
                    .push_bind(key.drill)
                    .push_bind(key.severity.as_str())
                    .push_bind(key.status.as_str())
                    .push_bind(cell.count)
                    .push_bind(cell.updates)
                    .push_bind(cell.late)
                    .push_bind(cell.postmortems)
                    .push_bind(cell.encode_times());
            });
            query.push(
                " ON CONFLICT (day, drill, severity, status) DO UPDATE SET \
                 incidents = excluded.incidents, updates = excluded.updates, \
                 late_updates = excluded.late_updates, postmortems = excluded.postmortems, \
                 durations = excluded.durations",
            );
            query.build().execute(&mut *$ex).await?;
        }
        delete_emptied!($ex, "stats_days", $days);
    }};
}

/// Adds `$classes` to `stats_day_classes` through `$ex`, then deletes the counts of
/// `$days` left at zero.
macro_rules! add_classes {
    ($ex:expr, $classes:expr, $days:expr) => {{
        let classes: Vec<(&(Key, String), &i64)> =
            $classes.iter().filter(|(_, n)| **n != 0).collect();
        for chunk in classes.chunks(ROWS_PER_INSERT) {
            let mut query = QueryBuilder::new(
                "INSERT INTO stats_day_classes (day, drill, severity, status, failure_class, \
                 incidents) ",
            );
            query.push_values(chunk, |mut row, ((key, class), n)| {
                row.push_bind(key.day)
                    .push_bind(key.drill)
                    .push_bind(key.severity.as_str())
                    .push_bind(key.status.as_str())
                    .push_bind(class.clone())
                    .push_bind(**n);
            });
            query.push(
                " ON CONFLICT (day, drill, severity, status, failure_class) DO UPDATE SET \
                 incidents = stats_day_classes.incidents + excluded.incidents",
            );
            query.build().execute(&mut *$ex).await?;
        }
        delete_emptied!($ex, "stats_day_classes", $days);
    }};
}

impl Store {
    fn is_postgres(&self) -> bool {
        matches!(self.db, Db::Postgres(_))
    }

    /// Folds up to `batch` logged changes into the daily rollups, oldest first, in one
    /// transaction. How many it folded: 0 also while another instance folds.
    pub async fn fold_stats(&self, batch: i64) -> Result<usize, StoreError> {
        let postgres = self.is_postgres();
        with_db!(self, write pool => {
            let mut tx = pool.begin().await?;
            if postgres {
                let mine: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
                    .bind(FOLD_LOCK)
                    .fetch_one(&mut *tx)
                    .await?;
                if !mine {
                    return Ok(0);
                }
            }
            let changes: Vec<Change> = sqlx::query_as(&format!(
                "DELETE FROM stats_changes WHERE id IN \
                 (SELECT id FROM stats_changes ORDER BY id LIMIT $1) \
                 RETURNING CAST(sign AS BIGINT) AS sign, {FACTS}"
            ))
            .bind(batch)
            .fetch_all(&mut *tx)
            .await?;
            if changes.is_empty() {
                return Ok(0);
            }
            let mut delta = Rollup::default();
            for change in &changes {
                change.add_to(&mut delta)?;
            }
            let days: BTreeSet<NaiveDate> = delta.cells.keys().map(|k| k.day).collect();
            let mut query = QueryBuilder::new(
                "SELECT day, drill, severity, status, incidents, updates, late_updates, \
                 postmortems, durations FROM stats_days WHERE day IN (",
            );
            let mut list = query.separated(", ");
            for day in &days {
                list.push_bind(*day);
            }
            query.push(")");
            let kept: Vec<DayRow> = query.build_query_as().fetch_all(&mut *tx).await?;
            let mut cells = BTreeMap::new();
            for row in kept {
                let (key, cell) = row.into_cell()?;
                cells.insert(key, cell);
            }
            for (key, change) in &delta.cells {
                cells.entry(*key).or_default().merge(change, 1);
            }
            put_cells!(
                tx,
                delta.cells.keys().map(|k| (k, &cells[k])).collect(),
                &days
            );
            add_classes!(tx, delta.classes, &days);
            tx.commit().await?;
            Ok(changes.len())
        })
    }

    /// Rebuilds the rollups from the incidents as they are, in one transaction (the log
    /// of changes emptied with it); how many incidents it read.
    pub async fn rebuild_stats(&self) -> Result<u64, StoreError> {
        let postgres = self.is_postgres();
        with_db!(self, write pool => {
            let mut tx = pool.begin().await?;
            if postgres {
                // One snapshot for the incidents read and the log emptied; the lock
                // keeps folds out meanwhile.
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(FOLD_LOCK)
                    .execute(&mut *tx)
                    .await?;
            }
            let mut rollup = Rollup::default();
            let mut read = 0u64;
            {
                let sql = format!("SELECT CAST(1 AS BIGINT) AS sign, {FACTS} FROM incidents");
                let mut rows = sqlx::query_as::<_, Change>(&sql).fetch(&mut *tx);
                while let Some(change) = rows.try_next().await? {
                    change.add_to(&mut rollup)?;
                    read += 1;
                }
            }
            for table in ["stats_changes", "stats_days", "stats_day_classes"] {
                sqlx::query(&format!("DELETE FROM {table}"))
                    .execute(&mut *tx)
                    .await?;
            }
            let days: BTreeSet<NaiveDate> = rollup.cells.keys().map(|k| k.day).collect();
            put_cells!(tx, rollup.cells.iter().collect(), &days);
            add_classes!(tx, rollup.classes, &days);
            tx.commit().await?;
            Ok(read)
        })
    }

    /// The incidents opened on the whole days from `first` to before `last` that
    /// `filter` keeps (its severities, statuses and drills: the caller keeps team, class
    /// and text filters for the incidents themselves), tallied from the rollups and the
    /// changes not folded yet, read from one snapshot; and how many they are. Each
    /// stored day is merged as it is read, so memory does not grow with the range.
    pub(super) async fn tally_days(
        &self,
        first: NaiveDate,
        last: NaiveDate,
        filter: &Filter,
    ) -> Result<(Tally, i64), StoreError> {
        debug_assert!(filter.team.is_none() && filter.class.is_none() && filter.text.is_none());
        let postgres = self.is_postgres();
        let (cells, classes, changes) = with_db!(self, read pool => {
            let mut tx = pool.begin().await?;
            if postgres {
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *tx)
                    .await?;
            }
            // `SELECT $what FROM $table` on the days from `$first` to before `$last`.
            macro_rules! days_of {
                ($what:expr, $table:expr) => {
                    days_of!($what, $table, first, last)
                };
                ($what:expr, $table:expr, $first:expr, $last:expr) => {{
                    let mut query = QueryBuilder::new(format!(
                        "SELECT {} FROM {} WHERE day >= ",
                        $what, $table
                    ));
                    query.push_bind($first).push(" AND day < ").push_bind($last);
                    push_slice!(query, filter);
                    query
                }};
            }
            const CELL: &str = "day, drill, severity, status, incidents, updates, \
                                late_updates, postmortems";
            let cells: Vec<DayRow> = if postgres {
                let mut cells = days_of!(format!("{CELL}, durations"), "stats_days");
                cells.build_query_as().fetch_all(&mut *tx).await?
            } else {
                // SQLite hands each row from its thread to ours, every value copied and
                // freed across threads: thousands of small rows cost more than reading
                // them. So the rows come back as one JSON array per stretch of days,
                // small enough that memory does not grow with the range, with their
                // durations as one blob.
                let mut cells = Vec::new();
                let mut from = first;
                while from < last {
                    let to = (from + chrono::Days::new(JSON_DAYS)).min(last);
                    let mut query = days_of!(
                        format!(
                            "json_group_array(json_array({CELL}, length(durations))), \
                             CAST(group_concat(durations, '') AS BLOB)"
                        ),
                        "stats_days",
                        from,
                        to
                    );
                    let (json, durations): (String, Option<Vec<u8>>) =
                        query.build_query_as().fetch_one(&mut *tx).await?;
                    cells.extend(DayRow::from_json(&json, &durations.unwrap_or_default())?);
                    from = to;
                }
                cells
            };
            let mut classes = days_of!(
                "failure_class, CAST(SUM(incidents) AS BIGINT)",
                "stats_day_classes"
            );
            classes.push(" GROUP BY failure_class");
            let classes: Vec<(String, i64)> = classes.build_query_as().fetch_all(&mut *tx).await?;
            let mut changes = QueryBuilder::new(format!(
                "SELECT CAST(sign AS BIGINT) AS sign, {FACTS} FROM stats_changes \
                 WHERE opened_at >= "
            ));
            changes
                .push_bind(midnight(first))
                .push(" AND opened_at < ")
                .push_bind(midnight(last));
            push_slice!(changes, filter);
            let changes: Vec<Change> = changes.build_query_as().fetch_all(&mut *tx).await?;
            tx.commit().await?;
            (cells, classes, changes)
        });
        let mut pending = Rollup::default();
        for change in &changes {
            change.add_to(&mut pending)?;
        }
        let (mut tally, mut inside) = (Tally::default(), 0);
        for row in cells {
            let (key, (mut cell, stored)) = row.split()?;
            if let Some(change) = pending.cells.remove(&key) {
                cell.merge(&change, 1);
            }
            if cell.count != 0 {
                inside += cell.count;
                tally
                    .add_stored_cell(&key, &cell, &stored)
                    .ok_or_else(|| StoreError::Corrupt(format!("the durations of {}", key.day)))?;
            }
        }
        for (key, cell) in &pending.cells {
            if cell.count != 0 {
                inside += cell.count;
                tally.add_cell(key, cell);
            }
        }
        let mut by_class: BTreeMap<String, i64> = BTreeMap::new();
        let changed = pending
            .classes
            .into_iter()
            .map(|((_, class), n)| (class, n));
        for (class, n) in classes.into_iter().chain(changed) {
            *by_class.entry(class).or_default() += n;
        }
        for (class, n) in by_class {
            if n > 0 {
                tally.add_class((!class.is_empty()).then_some(class.as_str()), n as u64);
            }
        }
        Ok((tally, inside))
    }

    /// Gives back the room of folded changes on PostgreSQL (`VACUUM`), which reads of
    /// the log would otherwise scan until autovacuum comes by (after a rebuild, a
    /// million dead rows cost a read 20 ms). Nothing to do on SQLite.
    pub async fn tidy_stats_log(&self) -> Result<(), StoreError> {
        if let Db::Postgres(pool) = &self.db {
            sqlx::query("VACUUM stats_changes").execute(pool).await?;
        }
        Ok(())
    }

    /// Folds the logged changes every `every` until `stopping`: on every instance (one
    /// folds at a time), so rollups stay current whichever instances run. The log is
    /// tidied at most every ten seconds, after folds.
    pub async fn keep_stats_folded(&self, every: Duration, mut stopping: watch::Receiver<bool>) {
        let mut folded = 0;
        let mut tidied = tokio::time::Instant::now();
        loop {
            match self.fold_stats(FOLD_BATCH).await {
                // A full batch: there is more to fold right away.
                Ok(n) if n as i64 == FOLD_BATCH => {
                    folded += n;
                    continue;
                }
                Ok(n) => folded += n,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot fold the statistics changes; trying again")
                }
            }
            if folded > 0 && tidied.elapsed() >= TIDY_EVERY {
                if let Err(e) = self.tidy_stats_log().await {
                    tracing::warn!(error = %e, "cannot vacuum the statistics changes");
                }
                (folded, tidied) = (0, tokio::time::Instant::now());
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stopping.wait_for(|stop| *stop) => return,
            }
        }
    }
}
