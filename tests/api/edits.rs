//! Correcting an incident from Slack: `/incident title|summary|impact`, each an `edit`
//! event; a new title renames the channel and reaches the summary, the open page and
//! the Jira issue.

use serde_json::Value;

use crate::fake_jira::FakeJira;
use crate::fake_pagers::{FakePagers, ROUTING_KEY};
use crate::fake_slack::FakeSlack;
use crate::helpers::{spawn_app_with, start, Backend, TestDb};

async fn a_title_edit_renames_the_channel_and_reaches_everything(backend: Backend) {
    let pagers = FakePagers::start().await;
    let jira = FakeJira::start().await;
    let mut env: Vec<(&'static str, String)> = pagers.env();
    env.extend(jira.env(true));
    env.push(("POMPIER_ANNOUNCE_CHANNEL", "C0ANNOUNCE".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = start(TestDb::new(backend).await, FakeSlack::start().await, &env).await;
    let id = app.declare("sev1 Chekout retruns 500").await;
    app.run_pending_jobs().await;
    let channel = app.slack.channels()[0].clone();
    assert_eq!(channel.name, "inc-1-chekout-retruns-500");
    // Someone holds the name the new title wants: the rename takes a suffix.
    app.slack.add_channel("inc-1-checkout-returns-500");
    let (_, reply) = app
        .slash_as("U0456", &channel.id, "title Checkout returns 500")
        .await;
    assert!(reply["text"].as_str().unwrap().contains("Done"), "{reply}");
    app.slash_as(
        "U0456",
        &channel.id,
        "impact Customers cannot pay &lt;b&gt;at all&lt;/b&gt;",
    )
    .await;
    app.slash_as(
        "U0456",
        &channel.id,
        "summary The payment provider times out",
    )
    .await;
    app.run_pending_jobs().await;
    let renamed = app
        .slack
        .channels()
        .into_iter()
        .find(|c| c.id == channel.id)
        .unwrap();
    assert_eq!(renamed.name, "inc-1-checkout-returns-500-1");
    let json = app.api_get(&format!("/api/v1/incidents/{}", id.0)).await;
    assert_eq!(json["title"], "Checkout returns 500");
    assert_eq!(json["impact"], "Customers cannot pay <b>at all</b>");
    assert_eq!(json["summary"], "The payment provider times out");
    let edits: Vec<&Value> = json["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "edit")
        .collect();
    assert_eq!(edits.len(), 3, "{json}");
    assert_eq!(edits[0]["from"], "Chekout retruns 500");
    assert_eq!(edits[0]["to"], "Checkout returns 500");
    assert_eq!(edits[0]["field"], "title");
    // The summary shows it all, escaped.
    let summary = app.slack.updates().last().unwrap().body.to_string();
    assert!(summary.contains("#1 Checkout returns 500"), "{summary}");
    assert!(
        summary.contains("Customers cannot pay &lt;b&gt;at all&lt;/b&gt;"),
        "{summary}"
    );
    // The open page and the Jira issue take the new title.
    let updated: Vec<_> = pagers
        .received()
        .into_iter()
        .filter(|r| r.action == "update" || (r.pager == "pagerduty" && r.action == "trigger"))
        .collect();
    assert!(
        updated.iter().any(|r| r.pager == "pagerduty"
            && r.body["payload"]["summary"] == "[SEV1] #1 Checkout returns 500"),
        "{updated:?}"
    );
    assert!(updated
        .iter()
        .any(|r| r.pager == "opsgenie" && r.body["message"] == "[SEV1] #1 Checkout returns 500"));
    assert_eq!(
        pagers
            .alert("pagerduty", ROUTING_KEY, "pompier-1")
            .as_deref(),
        Some("triggered")
    );
    assert_eq!(
        jira.issues()[0].fields["summary"],
        "[SEV1] #1 Checkout returns 500"
    );
    app.stop().await;
}

async fn bad_edits_are_refused_and_change_nothing(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    app.declare("sev3 Search is slow").await;
    app.run_pending_jobs().await;
    let channel = app.slack.channels()[0].id.clone();
    let before = app.api_get("/api/v1/incidents/1").await;
    for (text, says) in [
        ("title", "empty"),
        ("title a\u{7}b", "control character"),
        ("title Search is slow", "already"),
    ] {
        let (_, reply) = app.slash_as("U0456", &channel, text).await;
        let said = reply["text"].as_str().unwrap();
        assert!(said.contains(says), "{text}: {said}");
    }
    let long = format!("title {}", "x".repeat(201));
    let (_, reply) = app.slash_as("U0456", &channel, &long).await;
    assert!(reply["text"].as_str().unwrap().contains("200"), "{reply}");
    assert_eq!(app.api_get("/api/v1/incidents/1").await, before);
    // A closed incident takes no edit.
    for text in ["resolved", "closed"] {
        app.slash_as("U0456", &channel, text).await;
    }
    let (_, reply) = app.slash_as("U0456", &channel, "impact nobody").await;
    assert!(
        reply["text"].as_str().unwrap().contains("closed"),
        "{reply}"
    );
    app.stop().await;
}

/// The *Edit* form submitted by `user` for incident `id`.
async fn submit_edit(
    app: &crate::helpers::TestApp,
    user: &str,
    id: &str,
    title: &str,
    impact: &str,
    severity: &str,
) -> (u16, String) {
    let payload = serde_json::json!({
        "type": "view_submission", "trigger_id": "1.2.3", "user": {"id": user},
        "view": {"id": "V1", "callback_id": "edit_incident", "private_metadata": id,
                 "state": {"values": {
                     "title": {"title": {"type": "plain_text_input", "value": title}},
                     "summary": {"summary": {"type": "plain_text_input", "value": null}},
                     "impact": {"impact": {"type": "plain_text_input", "value": impact}},
                     "severity": {"severity": {"type": "static_select", "selected_option": {"value": severity}}}}}}});
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish();
    let r = app.post_signed("/slack/interactions", body).await;
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn the_edit_button_opens_a_prefilled_form_that_corrects_the_incident(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    app.declare("sev3 Serch is slow").await;
    app.run_pending_jobs().await;
    let channel = app.slack.channels()[0].id.clone();
    app.slash_as("U0456", &channel, "summary An index is missing")
        .await;
    // The summary offers the button.
    app.run_pending_jobs().await;
    let summary = app.slack.updates().last().unwrap().body.to_string();
    assert!(summary.contains("\"action_id\":\"edit\""), "{summary}");
    app.click("U0456", &channel, "edit", "1:edit").await;
    let views = app.slack.views();
    assert_eq!(views.len(), 1);
    let form = views[0].to_string();
    for prefilled in [
        "edit_incident",
        "Serch is slow",
        "An index is missing",
        "SEV3",
    ] {
        assert!(form.contains(prefilled), "{prefilled} in {form}");
    }
    // Saved: the title and impact change, the severity too; the summary stays.
    let (status, answer) =
        submit_edit(&app, "U0456", "1", "Search is slow", "EU users", "SEV2").await;
    assert_eq!((status, answer.as_str()), (200, ""));
    let json = app.api_get("/api/v1/incidents/1").await;
    assert_eq!(
        (
            &json["title"],
            &json["impact"],
            &json["summary"],
            &json["severity"]
        ),
        (
            &Value::from("Search is slow"),
            &Value::from("EU users"),
            &Value::from("An index is missing"),
            &Value::from("SEV2")
        ),
        "{json}"
    );
    // Someone a private incident does not admit gets no further with a forged form.
    app.slash("open private sev1 Payroll export leaked").await;
    let (_, answer) = submit_edit(&app, "U0OUT", "2", "Nothing to see", "", "SEV4").await;
    assert!(answer.contains("No incident #2"), "{answer}");
    assert_eq!(
        app.api_get("/api/v1/incidents/2").await["title"],
        "Payroll export leaked"
    );
    // A bad title is answered in the form; nothing changes.
    let (_, answer) = submit_edit(&app, "U0456", "1", "", "EU users", "SEV2").await;
    assert!(
        answer.contains("\"response_action\":\"errors\""),
        "{answer}"
    );
    assert_eq!(
        app.api_get("/api/v1/incidents/1").await["title"],
        "Search is slow"
    );
    app.stop().await;
}

crate::on_both_backends!(
    the_edit_button_opens_a_prefilled_form_that_corrects_the_incident,
    a_title_edit_renames_the_channel_and_reaches_everything,
    bad_edits_are_refused_and_change_nothing,
);
