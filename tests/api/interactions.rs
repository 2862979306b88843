//! The declare modal, shortcuts and summary buttons, through signed interaction
//! payloads, on both databases.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, Backend, TestApp};

const TRIGGER: &str = "13345224609.738474920.8088930838d88f008e0";

async fn interact(app: &TestApp, mut payload: Value) -> (StatusCode, String) {
    // Each delivery is its own request, as Slack sends them: a new time stamp.
    payload["action_ts"] = json!(uuid::Uuid::new_v4().to_string());
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish();
    let r = app.post_signed("/slack/interactions", body).await;
    (r.status(), r.text().await.unwrap())
}

fn submission(view_id: &str, title: &str, severity: &str, metadata: &str) -> Value {
    json!({
        "type": "view_submission", "trigger_id": TRIGGER,
        "user": {"id": "U0456"}, "team": {"id": "T1", "domain": "acme"},
        "view": {"id": view_id, "callback_id": "declare_incident", "private_metadata": metadata,
                 "state": {"values": {
                     "title": {"title": {"type": "plain_text_input", "value": title}},
                     "severity": {"severity": {"type": "static_select", "selected_option": {"value": severity}}},
                     "description": {"description": {"type": "plain_text_input", "value": "Checkout fails for EU users"}},
                     "lead": {"lead": {"type": "users_select", "selected_user": "U0LEAD"}}}}}
    })
}

async fn the_command_alone_opens_the_modal_and_a_submission_declares_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .post_signed(
            "/slack/commands",
            crate::helpers::command_body("U0456", "C0123", ""),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.text().await.unwrap(),
        "",
        "nothing said in the channel"
    );
    let views = app.slack.views();
    assert_eq!(views.len(), 1);
    assert_eq!(views[0]["callback_id"], "declare_incident");
    let opened = app
        .slack
        .calls()
        .into_iter()
        .find(|(m, _)| m == "views.open")
        .unwrap();
    assert!(
        opened.1["trigger_id"]
            .as_str()
            .unwrap()
            .starts_with("13345224609.738474920."),
        "the request's own trigger"
    );

    // Submitted twice (a retry, a double click): one incident.
    for _ in 0..2 {
        let (status, body) =
            interact(&app, submission("V0FORM1", "  Checkout down ", "SEV2", "")).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
    }
    assert_eq!(app.trace_count().await.0, 1);
    let incident = app.incident_json(pompier::domain::IncidentId(1)).await;
    assert_eq!(incident["title"], "Checkout down");
    assert_eq!(incident["severity"], "SEV2");
    assert_eq!(incident["roles"]["lead"], "U0LEAD");
    let kinds: Vec<&str> = incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["declared", "role", "note"]);
}

async fn a_bad_submission_names_its_fields_and_stores_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, body) = interact(&app, submission("V0BAD", "   ", "SEV9", "")).await;
    assert_eq!(status, StatusCode::OK);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["response_action"], "errors");
    assert!(
        body["errors"]["title"].as_str().unwrap().contains("empty"),
        "{body}"
    );
    assert!(
        body["errors"]["severity"]
            .as_str()
            .unwrap()
            .contains("SEV1"),
        "{body}"
    );
    assert_eq!(app.trace_count().await, (0, 0));
}

async fn a_message_shortcut_prefills_and_starts_the_timeline(backend: Backend) {
    let app = spawn_app(backend).await;
    let shortcut = json!({
        "type": "message_action", "callback_id": "declare_incident", "trigger_id": TRIGGER,
        "user": {"id": "U0456"}, "team": {"id": "T1", "domain": "acme"},
        "channel": {"id": "C0OPS"},
        "message": {"ts": "1796000000.000300", "user": "U0SAW",
                    "text": "Payments &lt;EU&gt; failing since 10:02\nsee graph"},
        "response_url": app.slack.response_url(),
    });
    let (status, _) = interact(&app, shortcut).await;
    assert_eq!(status, StatusCode::OK);
    let view = app.slack.views().pop().unwrap();
    assert_eq!(
        view["blocks"][0]["element"]["initial_value"],
        "Payments <EU> failing since 10:02"
    );
    let metadata = view["private_metadata"].as_str().unwrap().to_owned();
    interact(
        &app,
        submission("V0MSG", "Payments <EU> failing", "SEV1", &metadata),
    )
    .await;
    let incident = app.incident_json(pompier::domain::IncidentId(1)).await;
    let first = &incident["timeline"][1];
    assert_eq!(first["kind"], "note");
    assert_eq!(first["actor"], "U0SAW", "the message's author");
    assert_eq!(
        first["at"], "2026-11-30T00:53:20.000300Z",
        "the message's own time"
    );
    let note = first["note"].as_str().unwrap();
    assert!(
        note.starts_with("Payments <EU> failing since 10:02\nsee graph"),
        "{note}"
    );
    assert!(
        note.contains("https://acme.slack.com/archives/C0OPS/p1796000000000300"),
        "{note}"
    );
    // A global shortcut opens the empty modal.
    let global = json!({"type": "shortcut", "callback_id": "declare_incident",
                        "trigger_id": TRIGGER, "user": {"id": "U0456"}});
    interact(&app, global).await;
    let view = app.slack.views().pop().unwrap();
    assert!(view["blocks"][0]["element"].get("initial_value").is_none());
}

async fn the_summary_buttons_move_the_incident_and_refusals_answer_the_clicker(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.declare("sev2 Buttons").await;
    app.run_pending_jobs().await;
    let channel = app.slack.channels()[0].id.clone();
    let summary = app.slack.messages_in(&channel)[0].body.to_string();
    assert!(
        summary.contains(&format!("\"{id}:investigating\"")),
        "{summary}"
    );
    let click = |action: &str, value: String| {
        json!({"type": "block_actions", "trigger_id": TRIGGER, "user": {"id": "U0CLICK"},
               "channel": {"id": channel}, "response_url": app.slack.response_url(),
               "actions": [{"type": "button", "action_id": action, "value": value}]})
    };
    let (status, _) = interact(&app, click("move", format!("{id}:investigating"))).await;
    assert_eq!(status, StatusCode::OK);
    interact(&app, click("take_lead", format!("{id}:lead"))).await;
    let incident = app.incident_json(id).await;
    assert_eq!(incident["status"], "investigating");
    assert_eq!(incident["roles"]["lead"], "U0CLICK");
    app.run_pending_jobs().await;
    let last = app.slack.updates().last().unwrap().body.to_string();
    assert!(
        last.contains("investigating") && last.contains("U0CLICK"),
        "{last}"
    );
    // Clicked again (a stale summary, a race): refused, told to the clicker alone.
    interact(&app, click("move", format!("{id}:investigating"))).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while app.slack.responses().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no answer to the clicker"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let answer = &app.slack.responses()[0];
    assert_eq!(answer["response_type"], "ephemeral");
    assert!(
        answer["text"]
            .as_str()
            .unwrap()
            .contains("already investigating"),
        "{answer}"
    );
}

async fn a_replayed_request_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = crate::helpers::command_body("U0456", "C0123", "open sev2 Only once");
    let ts = crate::helpers::now_ts();
    let first = app
        .post_signed_as(
            "/slack/commands",
            body.clone(),
            crate::helpers::SIGNING_SECRET,
            ts,
        )
        .await;
    assert_eq!(first.status(), StatusCode::OK);
    let again = app
        .post_signed_as("/slack/commands", body, crate::helpers::SIGNING_SECRET, ts)
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    let reply: Value = again.json().await.unwrap();
    assert_eq!(reply["response_type"], "ephemeral");
    assert!(
        reply["text"].as_str().unwrap().contains("already received"),
        "{reply}"
    );
    assert_eq!(app.trace_count().await.0, 1, "one incident");
    // A note replayed is not added twice either.
    let note = crate::helpers::command_body("U0456", "C0123", "1 note only one");
    for _ in 0..2 {
        app.post_signed_as(
            "/slack/commands",
            note.clone(),
            crate::helpers::SIGNING_SECRET,
            ts,
        )
        .await;
    }
    assert_eq!(app.trace_count().await, (1, 2), "declared, and one note");
}

async fn a_tampered_interaction_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair(
            "payload",
            &submission("V0X", "Forged", "SEV1", "").to_string(),
        )
        .finish();
    let r = app
        .post_signed_as(
            "/slack/interactions",
            body,
            "not-the-secret",
            crate::helpers::now_ts(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.trace_count().await, (0, 0));
}

async fn without_a_bot_token_the_form_says_how_to_declare(backend: Backend) {
    let app = spawn_app_with(backend, &[("SLACK_BOT_TOKEN", "")]).await;
    let reply = app.slash("open").await;
    assert_eq!(reply["response_type"], "ephemeral");
    let text = reply["text"].as_str().unwrap();
    assert!(
        text.contains("SLACK_BOT_TOKEN") && text.contains("/incident open"),
        "{text}"
    );
}

crate::on_both_backends!(
    the_command_alone_opens_the_modal_and_a_submission_declares_once,
    a_bad_submission_names_its_fields_and_stores_nothing,
    a_message_shortcut_prefills_and_starts_the_timeline,
    the_summary_buttons_move_the_incident_and_refusals_answer_the_clicker,
    a_tampered_interaction_is_refused,
    a_replayed_request_is_refused,
    without_a_bot_token_the_form_says_how_to_declare,
);
