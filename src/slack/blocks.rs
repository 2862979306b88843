//! The pinned summary of an incident, in Block Kit, within Slack's limits (header text
//! ≤ 150 characters, section text ≤ 3000, ≤ 50 blocks).

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::names::truncate;
use super::reply::local_time;
use super::text::{escape, mention};
use crate::domain::paging::Page;
use crate::domain::{Incident, Policy, Severity, Status};
use crate::store::{AlertRecord, JiraIssue};

pub const MAX_HEADER: usize = 150;
pub const MAX_SECTION: usize = 3000;
pub const MAX_BLOCKS: usize = 50;

/// Notification text shown where blocks are not (and in the channel list).
pub fn summary_text(incident: &Incident) -> String {
    truncate(
        &format!(
            "{}Incident #{} {} ({}, {})",
            incident.label(),
            incident.id,
            escape(&incident.title),
            incident.severity,
            incident.status
        ),
        MAX_SECTION,
    )
}

/// The incident's page, when people can reach pompier (`POMPIER_PUBLIC_URL`).
pub fn page_link(incident: &Incident, public_url: Option<&str>) -> Option<String> {
    public_url.map(|base| {
        format!(
            "<{}/dashboard/incidents/{}|Incident #{} in pompier>",
            escape(base.trim_end_matches('/')),
            incident.id,
            incident.id
        )
    })
}

/// What other services hold of an incident: its alert groups, its pages, its Jira issue.
#[derive(Clone, Copy, Default)]
pub struct Linked<'a> {
    pub alerts: &'a [AlertRecord],
    pub pages: &'a [Page],
    pub jira: Option<&'a JiraIssue>,
}

/// The summary message: title, severity, status, roles, declared time, links (to the
/// incident's page when `public_url` is set, to the postmortem once drafted).
pub fn summary(
    incident: &Incident,
    public_url: Option<&str>,
    policy: &Policy,
    next_update: Option<DateTime<Utc>>,
    linked: &Linked,
) -> Vec<Value> {
    let allowed = incident.status.allowed_next(incident.severity, policy);
    let Linked {
        alerts,
        pages,
        jira,
    } = *linked;
    let header = truncate(
        &format!("{}#{} {}", incident.label(), incident.id, incident.title),
        MAX_HEADER,
    );
    let mut fields = vec![
        format!(
            "*Severity*\n{}",
            escape(&policy.severity_label(incident.severity))
        ),
        format!("*Status*\n{}", incident.status),
    ];
    for (role, user) in &incident.roles {
        fields.push(format!("*{}*\n{}", escape(role.as_str()), mention(user)));
    }
    if let Some(team) = &incident.team {
        fields.push(format!("*Team*\n{}", escape(team.as_str())));
    }
    if let Some(class) = &incident.failure_class {
        fields.push(format!("*Failure class*\n{}", escape(class)));
    }
    if let Some(due) = next_update {
        fields.push(format!("*Next update due*\n{}", local_time(due)));
    }
    if !pages.is_empty() {
        let paged: Vec<String> = pages
            .iter()
            .map(|p| {
                let to = p.team.as_ref().map_or("on-call", |t| t.as_str());
                format!("{} {to}: {}", p.service, p.state)
            })
            .collect();
        fields.push(format!("*Paged*\n{}", escape(&paged.join("\n"))));
    }
    if let Some(at) = incident.milestones.opened_at {
        fields.push(format!(
            "*Declared*\n{} by {}",
            local_time(at),
            mention(&incident.declared_by)
        ));
    }
    // A section holds at most 10 fields.
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": header, "emoji": true}
    })];
    for chunk in fields.chunks(10) {
        blocks.push(json!({
            "type": "section",
            "fields": chunk.iter().map(|f| json!({"type": "mrkdwn", "text": truncate(f, 2000)})).collect::<Vec<_>>()
        }));
    }
    let milestones: Vec<String> = Status::ALL[1..]
        .iter()
        .filter_map(|s| {
            incident
                .milestones
                .get(*s)
                .map(|at| format!("{s} {}", local_time(at)))
        })
        .collect();
    if !milestones.is_empty() {
        blocks.push(json!({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": truncate(&milestones.join(" · "), MAX_SECTION)}]
        }));
    }
    for (what, text) in [("Summary", &incident.summary), ("Impact", &incident.impact)] {
        if let Some(text) = text {
            let said = truncate(&format!("*{what}*\n{}", escape(text)), MAX_SECTION);
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": said}}));
        }
    }
    if let Some(said) = alert_lines(alerts) {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": said}}));
    }
    let mut links: Vec<String> = page_link(incident, public_url).into_iter().collect();
    if let Some(url) = &incident.postmortem_url {
        links.push(format!("<{}|Postmortem>", escape(url)));
    }
    if let Some(issue) = jira {
        links.push(format!(
            "<{}|Jira {}>",
            escape(&issue.url),
            escape(&issue.key)
        ));
    }
    links
        .push("Move it with `/incident investigating|mitigated|resolved|postmortem|closed`".into());
    blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": truncate(&links.join(" · "), MAX_SECTION)}]
    }));
    if let Some(actions) = buttons(incident, &allowed) {
        blocks.push(actions);
    }
    blocks.truncate(MAX_BLOCKS);
    blocks
}

/// The incident's one announcement, edited in place as it changes: what, how bad,
/// where it stands, who leads, who is affected, where to go, how long it has been open.
pub fn announcement(
    incident: &Incident,
    policy: &Policy,
    public_url: Option<&str>,
) -> (String, Vec<Value>) {
    let icon = match incident.status {
        Status::Open | Status::Investigating => ":rotating_light:",
        Status::Mitigated => ":large_yellow_circle:",
        Status::Resolved | Status::Postmortem | Status::Closed => ":white_check_mark:",
    };
    let mut lines = vec![format!(
        "{icon} {} · {} · *{}*",
        super::reply::name(incident),
        escape(&policy.severity_label(incident.severity)),
        incident.status
    )];
    let mut facts = vec![
        match incident.roles.iter().find(|(r, _)| r.as_str() == "lead") {
            Some((_, lead)) => format!("Lead: {}", mention(lead)),
            None => "Lead: nobody yet".to_owned(),
        },
    ];
    if let Some(channel) = &incident.channel_id {
        facts.push(format!("<#{channel}>"));
    }
    if let Some(team) = &incident.team {
        facts.push(format!("Team: {}", escape(team.as_str())));
    }
    let m = &incident.milestones;
    match (m.opened_at, m.resolved_at) {
        (Some(opened), Some(resolved)) => facts.push(format!(
            "resolved after {}",
            crate::domain::gameday::report::duration((resolved - opened).num_seconds() as f64)
        )),
        (Some(opened), None) => facts.push(format!("open since {}", local_time(opened))),
        _ => {}
    }
    lines.push(facts.join(" · "));
    if let Some(impact) = &incident.impact {
        lines.push(format!("*Impact:* {}", escape(impact)));
    }
    let text = truncate(&lines.join("\n"), MAX_SECTION);
    let mut blocks = vec![json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})];
    if let Some(link) = page_link(incident, public_url) {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": link}]}));
    }
    (summary_text(incident), blocks)
}

/// Alert groups named on the summary; the rest are counted.
const ALERTS_SHOWN: usize = 5;

/// The alert groups behind the incident, each linked to where monitoring shows it.
fn alert_lines(alerts: &[AlertRecord]) -> Option<String> {
    if alerts.is_empty() {
        return None;
    }
    let mut lines = vec!["*Alerts*".to_owned()];
    for a in alerts.iter().take(ALERTS_SHOWN) {
        let named = alert_link(a);
        let icon = if a.status == "firing" {
            ":red_circle:"
        } else {
            ":white_check_mark:"
        };
        lines.push(format!(
            "{icon} {named} · {} · {} ×{}",
            a.status,
            escape(&a.source),
            a.count
        ));
    }
    if alerts.len() > ALERTS_SHOWN {
        lines.push(format!(
            "…and {} more on the incident's page",
            alerts.len() - ALERTS_SHOWN
        ));
    }
    Some(truncate(&lines.join("\n"), MAX_SECTION))
}

/// An alert group's title, escaped, linked to where monitoring shows it if it can be.
fn alert_link(alert: &AlertRecord) -> String {
    let title = escape(&truncate(&alert.title, 200));
    match &alert.url {
        Some(url) => format!("<{}|{title}>", escape(url)),
        None => title,
    }
}

/// The triage channel's words for an alert group waiting to be declared.
pub fn triage_text(alert: &AlertRecord, severity: Severity) -> String {
    format!(
        ":rotating_light: {} ({severity}, from {}) is {}. Declare an incident for it?",
        alert_link(alert),
        escape(&alert.source),
        alert.status
    )
}

/// The triage message: the alert, and a *Declare* button whose value is the group.
pub fn triage(alert: &AlertRecord, severity: Severity, group: i64) -> Vec<Value> {
    vec![
        json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&triage_text(alert, severity), MAX_SECTION)}}),
        json!({"type": "actions", "block_id": "alert_triage", "elements": [
            {"type": "button", "action_id": DECLARE_ALERT, "value": group.to_string(), "style": "danger",
             "text": {"type": "plain_text", "text": "Declare"}}
        ]}),
    ]
}

/// The `action_id` of the triage message's *Declare* button.
pub const DECLARE_ALERT: &str = "declare_alert";
/// The summary's *Edit* button: opens the form.
pub const EDIT: &str = "edit";
/// The summary's *Status page* button: opens the customer-facing update form.
pub const STATUS_PAGE: &str = "status_page";

/// The summary's buttons: the allowed next statuses, the severity, taking the lead.
/// Each value is `{incident}:{what}`; none once the incident is closed.
fn buttons(incident: &Incident, allowed: &[Status]) -> Option<Value> {
    if incident.status == Status::Closed {
        return None;
    }
    let id = incident.id;
    let mut elements: Vec<Value> = allowed
        .iter()
        .map(|s| {
            json!({"type": "button", "action_id": "move", "value": format!("{id}:{s}"),
                   "text": {"type": "plain_text", "text": format!("→ {s}")}})
        })
        .collect();
    let option = |s: crate::domain::Severity| json!({"text": {"type": "plain_text", "text": s.as_str()}, "value": format!("{id}:{s}")});
    elements.push(json!({
        "type": "static_select", "action_id": "severity",
        "placeholder": {"type": "plain_text", "text": "Severity"},
        "initial_option": option(incident.severity),
        "options": crate::domain::Severity::ALL.map(option),
    }));
    elements.push(
        json!({"type": "button", "action_id": "take_lead", "value": format!("{id}:lead"),
                         "text": {"type": "plain_text", "text": "Take the lead"}}),
    );
    elements.push(
        json!({"type": "button", "action_id": EDIT, "value": format!("{id}:edit"),
                         "text": {"type": "plain_text", "text": "Edit"}}),
    );
    // Customers may hear of a public incident; never of a private one or a drill.
    if !incident.private && incident.drill.is_none() {
        elements.push(
            json!({"type": "button", "action_id": STATUS_PAGE, "value": format!("{id}:public"),
                   "text": {"type": "plain_text", "text": "Status page"}}),
        );
    }
    Some(json!({"type": "actions", "block_id": "incident_actions", "elements": elements}))
}

/// A message of `text` (mrkdwn, already escaped) cut into sections within the limits.
pub fn message(text: &str) -> Vec<Value> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(MAX_SECTION)
        .take(MAX_BLOCKS)
        .map(|chunk| {
            json!({"type": "section", "text": {"type": "mrkdwn", "text": chunk.iter().collect::<String>()}})
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{IncidentId, Milestones, Severity};
    use chrono::DateTime;

    fn incident(title: &str) -> Incident {
        Incident {
            id: IncidentId(42),
            title: title.into(),
            severity: Severity::Sev2,
            status: Status::Investigating,
            roles: [("lead".parse().unwrap(), "U2".parse().unwrap())].into(),
            milestones: Milestones {
                investigating_at: DateTime::from_timestamp(1_700_000_100, 0),
                ..Milestones::opened(DateTime::from_timestamp(1_700_000_000, 0).unwrap())
            },
            ..crate::domain::incident::example()
        }
    }

    #[test]
    fn the_summary_links_its_alerts_with_their_text_escaped() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let alert = |n: i64| AlertRecord {
            source: "alertmanager".into(),
            dedup_key: format!("k{n}"),
            status: "firing".into(),
            title: "disk <!channel> & full".into(),
            url: Some("http://prom/graph?a=1&b=<2>".into()),
            first_at: at,
            last_at: at,
            count: n,
        };
        let alerts: Vec<AlertRecord> = (1..=7).map(alert).collect();
        let blocks = summary(
            &incident("DB down"),
            None,
            &Policy::default(),
            None,
            &Linked {
                alerts: &alerts,
                ..Linked::default()
            },
        );
        let all = serde_json::to_string(&blocks).unwrap();
        assert!(
            all.contains(
                "<http://prom/graph?a=1&amp;b=&lt;2&gt;|disk &lt;!channel&gt; &amp; full>"
            ),
            "{all}"
        );
        assert!(all.contains("×5") && !all.contains("×6") && all.contains("and 2 more"));
        assert!(!all.contains("<!channel>"));
    }

    #[test]
    fn only_a_public_incident_offers_the_status_page() {
        let actions = |i: &Incident| -> Vec<String> {
            let blocks = summary(i, None, &Policy::default(), None, &Linked::default());
            blocks
                .iter()
                .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
                .filter_map(|e| e["action_id"].as_str().map(str::to_owned))
                .collect()
        };
        let public = incident("DB down");
        assert!(actions(&public).contains(&STATUS_PAGE.to_owned()));
        for hidden in [
            Incident {
                private: true,
                ..public.clone()
            },
            Incident {
                drill: Some(crate::domain::Drill {
                    team: crate::domain::Team::unassigned(),
                    gameday: None,
                }),
                ..public.clone()
            },
        ] {
            assert!(!actions(&hidden).contains(&STATUS_PAGE.to_owned()));
        }
    }

    #[test]
    fn the_summary_shows_state_roles_and_local_time() {
        let blocks = summary(
            &incident("DB down"),
            Some("https://pompier.example.com/"),
            &Policy::default(),
            DateTime::from_timestamp(1_700_000_900, 0),
            &Linked {
                pages: &[crate::domain::paging::Page {
                    service: "pagerduty".into(),
                    team: None,
                    state: crate::domain::paging::PageState::Acknowledged,
                }],
                jira: Some(&JiraIssue {
                    key: "OPS-7".into(),
                    url: "https://acme.atlassian.net/browse/OPS-7".into(),
                }),
                ..Linked::default()
            },
        );
        let all = serde_json::to_string(&blocks).unwrap();
        assert!(
            all.contains("*Next update due*\\n<!date^1700000900^"),
            "{all}"
        );
        assert_eq!(blocks[0]["text"]["text"], "#42 DB down");
        for part in [
            "SEV2",
            "investigating",
            "*lead*\\n<@U2>",
            "<!date^1700000000^",
            "*Paged*\\npagerduty on-call: acknowledged",
            "<https://acme.atlassian.net/browse/OPS-7|Jira OPS-7>",
        ] {
            assert!(all.contains(part), "{part} in {all}");
        }
        assert!(!all.contains("/api/v1/"), "no link a browser cannot open");
        assert!(
            all.contains("<https://pompier.example.com/dashboard/incidents/42|"),
            "{all}"
        );
        for (action, value) in [
            ("move", "42:mitigated"),
            ("move", "42:resolved"),
            ("take_lead", "42:lead"),
        ] {
            assert!(
                all.contains(&format!("\"action_id\":\"{action}\"")) && all.contains(value),
                "{action} {value} in {all}"
            );
        }
        assert!(!serde_json::to_string(&summary(
            &incident("x"),
            None,
            &Policy::default(),
            None,
            &Linked::default()
        ))
        .unwrap()
        .contains("/dashboard/"));
    }

    #[test]
    fn hostile_and_huge_text_stays_escaped_and_within_limits() {
        let title = format!("<!channel> <https://evil|click> {}", "🔥".repeat(300));
        let blocks = summary(
            &incident(&title),
            None,
            &Policy::default(),
            None,
            &Linked::default(),
        );
        assert!(blocks[0]["text"]["text"].as_str().unwrap().chars().count() <= MAX_HEADER);
        assert!(summary_text(&incident(&title))
            .starts_with("Incident #42 &lt;!channel&gt; &lt;https://evil|click&gt;"));
        let long = message(&"x".repeat(10_000));
        assert_eq!(long.len(), 4);
        assert!(long
            .iter()
            .all(|b| b["text"]["text"].as_str().unwrap().chars().count() <= MAX_SECTION));
        assert_eq!(message(&"y".repeat(MAX_SECTION * 60)).len(), MAX_BLOCKS);
    }
}
