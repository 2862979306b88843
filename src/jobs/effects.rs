//! Which jobs a change asks for: pure, decided when the change is stored.

use super::Job;
use crate::domain::{Change, EventKind, Incident, Status};
use crate::slack::reply;
use crate::slack::text::{escape, mention};

#[derive(Debug, Clone, Default)]
pub struct Effects {
    /// Whether an announce channel is configured (`POMPIER_ANNOUNCE_CHANNEL`).
    pub announce: bool,
    /// Archive the incident's channel when the incident is closed.
    pub archive_on_close: bool,
}

impl Effects {
    /// A new incident: its channel first; the rest follows once the channel exists.
    pub fn on_declare(&self) -> Vec<Job> {
        vec![Job::CreateChannel]
    }

    /// Once the channel of `incident` exists: people in, topic, pinned summary, announcement.
    pub fn after_channel(&self, incident: &Incident) -> Vec<Job> {
        let mut users = vec![incident.declared_by.to_string()];
        for user in incident.roles.values() {
            if !users.contains(&user.to_string()) {
                users.push(user.to_string());
            }
        }
        let mut jobs = vec![Job::Invite { users }, Job::SetTopic, Job::PostSummary];
        if self.announce {
            let channel = incident
                .channel_id
                .as_ref()
                .map(|c| format!(" in <#{c}>"))
                .unwrap_or_default();
            jobs.push(Job::Announce {
                text: format!(
                    ":rotating_light: New incident *#{} {}* ({}) declared by {}{channel}.",
                    incident.id,
                    escape(&incident.title),
                    incident.severity,
                    mention(&incident.declared_by),
                ),
            });
        }
        jobs
    }

    /// A stored change: said in the incident's channel, the pinned summary brought up to
    /// date, status and severity changes announced.
    pub fn on_change(&self, change: &Change) -> Vec<Job> {
        let text = reply::changed(change).text;
        let mut jobs = vec![];
        if let (EventKind::Role, Some(user)) = (change.event.kind, &change.event.to) {
            jobs.push(Job::Invite {
                users: vec![user.clone()],
            });
        }
        jobs.push(Job::Post { text: text.clone() });
        if change.event.kind != EventKind::Note {
            jobs.push(Job::UpdateSummary);
        }
        if self.announce && matches!(change.event.kind, EventKind::Status | EventKind::Severity) {
            jobs.push(Job::Announce { text });
        }
        if self.archive_on_close && change.after.status == Status::Closed {
            jobs.push(Job::ArchiveChannel);
        }
        jobs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{IncidentId, Milestones, Policy, Severity};
    use chrono::DateTime;

    fn incident(status: Status) -> Incident {
        Incident {
            id: IncidentId(3),
            title: "<!here> db".into(),
            severity: Severity::Sev4,
            status,
            channel_id: Some("C9".parse().unwrap()),
            declared_by: "U1".parse().unwrap(),
            roles: [("lead".parse().unwrap(), "U2".parse().unwrap())].into(),
            milestones: Milestones::opened(DateTime::from_timestamp(0, 0).unwrap()),
            postmortem_url: None,
            summary_ts: None,
            version: 0,
        }
    }

    #[test]
    fn the_channel_brings_invites_topic_summary_and_an_escaped_announcement() {
        let e = Effects {
            announce: true,
            archive_on_close: true,
        };
        let jobs = e.after_channel(&incident(Status::Open));
        assert_eq!(
            jobs[0],
            Job::Invite {
                users: vec!["U1".into(), "U2".into()]
            }
        );
        assert_eq!(jobs[1..3], [Job::SetTopic, Job::PostSummary]);
        let Job::Announce { text } = &jobs[3] else {
            panic!("{jobs:?}")
        };
        assert!(
            text.contains("&lt;!here&gt;") && text.contains("<#C9>"),
            "{text}"
        );
        assert_eq!(
            Effects::default()
                .after_channel(&incident(Status::Open))
                .len(),
            3
        );
    }

    #[test]
    fn closing_archives_and_notes_are_not_announced() {
        let e = Effects {
            announce: true,
            archive_on_close: true,
        };
        let u = "U1".parse().unwrap();
        let at = DateTime::from_timestamp(9, 0).unwrap();
        let close = incident(Status::Resolved)
            .move_to(Status::Closed, &u, None, at, &Policy::default())
            .unwrap();
        let kinds: Vec<&str> = e.on_change(&close).iter().map(|j| j.kind()).collect();
        assert_eq!(
            kinds,
            ["post", "update_summary", "announce", "archive_channel"]
        );
        let note = incident(Status::Open).add_note("hi".into(), &u, at);
        let kinds: Vec<&str> = e.on_change(&note).iter().map(|j| j.kind()).collect();
        assert_eq!(kinds, ["post"]);
        let quiet = Effects::default();
        let kinds: Vec<&str> = quiet.on_change(&close).iter().map(|j| j.kind()).collect();
        assert_eq!(kinds, ["post", "update_summary"]);
    }
}
