//! The postmortem page: what pompier knows of an incident, rendered through a template
//! the team may replace, in Confluence's storage format (XHTML). Every value is escaped
//! by the template engine and stripped of what XML cannot hold, so whatever people typed
//! the page is well-formed. Pure: names come in, text goes out.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use minijinja::{AutoEscape, Environment};
use serde::Serialize;

use crate::domain::{Event, EventKind, Followup, Incident, Severity, SlackUserId, Status};
use crate::slack::text::plain_with;

/// The template shipped with pompier.
pub const DEFAULT_TEMPLATE: &str = include_str!("../../templates/postmortem.xml");

/// Longest title Confluence takes.
const MAX_TITLE: usize = 255;

/// A compiled page template.
pub struct Template {
    env: Environment<'static>,
}

#[derive(Debug, thiserror::Error)]
#[error("the postmortem template does not work: {0}")]
pub struct TemplateError(String);

impl Template {
    /// Compiles `source` (minijinja), escaping every value as for HTML/XML.
    pub fn new(source: String) -> Result<Template, TemplateError> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        // XML's five entities; the engine's HTML escaping would also write `/` as
        // `&#x2f;`, valid but unreadable in the page source and its links.
        env.set_formatter(|out, state, value| {
            if value.is_safe() || value.is_undefined() || value.is_none() {
                return minijinja::escape_formatter(out, state, value);
            }
            let mut escaped = String::new();
            for c in value.to_string().chars() {
                match c {
                    '&' => escaped.push_str("&amp;"),
                    '<' => escaped.push_str("&lt;"),
                    '>' => escaped.push_str("&gt;"),
                    '"' => escaped.push_str("&quot;"),
                    '\'' => escaped.push_str("&#39;"),
                    c => escaped.push(c),
                }
            }
            out.write_str(&escaped).map_err(minijinja::Error::from)
        });
        env.add_template_owned("postmortem", source)
            .map_err(|e| TemplateError(e.to_string()))?;
        let template = Template { env };
        // Rendered once on a sample, so a broken template stops pompier at start.
        template.render(&sample(), &[], &[], &[sample_followup()], &HashMap::new())?;
        Ok(template)
    }

    /// The page's body for `incident` with its `timeline`, the people who `joined` its
    /// channel and its `followups`; `names` maps user ids to the names people know.
    pub fn render(
        &self,
        incident: &Incident,
        timeline: &[Event],
        joined: &[SlackUserId],
        followups: &[Followup],
        names: &HashMap<String, String>,
    ) -> Result<String, TemplateError> {
        let context = Context::new(incident, timeline, joined, followups, names, crate::now());
        self.env
            .get_template("postmortem")
            .and_then(|t| t.render(&context))
            .map_err(|e| TemplateError(e.to_string()))
    }
}

/// `Postmortem #42: Checkout returns 500`, as people read it, within Confluence's limit.
pub fn title(incident: &Incident) -> String {
    let title = format!(
        "Postmortem {}#{}: {}",
        incident.label(),
        incident.id,
        xml_safe(&plain_with(&incident.title, |_| None))
    );
    title.chars().take(MAX_TITLE).collect()
}

/// `text` without the characters XML 1.0 cannot hold (control characters other than
/// tab, newline and carriage return; U+FFFE, U+FFFF).
pub fn xml_safe(text: &str) -> String {
    text.chars()
        .filter(|c| {
            matches!(c, '\t' | '\n' | '\r')
                || (!c.is_control() && !matches!(c, '\u{FFFE}' | '\u{FFFF}'))
        })
        .collect()
}

/// `text` as XML character data or an attribute's value: escaped, and without what XML
/// cannot hold.
pub fn escape_xml(text: &str) -> String {
    xml_safe(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn at(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn duration(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, s) => format!("{s} s"),
        (0, m, s) => format!("{m} min {s:02} s"),
        (h, m, _) => format!("{h} h {m:02} min"),
    }
}

fn colour(severity: Severity) -> &'static str {
    match severity {
        Severity::Sev1 => "Red",
        Severity::Sev2 => "Yellow",
        Severity::Sev3 => "Blue",
        Severity::Sev4 => "Grey",
    }
}

#[derive(Serialize)]
struct Context {
    number: i64,
    title: String,
    severity: &'static str,
    severity_colour: &'static str,
    status: &'static str,
    lead: Option<String>,
    comms: Option<String>,
    other_roles: Vec<RoleLine>,
    declared_by: String,
    impact_start: String,
    impact_end: String,
    /// What people said the incident is and whom it hurt (`/incident summary|impact`).
    summary: Option<String>,
    impact: Option<String>,
    channel_url: Option<String>,
    milestones: Vec<Milestone>,
    times: Vec<Time>,
    participants: Vec<String>,
    timeline: Vec<Line>,
    followups: Vec<Action>,
    drill: bool,
    failure_class: Option<String>,
    generated_at: String,
}

#[derive(Serialize)]
struct Action {
    number: i64,
    text: String,
    owner: Option<String>,
    done: bool,
    /// Its Jira issue: key and address.
    jira: Option<(String, String)>,
}

#[derive(Serialize)]
struct RoleLine {
    role: String,
    name: String,
}

#[derive(Serialize)]
struct Milestone {
    status: &'static str,
    at: String,
}

#[derive(Serialize)]
struct Time {
    what: &'static str,
    value: String,
}

#[derive(Serialize)]
struct Line {
    at: String,
    who: String,
    /// Lines of text, shown one under the other.
    what: Vec<String>,
    link: Option<String>,
}

impl Context {
    fn new(
        incident: &Incident,
        timeline: &[Event],
        joined: &[SlackUserId],
        followups: &[Followup],
        names: &HashMap<String, String>,
        now: DateTime<Utc>,
    ) -> Context {
        let name = |id: &str| xml_safe(names.get(id).map_or(id, String::as_str));
        let text = |t: &str| xml_safe(&plain_with(t, |id| names.get(id).cloned()));
        let m = &incident.milestones;
        let role = |r: &str| {
            incident
                .roles
                .iter()
                .find(|(role, _)| role.as_str() == r)
                .map(|(_, user)| name(user.as_str()))
        };
        let mut participants: Vec<String> = Vec::new();
        let mut take_part = |id: &str| {
            let n = name(id);
            if !participants.contains(&n) {
                participants.push(n);
            }
        };
        take_part(&incident.declared_by.to_string());
        for user in incident.roles.values() {
            take_part(user.as_str());
        }
        for event in timeline {
            take_part(&event.actor.to_string());
        }
        for user in joined {
            take_part(user.as_str());
        }
        Context {
            number: incident.id.0,
            title: text(&incident.title),
            severity: incident.severity.as_str(),
            severity_colour: colour(incident.severity),
            status: incident.status.as_str(),
            lead: role("lead"),
            comms: role("comms"),
            other_roles: incident
                .roles
                .iter()
                .filter(|(r, _)| !matches!(r.as_str(), "lead" | "comms"))
                .map(|(r, u)| RoleLine {
                    role: r.to_string(),
                    name: name(u.as_str()),
                })
                .collect(),
            declared_by: name(&incident.declared_by.to_string()),
            impact_start: m.opened_at.map(at).unwrap_or_default(),
            summary: incident.summary.as_deref().map(text),
            impact: incident.impact.as_deref().map(text),
            impact_end: m
                .mitigated_at
                .or(m.resolved_at)
                .map(at)
                .unwrap_or_else(|| "ongoing".into()),
            channel_url: incident
                .channel_id
                .as_ref()
                .map(|c| format!("https://slack.com/app_redirect?channel={c}")),
            milestones: Status::ALL
                .into_iter()
                .filter_map(|s| {
                    m.get(s).map(|t| Milestone {
                        status: s.as_str(),
                        at: at(t),
                    })
                })
                .collect(),
            times: [
                ("Time to acknowledge", Status::Investigating),
                ("Time to mitigate", Status::Mitigated),
                ("Time to resolve", Status::Resolved),
            ]
            .into_iter()
            .map(|(what, s)| Time {
                what,
                value: m
                    .time_to(s)
                    .map(duration)
                    .unwrap_or_else(|| "not reached".into()),
            })
            .collect(),
            participants,
            followups: followups
                .iter()
                .map(|f| Action {
                    number: f.number,
                    text: text(&f.text),
                    owner: f.owner.as_ref().map(|u| name(u.as_str())),
                    done: f.done_at.is_some(),
                    jira: f
                        .jira
                        .as_ref()
                        .map(|j| (xml_safe(&j.key), xml_safe(&j.url))),
                })
                .collect(),
            drill: incident.drill.is_some(),
            failure_class: incident.failure_class.as_deref().map(xml_safe),
            timeline: timeline
                .iter()
                .map(|e| Line {
                    at: at(e.at),
                    who: name(&e.actor.to_string()),
                    what: what(e, &name, &text).lines().map(str::to_owned).collect(),
                    link: (e.kind == EventKind::Postmortem)
                        .then(|| e.to.clone())
                        .flatten()
                        .map(|u| xml_safe(&u)),
                })
                .collect(),
            generated_at: at(now),
        }
    }
}

/// What an event says, in words.
fn what(e: &Event, name: &impl Fn(&str) -> String, text: &impl Fn(&str) -> String) -> String {
    let from = e.from.as_deref().unwrap_or("?");
    let to = e.to.as_deref().unwrap_or("?");
    let mut said = match e.kind {
        EventKind::Declared => "declared the incident".to_owned(),
        EventKind::Status => format!("{from} → {to}"),
        EventKind::Severity => format!("severity {from} → {to}"),
        EventKind::Role => format!(
            "{} is {}",
            name(to),
            e.role.as_ref().map(|r| r.as_str()).unwrap_or("?")
        ),
        EventKind::Note | EventKind::Alert => String::new(),
        EventKind::Page => format!("paged team {to}"),
        EventKind::Followup => format!("marked {to}"),
        EventKind::Edit => format!("changed the {}", e.field().unwrap_or("?")),
        EventKind::Postmortem => "drafted this postmortem".to_owned(),
        EventKind::Public => "told customers".to_owned(),
    };
    if let Some(note) = e.said() {
        if !said.is_empty() {
            said.push('\n');
        }
        said.push_str(&text(note));
    }
    said
}

/// An incident with every kind of fact, to check a template at start.
/// A follow-up with every fact, its Jira issue too, to check a template at start.
fn sample_followup() -> Followup {
    let t = DateTime::from_timestamp(1_700_000_000, 0).expect("a time");
    Followup {
        number: 1,
        text: "Add a retry <to> & fro".into(),
        owner: "U0SAMPLE".parse().ok(),
        created_by: crate::domain::Actor::Slack("U0SAMPLE".parse().expect("an id")),
        created_at: t,
        done_at: Some(t),
        done_by: None,
        jira: Some(crate::domain::followup::JiraIssue {
            key: "OPS-1".into(),
            url: "https://jira.example.com/browse/OPS-1?a=1&b=2".into(),
        }),
    }
}

fn sample() -> Incident {
    let t = DateTime::from_timestamp(1_700_000_000, 0).expect("a time");
    Incident {
        id: crate::domain::IncidentId(1),
        title: "Sample".into(),
        severity: Severity::Sev2,
        status: Status::Postmortem,
        channel_id: "C0SAMPLE".parse().ok(),
        declared_by: "U0SAMPLE".parse().expect("an id"),
        roles: Default::default(),
        milestones: crate::domain::Milestones::opened(t),
        postmortem_url: None,
        summary_ts: None,
        announce_ts: None,
        version: 0,
        drill: None,
        failure_class: None,
        private: false,
        updates: Default::default(),
        team: None,
        public_at: None,
        components: vec![],
        summary: Some("What happened <in> short".into()),
        impact: Some("Who was hurt & how".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{IncidentId, Milestones, Policy, SlackUserId};
    use proptest::prelude::*;

    fn user(id: &str) -> SlackUserId {
        id.parse().unwrap()
    }

    /// A reopened SEV1 with roles, notes and every milestone.
    fn story(title: &str, note: &str) -> (Incident, Vec<Event>) {
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let p = Policy::default();
        let mut incident = Incident {
            id: IncidentId(42),
            title: title.into(),
            severity: Severity::Sev1,
            status: Status::Open,
            channel_id: "C0INC".parse().ok(),
            declared_by: user("U0ALICE").into(),
            roles: Default::default(),
            milestones: Milestones::opened(t0),
            summary: Some("The payment provider timed out".into()),
            ..crate::domain::incident::example()
        };
        let mut events = vec![Event {
            at: t0,
            kind: EventKind::Declared,
            actor: user("U0ALICE").into(),
            from: None,
            to: Some("open".into()),
            role: None,
            note: None,
        }];
        let mut apply = |i: &Incident, c: Result<crate::domain::Change, _>| {
            let c = c.unwrap_or_else(|e| panic!("{e}"));
            events.push(c.event);
            let _ = i;
            c.after
        };
        let at = |s: i64| t0 + chrono::Duration::seconds(s);
        incident = apply(
            &incident,
            incident.assign(
                &"lead".parse().unwrap(),
                &user("U0BOB"),
                &user("U0ALICE").into(),
                at(30),
            ),
        );
        incident = apply(
            &incident,
            incident.move_to(
                Status::Investigating,
                &user("U0BOB").into(),
                None,
                at(125),
                &p,
            ),
        );
        incident = apply(
            &incident,
            incident.add_note(note.into(), &user("U0BOB").into(), at(300)),
        );
        incident = apply(
            &incident,
            incident.move_to(
                Status::Resolved,
                &user("U0BOB").into(),
                Some("rolled back".into()),
                at(1800),
                &p,
            ),
        );
        incident = apply(
            &incident,
            incident.move_to(
                Status::Investigating,
                &user("U0BOB").into(),
                Some("it came back".into()),
                at(2400),
                &p,
            ),
        );
        incident = apply(
            &incident,
            incident.move_to(Status::Resolved, &user("U0BOB").into(), None, at(4000), &p),
        );
        incident = apply(
            &incident,
            incident.move_to(
                Status::Postmortem,
                &user("U0ALICE").into(),
                None,
                at(5000),
                &p,
            ),
        );
        (incident, events)
    }

    fn names() -> HashMap<String, String> {
        [("U0ALICE", "Alice Martin"), ("U0BOB", "Bob <Ops> & Co")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    fn parse(page: &str) -> Result<(), String> {
        let doc = format!(
            "<page xmlns:ac=\"http://atlassian.com/content\" \
             xmlns:ri=\"http://atlassian.com/resource/identifier\">{page}</page>"
        );
        roxmltree::Document::parse(&doc)
            .map(|_| ())
            .map_err(|e| format!("{e}\n{page}"))
    }

    fn default_template() -> Template {
        Template::new(DEFAULT_TEMPLATE.into()).unwrap()
    }

    #[test]
    fn a_realistic_incident_reads_like_a_postmortem() {
        let (incident, events) = story("Checkout returns 500", "<@U0ALICE> restarted the primary");
        let page = default_template()
            .render(
                &incident,
                &events,
                &[user("U0CAROL")],
                &[sample_followup()],
                &names(),
            )
            .unwrap();
        parse(&page).unwrap();
        if let Ok(path) = std::env::var("POMPIER_WRITE_EXAMPLE") {
            // POMPIER_WRITE_EXAMPLE=$PWD/docs/postmortem-example.xml cargo test --lib realistic
            std::fs::write(path, format!("<!-- {} -->\n{page}", title(&incident))).unwrap();
        }
        for part in [
            "<ac:parameter ac:name=\"colour\">Red</ac:parameter><ac:parameter ac:name=\"title\">SEV1</ac:parameter>",
            "<th>Lead</th><td>Bob &lt;Ops&gt; &amp; Co</td>",
            "<th>Declared by</th><td>Alice Martin</td>",
            "2023-11-14 22:13:20 UTC to 2023-11-14 23:20:00 UTC",
            "https://slack.com/app_redirect?channel=C0INC",
            "<th>Time to acknowledge</th><td>2 min 05 s</td>",
            "<th>Time to resolve</th><td>1 h 06 min</td>",
            "@Alice Martin restarted the primary",
            "investigating → resolved<br/>rolled back",
            "resolved → investigating<br/>it came back",
            "<li>Alice Martin</li><li>Bob &lt;Ops&gt; &amp; Co</li><li>U0CAROL</li>",
            "Add a retry &lt;to&gt; &amp; fro",
            "<h2>Summary</h2>\n<p>The payment provider timed out</p>",
            "(<a href=\"https://jira.example.com/browse/OPS-1?a=1&amp;b=2\">OPS-1</a>)",
        ] {
            assert!(page.contains(part), "{part}\n{page}");
        }
        for heading in [
            "Summary",
            "Timeline",
            "Impact",
            "Root cause",
            "Failure class",
            "What went well",
            "What went badly",
            "Action items",
        ] {
            assert!(page.contains(&format!("<h2>{heading}</h2>")), "{heading}");
        }
        assert_eq!(title(&incident), "Postmortem #42: Checkout returns 500");
    }

    #[test]
    fn a_broken_template_is_refused_with_a_reason() {
        let err = Template::new("{% for x in %}".into()).err().unwrap();
        assert!(err.to_string().contains("template"), "{err}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn whatever_people_type_the_page_is_well_formed(
            title in "\\PC{0,200}",
            note in prop_oneof![
                "\\PC{0,400}",
                ".{0,400}",
                Just("]]> <![CDATA[ & &amp; <b> \" ' \u{0} \u{1b}[31m \u{FFFE} 🔥".to_owned()),
                Just("x".repeat(10_000)),
            ],
            name in ".{0,40}",
        ) {
            let (incident, events) = story(&title, &note);
            let mut names = names();
            names.insert("U0BOB".into(), name);
            let page = default_template().render(&incident, &events, &[], &[], &names).unwrap();
            prop_assert!(parse(&page).is_ok(), "{}", parse(&page).unwrap_err());
            prop_assert!(title.is_empty() || !super::title(&incident).is_empty());
        }
    }
}
