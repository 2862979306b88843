//! Incidents and their roles: declare, read, list, change under compare-and-set.

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::alerts::NewAlert;
use super::rows::{IncidentRow, RoleRow, RoledRow};
use super::{Cursor, Db, Store, StoreError};
use crate::domain::{
    Actor, Change, ChannelId, Event, EventKind, Incident, IncidentId, Rejected, Severity,
    SlackUserId, Status, Team,
};
use crate::outbox::{chained, Job, Steps};

/// How often a change is re-decided when another writer got there first.
const MAX_ATTEMPTS: usize = 32;

pub(super) const INCIDENT_COLUMNS: &str = "id, title, severity, status, channel_id, declared_by, opened_at, \
     investigating_at, mitigated_at, resolved_at, postmortem_at, closed_at, postmortem_url, summary_ts, \
     announce_ts, version, drill, team, gameday_id, failure_class, private, last_event_at, updates, late_updates, \
     summary, impact, public_at, components";

/// A new incident, as declared.
#[derive(Debug, Clone)]
pub struct NewIncident {
    pub title: String,
    pub severity: Severity,
    pub declared_by: Actor,
    pub at: DateTime<Utc>,
    /// Slack's key for what declared it (a modal's view id): a second delivery with the
    /// same key declares nothing and fails with `StoreError::Duplicate`.
    pub once: Option<String>,
    /// Events recorded right after the declaration (the message it was declared from).
    pub first_events: Vec<Event>,
    /// A drill, for this team: it belongs to the game day running when it is stored.
    pub drill: Option<Team>,
    /// A private incident.
    pub private: bool,
    /// The team it is declared for (its people are invited).
    pub team: Option<Team>,
    /// The idempotency key (with its holder) this declaration answers.
    pub answers: Option<String>,
    /// The alert group that declares it: a group already open makes it a `Duplicate`.
    pub alert: Option<NewAlert>,
    /// The alert group waiting in triage it is declared from: one declared already
    /// makes it a `Duplicate`.
    pub from_triage: Option<i64>,
    /// The Slack conversation (a form opened there) where the declarer is told, once
    /// the channel exists, where it is.
    pub tell_in: Option<String>,
}

impl NewIncident {
    pub fn new(title: String, severity: Severity, by: impl Into<Actor>, at: DateTime<Utc>) -> Self {
        NewIncident {
            title,
            severity,
            declared_by: by.into(),
            at,
            once: None,
            first_events: Vec::new(),
            drill: None,
            private: false,
            team: None,
            answers: None,
            alert: None,
            from_triage: None,
            tell_in: None,
        }
    }

    /// What a `Duplicate` of this declaration names.
    fn duplicate_of(&self) -> String {
        match (&self.once, &self.alert) {
            (Some(key), _) => key.clone(),
            (None, Some(alert)) => format!("alert group {}", alert.dedup_key),
            (None, None) => "declaration".into(),
        }
    }
}

/// The job rows a declaration of `severity` inserts for `jobs`: as few as keep their
/// order and priority (`outbox::chained`), the first of each service pending and the
/// others queued behind it.
fn job_rows(severity: Severity, jobs: &[Job]) -> Vec<super::batch::JobRow> {
    let mut seen = Vec::new();
    chained(jobs)
        .into_iter()
        .map(|steps| {
            let job = &steps[0];
            let state = if seen.contains(&job.service()) {
                "queued"
            } else {
                seen.push(job.service());
                "pending"
            };
            super::batch::JobRow {
                service: job.service().as_str(),
                kind: job.kind(),
                payload: Steps::payload_of(0, steps),
                state,
                priority: job.priority(severity) as i16,
            }
        })
        .collect()
}

/// Which incidents `list` returns, newest first.
#[derive(Debug, Clone)]
pub struct Filter {
    pub statuses: Vec<Status>,
    pub severities: Vec<Severity>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: u32,
    pub after: Option<Cursor>,
    /// Drills too (left out by default).
    pub drills: bool,
    /// Only this team's.
    pub team: Option<Team>,
    /// Only this failure class's.
    pub class: Option<String>,
    /// Only those whose title holds this text, in any case (never a private one: its
    /// title is its members').
    pub text: Option<String>,
}

/// Pushes onto `$query` the conditions of `$filter` on which incidents (severity,
/// status, team, class, title, drills), not its range or page. Every value is bound.
macro_rules! push_slice {
    ($query:expr, $filter:expr) => {{
        let filter: &crate::store::Filter = $filter;
        if !filter.drills {
            $query.push(" AND NOT drill");
        }
        if !filter.statuses.is_empty() {
            $query.push(" AND status IN (");
            let mut list = $query.separated(", ");
            for status in &filter.statuses {
                list.push_bind(status.as_str());
            }
            $query.push(")");
        }
        if !filter.severities.is_empty() {
            $query.push(" AND severity IN (");
            let mut list = $query.separated(", ");
            for severity in &filter.severities {
                list.push_bind(severity.as_str());
            }
            $query.push(")");
        }
        if let Some(team) = &filter.team {
            $query.push(" AND team = ").push_bind(team.to_string());
        }
        if let Some(class) = &filter.class {
            $query
                .push(" AND failure_class = ")
                .push_bind(class.clone());
        }
        if let Some(text) = &filter.text {
            $query
                .push(" AND NOT private AND LOWER(title) LIKE ")
                .push_bind(crate::store::incidents::like(text))
                .push(" ESCAPE '\\'");
        }
    }};
}

/// `text` as a LIKE pattern matching titles that hold it (lowercase, `%` and `_`
/// taken literally).
pub(crate) fn like(text: &str) -> String {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

impl Default for Filter {
    /// Every incident, a page of 50.
    fn default() -> Self {
        Filter {
            statuses: Vec::new(),
            severities: Vec::new(),
            from: None,
            to: None,
            limit: 50,
            after: None,
            drills: false,
            team: None,
            class: None,
            text: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Page {
    pub incidents: Vec<Incident>,
    pub next: Option<Cursor>,
}

impl Store {
    /// Stores a new incident, its `declared` event and `jobs`, in one transaction. The
    /// jobs go in as few rows as keep their order and priority (`outbox::chained`).
    #[tracing::instrument(skip_all, fields(severity = %new.severity))]
    pub async fn declare(&self, new: NewIncident, jobs: &[Job]) -> Result<Incident, StoreError> {
        let event = Event {
            at: new.at,
            kind: EventKind::Declared,
            actor: new.declared_by.clone(),
            from: None,
            to: Some(Status::Open.to_string()),
            role: None,
            note: None,
        };
        let insert = format!(
            "INSERT INTO incidents (title, severity, status, declared_by, opened_at, last_event_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING {INCIDENT_COLUMNS}"
        );
        let plain = new.first_events.is_empty()
            && new.drill.is_none()
            && new.team.is_none()
            && !new.private
            && new.from_triage.is_none();
        let row: IncidentRow = match &self.db {
            // The hot path: declarations that arrive together go in one statement, so one
            // round trip and one commit (`super::batch`).
            Db::Postgres(_) if plain && new.alert.is_none() => {
                let declaration = super::batch::Plain {
                    jobs: job_rows(new.severity, jobs),
                    title: new.title,
                    severity: new.severity.as_str(),
                    declared_by: new.declared_by.to_string(),
                    at: new.at,
                    once: new.once,
                    answers: new.answers,
                };
                self.batches.declare(self, declaration).await?
            }
            // An alert group's: one statement, so one round trip and an implicit
            // transaction. The jobs are one multi-row insert, so their ids follow their
            // order. Every part reads `incident`: a statement that inserts no incident
            // writes nothing.
            Db::Postgres(pool) if plain => {
                let mut n = 6;
                let mut param = || {
                    n += 1;
                    format!("${n}")
                };
                let job_rows = job_rows(new.severity, jobs);
                let rows: Vec<String> = job_rows
                    .iter()
                    .enumerate()
                    .map(|(i, job)| {
                        let (service, kind, payload) = (param(), param(), param());
                        let (state, priority) = (job.state, job.priority);
                        format!("({i}, {service}, {kind}, {payload}, '{state}', {priority})")
                    })
                    .collect();
                let mut parts = String::new();
                if !rows.is_empty() {
                    parts.push_str(&format!(
                        ", jobs AS (INSERT INTO jobs (incident_id, service, kind, payload, state, \
                         next_attempt_at, created_at, priority) SELECT incident.id, j.service, \
                         j.kind, j.payload, j.state, $5, $5, j.priority FROM incident, (VALUES {}) \
                         AS j (n, service, kind, payload, state, priority) ORDER BY j.n)",
                        rows.join(", ")
                    ));
                }
                // A delivery key (or an alert group) is recorded in the same statement: a
                // second delivery breaks its unique key, and nothing of the statement stays.
                if new.once.is_some() {
                    parts.push_str(&format!(
                        ", seen AS (INSERT INTO slack_deliveries (key, at) SELECT {}, $5 FROM incident)",
                        param()
                    ));
                }
                if new.answers.is_some() {
                    parts.push_str(&format!(
                        ", answered AS (UPDATE idempotency_keys SET incident_id = incident.id \
                         FROM incident WHERE key = {})",
                        param()
                    ));
                }
                // A new alert group: only one of the posts racing to open it inserts an
                // incident. The others find the lock taken (or the group there) and insert
                // nothing, so they take no incident number: no gaps in the numbering.
                let mut incident = insert.clone();
                if new.alert.is_some() {
                    let p: Vec<String> = (0..7).map(|_| param()).collect();
                    incident = format!(
                        "INSERT INTO incidents (title, severity, status, declared_by, opened_at, \
                         last_event_at) SELECT $1, $2, $3, $4, $5, $5 \
                         WHERE pg_try_advisory_xact_lock(hashtextextended({a}::text || chr(1) || {b}::text, 0)) \
                         AND NOT EXISTS (SELECT 1 FROM alert_groups WHERE source = {a} \
                                         AND dedup_key = {b} AND active) \
                         RETURNING {INCIDENT_COLUMNS}",
                        a = p[0],
                        b = p[1]
                    );
                    parts.push_str(&format!(
                        ", alert AS ({} SELECT {}, {}, id, TRUE, {}, {}, {}, {}, {}, $5, $5 FROM incident)",
                        super::alerts::INSERT_GROUP,
                        p[0], p[1], p[2], p[3], p[4], p[5], p[6]
                    ));
                }
                let sql = format!(
                    "WITH incident AS ({incident}), \
                     event AS (INSERT INTO events (incident_id, at, kind, actor, to_value) \
                               SELECT id, $5, $6, $4, $3 FROM incident){parts} \
                     SELECT {INCIDENT_COLUMNS} FROM incident"
                );
                let mut query = sqlx::query_as(&sql)
                    .bind(&new.title)
                    .bind(new.severity.as_str())
                    .bind(Status::Open.as_str())
                    .bind(new.declared_by.to_string())
                    .bind(new.at)
                    .bind(EventKind::Declared.as_str());
                for job in &job_rows {
                    query = query.bind(job.service).bind(job.kind).bind(&job.payload);
                }
                if let Some(key) = &new.once {
                    query = query.bind(key);
                }
                if let Some(key) = &new.answers {
                    query = query.bind(key);
                }
                if let Some(alert) = &new.alert {
                    query = query
                        .bind(&alert.source)
                        .bind(&alert.dedup_key)
                        .bind(alert.status.as_str())
                        .bind(&alert.title)
                        .bind(alert.url.as_deref())
                        .bind(&alert.signature)
                        .bind(alert.severity.as_str());
                }
                let found = match &self.lane {
                    Some(lane) => {
                        let mut held = lane.take().await?;
                        let found = query.fetch_optional(held.conn()).await;
                        super::lane::keep_after(held, &found);
                        found
                    }
                    None => query.fetch_optional(pool).await,
                };
                match found {
                    Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                        return Err(StoreError::Duplicate(new.duplicate_of()));
                    }
                    // No row: another post is opening this alert group.
                    other => other?.ok_or_else(|| StoreError::Duplicate(new.duplicate_of()))?,
                }
            }
            _ => with_db!(self, write pool => {
                let mut tx = pool.begin().await?;
                if let Some(key) = &new.once {
                    if !first_delivery!(&mut *tx, key, new.at) {
                        return Err(StoreError::Duplicate(key.clone()));
                    }
                }
                let mut row: IncidentRow = sqlx::query_as(&insert)
                    .bind(&new.title)
                    .bind(new.severity.as_str())
                    .bind(Status::Open.as_str())
                    .bind(new.declared_by.to_string())
                    .bind(new.at)
                    .fetch_one(&mut *tx)
                    .await?;
                if new.drill.is_some() || new.private || new.team.is_some() {
                    row = sqlx::query_as(&format!(
                        "UPDATE incidents SET drill = $2, team = $3, gameday_id = CASE WHEN $2 THEN \
                         (SELECT id FROM gamedays WHERE ended_at IS NULL ORDER BY id DESC LIMIT 1) END, \
                         private = $4 WHERE id = $1 RETURNING {INCIDENT_COLUMNS}"
                    ))
                    .bind(row.id)
                    .bind(new.drill.is_some())
                    .bind(new.drill.as_ref().or(new.team.as_ref()).map(Team::as_str))
                    .bind(new.private)
                    .fetch_one(&mut *tx)
                    .await?;
                }
                insert_event!(&mut *tx, row.id, &event);
                for extra in &new.first_events {
                    insert_event!(&mut *tx, row.id, extra);
                }
                for steps in chained(jobs) {
                    insert_job!(tx, row.id, &steps[0], new.at, Steps::payload_of(0, steps));
                }
                if let Some(key) = &new.answers {
                    sqlx::query("UPDATE idempotency_keys SET incident_id = $2 WHERE key = $1")
                        .bind(key)
                        .bind(row.id)
                        .execute(&mut *tx)
                        .await?;
                }
                if let Some(group) = new.from_triage {
                    let claimed = sqlx::query(
                        "UPDATE alert_groups SET incident_id = $1, declared = TRUE \
                         WHERE id = $2 AND incident_id IS NULL",
                    )
                    .bind(row.id)
                    .bind(group)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if claimed == 0 {
                        return Err(StoreError::Duplicate(format!("alert group {group}")));
                    }
                }
                if let Some(alert) = &new.alert {
                    let added = insert_alert_group!(&mut *tx, row.id, alert, true, new.at);
                    if let Err(sqlx::Error::Database(e)) = &added {
                        if e.is_unique_violation() {
                            return Err(StoreError::Duplicate(new.duplicate_of()));
                        }
                    }
                    added?;
                }
                tx.commit().await?;
                row
            }),
        };
        row.into_incident(Vec::new())
    }

    #[tracing::instrument(skip(self))]
    pub async fn get(&self, id: IncidentId) -> Result<Option<Incident>, StoreError> {
        // The row and its roles in one statement: a row per role, or one with no role.
        let rows: Vec<RoledRow> = with_db!(self, kept read pool => {
            sqlx::query_as(&format!(
                "SELECT {INCIDENT_COLUMNS}, r.role, r.user_id FROM incidents \
                 LEFT JOIN incident_roles r ON r.incident_id = incidents.id \
                 WHERE incidents.id = $1 ORDER BY r.role"
            ))
            .bind(id.0)
            .fetch_all(pool)
            .await?
        });
        RoledRow::into_incident(rows)
    }

    async fn require(&self, id: IncidentId) -> Result<Incident, StoreError> {
        self.get(id).await?.ok_or(StoreError::NotFound(id))
    }

    /// The incident whose Slack channel is `channel`, if any.
    pub async fn find_by_channel(
        &self,
        channel: &ChannelId,
    ) -> Result<Option<IncidentId>, StoreError> {
        let id: Option<i64> = with_db!(self, read pool => {
            sqlx::query_scalar("SELECT id FROM incidents WHERE channel_id = $1")
                .bind(channel.as_str())
                .fetch_optional(pool)
                .await?
        });
        Ok(id.map(IncidentId))
    }

    /// Records the Slack channel opened for incident `id`.
    pub async fn set_channel(&self, id: IncidentId, channel: &ChannelId) -> Result<(), StoreError> {
        self.set_column(id, "channel_id", channel.as_str()).await
    }

    /// Incidents a nudge may be due for (being fought, or waiting in postmortem), with
    /// when pompier last nudged each.
    pub async fn nudge_candidates(
        &self,
    ) -> Result<Vec<(IncidentId, Option<DateTime<Utc>>)>, StoreError> {
        let rows: Vec<(i64, Option<DateTime<Utc>>)> = with_db!(self, read pool => {
            sqlx::query_as(
                "SELECT id, nudged_at FROM incidents \
                 WHERE status IN ('open', 'investigating', 'mitigated', 'postmortem') ORDER BY id",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(id, at)| (IncidentId(id), at))
            .collect())
    }

    /// Records a nudge of incident `id` at `at` with its `jobs`, if nobody nudged it
    /// since `seen` (its last nudge as read): of several instances, one sends it.
    pub async fn nudge(
        &self,
        id: IncidentId,
        seen: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
        jobs: &[Job],
    ) -> Result<bool, StoreError> {
        let same = with_db!(self, postgres _pool => "IS NOT DISTINCT FROM", sqlite _pool => "IS");
        let sql =
            format!("UPDATE incidents SET nudged_at = $2 WHERE id = $1 AND nudged_at {same} $3");
        Ok(with_db!(self, write pool => {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(&sql)
                .bind(id.0)
                .bind(at)
                .bind(seen)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if updated == 1 {
                for job in jobs {
                    insert_job!(tx, id.0, job, at);
                }
                tx.commit().await?;
            }
            updated == 1
        }))
    }

    /// Sets the failure class of incident `id`, with the `jobs` that tell of it, in one
    /// transaction.
    pub async fn set_failure_class(
        &self,
        id: IncidentId,
        class: &str,
        jobs: &[Job],
    ) -> Result<(), StoreError> {
        let at = crate::now();
        with_db!(self, write pool => {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query("UPDATE incidents SET failure_class = $2 WHERE id = $1")
                .bind(id.0)
                .bind(class)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if updated == 0 {
                return Err(StoreError::NotFound(id));
            }
            for job in jobs {
                insert_job!(tx, id.0, job, at);
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Records the `ts` of the incident's pinned summary message.
    pub async fn set_summary_ts(&self, id: IncidentId, ts: &str) -> Result<(), StoreError> {
        self.set_column(id, "summary_ts", ts).await
    }

    /// Records the `ts` of the incident's announcement.
    pub async fn set_announce_ts(&self, id: IncidentId, ts: &str) -> Result<(), StoreError> {
        self.set_column(id, "announce_ts", ts).await
    }

    /// Sets `column` (a name from this file, never user input) of incident `id`.
    async fn set_column(
        &self,
        id: IncidentId,
        column: &str,
        value: &str,
    ) -> Result<(), StoreError> {
        let done = with_db!(self, kept write pool => {
            sqlx::query(&format!("UPDATE incidents SET {column} = $2 WHERE id = $1"))
                .bind(id.0)
                .bind(value)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if done == 0 {
            return Err(StoreError::NotFound(id));
        }
        Ok(())
    }

    /// Decides a change on the current state of incident `id` with `decide` and stores
    /// it with its event and the jobs `effects` derives from it, unless another writer
    /// changed the incident in between: then it decides again on the new state. So
    /// concurrent identical moves make one transition, and the others are rejected as
    /// already done.
    pub async fn change<F, E>(
        &self,
        id: IncidentId,
        decide: F,
        effects: E,
    ) -> Result<Change, StoreError>
    where
        F: Fn(&Incident) -> Result<Change, Rejected>,
        E: Fn(&Change) -> Vec<Job>,
    {
        self.change_once(id, None, decide, effects).await
    }

    /// `change`, recorded under the delivery key `once`: a second change with the same
    /// key stores nothing and fails with `StoreError::Duplicate`.
    #[tracing::instrument(skip(self, decide, effects))]
    pub async fn change_once<F, E>(
        &self,
        id: IncidentId,
        once: Option<&str>,
        decide: F,
        effects: E,
    ) -> Result<Change, StoreError>
    where
        F: Fn(&Incident) -> Result<Change, Rejected>,
        E: Fn(&Change) -> Vec<Job>,
    {
        for _ in 0..MAX_ATTEMPTS {
            let before = self.require(id).await?;
            let change = decide(&before)?;
            let jobs = effects(&change);
            if self.write_change(&before, &change, &jobs, once).await? {
                let mut change = change;
                change.after.version = before.version + 1;
                change.after.updates.last_at = Some(change.event.at);
                return Ok(change);
            }
        }
        Err(StoreError::Contended(id))
    }

    /// Writes `change` if the incident is still at `before.version`; false if it is not.
    async fn write_change(
        &self,
        before: &Incident,
        change: &Change,
        jobs: &[Job],
        once: Option<&str>,
    ) -> Result<bool, StoreError> {
        let after = &change.after;
        let m = &after.milestones;
        let id = before.id.0;
        with_db!(self, write pool => {
            let mut tx = pool.begin().await?;
            if let Some(key) = once {
                if !first_delivery!(&mut *tx, key, change.event.at) {
                    return Err(StoreError::Duplicate(key.to_owned()));
                }
            }
            let updated = sqlx::query(
                "UPDATE incidents SET title = $3, severity = $4, status = $5, \
                 investigating_at = $6, mitigated_at = $7, resolved_at = $8, postmortem_at = $9, \
                 closed_at = $10, postmortem_url = $11, version = version + 1, \
                 last_event_at = $12, updates = $13, late_updates = $14, summary = $15, \
                 impact = $16, public_at = $17, components = $18 WHERE id = $1 AND version = $2",
            )
            .bind(id)
            .bind(before.version)
            .bind(&after.title)
            .bind(after.severity.as_str())
            .bind(after.status.as_str())
            .bind(m.investigating_at)
            .bind(m.mitigated_at)
            .bind(m.resolved_at)
            .bind(m.postmortem_at)
            .bind(m.closed_at)
            .bind(after.postmortem_url.as_deref())
            .bind(change.event.at)
            .bind(after.updates.total)
            .bind(after.updates.late)
            .bind(after.summary.as_deref())
            .bind(after.impact.as_deref())
            .bind(after.public_at)
            .bind(Some(after.components.join(",")).filter(|c| !c.is_empty()))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 0 {
                return Ok(false);
            }
            for (role, user) in &after.roles {
                if before.roles.get(role) != Some(user) {
                    sqlx::query(
                        "INSERT INTO incident_roles (incident_id, role, user_id) VALUES ($1, $2, $3) \
                         ON CONFLICT (incident_id, role) DO UPDATE SET user_id = excluded.user_id",
                    )
                    .bind(id)
                    .bind(role.as_str())
                    .bind(user.as_str())
                    .execute(&mut *tx)
                    .await?;
                }
            }
            if before.severity != after.severity {
                // Its waiting work moves with it in the claim order (`Job::priority`).
                sqlx::query(
                    "UPDATE jobs SET priority = priority % 10 + $2 WHERE incident_id = $1 \
                     AND state IN ('pending', 'queued')",
                )
                .bind(id)
                .bind(crate::outbox::severity_priority(after.severity))
                .execute(&mut *tx)
                .await?;
            }
            insert_event!(&mut *tx, id, &change.event);
            for job in jobs {
                insert_job!(tx, id, job, change.event.at);
            }
            tx.commit().await?;
        });
        Ok(true)
    }

    /// Incidents matching `filter`, newest first, with the cursor of the next page.
    pub async fn list(&self, filter: &Filter) -> Result<Page, StoreError> {
        let (mut rows, roles): (Vec<IncidentRow>, Vec<RoleRow>) = with_db!(self, read pool => {
            let mut query = QueryBuilder::new(format!(
                "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE 1 = 1"
            ));
            push_slice!(query, filter);
            if let Some(from) = filter.from {
                query.push(" AND opened_at >= ").push_bind(from);
            }
            if let Some(to) = filter.to {
                query.push(" AND opened_at <= ").push_bind(to);
            }
            if let Some(cursor) = &filter.after {
                query
                    .push(" AND (opened_at < ")
                    .push_bind(cursor.opened_at)
                    .push(" OR (opened_at = ")
                    .push_bind(cursor.opened_at)
                    .push(" AND id < ")
                    .push_bind(cursor.id)
                    .push("))");
            }
            query
                .push(" ORDER BY opened_at DESC, id DESC LIMIT ")
                .push_bind(i64::from(filter.limit) + 1);
            let rows: Vec<IncidentRow> = query.build_query_as().fetch_all(pool).await?;
            let roles: Vec<RoleRow> = if rows.is_empty() {
                Vec::new()
            } else {
                let mut query = QueryBuilder::new(
                    "SELECT incident_id, role, user_id FROM incident_roles WHERE incident_id IN (",
                );
                let mut ids = query.separated(", ");
                for row in &rows {
                    ids.push_bind(row.id);
                }
                query.push(") ORDER BY role");
                query.build_query_as().fetch_all(pool).await?
            };
            (rows, roles)
        });

        let more = rows.len() > filter.limit as usize;
        rows.truncate(filter.limit as usize);
        let next = more
            .then(|| {
                rows.last().map(|r| Cursor {
                    opened_at: r.opened_at,
                    id: r.id,
                })
            })
            .flatten();
        let incidents = rows
            .into_iter()
            .map(|row| {
                let mine = roles
                    .iter()
                    .filter(|r| r.incident_id == row.id)
                    .cloned()
                    .collect();
                row.into_incident(mine)
            })
            .collect::<Result<_, _>>()?;
        Ok(Page { incidents, next })
    }
}

impl Store {
    /// Records that `user` joined incident `id`'s channel at `at`, once.
    pub async fn add_participant(
        &self,
        id: IncidentId,
        user: &SlackUserId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        with_db!(self, kept write pool => {
            sqlx::query(
                "INSERT INTO incident_participants (incident_id, user_id, joined_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (incident_id, user_id) DO NOTHING",
            )
            .bind(id.0)
            .bind(user.as_str())
            .bind(at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The people who joined the channels of incidents `ids`, each in the order they
    /// joined.
    pub async fn participants(
        &self,
        ids: &[IncidentId],
    ) -> Result<std::collections::HashMap<IncidentId, Vec<SlackUserId>>, StoreError> {
        let mut found = std::collections::HashMap::new();
        if ids.is_empty() {
            return Ok(found);
        }
        let rows: Vec<(i64, String)> = with_db!(self, read pool => {
            let mut query = QueryBuilder::new(
                "SELECT incident_id, user_id FROM incident_participants WHERE incident_id IN (",
            );
            let mut list = query.separated(", ");
            for id in ids {
                list.push_bind(id.0);
            }
            query.push(") ORDER BY joined_at, user_id");
            query.build_query_as().fetch_all(pool).await?
        });
        for (id, user) in rows {
            let user = user
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("user id `{user}`")))?;
            found
                .entry(IncidentId(id))
                .or_insert_with(Vec::new)
                .push(user);
        }
        Ok(found)
    }
}

/// A `public` event as the status page reads it: incident, time, actor, message.
type PublicSaid = (i64, DateTime<Utc>, String, Option<String>);

impl Store {
    /// Incidents on the status page at `now`: made public, neither private nor drills,
    /// not resolved or resolved within `status_page::RESOLVED_SHOWN`; with their `public`
    /// events (only those).
    pub async fn public_incidents(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(Incident, Vec<Event>)>, StoreError> {
        let since = now - crate::domain::status_page::RESOLVED_SHOWN;
        let (rows, said): (Vec<IncidentRow>, Vec<PublicSaid>) = with_db!(self, read pool => {
            let rows: Vec<IncidentRow> = sqlx::query_as(&format!(
                "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE public_at IS NOT NULL \
                 AND NOT private AND NOT drill AND (resolved_at IS NULL OR resolved_at >= $1) \
                 ORDER BY opened_at DESC LIMIT 200"
            ))
            .bind(since)
            .fetch_all(pool)
            .await?;
            let said = if rows.is_empty() {
                vec![]
            } else {
                let mut query = QueryBuilder::new(
                    "SELECT incident_id, at, actor, note FROM events WHERE kind = 'public' \
                     AND incident_id IN (",
                );
                let mut ids = query.separated(", ");
                for row in &rows {
                    ids.push_bind(row.id);
                }
                query.push(") ORDER BY at");
                query.build_query_as().fetch_all(pool).await?
            };
            (rows, said)
        });
        rows.into_iter()
            .map(|row| {
                let id = row.id;
                let events = said
                    .iter()
                    .filter(|(of, ..)| *of == id)
                    .map(|(_, at, actor, note)| {
                        Ok(Event {
                            at: *at,
                            kind: EventKind::Public,
                            actor: actor
                                .parse()
                                .map_err(|_| StoreError::Corrupt(format!("actor `{actor}`")))?,
                            from: None,
                            to: None,
                            role: None,
                            note: note.clone(),
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                Ok((row.into_incident(vec![])?, events))
            })
            .collect()
    }
}
