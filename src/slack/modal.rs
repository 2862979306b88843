//! The declare-incident modal (`callback_id` `declare_incident`): the view pompier opens,
//! and what a submission says, checked as the text command's are. Pure.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::names::truncate;
use crate::domain::{Incident, Policy, Severity, SlackUserId, Team};

pub const CALLBACK_ID: &str = "declare_incident";

/// The message a message shortcut declared from: the incident's timeline starts with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub channel: String,
    pub ts: String,
    pub user: String,
    pub text: String,
    pub permalink: Option<String>,
    /// The message was longer than the form could carry: `text` is its beginning.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cut: bool,
}

/// The most `private_metadata` holds, in characters.
pub const MAX_METADATA_CHARS: usize = 3000;

impl Origin {
    /// As `private_metadata`: within its 3,000 characters whatever the message holds
    /// (quotes, newlines and control characters take more room once escaped), the text
    /// cut, and said to be, when it must be.
    pub fn metadata(&self) -> String {
        let mut o = self.clone();
        loop {
            let json = serde_json::to_string(&o).expect("an origin serializes");
            let over = json.chars().count().saturating_sub(MAX_METADATA_CHARS);
            if over == 0 {
                return json;
            }
            if o.text.is_empty() {
                // Nothing more to cut (no real message gets here): the form without it.
                return String::new();
            }
            let keep = o.text.chars().count().saturating_sub(over.max(16));
            o.text = o.text.chars().take(keep).collect();
            o.cut = true;
        }
    }

    /// What its first event on the timeline says: the message, marked when cut, and
    /// where it was.
    pub fn note(&self) -> String {
        let mut note = self.text.clone();
        if self.cut {
            note.push_str(" … (the message was longer: see it in Slack)");
        }
        if let Some(link) = &self.permalink {
            note.push('\n');
            note.push_str(link);
        }
        truncate(&note, crate::domain::incident::MAX_NOTE_CHARS)
    }
}

impl Origin {
    /// The message's own time, from its `ts` (seconds.microseconds).
    pub fn at(&self) -> Option<DateTime<Utc>> {
        let (secs, micros) = self.ts.split_once('.').unwrap_or((&self.ts, "0"));
        let micros = format!("{micros:0<6}");
        DateTime::from_timestamp(
            secs.parse().ok()?,
            micros.get(..6)?.parse::<u32>().ok()? * 1000,
        )
    }
}

/// What a valid submission declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    pub title: String,
    pub severity: Severity,
    pub description: Option<String>,
    pub lead: Option<SlackUserId>,
    pub origin: Option<Origin>,
    pub private: bool,
    /// The team chosen in the form's select (of the configured teams), or typed.
    pub team: Option<Team>,
    /// Who is affected, when the declarer says.
    pub impact: Option<String>,
    /// The conversation the form was opened from: the declarer is told there where the
    /// incident's channel is.
    pub from: Option<String>,
}

fn plain(text: &str) -> Value {
    json!({"type": "plain_text", "text": text})
}

/// A severity as an option: its name and, when configured, what it means.
fn severity_option(s: Severity, policy: &Policy) -> Value {
    json!({"text": plain(&truncate(&policy.severity_label(s), 75)), "value": s.as_str()})
}

fn severity_options(policy: &Policy) -> Vec<Value> {
    Severity::ALL
        .iter()
        .map(|s| severity_option(*s, policy))
        .collect()
}

/// What the declare form is opened with.
#[derive(Debug, Clone, Default)]
pub struct Form<'a> {
    /// The title, from the message a shortcut declares from.
    pub prefill: Option<&'a str>,
    pub severity: Option<Severity>,
    /// The message a shortcut declares from.
    pub origin: Option<&'a Origin>,
    /// The conversation the form was opened from (`/incident`): the declarer is told
    /// there where the incident's channel is.
    pub from: Option<&'a str>,
    /// The configured teams: a select of them, else a free text field.
    pub teams: &'a [Team],
    /// What each severity means.
    pub policy: Policy,
}

/// `private_metadata` when the form is opened from a conversation, not a message.
#[derive(Serialize, Deserialize)]
struct From {
    from: String,
}

/// The modal, its title prefilled (from a message), carrying where it was opened from
/// to the submission.
pub fn view(form: &Form) -> Value {
    let mut title = json!({"type": "plain_text_input", "action_id": "title",
                           "max_length": crate::domain::incident::MAX_TITLE_CHARS});
    if let Some(text) = form
        .prefill
        .map(|t| truncate(t.lines().next().unwrap_or_default().trim(), 150))
    {
        if !text.is_empty() {
            title["initial_value"] = json!(text);
        }
    }
    let metadata = match (form.origin, form.from) {
        (Some(origin), _) => origin.metadata(),
        (None, Some(from)) => serde_json::to_string(&From { from: from.into() })
            .expect("a conversation id serializes"),
        (None, None) => String::new(),
    };
    let note = crate::domain::incident::MAX_NOTE_CHARS;
    // A select of the configured teams (Slack allows 100 options), else a name typed.
    let team = if form.teams.is_empty() {
        json!({"type": "input", "block_id": "team", "optional": true,
               "label": plain("Service or team"),
               "hint": plain("A short name (letters, digits, - and _), shown on the announcement."),
               "element": {"type": "plain_text_input", "action_id": "team", "max_length": 40}})
    } else {
        let option = |t: &Team| json!({"text": plain(t.as_str()), "value": t.as_str()});
        json!({"type": "input", "block_id": "team", "optional": true,
               "label": plain("Service or team (its people are invited)"),
               "element": {"type": "static_select", "action_id": "team",
                           "options": form.teams.iter().take(100).map(option).collect::<Vec<_>>()}})
    };
    json!({
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "title": plain("Declare an incident"),
        "submit": plain("Declare"),
        "close": plain("Cancel"),
        "private_metadata": metadata,
        "blocks": [
            {"type": "input", "block_id": "title", "label": plain("What is happening?"), "element": title},
            {"type": "input", "block_id": "severity", "label": plain("Severity"),
             "element": {"type": "static_select", "action_id": "severity",
                         "initial_option": severity_option(form.severity.unwrap_or(Severity::DEFAULT), &form.policy),
                         "options": severity_options(&form.policy)}},
            team,
            {"type": "input", "block_id": "impact", "optional": true, "label": plain("Who is affected"),
             "element": {"type": "plain_text_input", "action_id": "impact", "multiline": true,
                         "max_length": note}},
            {"type": "input", "block_id": "description", "optional": true, "label": plain("Details"),
             "element": {"type": "plain_text_input", "action_id": "description", "multiline": true,
                         "max_length": note}},
            {"type": "input", "block_id": "lead", "optional": true, "label": plain("Incident lead"),
             "element": {"type": "users_select", "action_id": "lead"}},
            {"type": "input", "block_id": "private", "optional": true, "label": plain("Visibility"),
             "element": {"type": "checkboxes", "action_id": "private",
                         "options": [{"text": plain("Private: a private channel, not announced"),
                                      "value": "private"}]}},
        ]
    })
}

/// The *Edit* form's callback id; its `private_metadata` is the incident's number.
pub const EDIT_ID: &str = "edit_incident";

/// The *Edit* form of `incident`, prefilled with its title, summary, impact, severity.
pub fn edit_view(incident: &Incident, policy: &Policy) -> Value {
    let text = |id: &str, value: Option<&str>, multiline: bool, max: usize| {
        let mut element = json!({"type": "plain_text_input", "action_id": id,
                                 "multiline": multiline, "max_length": max});
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            element["initial_value"] = json!(truncate(value, max));
        }
        element
    };
    let note = crate::domain::incident::MAX_NOTE_CHARS;
    json!({
        "type": "modal",
        "callback_id": EDIT_ID,
        "title": plain(&truncate(&format!("Edit #{}", incident.id), 24)),
        "submit": plain("Save"),
        "close": plain("Cancel"),
        "private_metadata": incident.id.to_string(),
        "blocks": [
            {"type": "input", "block_id": "title", "label": plain("Title"),
             "element": text("title", Some(&incident.title), false, crate::domain::incident::MAX_TITLE_CHARS)},
            {"type": "input", "block_id": "summary", "optional": true, "label": plain("What is happening"),
             "element": text("summary", incident.summary.as_deref(), true, note)},
            {"type": "input", "block_id": "impact", "optional": true, "label": plain("Who is affected"),
             "element": text("impact", incident.impact.as_deref(), true, note)},
            {"type": "input", "block_id": "severity", "label": plain("Severity"),
             "element": {"type": "static_select", "action_id": "severity",
                         "initial_option": severity_option(incident.severity, policy),
                         "options": severity_options(policy)}},
        ]
    })
}

/// The *Status page* form's callback id; its `private_metadata` is the incident's number.
pub const PUBLIC_ID: &str = "status_page";

/// The *Status page* form of `incident`: the message customers read and, the first
/// time, the components it affects (of `status_page.components`).
pub fn public_view(incident: &Incident, policy: &Policy) -> Value {
    let first = incident.public_at.is_none();
    let mut blocks = vec![json!({
        "type": "input", "block_id": "message",
        "label": plain(if first { "What customers read" } else { "An update for customers" }),
        "hint": plain("Customer-facing words only: it is shown on the public status page."),
        "element": {"type": "plain_text_input", "action_id": "message", "multiline": true,
                    "max_length": crate::domain::incident::MAX_NOTE_CHARS}})];
    if first && !policy.components.is_empty() {
        let option = |c: &String| json!({"text": plain(c), "value": c});
        let mut element = json!({"type": "checkboxes", "action_id": "components",
            "options": policy.components.iter().take(10).map(option).collect::<Vec<_>>()});
        let chosen: Vec<Value> = policy
            .components
            .iter()
            .take(10)
            .filter(|c| incident.components.contains(c))
            .map(option)
            .collect();
        if !chosen.is_empty() {
            element["initial_options"] = json!(chosen);
        }
        blocks.push(
            json!({"type": "input", "block_id": "components", "optional": true,
                           "label": plain("Affected components"), "element": element}),
        );
    }
    json!({
        "type": "modal",
        "callback_id": PUBLIC_ID,
        "title": plain(&truncate(&format!("Status page #{}", incident.id), 24)),
        "submit": plain(if first { "Publish" } else { "Post update" }),
        "close": plain("Cancel"),
        "private_metadata": incident.id.to_string(),
        "blocks": blocks,
    })
}

/// What the *Status page* form says: the incident, the message, the components.
pub fn public_submission(
    view: &Value,
) -> Result<(crate::domain::IncidentId, String, Vec<String>), BTreeMap<&'static str, String>> {
    let values = &view["state"]["values"];
    let id = view["private_metadata"]
        .as_str()
        .and_then(|m| m.parse().ok());
    let message = values["message"]["message"]["value"]
        .as_str()
        .unwrap_or_default();
    let message = Incident::parse_note(message)
        .map_err(|e| BTreeMap::from([("message", capitalised(&e.0.replace("note", "message")))]))?;
    let components = values["components"]["components"]["selected_options"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["value"].as_str().map(str::to_owned))
        .collect();
    match id {
        Some(id) => Ok((id, message, components)),
        None => Err(BTreeMap::from([(
            "message",
            "This form lost its incident: open it again.".to_owned(),
        )])),
    }
}

/// What the *Edit* form asks: the incident, then each field's new text (empty ones
/// left as they are) and the severity.
#[derive(Debug, PartialEq, Eq)]
pub struct Edits {
    pub id: crate::domain::IncidentId,
    pub fields: Vec<(crate::domain::incident::Field, String)>,
    pub severity: Severity,
}

/// Reads an *Edit* form's submission; the errors by block id when it is not valid.
pub fn edit_submission(view: &Value) -> Result<Edits, BTreeMap<&'static str, String>> {
    use crate::domain::incident::Field;
    let values = &view["state"]["values"];
    let mut errors = BTreeMap::new();
    let mut fields = vec![];
    for (block, field) in [
        ("title", Field::Title),
        ("summary", Field::Summary),
        ("impact", Field::Impact),
    ] {
        let given = values[block][block]["value"].as_str().unwrap_or_default();
        if given.trim().is_empty() && field != Field::Title {
            continue;
        }
        match field.parse_text(given) {
            Ok(text) => fields.push((field, text)),
            Err(e) => {
                errors.insert(block, capitalised(&e.0));
            }
        }
    }
    let severity = values["severity"]["severity"]["selected_option"]["value"]
        .as_str()
        .unwrap_or_default()
        .parse::<Severity>()
        .map_err(|e| errors.insert("severity", capitalised(&e.0)))
        .ok();
    let id = view["private_metadata"]
        .as_str()
        .and_then(|m| m.parse().ok());
    match (id, severity) {
        (Some(id), Some(severity)) if errors.is_empty() => Ok(Edits {
            id,
            fields,
            severity,
        }),
        (None, _) => Err([(
            "title",
            "This form lost its incident: open it again.".to_owned(),
        )]
        .into()),
        _ => Err(errors),
    }
}

/// Reads a `view_submission`'s view; the errors by block id when it is not valid.
pub fn submission(view: &Value) -> Result<Submission, BTreeMap<&'static str, String>> {
    let values = &view["state"]["values"];
    let mut errors = BTreeMap::new();
    let text = |block: &str| {
        values[block][block]["value"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let title = match Incident::parse_title(&text("title")) {
        Ok(t) => Some(t),
        Err(e) => {
            errors.insert("title", capitalised(&e.0));
            None
        }
    };
    let severity = values["severity"]["severity"]["selected_option"]["value"]
        .as_str()
        .map_or(Ok(Severity::DEFAULT), str::parse::<Severity>);
    let severity = severity
        .map_err(|e| errors.insert("severity", capitalised(&e.0)))
        .ok();
    let mut note = |block: &'static str| {
        let given = text(block);
        if given.trim().is_empty() {
            return None;
        }
        Incident::parse_note(&given)
            .map_err(|e| errors.insert(block, capitalised(&e.0.replace("note", "text"))))
            .ok()
    };
    let description = note("description");
    let impact = note("impact");
    let lead = values["lead"]["lead"]["selected_user"]
        .as_str()
        .and_then(|u| u.parse().ok());
    let team = match values["team"]["team"]["selected_option"]["value"].as_str() {
        Some(chosen) => chosen.parse().ok(),
        None => {
            let typed = text("team");
            let typed = typed.trim();
            match typed.is_empty() {
                true => None,
                false => typed
                    .to_lowercase()
                    .parse::<Team>()
                    .map_err(|e| errors.insert("team", capitalised(&e.0)))
                    .ok(),
            }
        }
    };
    let private = values["private"]["private"]["selected_options"]
        .as_array()
        .is_some_and(|chosen| chosen.iter().any(|o| o["value"] == "private"));
    let metadata = view["private_metadata"].as_str().unwrap_or_default();
    if metadata.chars().count() > MAX_METADATA_CHARS {
        errors.insert(
            "title",
            format!("The form carries more than Slack allows ({MAX_METADATA_CHARS} characters): open it again."),
        );
    }
    let origin: Option<Origin> = Some(metadata)
        .filter(|m| !m.is_empty())
        .and_then(|m| serde_json::from_str(m).ok());
    let from = match &origin {
        Some(origin) => Some(origin.channel.clone()),
        None => serde_json::from_str::<From>(metadata).ok().map(|f| f.from),
    };
    match (title, severity) {
        (Some(title), Some(severity)) if errors.is_empty() => Ok(Submission {
            title,
            severity,
            description,
            lead,
            origin,
            private,
            team,
            impact,
            from,
        }),
        _ => Err(errors),
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>() + ".",
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submitted(title: &str, severity: &str, description: &str) -> Value {
        json!({"callback_id": CALLBACK_ID, "private_metadata": "",
               "state": {"values": {
                   "title": {"title": {"type": "plain_text_input", "value": title}},
                   "severity": {"severity": {"type": "static_select", "selected_option": {"value": severity}}},
                   "description": {"description": {"type": "plain_text_input", "value": description}},
                   "lead": {"lead": {"type": "users_select", "selected_user": "U0LEAD"}}}}})
    }

    #[test]
    fn the_modal_has_its_fields_within_slacks_limits() {
        let origin = Origin {
            channel: "C1".into(),
            ts: "1700000000.000200".into(),
            user: "U1".into(),
            text: "x".repeat(5000),
            permalink: None,
            cut: false,
        };
        let v = view(&Form {
            prefill: Some("DB down\nsecond line"),
            origin: Some(&origin),
            ..Form::default()
        });
        assert!(v["title"]["text"].as_str().unwrap().chars().count() <= 24);
        let teams = ["payments".parse().unwrap()];
        let with_teams = view(&Form {
            teams: &teams,
            ..Form::default()
        });
        assert_eq!(
            with_teams["blocks"][2]["element"]["options"][0]["value"],
            "payments"
        );
        assert_eq!(v["blocks"][2]["element"]["type"], "plain_text_input");
        assert_eq!(v["blocks"][0]["element"]["initial_value"], "DB down");
        assert_eq!(v["blocks"][1]["element"]["initial_option"]["value"], "SEV3");
        assert!(v["private_metadata"].as_str().unwrap().len() <= 3000);
        assert_eq!(
            origin.at(),
            DateTime::from_timestamp(1_700_000_000, 200_000)
        );
    }

    #[test]
    fn the_metadata_stays_within_slacks_limit_whatever_the_message_holds() {
        for text in [
            "\"".repeat(2900),
            "\u{1}".repeat(2000),
            "\n".repeat(2999),
            "é🔥".repeat(1400),
            "short".into(),
        ] {
            let origin = Origin {
                channel: "C1".into(),
                ts: "1.2".into(),
                user: "U1".into(),
                text: text.clone(),
                permalink: Some("https://acme.slack.com/archives/C1/p12".into()),
                cut: false,
            };
            let metadata = origin.metadata();
            assert!(metadata.chars().count() <= MAX_METADATA_CHARS);
            let back: Origin = serde_json::from_str(&metadata).unwrap();
            assert!(text.starts_with(&back.text));
            assert_eq!(back.cut, back.text != text);
            if back.cut {
                assert!(back.note().contains("the message was longer"));
            }
        }
        let mut view = submitted("From a message", "SEV2", "");
        view["private_metadata"] = json!("x".repeat(MAX_METADATA_CHARS + 1));
        assert!(submission(&view).unwrap_err()["title"].contains("3000"));
    }

    #[test]
    fn the_private_box_makes_a_private_incident() {
        let mut view = submitted("Payroll leak", "SEV1", "");
        assert!(!submission(&view).unwrap().private);
        view["state"]["values"]["private"] = json!({"private": {"type": "checkboxes",
            "selected_options": [{"value": "private"}]}});
        assert!(submission(&view).unwrap().private);
    }

    #[test]
    fn a_valid_submission_declares_and_a_bad_one_names_its_fields() {
        let s = submission(&submitted("  DB down ", "SEV1", "")).unwrap();
        assert_eq!(
            (
                s.title.as_str(),
                s.severity,
                s.description,
                s.lead.unwrap().as_str()
            ),
            ("DB down", Severity::Sev1, None, "U0LEAD")
        );
        let errors = submission(&submitted("   ", "SEV9", "bad \u{0}")).unwrap_err();
        assert!(errors["title"].contains("empty"), "{errors:?}");
        assert!(errors["severity"].contains("SEV1"), "{errors:?}");
        assert!(errors["description"].contains("control"), "{errors:?}");
        let long = submission(&submitted(&"x".repeat(201), "SEV2", "")).unwrap_err();
        assert!(long["title"].contains("at most 200"));
    }
}
