//! The public status page, as pure code: which incidents customers see, in their words
//! (Atlassian Statuspage's conventions: `investigating`, `monitoring`, `resolved`;
//! impact `critical`, `major`, `minor`, `none`), and each component's worst state.
//!
//! Only what was written for customers shows: the title, the severity in words, the
//! status, the times and the `public` messages. Never a private incident or a drill,
//! whatever the store hands in.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::{Event, EventKind, Incident, IncidentId, Severity, Status};

/// How long a resolved incident stays on the page.
pub const RESOLVED_SHOWN: Duration = Duration::days(7);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicUpdate {
    pub at: DateTime<Utc>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicIncident {
    pub id: IncidentId,
    pub title: String,
    /// `critical`, `major`, `minor` or `none`.
    pub impact: &'static str,
    /// `investigating`, `monitoring` or `resolved`.
    pub status: &'static str,
    pub started_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub components: Vec<String>,
    /// Newest first.
    pub updates: Vec<PublicUpdate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentState {
    pub name: String,
    /// `operational`, `degraded_performance`, `partial_outage` or `major_outage`.
    pub status: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Overall {
    /// `none`, `minor`, `major` or `critical`.
    pub indicator: &'static str,
    pub description: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusPage {
    pub status: Overall,
    pub components: Vec<ComponentState>,
    /// Not yet resolved, newest first.
    pub incidents: Vec<PublicIncident>,
    /// Resolved in the last seven days, newest first.
    pub resolved: Vec<PublicIncident>,
    /// When anything shown last changed.
    pub updated_at: Option<DateTime<Utc>>,
}

/// What customers are told when an incident is made public without a message.
pub fn first_message(components: &[String]) -> String {
    if components.is_empty() {
        "We are investigating an issue and will post updates here.".into()
    } else {
        format!(
            "We are investigating an issue affecting {} and will post updates here.",
            components.join(", ")
        )
    }
}

fn impact(severity: Severity) -> &'static str {
    match severity {
        Severity::Sev1 => "critical",
        Severity::Sev2 => "major",
        Severity::Sev3 => "minor",
        Severity::Sev4 => "none",
    }
}

/// The severity in words, for people.
pub fn impact_words(impact: &str) -> &'static str {
    match impact {
        "critical" => "Critical",
        "major" => "Major",
        "minor" => "Minor",
        _ => "Low",
    }
}

fn public_status(status: Status) -> &'static str {
    match status {
        Status::Open | Status::Investigating => "investigating",
        Status::Mitigated => "monitoring",
        Status::Resolved | Status::Postmortem | Status::Closed => "resolved",
    }
}

/// A component's state under one unresolved incident.
fn component_status(incident: &Incident) -> (u8, &'static str) {
    match (incident.status, incident.severity) {
        (Status::Mitigated, _) | (_, Severity::Sev3 | Severity::Sev4) => {
            (1, "degraded_performance")
        }
        (_, Severity::Sev2) => (2, "partial_outage"),
        (_, Severity::Sev1) => (3, "major_outage"),
    }
}

/// The page at `now` from public incidents and their timelines (only `public` events
/// are read), for the configured `components`.
pub fn status_page(
    incidents: &[(Incident, Vec<Event>)],
    components: &[String],
    now: DateTime<Utc>,
) -> StatusPage {
    let shown = incidents.iter().filter(|(i, _)| {
        i.public_at.is_some()
            && !i.private
            && i.drill.is_none()
            && i.milestones
                .resolved_at
                .is_none_or(|at| now - at <= RESOLVED_SHOWN)
    });
    let (mut open, mut resolved) = (vec![], vec![]);
    let mut worst: Vec<(u8, &'static str)> = vec![(0, "operational"); components.len()];
    let mut updated_at = None;
    for (incident, timeline) in shown {
        let mut updates: Vec<PublicUpdate> = timeline
            .iter()
            .filter(|e| e.kind == EventKind::Public)
            .filter_map(|e| {
                Some(PublicUpdate {
                    at: e.at,
                    message: e.note.clone()?,
                })
            })
            .collect();
        updates.sort_by_key(|u| std::cmp::Reverse(u.at));
        let last = updates
            .first()
            .map(|u| u.at)
            .into_iter()
            .chain(incident.milestones.resolved_at)
            .chain(incident.public_at)
            .max();
        updated_at = updated_at.max(last);
        let shown = PublicIncident {
            id: incident.id,
            title: incident.title.clone(),
            impact: impact(incident.severity),
            status: public_status(incident.status),
            started_at: incident.milestones.opened_at.unwrap_or(now),
            resolved_at: incident.milestones.resolved_at,
            components: incident.components.clone(),
            updates,
        };
        if incident.milestones.resolved_at.is_some() {
            resolved.push(shown);
        } else {
            let state = component_status(incident);
            for (n, name) in components.iter().enumerate() {
                if incident.components.contains(name) && state.0 > worst[n].0 {
                    worst[n] = state;
                }
            }
            open.push(shown);
        }
    }
    open.sort_by_key(|i| std::cmp::Reverse(i.started_at));
    resolved.sort_by_key(|i| std::cmp::Reverse(i.resolved_at));
    let indicator = open
        .iter()
        .map(|i| match i.impact {
            "critical" => 3,
            "major" => 2,
            _ => 1,
        })
        .max()
        .unwrap_or(0);
    let status = match indicator {
        3 => Overall {
            indicator: "critical",
            description: "Major System Outage",
        },
        2 => Overall {
            indicator: "major",
            description: "Partial System Outage",
        },
        1 => Overall {
            indicator: "minor",
            description: "Minor Service Outage",
        },
        _ => Overall {
            indicator: "none",
            description: "All Systems Operational",
        },
    };
    StatusPage {
        status,
        components: components
            .iter()
            .zip(worst)
            .map(|(name, (_, status))| ComponentState {
                name: name.clone(),
                status,
            })
            .collect(),
        incidents: open,
        resolved,
        updated_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Actor, Drill, Milestones};

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-06T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + Duration::minutes(minutes)
    }

    fn public(id: i64, severity: Severity, status: Status, components: &[&str]) -> Incident {
        Incident {
            id: IncidentId(id),
            title: format!("Incident {id}"),
            severity,
            status,
            milestones: Milestones {
                opened_at: Some(at(id)),
                resolved_at: (status == Status::Resolved).then(|| at(100)),
                ..Default::default()
            },
            public_at: Some(at(id + 1)),
            components: components.iter().map(|c| c.to_string()).collect(),
            ..crate::domain::incident::example()
        }
    }

    fn said(minutes: i64, kind: EventKind, note: &str) -> Event {
        Event {
            at: at(minutes),
            kind,
            actor: Actor::Token("x".into()),
            from: None,
            to: None,
            role: None,
            note: Some(note.into()),
        }
    }

    #[test]
    fn customers_see_public_incidents_their_messages_and_each_components_worst_state() {
        let components = ["checkout".to_owned(), "search".to_owned(), "api".to_owned()];
        let mut private = public(5, Severity::Sev1, Status::Open, &["api"]);
        private.private = true;
        let mut drill = public(6, Severity::Sev1, Status::Open, &["api"]);
        drill.drill = Some(Drill {
            team: crate::domain::Team::unassigned(),
            gameday: None,
        });
        let mut old = public(7, Severity::Sev2, Status::Resolved, &[]);
        old.milestones.resolved_at = Some(at(-8 * 24 * 60));
        let mut internal = public(8, Severity::Sev1, Status::Open, &[]);
        internal.public_at = None;
        let incidents = vec![
            (
                public(1, Severity::Sev2, Status::Investigating, &["checkout"]),
                vec![
                    said(2, EventKind::Public, "Payments fail for some customers."),
                    said(3, EventKind::Note, "INTERNAL: the db primary is down"),
                    said(20, EventKind::Public, "A fix is rolling out."),
                ],
            ),
            (
                public(
                    2,
                    Severity::Sev3,
                    Status::Mitigated,
                    &["checkout", "search"],
                ),
                vec![],
            ),
            (
                public(3, Severity::Sev1, Status::Resolved, &["api"]),
                vec![],
            ),
            (private, vec![]),
            (drill, vec![]),
            (old, vec![]),
            (internal, vec![]),
        ];
        let page = status_page(&incidents, &components, at(200));
        let ids = |list: &[PublicIncident]| list.iter().map(|i| i.id.0).collect::<Vec<_>>();
        assert_eq!(ids(&page.incidents), [2, 1]);
        assert_eq!(ids(&page.resolved), [3]);
        assert_eq!(page.status.indicator, "major");
        let states: Vec<(&str, &str)> = page
            .components
            .iter()
            .map(|c| (c.name.as_str(), c.status))
            .collect();
        assert_eq!(
            states,
            [
                ("checkout", "partial_outage"),
                ("search", "degraded_performance"),
                ("api", "operational")
            ]
        );
        let first = &page.incidents[1];
        assert_eq!((first.status, first.impact), ("investigating", "major"));
        let messages: Vec<&str> = first.updates.iter().map(|u| u.message.as_str()).collect();
        assert_eq!(
            messages,
            ["A fix is rolling out.", "Payments fail for some customers."]
        );
        assert_eq!(page.incidents[0].status, "monitoring");
        assert_eq!(page.updated_at, Some(at(100)));
        assert!(!serde_json::to_string(&page).unwrap().contains("INTERNAL"));
        let quiet = status_page(&[], &components, at(0));
        assert_eq!(quiet.status.description, "All Systems Operational");
    }
}
