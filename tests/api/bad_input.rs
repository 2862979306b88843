//! Bad input and what a new user saw: the order of Slack effects, one message per
//! change, closed incidents, error shapes and causes, the topic, the help.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_with, Backend, TestApp, API_TOKEN};

const ANNOUNCE: &str = "C0ANNOUNCE";

fn texts(app: &TestApp, channel: &str) -> Vec<String> {
    app.slack
        .messages_in(channel)
        .iter()
        .map(|m| m.body["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn an_incidents_slack_effects_keep_the_order_of_its_changes(backend: Backend) {
    let app = spawn_app_with(backend, &[("POMPIER_ANNOUNCE_CHANNEL", ANNOUNCE)]).await;
    // Moved at once, before any job ran (Slack slow, or no token yet).
    let id = app.declare("sev2 Checkout returns 500").await;
    app.slash(&format!("{id} investigating")).await;
    app.run_pending_jobs().await;
    assert_eq!(
        app.slack.methods(),
        [
            "conversations.create",
            "conversations.invite",
            "conversations.setTopic",
            "chat.postMessage",
            "pins.add",
            "chat.postMessage",
            "chat.postMessage",
            "chat.update",
            "chat.update",
            "chat.postMessage",
        ]
    );
    let channel = app.slack.channels()[0].id.clone();
    // One announcement, edited in place; the change is a reply in its thread.
    let announced = app.slack.top_level(ANNOUNCE);
    assert_eq!(announced.len(), 1);
    let now = app.slack.current(ANNOUNCE, &announced[0].ts).to_string();
    for part in [
        format!("*#{id} Checkout returns 500*"),
        format!("<#{channel}>"),
        "*investigating*".into(),
        "SEV2".into(),
        "Lead: nobody yet".into(),
        "open since <!date^".into(),
    ] {
        assert!(now.contains(&part), "{part} in {now}");
    }
    let replies = app.slack.thread(ANNOUNCE, &announced[0].ts);
    assert_eq!(replies.len(), 1);
    let reply = replies[0].body["text"].as_str().unwrap();
    assert!(reply.contains("now *investigating*"), "{reply}");
    assert_eq!(replies[0].body["reply_broadcast"], false);
}

async fn a_change_made_in_its_channel_shows_there_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.declare("Twice?").await;
    app.run_pending_jobs().await;
    let channel = app.slack.channels()[0].id.clone();
    let before = texts(&app, &channel).len();
    let (_, reply) = app.slash_as("U0456", &channel, "investigating").await;
    assert_eq!(reply["response_type"], "ephemeral", "{reply}");
    app.run_pending_jobs().await;
    let after = texts(&app, &channel);
    assert_eq!(after.len(), before + 1, "one visible message: {after:?}");
    assert!(after.last().unwrap().contains(&format!("#{id} Twice?")));
}

async fn a_closed_incident_refuses_changes_and_posts_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.declare_in("C0123", "sev4 Done with").await;
    app.slash("resolved").await;
    app.slash("closed").await;
    let jobs = app.store.jobs_of(id).await.unwrap().len();
    let events = app.store.timeline(id).await.unwrap().len();
    for text in ["note one more thing", "severity sev1", "lead <@U0999>"] {
        let reply = app.slash(text).await;
        assert_eq!(reply["response_type"], "ephemeral");
        assert!(
            reply["text"].as_str().unwrap().contains("closed"),
            "{text}: {reply}"
        );
    }
    assert_eq!(
        app.store.jobs_of(id).await.unwrap().len(),
        jobs,
        "nothing queued"
    );
    assert_eq!(app.store.timeline(id).await.unwrap().len(), events);
}

async fn every_error_is_json_with_a_reason(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = reqwest::Client::new();
    let cases = [
        (client.get(app.url("/nowhere")), StatusCode::NOT_FOUND),
        (
            client.get(app.url("/slack/commands")),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            client.delete(app.url("/api/v1/incidents")),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            client
                .post(app.url("/slack/commands"))
                .body(vec![b'x'; 2 * 1024 * 1024]),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            client
                .get(app.url("/api/v1/incidents/not-a-number"))
                .bearer_auth(API_TOKEN),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (request, expected) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), expected);
        let body: Value = response.json().await.expect("a JSON body");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{expected}: {body}"
        );
    }
    // The scheme of `Authorization` is case-insensitive.
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let response = client
            .get(app.url("/api/v1/incidents"))
            .header("authorization", format!("{scheme} {API_TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{scheme}");
    }
}

async fn a_jobs_error_says_why(backend: Backend) {
    // Nothing listens on port 9: Slack is unreachable.
    let app = spawn_app_with(backend, &[("SLACK_API_URL", "http://127.0.0.1:9/api")]).await;
    let id = app.declare("Unreachable Slack").await;
    app.run_pending_jobs().await;
    let jobs = app.store.jobs_of(id).await.unwrap();
    let error = jobs[0].last_error.as_deref().unwrap();
    assert_eq!(jobs[0].state, "pending", "retried, not dead");
    assert!(error.contains("Connection refused"), "{error}");
    assert!(!error.contains("xoxb"), "no secret in an error: {error}");
}

async fn the_topic_is_escaped_and_mentions_survive(backend: Backend) {
    let app = spawn_app(backend).await;
    // Typed: "<!channel> ping @bob", as Slack sends it.
    app.declare("&lt;!channel&gt; ping <@U0BOB|bob>").await;
    app.run_pending_jobs().await;
    let topic = app.slack.channels()[0].topic.clone().unwrap();
    assert!(!topic.contains("<!channel>"), "{topic}");
    assert!(
        topic.contains("&lt;!channel&gt; ping <@U0BOB|bob>"),
        "{topic}"
    );
    let incident = app.api_get("/api/v1/incidents/1").await;
    assert_eq!(incident["title"], "<!channel> ping @bob", "as typed");
}

crate::on_both_backends!(
    an_incidents_slack_effects_keep_the_order_of_its_changes,
    a_change_made_in_its_channel_shows_there_once,
    a_closed_incident_refuses_changes_and_posts_nothing,
    every_error_is_json_with_a_reason,
    a_jobs_error_says_why,
    the_topic_is_escaped_and_mentions_survive,
);

#[test]
fn help_lists_the_variables_a_first_run_needs() {
    for args in [&["--help"][..], &["serve", "--help"][..]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pompier"))
            .args(args)
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        for variable in [
            "DATABASE_URL",
            "sqlite://pompier.db",
            "SLACK_SIGNING_SECRET",
            "SLACK_BOT_TOKEN",
            "POMPIER_LISTEN",
            "127.0.0.1:8080",
        ] {
            assert!(help.contains(variable), "{args:?}: {variable} in {help}");
        }
    }
}
