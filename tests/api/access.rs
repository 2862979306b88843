//! Private incidents, as an outsider and as a member: every command and every button,
//! in one table that a new command cannot skip.
//!
//! An outsider is told of a private incident what they are told of one that does not
//! exist, changes nothing and makes nothing reach Slack about it; a member is let in, and
//! hears of it outside its channel only ephemerally.

use pompier::slack::command::{parse, Command};
use serde_json::Value;

use crate::helpers::{spawn_app_with, Backend, TestApp};

const SECRET: &str = "Payroll export leaked";
const DECLARER: &str = "U0456";
const OUTSIDER: &str = "U0OUT";
const ELSEWHERE: &str = "C0GENERAL";
const ANNOUNCE: &str = "C0ANNOUNCE";

/// Every command, named. The match has no wildcard: a new command does not compile here
/// until it is listed, and `ALL` and `TABLE` must then name and run it.
fn listed(command: &Command) {
    match command {
        Command::Help
        | Command::OpenModal { .. }
        | Command::Declare { .. }
        | Command::DeclarePrivate { .. }
        | Command::Move { .. }
        | Command::Severity(_)
        | Command::Assign { .. }
        | Command::Note(_)
        | Command::Status
        | Command::List
        | Command::Drill { .. }
        | Command::GamedayStart { .. }
        | Command::GamedayEnd
        | Command::GamedayVillains(_)
        | Command::Inject { .. }
        | Command::Link(_)
        | Command::Public { .. }
        | Command::PublicUpdate(_)
        | Command::Followup { .. }
        | Command::Followups
        | Command::Done(_)
        | Command::Class(_)
        | Command::Page { .. }
        | Command::Edit { .. }
        | Command::Invite(_) => {}
    }
}

const ALL: [&str; 25] = [
    "help",
    "open_modal",
    "declare",
    "declare_private",
    "move",
    "severity",
    "assign",
    "note",
    "status",
    "list",
    "drill",
    "gameday_start",
    "gameday_end",
    "gameday_villain",
    "inject",
    "link",
    "public",
    "public_update",
    "followup",
    "followups",
    "done",
    "class",
    "page",
    "edit",
    "invite",
];

/// Each command as typed about incident #1 (`{id}`), with a `true` when it is about one
/// incident (the others must simply not leak it).
const TABLE: &[(&str, bool)] = &[
    ("{id} status", true),
    ("{id} investigating", true),
    ("{id} mitigated the fix is out", true),
    ("{id} closed", true),
    ("{id} severity sev1", true),
    ("{id} lead <@U0OUT>", true),
    ("{id} lead <@U0456>", true),
    ("{id} note who knew", true),
    ("{id} followup rotate the keys <@U0OUT>", true),
    ("{id} followups", true),
    ("{id} done 1", true),
    ("{id} class change", true),
    ("{id} page payments wake up", true),
    ("{id} title Payroll export leaked for real", true),
    ("{id} summary it is about payroll", true),
    ("{id} impact everyone", true),
    ("{id} invite <@U0OUT>", true),
    ("{id} link 1", true),
    ("{id} public Payroll is late", true),
    ("{id} update Payroll is fixed", true),
    ("help", false),
    ("list", false),
    ("open", false),
    ("open sev3 Something public", false),
    ("open private sev3 Something else", false),
    ("drill team:blue Practice", false),
    ("gameday start Spring", false),
    ("gameday villain <@U0OUT>", false),
    ("inject team:blue pod-delete", false),
    ("gameday end", false),
];

/// The API's writes on one incident, as `(path after /api/v1/incidents/{id}/, body)`.
const WRITES: &[(&str, &str)] = &[
    ("status", r#"{"status": "investigating"}"#),
    ("severity", r#"{"severity": "SEV1"}"#),
    ("roles", r#"{"role": "lead", "user": "U0OUT"}"#),
    ("notes", r#"{"text": "who knew"}"#),
];

/// The summary's buttons, as `(action_id, value)`. (The triage channel's `declare_alert`
/// is run below on its own: its value is an alert group.)
const BUTTONS: &[(&str, &str)] = &[
    ("move", "{id}:investigating"),
    ("move", "{id}:resolved"),
    ("severity", "{id}:SEV1"),
    ("take_lead", "{id}:lead"),
    ("edit", "{id}:edit"),
    ("status_page", "{id}:public"),
];

/// The forms of one incident, as `(callback_id, the field that shows an error, values)`:
/// submitted by an outsider, each is told of no such incident and changes nothing.
const FORMS: &[(&str, &str, &str)] = &[
    (
        "edit_incident",
        "title",
        r#"{"title": {"title": {"type": "plain_text_input", "value": "Renamed"}},
            "severity": {"severity": {"type": "static_select", "selected_option": {"value": "SEV1"}}}}"#,
    ),
    (
        "status_page",
        "message",
        r#"{"message": {"message": {"type": "plain_text_input", "value": "All is well"}}}"#,
    ),
];

/// Submits form `callback_id` of incident #1 with `values`, as `user`; Slack's answer.
async fn submit_form(app: &TestApp, user: &str, callback_id: &str, values: &str) -> Value {
    let values: Value = serde_json::from_str(values).unwrap();
    let payload = serde_json::json!({
        "type": "view_submission", "trigger_id": "1.2.3", "user": {"id": user},
        "view": {"id": format!("V0{}", uuid::Uuid::new_v4().simple()), "callback_id": callback_id,
                 "private_metadata": "1", "state": {"values": values}}
    });
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish();
    let r = app.post_signed("/slack/interactions", body).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Everything that tells of incident #1: its state, timeline, follow-ups and people.
async fn state(app: &TestApp) -> Value {
    let mut json = app.api_get("/api/v1/incidents/1").await;
    json.as_object_mut().unwrap().remove("updates");
    json
}

async fn an_outsider_learns_and_changes_nothing_and_a_member_is_let_in(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("POMPIER_ANNOUNCE_CHANNEL", ANNOUNCE),
            // A team that may be paged (nothing listens there: pages are not looked at).
            (
                "POMPIER_PAGING__TEAMS__PAYMENTS__PAGERDUTY_ROUTING_KEY",
                "k",
            ),
            (
                "POMPIER_PAGING__PAGERDUTY_URL",
                "http://127.0.0.1:9/v2/enqueue",
            ),
        ],
    )
    .await;
    // The table covers every command.
    let mut covered: Vec<&str> = TABLE
        .iter()
        .map(|(text, _)| {
            let inv =
                parse(&text.replace("{id}", "1"), &[]).unwrap_or_else(|e| panic!("{text}: {e}"));
            listed(&inv.command);
            inv.command.name()
        })
        .collect();
    covered.sort();
    covered.dedup();
    let mut all = ALL.to_vec();
    all.sort();
    assert_eq!(covered, all, "a command is missing from the table");

    let (_, reply) = app
        .slash_as(DECLARER, ELSEWHERE, &format!("open private sev2 {SECRET}"))
        .await;
    assert_eq!(reply["response_type"], "ephemeral", "{reply}");
    app.slash_as(DECLARER, ELSEWHERE, "1 followup check the export job")
        .await;
    app.run_pending_jobs().await;
    let channel = app.incident_json(pompier::domain::IncidentId(1)).await["channel_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = state(&app).await;
    let calls_before = app.slack.calls().len();

    // As an outsider, from another channel: every command and every button.
    for (text, about_it) in TABLE {
        let text = text.replace("{id}", "1");
        let (status, reply) = app.slash_as(OUTSIDER, ELSEWHERE, &text).await;
        assert_eq!(status, 200, "{text}");
        let said = reply.to_string();
        assert!(!said.contains("Payroll"), "{text} leaked: {said}");
        if *about_it {
            assert_eq!(reply["response_type"], "ephemeral", "{text}: {said}");
            assert!(said.contains("No incident #1."), "{text}: {said}");
        }
    }
    // Not even the number of an incident that does not exist tells them apart.
    let (_, unknown) = app.slash_as(OUTSIDER, ELSEWHERE, "999 status").await;
    let (_, private) = app.slash_as(OUTSIDER, ELSEWHERE, "1 status").await;
    assert_eq!(
        unknown["text"].as_str().unwrap().replace("999", "N"),
        private["text"].as_str().unwrap().replace('1', "N")
    );
    for (n, (action, value)) in BUTTONS.iter().enumerate() {
        app.click(OUTSIDER, ELSEWHERE, action, &value.replace("{id}", "1"))
            .await;
        let heard = app.responses(n + 1).await;
        let last = &heard[n];
        assert_eq!(last["response_type"], "ephemeral", "{last}");
        assert!(last.to_string().contains("No incident #1."), "{last}");
    }
    for (callback_id, field, values) in FORMS {
        let answer = submit_form(&app, OUTSIDER, callback_id, values).await;
        assert_eq!(
            answer["response_action"], "errors",
            "{callback_id}: {answer}"
        );
        let said = answer["errors"][field].to_string();
        assert!(said.contains("No incident #1."), "{callback_id}: {answer}");
        assert!(!said.contains("Payroll"), "{callback_id}: {answer}");
    }
    // The triage channel's *Declare* button names an alert group, not an incident: a
    // private incident's number pressed there tells nothing of it.
    app.click(OUTSIDER, ELSEWHERE, "declare_alert", "1").await;
    let heard = app.responses(BUTTONS.len() + 1).await;
    let last = heard.last().unwrap().to_string();
    assert!(!last.contains("Payroll") && !last.contains("#1"), "{last}");
    // A scoped token, even with `write`, is an outsider too. (Declaring through the API
    // and posting alerts make new incidents, or reach the ones alerts opened, which are
    // never private: nothing there can name this one.)
    let token = app
        .token(
            "outsider",
            &[pompier::tokens::Scope::Read, pompier::tokens::Scope::Write],
        )
        .await;
    for (what, body) in WRITES {
        let r = app
            .client
            .post(app.url(&format!("/api/v1/incidents/1/{what}")))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(*body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{what}");
        assert!(!r.text().await.unwrap().contains("Payroll"), "{what}");
    }
    let (_, seen) = app.api_get_with("/api/v1/incidents/1", Some(&token)).await;
    assert!(!seen.to_string().contains("Payroll"), "{seen}");
    assert_eq!(seen["timeline"], serde_json::json!([]), "{seen}");
    assert_eq!(
        state(&app).await,
        before,
        "an outsider changed the incident"
    );
    app.run_pending_jobs().await;
    for (method, body) in &app.slack.calls()[calls_before..] {
        let said = body.to_string();
        assert!(!said.contains("Payroll"), "{method} leaked it: {said}");
        assert!(
            !said.contains(&channel),
            "{method} touched its channel: {said}"
        );
    }
    assert!(!format!("{:?}", app.slack.responses()).contains("Payroll"));

    // As a member, from another channel: let in, and told ephemerally.
    for (text, _) in TABLE.iter().filter(|(_, about)| *about) {
        let text = text.replace("{id}", "1");
        let (_, reply) = app.slash_as(DECLARER, ELSEWHERE, &text).await;
        let said = reply.to_string();
        assert!(!said.contains("No incident"), "{text}: {said}");
        assert_eq!(reply["response_type"], "ephemeral", "{text}: {said}");
    }
    let (_, status) = app.slash_as(DECLARER, ELSEWHERE, "1 status").await;
    assert!(status.to_string().contains(SECRET), "{status}");
    // In its own channel, the team sees what is said there.
    let (_, added) = app
        .slash_as(DECLARER, &channel, "followup write it up")
        .await;
    assert_eq!(added["response_type"], "in_channel", "{added}");
    assert_ne!(state(&app).await, before);
    // Someone who joins its channel is a member, and so is whoever holds a role.
    let (_, before_join) = app.slash_as("U0JOIN", ELSEWHERE, "1 status").await;
    assert!(before_join.to_string().contains("No incident #1."));
    app.store
        .add_participant(
            pompier::domain::IncidentId(1),
            &"U0JOIN".parse().unwrap(),
            pompier::now(),
        )
        .await
        .unwrap();
    let (_, joined) = app.slash_as("U0JOIN", ELSEWHERE, "1 status").await;
    assert!(joined.to_string().contains(SECRET), "{joined}");
    app.slash_as(DECLARER, &channel, "role comms <@U0COMMS>")
        .await;
    let (_, comms) = app.slash_as("U0COMMS", ELSEWHERE, "1 status").await;
    assert!(comms.to_string().contains(SECRET), "{comms}");
    // And the buttons let a member in.
    app.click(DECLARER, &channel, "severity", "1:SEV3").await;
    assert_eq!(state(&app).await["severity"], "SEV3");
    // Nothing of it was announced.
    app.run_pending_jobs().await;
    assert!(!format!("{:?}", app.slack.messages_in(ANNOUNCE)).contains("Payroll"));
    app.stop().await;
}

crate::on_both_backends!(an_outsider_learns_and_changes_nothing_and_a_member_is_let_in);
