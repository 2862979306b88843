//! Writing through the API: the same service as Slack (same refusals, same effects),
//! scope `write`, the token on the timeline, bad bodies named, private incidents not
//! there for a scoped token.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, Backend, TestApp, API_TOKEN};
use pompier::tokens::{self, Scope};

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    let r = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn token(app: &TestApp, name: &str, scopes: &[Scope]) -> String {
    let token = tokens::generate();
    app.store
        .create_token(name, &tokens::hash(&token), scopes, pompier::now())
        .await
        .unwrap();
    token
}

async fn a_token_moves_notes_and_assigns_as_slack_would(backend: Backend) {
    let app = spawn_app_with(backend, &[("POMPIER_ANNOUNCE_CHANNEL", "C0ANNOUNCE")]).await;
    let id = app.declare("sev2 Checkout returns 500").await;
    app.run_pending_jobs().await;
    let deploy = token(&app, "deploy", &[Scope::Write]).await;
    let reader = token(&app, "reader", &[Scope::Read]).await;
    let path = |what: &str| format!("/api/v1/incidents/{id}/{what}");

    let (status, json) = post(
        &app,
        &path("status"),
        &deploy,
        json!({"status": "investigating", "note": "on it"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["status"], "investigating");
    let last = json["timeline"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&last["actor"], &last["note"]),
        (&"token:deploy".into(), &"on it".into())
    );
    let (status, json) = post(
        &app,
        &path("severity"),
        &deploy,
        json!({"severity": "SEV1"}),
    )
    .await;
    assert_eq!(
        (status, &json["severity"]),
        (StatusCode::OK, &"SEV1".into())
    );
    let (status, json) = post(
        &app,
        &path("roles"),
        &deploy,
        json!({"role": "lead", "user": "U0999"}),
    )
    .await;
    assert_eq!(
        (status, &json["roles"]["lead"]),
        (StatusCode::OK, &"U0999".into())
    );
    let (status, _) = post(
        &app,
        &path("notes"),
        &deploy,
        json!({"text": "rolled back"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // The same effects as from Slack: told in the channel, announced.
    app.run_pending_jobs().await;
    let channel = app.slack.channels()[0].id.clone();
    let told = format!("{:?}", app.slack.messages_in(&channel));
    assert!(
        told.contains("rolled back") && told.contains("investigating"),
        "{told}"
    );
    assert!(format!("{:?}", app.slack.messages_in("C0ANNOUNCE")).contains("SEV1"));

    // A refused move names what is allowed.
    let (status, json) = post(&app, &path("status"), &deploy, json!({"status": "closed"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{json}");
    assert!(
        json["allowed"]
            .as_array()
            .unwrap()
            .contains(&"mitigated".into()),
        "{json}"
    );
    // Bad bodies name their field, and change nothing.
    let before = app.incident_json(id).await;
    for (what, body, named) in [
        ("status", json!({"status": "burning"}), "`status`"),
        ("severity", json!({"severity": "SEV9"}), "`severity`"),
        ("roles", json!({"role": "king", "user": "U1"}), "`role`"),
        ("roles", json!({"role": "lead", "user": "nobody"}), "`user`"),
        ("notes", json!({"text": "bell\u{7}"}), "`text`"),
        ("notes", json!({"text": 42}), "`text`"),
    ] {
        let (status, json) = post(&app, &path(what), &deploy, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {json}");
        assert!(
            json["error"].as_str().unwrap().contains(named),
            "{what}: {json}"
        );
    }
    assert_eq!(app.incident_json(id).await, before);
    // Without `write`: 403 naming it. Unknown incident: 404.
    let (status, json) = post(&app, &path("notes"), &reader, json!({"text": "x"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(json["error"].as_str().unwrap().contains("`write`"));
    let (status, _) = post(
        &app,
        "/api/v1/incidents/999/notes",
        &deploy,
        json!({"text": "x"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A private incident is not there for a scoped token; the operator's reaches it.
    app.slash_as("U0456", "C0GENERAL", "open private sev2 Payroll")
        .await;
    let private = "/api/v1/incidents/2/notes";
    let (status, json) = post(&app, private, &deploy, json!({"text": "peek"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{json}");
    let (status, json) = post(&app, private, API_TOKEN, json!({"text": "export taken"})).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(
        json["timeline"].as_array().unwrap().last().unwrap()["actor"],
        "token:admin"
    );
    app.stop().await;
}

crate::on_both_backends!(a_token_moves_notes_and_assigns_as_slack_would);
