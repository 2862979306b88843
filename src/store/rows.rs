//! Rows as both backends return them, and their checked conversion to domain types.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use super::StoreError;
use crate::domain::cadence::Updates;
use crate::domain::{Drill, Event, EventKind, Incident, IncidentId, Milestones, Team};

fn parse<T: FromStr>(value: &str, what: &str) -> Result<T, StoreError> {
    value
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("{what} `{value}`")))
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct IncidentRow {
    pub id: i64,
    title: String,
    severity: String,
    status: String,
    channel_id: Option<String>,
    declared_by: String,
    pub opened_at: DateTime<Utc>,
    investigating_at: Option<DateTime<Utc>>,
    mitigated_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    postmortem_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    postmortem_url: Option<String>,
    summary_ts: Option<String>,
    announce_ts: Option<String>,
    version: i64,
    drill: bool,
    team: Option<String>,
    gameday_id: Option<i64>,
    failure_class: Option<String>,
    private: bool,
    last_event_at: Option<DateTime<Utc>>,
    updates: i64,
    late_updates: i64,
    summary: Option<String>,
    impact: Option<String>,
    public_at: Option<DateTime<Utc>>,
    components: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct RoleRow {
    pub incident_id: i64,
    role: String,
    user_id: String,
}

/// An incident's row beside one of its roles, as a LEFT JOIN of its roles gives them:
/// one row per role, or one row with no role.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct RoledRow {
    #[sqlx(flatten)]
    incident: IncidentRow,
    role: Option<String>,
    user_id: Option<String>,
}

impl RoledRow {
    /// The incident of `rows`, `None` when there are none.
    pub fn into_incident(rows: Vec<RoledRow>) -> Result<Option<Incident>, StoreError> {
        let mut roles = Vec::with_capacity(rows.len());
        let mut incident = None;
        for row in rows {
            if let (Some(role), Some(user_id)) = (row.role, row.user_id) {
                roles.push(RoleRow {
                    incident_id: row.incident.id,
                    role,
                    user_id,
                });
            }
            incident.get_or_insert(row.incident);
        }
        incident.map(|row| row.into_incident(roles)).transpose()
    }
}

/// An incident's row beside its declaration's place in a statement of several
/// (`super::batch`).
#[derive(Debug, sqlx::FromRow)]
pub(super) struct NumberedRow {
    pub b_n: i32,
    #[sqlx(flatten)]
    pub incident: IncidentRow,
}

impl IncidentRow {
    pub fn into_incident(self, roles: Vec<RoleRow>) -> Result<Incident, StoreError> {
        let roles = roles
            .into_iter()
            .map(|r| Ok((parse(&r.role, "role")?, parse(&r.user_id, "user id")?)))
            .collect::<Result<BTreeMap<_, _>, StoreError>>()?;
        Ok(Incident {
            id: IncidentId(self.id),
            title: self.title,
            severity: parse(&self.severity, "severity")?,
            status: parse(&self.status, "status")?,
            channel_id: self
                .channel_id
                .map(|c| parse(&c, "channel id"))
                .transpose()?,
            declared_by: parse(&self.declared_by, "actor")?,
            roles,
            milestones: Milestones {
                opened_at: Some(self.opened_at),
                investigating_at: self.investigating_at,
                mitigated_at: self.mitigated_at,
                resolved_at: self.resolved_at,
                postmortem_at: self.postmortem_at,
                closed_at: self.closed_at,
            },
            postmortem_url: self.postmortem_url,
            summary_ts: self.summary_ts,
            announce_ts: self.announce_ts,
            version: self.version,
            drill: match self.drill {
                false => None,
                true => Some(Drill {
                    team: match &self.team {
                        Some(team) => parse(team, "team")?,
                        None => Team::unassigned(),
                    },
                    gameday: self.gameday_id,
                }),
            },
            failure_class: self.failure_class,
            private: self.private,
            updates: Updates {
                last_at: self.last_event_at,
                total: self.updates,
                late: self.late_updates,
            },
            team: self.team.as_deref().map(|t| parse(t, "team")).transpose()?,
            summary: self.summary,
            impact: self.impact,
            public_at: self.public_at,
            components: self
                .components
                .map(|c| c.split(',').map(str::to_owned).collect())
                .unwrap_or_default(),
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct EventRow {
    at: DateTime<Utc>,
    kind: String,
    actor: String,
    from_value: Option<String>,
    to_value: Option<String>,
    role: Option<String>,
    note: Option<String>,
}

impl EventRow {
    pub fn into_event(self) -> Result<Event, StoreError> {
        Ok(Event {
            at: self.at,
            kind: EventKind::parse(&self.kind)
                .ok_or_else(|| StoreError::Corrupt(format!("event kind `{}`", self.kind)))?,
            actor: parse(&self.actor, "actor")?,
            from: self.from_value,
            to: self.to_value,
            role: self.role.map(|r| parse(&r, "role")).transpose()?,
            note: self.note,
        })
    }
}
