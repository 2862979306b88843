//! What people see in Slack: one announcement per incident, edited in place, its
//! changes in its thread; a direct message to whoever takes a role; the form's impact,
//! team and severities; the declarer told where the channel is. On both databases.

use serde_json::{json, Value};

use crate::fake_slack::Failure;
use crate::helpers::{spawn_app_with, Backend, TestApp};

const ANNOUNCE: &str = "C0ANNOUNCE";

fn later(secs: i64) -> chrono::DateTime<chrono::Utc> {
    pompier::now() + chrono::Duration::seconds(secs)
}

async fn with_announce(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[("POMPIER_ANNOUNCE_CHANNEL", ANNOUNCE)]).await
}

async fn a_major_incident_resolved_is_shown_in_the_channel_and_its_lead_told_their_duty(
    backend: Backend,
) {
    let app = with_announce(backend).await;
    let id = app.declare("sev2 Payments failing").await;
    app.run_pending_jobs().await;
    let channel = app.slack.channels()[0].id.clone();
    app.slash_as("U0456", &channel, "lead <@U0777>").await;
    app.slash_as("U0456", &channel, "role comms <@U0888>").await;
    app.slash_as("U0456", &channel, "impact EU shoppers cannot pay")
        .await;
    app.slash_as("U0456", &channel, "investigating").await;
    app.slash_as("U0456", &channel, "resolved").await;
    app.run_pending_jobs().await;

    let announced = app.slack.top_level(ANNOUNCE);
    assert_eq!(announced.len(), 1, "one announcement: {announced:?}");
    let now = app.slack.current(ANNOUNCE, &announced[0].ts).to_string();
    for part in [
        "*resolved*",
        "Lead: <@U0777>",
        "EU shoppers cannot pay",
        // The default severity descriptions of config/default.toml.
        "SEV2 — Major",
        "resolved after",
        &format!("<#{channel}>"),
    ] {
        assert!(now.contains(part), "{part} in {now}");
    }
    // Two moves in its thread, in order; the SEV2 resolved also shown in the channel.
    let replies = app.slack.thread(ANNOUNCE, &announced[0].ts);
    let said: Vec<(String, Value)> = replies
        .iter()
        .map(|r| {
            (
                r.body["text"].to_string(),
                r.body["reply_broadcast"].clone(),
            )
        })
        .collect();
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(said[0].0.contains("*investigating*") && said[0].1 == false);
    assert!(
        said[1].0.contains("*resolved*") && said[1].1 == true,
        "{said:?}"
    );

    // The new lead and comms are told, each in a direct message, what the role asks.
    let lead_dm = app.slack.messages_in("DU0777");
    assert_eq!(lead_dm.len(), 1, "{lead_dm:?}");
    let text = lead_dm[0].body["text"].as_str().unwrap();
    assert!(
        text.contains("*lead*")
            && text.contains(&format!("#{id} Payments failing"))
            && text.contains(&format!("<#{channel}>"))
            && text.contains("You coordinate the response"),
        "{text}"
    );
    let comms_dm = app.slack.messages_in("DU0888");
    assert_eq!(comms_dm.len(), 1);
    assert!(comms_dm[0].body["text"]
        .as_str()
        .unwrap()
        .contains("You keep people informed"));
    // A role passed on before its message went out is told to the new holder only.
    app.slash_as("U0456", &channel, "lead <@U0999>").await;
    app.slash_as("U0456", &channel, "lead <@U0111>").await;
    app.run_pending_jobs().await;
    assert!(app.slack.messages_in("DU0999").is_empty());
    assert_eq!(app.slack.messages_in("DU0111").len(), 1);
}

async fn a_thread_reply_whose_answer_was_lost_is_posted_once(backend: Backend) {
    let app = with_announce(backend).await;
    app.declare("sev1 Everything down").await;
    app.run_pending_jobs().await;
    let channel = app.slack.channels()[0].id.clone();
    app.slash_as("U0456", &channel, "investigating").await;
    // The move told in the channel, then in the announcement's thread: both posted,
    // both answers lost.
    app.slack.fail(
        "chat.postMessage",
        [Failure::AfterEffect(500), Failure::AfterEffect(500)],
    );
    for minutes in 0..6 {
        app.run_jobs_at(later(minutes * 600)).await;
    }
    let announced = app.slack.top_level(ANNOUNCE);
    assert_eq!(announced.len(), 1);
    let replies = app.slack.thread(ANNOUNCE, &announced[0].ts);
    assert_eq!(replies.len(), 1, "posted once: {replies:?}");
    assert!(app.slack.count("conversations.replies") >= 1);
    let in_channel = app.slack.top_level(&channel);
    assert_eq!(in_channel.len(), 2, "the summary and the move, once each");
}

async fn the_form_asks_impact_and_team_explains_severities_and_says_where_the_channel_is(
    backend: Backend,
) {
    let app = with_announce(backend).await;
    let opened = app
        .post_signed(
            "/slack/commands",
            crate::helpers::command_body("U0456", "C0123", ""),
        )
        .await;
    assert_eq!(opened.status(), 200);
    let view = app.slack.views().pop().expect("the form");
    let form = view.to_string();
    for part in ["SEV1 — Critical", "Who is affected", "Service or team"] {
        assert!(form.contains(part), "{part} in {form}");
    }
    let metadata = view["private_metadata"].as_str().unwrap().to_owned();
    assert!(metadata.contains("C0123"), "{metadata}");
    let submitted = json!({
        "type": "view_submission", "trigger_id": "1.2.3",
        "user": {"id": "U0456"}, "team": {"id": "T1", "domain": "acme"},
        "view": {"id": "V0FORM", "callback_id": "declare_incident", "private_metadata": metadata,
                 "state": {"values": {
                     "title": {"title": {"type": "plain_text_input", "value": "Search is slow"}},
                     "severity": {"severity": {"type": "static_select", "selected_option": {"value": "SEV3"}}},
                     "team": {"team": {"type": "plain_text_input", "value": "Search"}},
                     "impact": {"impact": {"type": "plain_text_input", "value": "Results take 10 s"}}}}}
    });
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &submitted.to_string())
        .finish();
    let r = app.post_signed("/slack/interactions", body).await;
    assert_eq!(r.status(), 200);
    app.run_pending_jobs().await;
    let incident = app.incident_json(pompier::domain::IncidentId(1)).await;
    assert_eq!(incident["team"], "search");
    assert_eq!(incident["impact"], "Results take 10 s");
    // Told, where the form was opened, where the channel is.
    let channel = app.slack.channels()[0].id.clone();
    let told = app.slack.ephemerals();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].channel, "C0123");
    assert_eq!(told[0].body["user"], "U0456");
    assert!(told[0].body["text"]
        .as_str()
        .unwrap()
        .contains(&format!("<#{channel}>")));
    // The announcement and the summary show impact, team and what the severity means.
    let announced = app.slack.top_level(ANNOUNCE);
    let now = app.slack.current(ANNOUNCE, &announced[0].ts).to_string();
    for part in ["Team: search", "Results take 10 s", "SEV3 — Minor"] {
        assert!(now.contains(part), "{part} in {now}");
    }
    let summary = app.slack.top_level(&channel)[0].ts.clone();
    let summary = app.slack.current(&channel, &summary).to_string();
    assert!(
        summary.contains("SEV3 — Minor") && summary.contains("*Team*\\nsearch"),
        "{summary}"
    );
    // And help says what each severity means.
    let help = app.slash("help").await;
    assert!(
        help["text"].as_str().unwrap().contains("SEV4 — Low"),
        "{help}"
    );
}

async fn a_bad_team_in_the_form_is_named_and_declares_nothing(backend: Backend) {
    let app = with_announce(backend).await;
    let submitted = json!({
        "type": "view_submission", "trigger_id": "1.2.3",
        "user": {"id": "U0456"}, "team": {"id": "T1", "domain": "acme"},
        "view": {"id": "V0BADTEAM", "callback_id": "declare_incident", "private_metadata": "",
                 "state": {"values": {
                     "title": {"title": {"type": "plain_text_input", "value": "Search is slow"}},
                     "severity": {"severity": {"type": "static_select", "selected_option": {"value": "SEV3"}}},
                     "team": {"team": {"type": "plain_text_input", "value": "search team!"}}}}}
    });
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &submitted.to_string())
        .finish();
    let r = app.post_signed("/slack/interactions", body).await;
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["response_action"], "errors", "{answer}");
    assert!(answer["errors"]["team"].is_string(), "{answer}");
    assert_eq!(app.trace_count().await, (0, 0));
}

crate::on_both_backends!(
    a_major_incident_resolved_is_shown_in_the_channel_and_its_lead_told_their_duty,
    a_thread_reply_whose_answer_was_lost_is_posted_once,
    the_form_asks_impact_and_team_explains_severities_and_says_where_the_channel_is,
    a_bad_team_in_the_form_is_named_and_declares_nothing,
);
