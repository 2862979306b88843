//! What an issue says (pure): its summary, labels and description, in Atlassian Document
//! Format for Cloud's REST v3 (a plain string there is refused) or plain text for Data
//! Center's v2. A private incident's title and follow-up texts never reach Jira.

use serde_json::{json, Value};

use crate::domain::{Followup, Incident};

/// Jira's summary field holds at most 255 characters.
const MAX_SUMMARY: usize = 255;

/// What is filed: the incident itself, or one of its follow-ups.
pub enum Subject<'a> {
    Incident,
    Followup(&'a Followup),
}

/// The label that finds the issue again after a lost answer (no spaces: Jira refuses
/// them).
pub fn label(incident: &Incident, subject: &Subject) -> String {
    match subject {
        Subject::Incident => format!("pompier-incident-{}", incident.id),
        Subject::Followup(f) => format!("pompier-followup-{}-{}", incident.id, f.number),
    }
}

pub fn summary(incident: &Incident, subject: &Subject) -> String {
    // Drills get no issue: the incident's summary is its page's.
    let text = match subject {
        Subject::Incident => crate::domain::paging::page_summary(incident),
        Subject::Followup(f) if incident.private => {
            format!(
                "Follow-up #{} of private incident #{}",
                f.number, incident.id
            )
        }
        Subject::Followup(f) => format!("Follow-up of #{}: {}", incident.id, f.text),
    };
    crate::domain::paging::cut(&text.replace(['\n', '\r'], " "), MAX_SUMMARY)
}

/// The description's lines: each a text and, maybe, the address it links to.
pub fn lines(
    incident: &Incident,
    subject: &Subject,
    incident_page: Option<String>,
    owner: Option<&str>,
) -> Vec<(String, Option<String>)> {
    let mut lines = vec![];
    if let Subject::Followup(f) = subject {
        if !incident.private {
            lines.push((f.text.clone(), None));
        }
        if let Some(owner) = owner {
            lines.push((format!("Owner: {owner}"), None));
        }
    }
    lines.push((
        format!(
            "Incident #{} ({}, {})",
            incident.id, incident.severity, incident.status
        ),
        incident_page,
    ));
    if let Some(channel) = &incident.channel_id {
        lines.push((
            "Slack channel".into(),
            Some(format!("https://slack.com/app_redirect?channel={channel}")),
        ));
    }
    if let Some(url) = &incident.postmortem_url {
        lines.push(("Postmortem".into(), Some(url.clone())));
    }
    lines.push(("Filed by pompier.".into(), None));
    lines
}

/// The lines as an Atlassian Document (Cloud, REST v3): a paragraph each, links marked.
pub fn adf(lines: &[(String, Option<String>)]) -> Value {
    let content: Vec<Value> = lines
        .iter()
        .map(|(text, link)| {
            let mut node = json!({"type": "text", "text": text});
            if let Some(href) = link {
                node["marks"] = json!([{"type": "link", "attrs": {"href": href}}]);
            }
            json!({"type": "paragraph", "content": [node]})
        })
        .collect();
    json!({"type": "doc", "version": 1, "content": content})
}

/// The lines as plain text (Data Center, REST v2).
pub fn plain(lines: &[(String, Option<String>)]) -> String {
    lines
        .iter()
        .map(|(text, link)| match link {
            Some(href) => format!("{text}: {href}"),
            None => text.clone(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{IncidentId, Severity, Status};
    use chrono::DateTime;

    fn incident(private: bool) -> Incident {
        Incident {
            id: IncidentId(42),
            severity: Severity::Sev1,
            status: Status::Resolved,
            channel_id: Some("C0INC".parse().unwrap()),
            private,
            ..crate::domain::incident::example()
        }
    }

    fn followup() -> Followup {
        Followup {
            number: 3,
            text: "Add a retry to checkout".into(),
            owner: None,
            created_by: "U1".parse().unwrap(),
            created_at: DateTime::from_timestamp(0, 0).unwrap(),
            done_at: None,
            done_by: None,
            jira: None,
        }
    }

    #[test]
    fn issues_say_what_they_are_for_and_a_private_incident_keeps_its_words() {
        let f = followup();
        let public = incident(false);
        assert_eq!(
            summary(&public, &Subject::Incident),
            "[SEV1] #42 Checkout returns 500"
        );
        assert_eq!(
            summary(&public, &Subject::Followup(&f)),
            "Follow-up of #42: Add a retry to checkout"
        );
        assert_eq!(
            label(&public, &Subject::Followup(&f)),
            "pompier-followup-42-3"
        );
        assert_eq!(label(&public, &Subject::Incident), "pompier-incident-42");
        let private = incident(true);
        let all = format!(
            "{} {} {}",
            summary(&private, &Subject::Incident),
            summary(&private, &Subject::Followup(&f)),
            plain(&lines(&private, &Subject::Followup(&f), None, None))
        );
        assert!(!all.contains("Checkout") && !all.contains("retry"), "{all}");
        let doc = adf(&lines(
            &public,
            &Subject::Incident,
            Some("https://p/42".into()),
            None,
        ));
        assert_eq!(doc["type"], "doc");
        assert_eq!(
            doc["content"][0]["content"][0]["marks"][0]["attrs"]["href"],
            "https://p/42"
        );
    }
}
