//! Writing through the API: the same service as Slack (same refusals, same effects),
//! scope `write`, the token on the timeline, bad bodies named, private incidents not
//! there for a scoped token.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, Backend, API_TOKEN};
use pompier::tokens::Scope;

async fn a_token_moves_notes_and_assigns_as_slack_would(backend: Backend) {
    let app = spawn_app_with(backend, &[("POMPIER_ANNOUNCE_CHANNEL", "C0ANNOUNCE")]).await;
    let id = app.declare("sev2 Checkout returns 500").await;
    app.run_pending_jobs().await;
    let deploy = app.token("deploy", &[Scope::Write]).await;
    let reader = app.token("reader", &[Scope::Read]).await;
    let path = |what: &str| format!("/api/v1/incidents/{id}/{what}");

    let (status, json) = app
        .api_post(
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
    let (status, json) = app
        .api_post(&path("severity"), &deploy, json!({"severity": "SEV1"}))
        .await;
    assert_eq!(
        (status, &json["severity"]),
        (StatusCode::OK, &"SEV1".into())
    );
    let (status, json) = app
        .api_post(
            &path("roles"),
            &deploy,
            json!({"role": "lead", "user": "U0999"}),
        )
        .await;
    assert_eq!(
        (status, &json["roles"]["lead"]),
        (StatusCode::OK, &"U0999".into())
    );
    let (status, _) = app
        .api_post(&path("notes"), &deploy, json!({"text": "rolled back"}))
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
    let (status, json) = app
        .api_post(&path("status"), &deploy, json!({"status": "closed"}))
        .await;
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
        let (status, json) = app.api_post(&path(what), &deploy, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {json}");
        assert!(
            json["error"].as_str().unwrap().contains(named),
            "{what}: {json}"
        );
    }
    assert_eq!(app.incident_json(id).await, before);
    // Without `write`: 403 naming it. Unknown incident: 404.
    let (status, json) = app
        .api_post(&path("notes"), &reader, json!({"text": "x"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(json["error"].as_str().unwrap().contains("`write`"));
    let (status, _) = app
        .api_post("/api/v1/incidents/999/notes", &deploy, json!({"text": "x"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A private incident is not there for a scoped token; the operator's reaches it.
    app.slash_as("U0456", "C0GENERAL", "open private sev2 Payroll")
        .await;
    let private = "/api/v1/incidents/2/notes";
    let (status, json) = app
        .api_post(private, &deploy, json!({"text": "peek"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{json}");
    let (status, json) = app
        .api_post(private, API_TOKEN, json!({"text": "export taken"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(
        json["timeline"].as_array().unwrap().last().unwrap()["actor"],
        "token:admin"
    );
    app.stop().await;
}

/// POSTs a declaration with `token` under `key`: status, answer, and whether it was a replay.
async fn declare_with_key(
    app: &crate::helpers::TestApp,
    token: &str,
    key: &str,
    body: &str,
) -> (StatusCode, Value, bool) {
    let r = app
        .client
        .post(app.url("/api/v1/incidents"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = r.status();
    let replayed = r.headers().get("idempotent-replayed").is_some();
    (status, r.json().await.unwrap_or(Value::Null), replayed)
}

async fn a_token_declares_as_slack_would_and_a_key_declares_once(backend: Backend) {
    let app = spawn_app_with(backend, &[("POMPIER_ANNOUNCE_CHANNEL", "C0ANNOUNCE")]).await;
    let deploy = app.token("deploy", &[Scope::Write]).await;
    let reader = app.token("reader", &[Scope::Read]).await;

    let (status, json) = app
        .api_post(
            "/api/v1/incidents",
            &deploy,
            json!({"title": "Checkout returns 500", "severity": "SEV2",
                   "summary": "canary at 5% then errors"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    assert_eq!(
        (
            &json["title"],
            &json["severity"],
            &json["status"],
            &json["declared_by"]
        ),
        (
            &"Checkout returns 500".into(),
            &"SEV2".into(),
            &"open".into(),
            &"token:deploy".into()
        )
    );
    assert_eq!(json["timeline"][1]["note"], "canary at 5% then errors");
    // The same effects as `/incident open`: a channel, its summary, the announcement;
    // nobody invited for a token.
    app.run_pending_jobs().await;
    let channel = app.slack.channels()[0].id.clone();
    assert!(app.slack.channels()[0].name.starts_with("inc-1-checkout"));
    assert!(!app.slack.messages_in(&channel).is_empty());
    assert!(format!("{:?}", app.slack.messages_in("C0ANNOUNCE")).contains("Checkout"));
    assert_eq!(app.slack.count("conversations.invite"), 0);

    // Bad bodies name their field and store nothing; a read token may not declare.
    let before = app.trace_count().await;
    for (body, named) in [
        (json!({}), "`title`"),
        (json!({"title": "  "}), "`title`"),
        (json!({"title": "x".repeat(201)}), "`title`"),
        (json!({"title": "bell\u{7}"}), "`title`"),
        (json!({"title": "t", "severity": "SEV9"}), "`severity`"),
        (json!({"title": "t", "private": "yes"}), "`private`"),
        (json!({"title": "t", "summary": 3}), "`summary`"),
        (json!(["title"]), "JSON object"),
    ] {
        let (status, json) = app
            .api_post("/api/v1/incidents", &deploy, body.clone())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {json}");
        assert!(
            json["error"].as_str().unwrap().contains(named),
            "{body}: {json}"
        );
    }
    let (status, _) = app
        .api_post("/api/v1/incidents", &reader, json!({"title": "t"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.trace_count().await, before);

    // One key: the first result again, whatever the order of the body's fields.
    let body = r#"{"title": "Payments slow", "severity": "SEV3"}"#;
    let (status, first, replayed) = declare_with_key(&app, &deploy, "k-1", body).await;
    assert_eq!((status, replayed), (StatusCode::CREATED, false), "{first}");
    let reordered = r#"{"severity": "SEV3",   "title": "Payments slow"}"#;
    let (status, again, replayed) = declare_with_key(&app, &deploy, "k-1", reordered).await;
    assert_eq!((status, replayed), (StatusCode::CREATED, true), "{again}");
    assert_eq!(again["id"], first["id"]);
    // Another body under the key: 422. Another token's key is its own.
    let (status, json, _) = declare_with_key(&app, &deploy, "k-1", r#"{"title": "Other"}"#).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{json}");
    let (status, other, _) = declare_with_key(&app, API_TOKEN, "k-1", body).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_ne!(other["id"], first["id"]);
    let (status, json, _) = declare_with_key(&app, &deploy, "bad key", body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");

    // Ten at once with a new key: one declaration; the others get it or wait (409).
    let racing = r#"{"title": "Race"}"#;
    let answers = futures_util::future::join_all(
        (0..10).map(|_| declare_with_key(&app, &deploy, "k-race", racing)),
    )
    .await;
    let mut ids = std::collections::BTreeSet::new();
    for (status, json, _) in &answers {
        match *status {
            StatusCode::CREATED => {
                ids.insert(json["id"].as_i64().unwrap());
            }
            StatusCode::CONFLICT => assert!(json["error"].as_str().unwrap().contains("still")),
            other => panic!("{other}: {json}"),
        }
    }
    assert_eq!(ids.len(), 1, "{answers:?}");
    let races = app.api_get("/api/v1/incidents?limit=500").await["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["title"] == "Race")
        .count();
    assert_eq!(races, 1);

    // The key outlives a restart: it is in the database.
    let app = app.restart(&[]).await;
    let (status, json, replayed) = declare_with_key(&app, &deploy, "k-1", body).await;
    assert_eq!(
        (status, replayed, &json["id"]),
        (StatusCode::CREATED, true, &first["id"])
    );
    app.stop().await;
}

crate::on_both_backends!(
    a_token_moves_notes_and_assigns_as_slack_would,
    a_token_declares_as_slack_would_and_a_key_declares_once
);
