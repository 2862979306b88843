//! `/incident` end to end: signed request in, Slack reply out, state in the database.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{command_body, spawn_app, Backend};

fn text(reply: &Value) -> &str {
    reply["text"].as_str().unwrap_or_default()
}

async fn declaring_with_a_severity_stores_it_and_announces_in_channel(backend: Backend) {
    let app = spawn_app(backend).await;
    let reply = app.slash("open sev1 Checkout returns 500").await;
    assert_eq!(reply["response_type"], "in_channel");
    assert!(text(&reply).contains("Checkout returns 500"), "{reply}");
    assert!(text(&reply).contains("SEV1"), "{reply}");
    let page = app.store.list(&Default::default()).await.unwrap();
    assert_eq!(page.incidents.len(), 1);
    let incident = app.incident_json(page.incidents[0].id).await;
    assert_eq!(incident["title"], "Checkout returns 500");
    assert_eq!(incident["severity"], "SEV1");
    assert_eq!(incident["status"], "open");
    assert_eq!(incident["declared_by"], "U0456");
    assert!(
        text(&reply).contains(&format!("#{}", incident["id"])),
        "{reply}"
    );
    let timeline = incident["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 1);
    assert_eq!(timeline[0]["kind"], "declared");
    assert_eq!(timeline[0]["actor"], "U0456");
    assert_eq!(timeline[0]["at"], incident["opened_at"]);
}

async fn declaring_without_a_severity_makes_it_sev3(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.declare("Search is slow").await;
    let incident = app.incident_json(id).await;
    assert_eq!(incident["severity"], "SEV3");
    assert_eq!(incident["title"], "Search is slow");
}

async fn each_transition_moves_the_incident_of_the_channel_and_stamps_its_milestone(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let id = app.declare_in("C0123", "sev2 Payments down").await;
    let mut seen = vec![];
    for (to, milestone) in [
        ("investigating", "investigating_at"),
        ("mitigated", "mitigated_at"),
        ("resolved", "resolved_at"),
        ("postmortem", "postmortem_at"),
        ("closed", "closed_at"),
    ] {
        let reply = app.slash(&format!("{to} step {to}")).await;
        // The channel hears of it from the bot's post; the reply is for the caller.
        assert_eq!(reply["response_type"], "ephemeral", "{to}: {reply}");
        assert!(
            text(&reply).starts_with(":white_check_mark: Done."),
            "{reply}"
        );
        assert!(text(&reply).contains(&format!("now *{to}*")), "{reply}");
        let incident = app.incident_json(id).await;
        assert_eq!(incident["status"], to);
        assert!(incident[milestone].is_string(), "{milestone} stamped");
        seen.push(incident[milestone].clone());
    }
    let incident = app.incident_json(id).await;
    let timeline = incident["timeline"].as_array().unwrap();
    let moves: Vec<(&str, &str, &str)> = timeline[1..]
        .iter()
        .map(|e| {
            (
                e["from"].as_str().unwrap(),
                e["to"].as_str().unwrap(),
                e["note"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        moves,
        [
            ("open", "investigating", "step investigating"),
            ("investigating", "mitigated", "step mitigated"),
            ("mitigated", "resolved", "step resolved"),
            ("resolved", "postmortem", "step postmortem"),
            ("postmortem", "closed", "step closed"),
        ]
    );
    assert!(timeline[1..]
        .iter()
        .all(|e| e["kind"] == "status" && e["actor"] == "U0456"));
    let times: Vec<&str> = seen.iter().map(|v| v.as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

async fn a_move_that_skips_statuses_stamps_them_with_its_time(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.declare_in("C0123", "sev2 Login fails").await;
    app.slash("resolved").await;
    let incident = app.incident_json(id).await;
    assert!(incident["resolved_at"].is_string());
    assert_eq!(incident["investigating_at"], incident["resolved_at"]);
    assert_eq!(incident["mitigated_at"], incident["resolved_at"]);
    assert_eq!(incident["postmortem_at"], Value::Null);
}

async fn a_refused_move_changes_nothing_and_names_the_allowed_statuses(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.declare_in("C0123", "sev1 Outage").await;
    app.slash("resolved").await;
    let before = app.incident_json(id).await;
    let reply = app.slash("closed").await;
    assert_eq!(reply["response_type"], "ephemeral");
    assert!(
        text(&reply).contains("allowed next: postmortem, investigating"),
        "{reply}"
    );
    assert_eq!(app.incident_json(id).await, before);
    // `open` alone opens the form: nothing changes either.
    app.slash("open").await;
    assert_eq!(app.incident_json(id).await, before);
}

async fn a_numbered_command_works_from_any_channel(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.declare_in("C0123", "sev2 Queue backlog").await;
    let (status, reply) = app
        .slash_as("U0789", "C0OTHER", &format!("{id} resolved all clear"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(text(&reply).contains("Done."), "{reply}");
    let incident = app.incident_json(id).await;
    assert_eq!(incident["status"], "resolved");
    let last = incident["timeline"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["actor"], "U0789");
    assert_eq!(last["note"], "all clear");
    // Without a number, outside an incident channel, the user is told what to do.
    let reply = app.slash_as("U0789", "C0OTHER", "investigating").await.1;
    assert_eq!(reply["response_type"], "ephemeral");
    assert!(text(&reply).contains("/incident 42 resolved"), "{reply}");
    // An unknown number is said to be unknown.
    let reply = app.slash("9999 resolved").await;
    assert!(text(&reply).contains("No incident #9999."), "{reply}");
}

async fn ten_identical_concurrent_moves_make_one_transition(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.declare_in("C0123", "sev2 Race").await;
    let moves = (0..10).map(|i| {
        let app = &app;
        async move {
            app.slash_as(&format!("U{i}"), "C0123", "investigating")
                .await
        }
    });
    let replies = futures::future::join_all(moves).await;
    let moved = replies
        .iter()
        .filter(|(_, r)| text(r).contains("Done."))
        .count();
    assert_eq!(moved, 1, "{replies:?}");
    for (status, reply) in &replies {
        assert_eq!(*status, StatusCode::OK);
        if !text(reply).contains("Done.") {
            assert!(text(reply).contains("already investigating"), "{reply}");
        }
    }
    let timeline = app.store.timeline(id).await.unwrap();
    let status_events = timeline
        .iter()
        .filter(|e| e.kind == pompier::domain::EventKind::Status)
        .count();
    assert_eq!(status_events, 1);
}

async fn severity_roles_and_notes_are_recorded_on_the_timeline(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.declare_in("C0123", "sev3 Slow builds").await;
    let reply = app.slash("severity sev1").await;
    assert!(
        text(&reply).contains("Done.") && text(&reply).contains("SEV1"),
        "{reply}"
    );
    let reply = app.slash("severity SEV1").await;
    assert!(
        text(&reply).contains("not changed"),
        "same severity changes nothing: {reply}"
    );
    app.slash("lead <@U0AAA|alice>").await;
    app.slash("role comms <@U0BBB>").await;
    app.slash("role scribe <@U0CCC>").await;
    let reply = app.slash("role chef <@U0CCC>").await;
    assert_eq!(reply["response_type"], "ephemeral");
    assert!(text(&reply).contains("lead, comms, scribe"), "{reply}");
    // As Slack sends what was typed: entities, a broadcast, a link, a mention.
    app.slash("note Rolled back <!channel> &amp; &lt;b&gt; <https://evil|click> for <@U0BOB|bob>")
        .await;

    let incident = app.incident_json(id).await;
    assert_eq!(incident["severity"], "SEV1");
    assert_eq!(
        incident["roles"],
        serde_json::json!({"lead": "U0AAA", "comms": "U0BBB", "scribe": "U0CCC"})
    );
    let timeline = incident["timeline"].as_array().unwrap();
    let kinds: Vec<&str> = timeline
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["declared", "severity", "role", "role", "role", "note"]
    );
    assert_eq!(
        (timeline[1]["from"].as_str(), timeline[1]["to"].as_str()),
        (Some("SEV3"), Some("SEV1"))
    );
    assert_eq!(timeline[2]["role"], "lead");
    assert_eq!(timeline[2]["to"], "U0AAA");
    assert_eq!(
        timeline[5]["note"], "Rolled back @channel & <b> click (https://evil) for @bob",
        "the API returns text as typed, mentions by name, broadcasts defused"
    );
}

async fn status_and_list_show_the_present_state(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.declare_in("C0123", "sev2 First &lt;b&gt;").await;
    app.slash("investigating").await;
    let second = app.declare("sev4 Second").await;
    app.slash(&format!("{second} resolved")).await;
    let third = app.declare("sev1 Third").await;

    let reply = app.slash("status").await;
    assert_eq!(reply["response_type"], "ephemeral");
    assert!(
        text(&reply).contains(&format!("#{first} First &lt;b&gt;")),
        "{reply}"
    );
    assert!(text(&reply).contains("investigating"), "{reply}");
    assert!(
        text(&reply).contains("Next: mitigated, resolved"),
        "{reply}"
    );

    let reply = app.slash("list").await;
    let listed = text(&reply);
    assert!(listed.contains(&format!("#{third} ")), "{reply}");
    assert!(listed.contains(&format!("#{first} ")), "{reply}");
    assert!(
        !listed.contains(&format!("#{second} ")),
        "resolved incidents are not listed: {reply}"
    );
    assert!(
        listed.find(&format!("#{third} ")) < listed.find(&format!("#{first} ")),
        "newest first"
    );
}

async fn unknown_or_malformed_commands_get_usage_and_store_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    for bad in [
        "frobnicate",
        "severity sev7",
        "lead bob",
        "42x resolved",
        "note",
        "open sev0 DB down",
        "open SEV9 DB down",
        "open DB\u{0} down",
        "note bell\u{7}",
    ] {
        let reply = app.slash(bad).await;
        assert_eq!(reply["response_type"], "ephemeral", "{bad}: {reply}");
        assert!(
            text(&reply).ends_with("See `/incident help`."),
            "{bad}: {reply}"
        );
        assert!(text(&reply).lines().count() <= 2, "short: {reply}");
    }
    for (severity, control) in [
        ("open sev0 DB down", "SEV1, SEV2"),
        ("note a\u{0}b", "control"),
    ] {
        let reply = app.slash(severity).await;
        assert!(text(&reply).contains(control), "{reply}");
    }
    for asks_more in ["help"] {
        let reply = app.slash(asks_more).await;
        assert_eq!(reply["response_type"], "ephemeral");
        assert!(
            text(&reply).contains("/incident open [sev1..sev4] TITLE"),
            "{asks_more}: {reply}"
        );
    }
    let long_title = format!("open {}", "x".repeat(201));
    assert!(text(&app.slash(&long_title).await).contains("at most 200"));
    // Signed but malformed forms get a 4xx with a reason.
    for body in [
        "text=open+sev1+no+user&channel_id=C0123".to_string(),
        "user_id=not-a-user&text=open+x".to_string(),
    ] {
        let r = app.post_signed("/slack/commands", body.clone()).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
        let reason: Value = r.json().await.unwrap();
        assert!(
            reason["error"].as_str().unwrap().contains("user_id"),
            "{reason}"
        );
    }
    assert_eq!(app.trace_count().await, (0, 0));
    // A well-formed one still works after all that.
    let r = app
        .post_signed("/slack/commands", command_body("U1", "C1", "open fine"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.trace_count().await, (1, 1));
}

crate::on_both_backends!(
    declaring_with_a_severity_stores_it_and_announces_in_channel,
    declaring_without_a_severity_makes_it_sev3,
    each_transition_moves_the_incident_of_the_channel_and_stamps_its_milestone,
    a_move_that_skips_statuses_stamps_them_with_its_time,
    a_refused_move_changes_nothing_and_names_the_allowed_statuses,
    a_numbered_command_works_from_any_channel,
    ten_identical_concurrent_moves_make_one_transition,
    severity_roles_and_notes_are_recorded_on_the_timeline,
    status_and_list_show_the_present_state,
    unknown_or_malformed_commands_get_usage_and_store_nothing,
);
