//! The Events API, signed, on both databases: the URL check, 📌 to the timeline once,
//! participants, and events from elsewhere ignored.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Backend, TestApp};

async fn send(app: &TestApp, body: Value) -> (StatusCode, String) {
    let r = app.post_signed("/slack/events", body.to_string()).await;
    (r.status(), r.text().await.unwrap())
}

fn pin(event_id: &str, channel: &str, ts: &str, by: &str) -> Value {
    json!({"type": "event_callback", "event_id": event_id, "team_id": "T1",
           "event": {"type": "reaction_added", "user": by, "reaction": "pushpin",
                     "item": {"type": "message", "channel": channel, "ts": ts},
                     "event_ts": "1796000100.000100"}})
}

async fn slacks_url_check_is_answered(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, body) = send(
        &app,
        json!({"type": "url_verification", "challenge": "3eZbrw1aB"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["challenge"],
        "3eZbrw1aB"
    );
    // Unsigned: refused, as every /slack/* request.
    let r = app
        .post_signed_as(
            "/slack/events",
            "{}",
            "wrong-secret",
            crate::helpers::now_ts(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

async fn a_pinned_message_joins_the_timeline_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.declare("sev2 Pins").await;
    app.run_pending_jobs().await;
    let channel = app.slack.channels()[0].id.clone();
    app.slack.add_user_message(
        &channel,
        "1796000000.000300",
        "U0SAW",
        "p99 at 4 s &amp; climbing",
    );
    // Pinned by one, delivered twice (Slack's retry), pinned again by another.
    assert_eq!(
        send(&app, pin("Ev1", &channel, "1796000000.000300", "U0ONE"))
            .await
            .0,
        StatusCode::OK
    );
    send(&app, pin("Ev1", &channel, "1796000000.000300", "U0ONE")).await;
    send(&app, pin("Ev2", &channel, "1796000000.000300", "U0TWO")).await;
    app.run_pending_jobs().await;
    let incident = app.incident_json(id).await;
    let notes: Vec<&Value> = incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "note")
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["actor"], "U0SAW");
    assert_eq!(notes[0]["at"], "2026-11-30T00:53:20.000300Z");
    let text = notes[0]["note"].as_str().unwrap();
    assert!(text.starts_with("p99 at 4 s & climbing"), "{text}");
    assert!(text.contains(&format!(
        "https://acme.slack.com/archives/{channel}/p1796000000000300"
    )));
    assert_eq!(app.slack.count("conversations.replies"), 1);
}

async fn events_from_elsewhere_are_ignored_and_joiners_recorded(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.declare("sev3 Joiners").await;
    app.run_pending_jobs().await;
    let channel = app.slack.channels()[0].id.clone();
    // A pin in a channel that is no incident's: nothing queued, nothing called.
    send(&app, pin("Ev9", "C0RANDOM", "1796000000.000100", "U0ONE")).await;
    assert_eq!(app.run_pending_jobs().await, 0);
    // Other reactions are ignored too.
    let mut thumbs = pin("Ev10", &channel, "1796000000.000100", "U0ONE");
    thumbs["event"]["reaction"] = json!("thumbsup");
    send(&app, thumbs).await;
    assert_eq!(app.run_pending_jobs().await, 0);
    for (event_id, user) in [("Ev11", "U0NEW"), ("Ev12", "U0NEW"), ("Ev13", "U0OTHER")] {
        let joined = json!({"type": "event_callback", "event_id": event_id,
                            "event": {"type": "member_joined_channel", "user": user, "channel": channel}});
        assert_eq!(send(&app, joined).await.0, StatusCode::OK);
    }
    let incident = app.incident_json(id).await;
    assert_eq!(incident["participants"], json!(["U0NEW", "U0OTHER"]));
}

crate::on_both_backends!(
    slacks_url_check_is_answered,
    a_pinned_message_joins_the_timeline_once,
    events_from_elsewhere_are_ignored_and_joiners_recorded,
);
