//! `[permissions]`: who may declare at SEV1, close or reopen, start a game day or be a
//! villain; the lead and the admins always may move. A refusal is one line to the asker
//! naming who may, and changes nothing. On both databases.

use crate::helpers::{spawn_app_with, Backend, TestApp};

async fn restricted(backend: Backend) -> TestApp {
    let app = spawn_app_with(
        backend,
        &[
            ("POMPIER_PERMISSIONS__ADMINS", "[U0ADMIN]"),
            ("POMPIER_PERMISSIONS__DECLARE_SEV1", "[S0ONCALL]"),
            ("POMPIER_PERMISSIONS__CLOSE", "[U0CLOSER]"),
            ("POMPIER_PERMISSIONS__GAMEDAY", "[U0VILLAIN]"),
        ],
    )
    .await;
    app.slack.add_group("S0ONCALL", &["U0ANA"]);
    app
}

fn said(reply: &serde_json::Value) -> String {
    assert_eq!(reply["response_type"], "ephemeral", "{reply}");
    reply["text"].as_str().unwrap().to_owned()
}

async fn sev1_closing_and_game_days_are_for_those_listed(backend: Backend) {
    let app = restricted(backend).await;
    // SEV1: the on-call group (read from Slack) and the admin; not Bob.
    let (_, refused) = app
        .slash_as("U0BOB", "C0123", "open sev1 Everything down")
        .await;
    let text = said(&refused);
    assert!(
        text.contains("<!subteam^S0ONCALL>")
            && text.contains("<@U0ADMIN>")
            && text.contains("declare_sev1"),
        "{text}"
    );
    assert_eq!(app.trace_count().await.0, 0, "nothing declared");
    let (_, ok) = app
        .slash_as("U0ANA", "C0123", "open sev1 Everything down")
        .await;
    assert_eq!(ok["response_type"], "in_channel", "{ok}");
    let (_, ok) = app
        .slash_as("U0BOB", "C0123", "open sev3 Search slow")
        .await;
    assert_eq!(ok["response_type"], "in_channel", "{ok}");
    // Bob may not raise his SEV2 to SEV1 either.
    let (_, refused) = app.slash_as("U0BOB", "C0123", "2 severity sev1").await;
    assert!(said(&refused).contains("declare_sev1"));
    assert_eq!(
        app.incident_json(pompier::domain::IncidentId(2)).await["severity"],
        "SEV3"
    );

    // Anyone moves it along; closing is for U0CLOSER, the lead and the admin.
    app.slash_as("U0BOB", "C0123", "2 resolved").await;
    let (_, refused) = app.slash_as("U0BOB", "C0123", "2 closed").await;
    let text = said(&refused);
    assert!(
        text.contains("<@U0CLOSER>") && text.contains("its lead"),
        "{text}"
    );
    assert_eq!(
        app.incident_json(pompier::domain::IncidentId(2)).await["status"],
        "resolved"
    );
    // The summary's button refuses the same, to the clicker alone.
    app.click("U0BOB", "C0123", "move", "2:closed").await;
    let heard = app.responses(1).await;
    assert!(
        heard[0].to_string().contains("permissions.close"),
        "{heard:?}"
    );
    app.slash_as("U0BOB", "C0123", "2 lead <@U0LEAD>").await;
    let (_, ok) = app.slash_as("U0LEAD", "C0123", "2 closed").await;
    assert!(!said(&ok).contains("permissions"), "{ok}");
    assert_eq!(
        app.incident_json(pompier::domain::IncidentId(2)).await["status"],
        "closed"
    );
    // Reopening is closing's too.
    let (_, refused) = app.slash_as("U0BOB", "C0123", "2 investigating").await;
    assert!(said(&refused).contains("permissions.close"));
    let (_, ok) = app.slash_as("U0ADMIN", "C0123", "2 investigating").await;
    assert!(!said(&ok).contains("permissions"), "{ok}");

    // Game days: started and played by those listed.
    let (_, refused) = app
        .slash_as("U0BOB", "C0123", "gameday start Q1 mode:dnd")
        .await;
    assert!(said(&refused).contains("start a game day"), "{refused}");
    let (_, ok) = app
        .slash_as("U0VILLAIN", "C0123", "gameday start Q1 mode:dnd")
        .await;
    assert!(!ok.to_string().contains("permissions"), "{ok}");
    let (_, refused) = app
        .slash_as("U0VILLAIN", "C0123", "gameday villain <@U0BOB>")
        .await;
    assert!(said(&refused).contains("be a villain"), "{refused}");
}

async fn a_form_declaring_sev1_is_refused_on_its_severity(backend: Backend) {
    let app = restricted(backend).await;
    let payload = serde_json::json!({
        "type": "view_submission", "trigger_id": "1.2.3", "user": {"id": "U0BOB"},
        "view": {"id": "V0SEV1", "callback_id": "declare_incident", "private_metadata": "",
                 "state": {"values": {
                     "title": {"title": {"type": "plain_text_input", "value": "All down"}},
                     "severity": {"severity": {"type": "static_select", "selected_option": {"value": "SEV1"}}}}}}
    });
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish();
    let answer: serde_json::Value = app
        .post_signed("/slack/interactions", body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["response_action"], "errors");
    assert!(
        answer["errors"]["severity"]
            .as_str()
            .unwrap()
            .contains("SEV1"),
        "{answer}"
    );
    assert_eq!(app.trace_count().await.0, 0);
}

#[tokio::test]
async fn a_bad_id_in_permissions_stops_the_start() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pompier"))
        .arg("check")
        .env_clear()
        .env("POMPIER_PERMISSIONS__CLOSE", "[\"@ana\"]")
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("`@ana` is not a Slack user id"), "{said}");
}

crate::on_both_backends!(
    sev1_closing_and_game_days_are_for_those_listed,
    a_form_declaring_sev1_is_refused_on_its_severity,
);
