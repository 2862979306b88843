//! What the statistics read: a narrow projection of the incidents opened in a range.
//! PostgreSQL groups it (one row per severity and status, the durations as arrays, and
//! one row per day); SQLite hands over the rows. The arithmetic is the domain's.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use futures_util::TryStreamExt;
use sqlx::QueryBuilder;

use super::{Db, Filter, Store, StoreError};
use crate::domain::stats::{Facts, Tally};
use crate::domain::{Milestones, Status};

/// The first instant of `day` (UTC).
pub(super) fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

/// The first whole day (UTC) from `from` on and the day `to` is in: the days between
/// them lie wholly inside the range (none when `first >= last`).
fn whole_days(from: DateTime<Utc>, to: DateTime<Utc>) -> (NaiveDate, NaiveDate) {
    let mut first = from.date_naive();
    if midnight(first) < from {
        first += chrono::Duration::days(1);
    }
    (first, to.date_naive())
}

const ACTIVE: &str = "status IN ('open', 'investigating', 'mitigated')";

pub(super) fn parse<T: std::str::FromStr>(s: &str) -> Result<T, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("`{s}` in the statistics")))
}

#[derive(sqlx::FromRow)]
struct Group {
    severity: String,
    status: String,
    n: i64,
    updates: i64,
    late: i64,
    acknowledge: Vec<f64>,
    mitigate: Vec<f64>,
    resolve: Vec<f64>,
    postmortems: i64,
}

/// An incident's statistical facts as SQLite's `json_array` of them gives them.
type RowJson<'a> = (
    &'a str,
    &'a str,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<String>,
    i64,
    i64,
);

impl Store {
    /// The incidents opened from `from` to `to` (inclusive) that `filter` keeps (its
    /// severities, statuses, team, class, title text; drills only when it says so),
    /// tallied.
    ///
    /// The whole days inside the range come from the daily rollups, with sketched
    /// percentiles, when they hold more than `exact_up_to` incidents and the filter
    /// names no team, class or text (the rollups do not keep those); the days before
    /// and after them, and everything else, are read from the incidents, exactly.
    pub async fn tally(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        filter: &Filter,
        exact_up_to: u64,
    ) -> Result<Tally, StoreError> {
        let (first, last) = whole_days(from, to);
        let by_day = filter.team.is_none() && filter.class.is_none() && filter.text.is_none();
        if !by_day || first >= last {
            return self.tally_exact(from, to, filter).await;
        }
        let just_before = |end: DateTime<Utc>| end - chrono::Duration::microseconds(1);
        let ((mut tally, inside), before, after) = tokio::try_join!(
            self.tally_days(first, last, filter),
            self.tally_exact(from, just_before(midnight(first)), filter),
            self.tally_exact(midnight(last), to, filter),
        )?;
        if inside.max(0) as u64 <= exact_up_to {
            return self.tally_exact(from, to, filter).await;
        }
        tally.merge(before);
        tally.merge(after);
        Ok(tally)
    }

    /// `tally` from the incidents themselves: exact, and in proportion to them.
    async fn tally_exact(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        filter: &Filter,
    ) -> Result<Tally, StoreError> {
        let mut tally = Tally::default();
        if from > to {
            return Ok(tally);
        }
        // `SELECT {what} FROM incidents` in the range and the filter, then `{tail}`.
        macro_rules! sliced {
            ($what:expr, $tail:expr) => {{
                let mut query = QueryBuilder::new(format!(
                    "SELECT {} FROM incidents WHERE opened_at >= ",
                    $what
                ));
                query
                    .push_bind(from)
                    .push(" AND opened_at <= ")
                    .push_bind(to);
                push_slice!(query, filter);
                query.push($tail);
                query
            }};
        }
        match &self.db {
            Db::Postgres(pool) => {
                // date_part is a float8 already (EXTRACT is a slower numeric), exact to
                // the microsecond for any incident shorter than a century.
                let duration = |column: &str| {
                    format!(
                        "COALESCE(array_agg(date_part('epoch', {column} - opened_at)) \
                         FILTER (WHERE {column} IS NOT NULL), '{{}}')"
                    )
                };
                let what = format!(
                    "severity, status, COUNT(*) AS n, \
                     SUM(updates)::BIGINT AS updates, SUM(late_updates)::BIGINT AS late, {} AS acknowledge, {} AS mitigate, \
                     {} AS resolve, COUNT(postmortem_at) AS postmortems",
                    duration("investigating_at"),
                    duration("mitigated_at"),
                    duration("resolved_at")
                );
                // Scans of the range side by side on their own connections. The classes
                // are counted apart: grouped with severity and status, the planner
                // expects thousands of groups and sorts them on disk (3× slower).
                let mut groups = sliced!(what, " GROUP BY severity, status");
                let groups = groups.build_query_as::<Group>().fetch_all(pool);
                let mut days = sliced!(
                    "(opened_at AT TIME ZONE 'UTC')::DATE AS day, severity, COUNT(*)",
                    " GROUP BY day, severity"
                );
                let days = days
                    .build_query_as::<(NaiveDate, String, i64)>()
                    .fetch_all(pool);
                let mut classes = sliced!("failure_class, COUNT(*)", " GROUP BY failure_class");
                let classes = classes
                    .build_query_as::<(Option<String>, i64)>()
                    .fetch_all(pool);
                let (groups, days, classes) = tokio::try_join!(groups, days, classes)?;
                for (class, n) in classes {
                    tally.add_class(class.as_deref(), n as u64);
                }
                for g in groups {
                    tally.add_updates(g.updates as u64, g.late as u64);
                    tally.add_group(
                        parse(&g.severity)?,
                        parse(&g.status)?,
                        g.n as u64,
                        g.acknowledge,
                        g.mitigate,
                        g.resolve,
                        g.postmortems as u64,
                    );
                }
                for (day, severity, n) in days {
                    tally.add_day(day, parse(&severity)?, n as u64);
                }
            }
            Db::Sqlite { read, .. } => {
                // Each row as one JSON value: SQLite copies every value of a row on its
                // thread and ours frees it, so one value a row costs a tenth of ten.
                let mut rows = sliced!(
                    "json_array(severity, status, opened_at, investigating_at, mitigated_at, \
                     resolved_at, postmortem_at, failure_class, updates, late_updates)",
                    ""
                );
                let mut rows = rows.build_query_scalar::<String>().fetch(read);
                while let Some(row) = rows.try_next().await? {
                    let (
                        severity,
                        status,
                        opened_at,
                        investigating_at,
                        mitigated_at,
                        resolved_at,
                        postmortem_at,
                        failure_class,
                        updates,
                        late,
                    ): RowJson = serde_json::from_str(&row)
                        .map_err(|e| StoreError::Corrupt(format!("an incident's facts: {e}")))?;
                    tally.add(&Facts {
                        severity: parse(severity)?,
                        status: parse::<Status>(status)?,
                        milestones: Milestones {
                            opened_at: Some(opened_at),
                            investigating_at,
                            mitigated_at,
                            resolved_at,
                            postmortem_at,
                            closed_at: None,
                        },
                        failure_class,
                        updates: (updates.max(0) as u64, late.max(0) as u64),
                    });
                }
            }
        }
        Ok(tally)
    }

    /// Incidents not yet resolved, whenever opened, that `filter` keeps.
    pub async fn open_now(&self, filter: &Filter) -> Result<u64, StoreError> {
        let n: i64 = with_db!(self, read pool => {
            let mut query = QueryBuilder::new(format!("SELECT COUNT(*) FROM incidents WHERE {ACTIVE}"));
            push_slice!(query, filter);
            query.build_query_scalar().fetch_one(pool).await?
        });
        Ok(n as u64)
    }

    /// How many incidents of the range `filter` keeps each team had, most first (at most
    /// 50 teams; incidents of no team are left out).
    pub async fn count_by_team(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        filter: &Filter,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(with_db!(self, read pool => {
            let mut query = QueryBuilder::new(
                "SELECT team, COUNT(*) AS n FROM incidents WHERE team IS NOT NULL AND opened_at >= ",
            );
            query.push_bind(from).push(" AND opened_at <= ").push_bind(to);
            push_slice!(query, filter);
            query.push(" GROUP BY team ORDER BY n DESC, team LIMIT 50");
            query.build_query_as().fetch_all(pool).await?
        }))
    }

    /// The teams incidents were declared for, by name (at most 100).
    pub async fn teams_seen(&self) -> Result<Vec<String>, StoreError> {
        Ok(with_db!(self, read pool => {
            sqlx::query_scalar(
                "SELECT DISTINCT team FROM incidents WHERE team IS NOT NULL AND NOT drill \
                 ORDER BY team LIMIT 100",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    /// Incidents by status and severity, all of them (for metrics): an index-only scan
    /// of the statistics index on PostgreSQL.
    pub async fn incident_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        Ok(with_db!(self, read pool => {
            sqlx::query_as(
                "SELECT status, severity, COUNT(*) FROM incidents GROUP BY status, severity \
                 ORDER BY status, severity",
            )
            .fetch_all(pool)
            .await?
        }))
    }
}
