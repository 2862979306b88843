//! Replies to slash commands, as Slack message JSON. User text is escaped for mrkdwn.

use serde::Serialize;

use super::text::{escape, mention};
use crate::domain::{lifecycle, Change, EventKind, Incident, Status};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reply {
    pub response_type: &'static str,
    pub text: String,
}

impl Reply {
    /// Seen only by the user who typed the command.
    pub fn ephemeral(text: impl Into<String>) -> Reply {
        Reply {
            response_type: "ephemeral",
            text: text.into(),
        }
    }

    /// Shared in the channel, with the command that caused it.
    pub fn in_channel(text: impl Into<String>) -> Reply {
        Reply {
            response_type: "in_channel",
            text: text.into(),
        }
    }
}

fn headline(incident: &Incident) -> String {
    format!(
        "*#{} {}* ({}, {})",
        incident.id,
        escape(&incident.title),
        incident.severity,
        incident.status
    )
}

pub fn declared(incident: &Incident) -> Reply {
    Reply::in_channel(format!(
        ":rotating_light: {} declared by {}.\nNext: `/incident {} investigating` once someone is on it.",
        headline(incident),
        mention(&incident.declared_by),
        incident.id
    ))
}

/// A stored change, for the channel to see.
pub fn changed(change: &Change) -> Reply {
    let incident = &change.after;
    let event = &change.event;
    let who = mention(&event.actor);
    let mut text = match event.kind {
        EventKind::Status => format!(
            "Incident #{} is now *{}* (was {}), moved by {who}.",
            incident.id,
            incident.status,
            event.from.as_deref().unwrap_or("?"),
        ),
        EventKind::Severity => format!(
            "Incident #{} is now *{}* (was {}), changed by {who}.",
            incident.id,
            incident.severity,
            event.from.as_deref().unwrap_or("?"),
        ),
        EventKind::Role => format!(
            "{} is now *{}* of incident #{}, assigned by {who}.",
            event.to.as_deref().map(mention).unwrap_or_default(),
            event.role.as_ref().map(|r| r.as_str()).unwrap_or("?"),
            incident.id,
        ),
        EventKind::Note => format!("{who} added a note to incident #{}:", incident.id),
        EventKind::Declared | EventKind::Postmortem => headline(incident),
    };
    if let Some(note) = &event.note {
        text.push_str(&format!("\n>{}", escape(note).replace('\n', "\n>")));
    }
    Reply::in_channel(text)
}

/// The whole state of one incident, for the user who asked.
pub fn status(incident: &Incident, allowed_next: &[Status]) -> Reply {
    let mut lines = vec![headline(incident)];
    lines.push(format!("Declared by {}", mention(&incident.declared_by)));
    if let Some(channel) = &incident.channel_id {
        lines.push(format!("Channel: <#{channel}>"));
    }
    for (role, user) in &incident.roles {
        lines.push(format!("{role}: {}", mention(user)));
    }
    for status in Status::ALL {
        if let Some(at) = incident.milestones.get(status) {
            lines.push(format!("{status}: {}", at.format("%Y-%m-%d %H:%M:%S UTC")));
        }
    }
    if let Some(url) = &incident.postmortem_url {
        lines.push(format!("Postmortem: {}", escape(url)));
    }
    if !allowed_next.is_empty() {
        lines.push(format!("Next: {}", lifecycle::list(allowed_next)));
    }
    Reply::ephemeral(lines.join("\n"))
}

pub fn list(incidents: &[Incident], more: bool) -> Reply {
    if incidents.is_empty() {
        return Reply::ephemeral("No open incidents. :tada:");
    }
    let mut lines: Vec<String> = incidents
        .iter()
        .map(|i| match &i.channel_id {
            Some(channel) => format!("• {} <#{channel}>", headline(i)),
            None => format!("• {}", headline(i)),
        })
        .collect();
    if more {
        lines.push("…and more: see the API or the dashboard.".into());
    }
    Reply::ephemeral(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{IncidentId, Milestones, Severity};
    use chrono::DateTime;

    #[test]
    fn a_hostile_title_is_escaped_in_every_reply() {
        let incident = Incident {
            id: IncidentId(1),
            title: "<!channel> <https://evil|click> & co".into(),
            severity: Severity::Sev1,
            status: Status::Open,
            channel_id: None,
            declared_by: "U1".parse().unwrap(),
            roles: Default::default(),
            milestones: Milestones::opened(DateTime::from_timestamp(0, 0).unwrap()),
            postmortem_url: None,
            summary_ts: None,
            version: 0,
        };
        for reply in [
            declared(&incident),
            status(&incident, &[]),
            list(std::slice::from_ref(&incident), false),
        ] {
            assert!(!reply.text.contains("<!channel>"), "{}", reply.text);
            assert!(!reply.text.contains("<https://evil"), "{}", reply.text);
            assert!(reply
                .text
                .contains("&lt;!channel&gt; &lt;https://evil|click&gt; &amp; co"));
        }
    }
}
