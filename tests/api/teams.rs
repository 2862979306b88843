//! Responders pulled in: a team's people at its declaration, a severity's at a raise,
//! never `[invite]`'s into a private incident; user groups read once per 10 minutes.

use crate::fake_slack::FakeSlack;
use crate::helpers::{start, Backend, TestApp, TestDb};

async fn app(backend: Backend) -> TestApp {
    let slack = FakeSlack::start().await;
    slack.add_group("S0PAY", &["U0ANA", "U0BEN"]);
    slack.add_group("S0LEADS", &["U0LEAD"]);
    let team_channel = slack.add_channel("payments");
    let env = [
        ("POMPIER_TEAMS__PAYMENTS__SLACK_USERGROUP", "S0PAY"),
        (
            "POMPIER_TEAMS__PAYMENTS__USERS",
            "[\"U0CAT\", \"U0BADGUEST\"]",
        ),
        (
            "POMPIER_TEAMS__PAYMENTS__CHANNEL",
            Box::leak(team_channel.into_boxed_str()) as &str,
        ),
        ("POMPIER_INVITE__SEV1", "[\"S0LEADS\", \"U0CTO\"]"),
    ];
    start(TestDb::new(backend).await, slack, &env).await
}

fn channel_of(app: &TestApp, n: usize) -> String {
    app.slack
        .channels()
        .iter()
        .filter(|c| c.name.starts_with("inc-"))
        .nth(n)
        .unwrap()
        .id
        .clone()
}

async fn a_team_is_pulled_in_at_declaration_and_a_severity_at_a_raise(backend: Backend) {
    let app = app(backend).await;
    let (_, reply) = app
        .slash_as("U0456", "C0123", "open sev2 team:payments Refunds are late")
        .await;
    assert_eq!(reply["response_type"], "in_channel", "{reply}");
    app.run_pending_jobs().await;
    let channel = channel_of(&app, 0);
    let mut members = app.slack.members(&channel);
    members.sort();
    assert_eq!(
        members,
        ["U0456", "U0ANA", "U0BEN", "U0CAT"],
        "the SEV1 people are not in yet"
    );
    // The guest that cannot be invited is named; the others were invited anyway.
    let told = app.told(&channel);
    assert!(told.contains("Could not invite <@U0BADGUEST>"), "{told}");
    // The team's channel heard of it.
    let team_channel = app
        .slack
        .channels()
        .into_iter()
        .find(|c| c.name == "payments")
        .unwrap();
    assert!(app.told(&team_channel.id).contains("for team *payments*"));
    // Those invited are participants.
    let json = app.api_get("/api/v1/incidents/1").await;
    assert!(json["participants"].to_string().contains("U0ANA"), "{json}");
    assert_eq!(json["team"], "payments", "{json}");
    // Raised to SEV1: its people join.
    app.slash_as("U0456", &channel, "severity sev1").await;
    app.run_pending_jobs().await;
    let members = app.slack.members(&channel);
    assert!(
        members.contains(&"U0LEAD".to_string()) && members.contains(&"U0CTO".to_string()),
        "{members:?}"
    );
    app.stop().await;
}

async fn a_private_incident_invites_its_team_only(backend: Backend) {
    let app = app(backend).await;
    app.slash_as(
        "U0456",
        "C0123",
        "open private sev1 team:payments Payroll leak",
    )
    .await;
    app.run_pending_jobs().await;
    let channel = channel_of(&app, 0);
    let members = app.slack.members(&channel);
    assert!(members.contains(&"U0ANA".to_string()), "{members:?}");
    assert!(
        !members.contains(&"U0LEAD".to_string()) && !members.contains(&"U0CTO".to_string()),
        "{members:?}"
    );
    // Nor is the team's channel told its title.
    let team_channel = app
        .slack
        .channels()
        .into_iter()
        .find(|c| c.name == "payments")
        .unwrap();
    assert!(!app.told(&team_channel.id).contains("Payroll"));
    app.stop().await;
}

async fn user_groups_are_read_once_for_many_incidents(backend: Backend) {
    let app = app(backend).await;
    for n in 0..50 {
        app.slash_as(
            "U0456",
            "C0123",
            &format!("open sev3 team:payments Incident {n}"),
        )
        .await;
    }
    app.run_pending_jobs().await;
    assert_eq!(app.slack.count("usergroups.users.list"), 1);
    for n in 0..50 {
        assert!(app
            .slack
            .members(&channel_of(&app, n))
            .contains(&"U0BEN".to_string()));
    }
    // An unknown team is answered with the configured ones; nothing is declared.
    let (_, reply) = app
        .slash_as("U0456", "C0123", "open team:billing Invoices wrong")
        .await;
    let said = reply["text"].as_str().unwrap();
    assert!(
        said.contains("unknown team `billing`") && said.contains("payments"),
        "{said}"
    );
    let get = |n| app.store.get(pompier::domain::IncidentId(n));
    assert!(get(50).await.unwrap().is_some() && get(51).await.unwrap().is_none());
    app.stop().await;
}

async fn people_are_invited_by_hand(backend: Backend) {
    let app = app(backend).await;
    app.slash_as("U0456", "C0123", "open sev3 Cache misses")
        .await;
    app.run_pending_jobs().await;
    let channel = channel_of(&app, 0);
    let (_, reply) = app
        .slash_as("U0456", &channel, "invite payments <@U0ZOE|zoe>")
        .await;
    assert!(reply["text"].as_str().unwrap().contains("Done"), "{reply}");
    app.run_pending_jobs().await;
    let members = app.slack.members(&channel);
    for who in ["U0ANA", "U0BEN", "U0CAT", "U0ZOE"] {
        assert!(members.contains(&who.to_string()), "{who}: {members:?}");
    }
    // Again: those already in are no failure.
    app.slash_as("U0456", &channel, "invite <@U0ZOE|zoe>").await;
    app.run_pending_jobs().await;
    assert!(!app.told(&channel).contains("already_in_channel"));
    let (_, reply) = app.slash_as("U0456", &channel, "invite billing").await;
    assert!(
        reply["text"]
            .as_str()
            .unwrap()
            .contains("unknown team `billing`"),
        "{reply}"
    );
    app.stop().await;
}

async fn the_api_and_alert_routes_declare_for_a_team(backend: Backend) {
    let slack = FakeSlack::start().await;
    slack.add_group("S0PAY", &["U0ANA"]);
    let env = [
        ("POMPIER_TEAMS__PAYMENTS__SLACK_USERGROUP", "S0PAY"),
        (
            "POMPIER_ALERTS__ROUTES",
            "[{match = {team = \"payments\"}, team = \"payments\"}]",
        ),
    ];
    let app = start(TestDb::new(backend).await, slack, &env).await;
    let token = app
        .token(
            "ci",
            &[
                pompier::tokens::Scope::Write,
                pompier::tokens::Scope::Alerts,
            ],
        )
        .await;
    let (status, json) = app
        .api_post(
            "/api/v1/incidents",
            &token,
            serde_json::json!({"title": "Refunds stuck", "team": "payments"}),
        )
        .await;
    assert_eq!(status, 201, "{json}");
    assert_eq!(json["team"], "payments");
    let (status, json) = app
        .api_post(
            "/api/v1/incidents",
            &token,
            serde_json::json!({"title": "Refunds stuck", "team": "billing"}),
        )
        .await;
    assert_eq!(status, 400, "{json}");
    assert!(json["error"].as_str().unwrap().contains("`team`"), "{json}");
    let (_, json) = app
        .api_post(
            "/api/v1/alerts",
            &token,
            serde_json::json!({"source": "x", "dedup_key": "k", "title": "Queue stuck",
                               "labels": {"team": "payments"}}),
        )
        .await;
    let id = json["incident"].as_i64().unwrap();
    assert_eq!(
        app.api_get(&format!("/api/v1/incidents/{id}")).await["team"],
        "payments"
    );
    app.run_pending_jobs().await;
    for n in 0..2 {
        assert!(app
            .slack
            .members(&channel_of(&app, n))
            .contains(&"U0ANA".to_string()));
    }
    app.stop().await;
}

async fn the_teams_on_call_is_invited_and_a_pager_down_is_said(backend: Backend) {
    let pagers = crate::fake_pagers::FakePagers::start().await;
    let slack = FakeSlack::start().await;
    let env = [
        ("POMPIER_TEAMS__PAYMENTS__USERS", "[\"U0CAT\"]"),
        (
            "POMPIER_TEAMS__PAYMENTS__PAGERDUTY_ESCALATION_POLICY",
            crate::fake_pagers::POLICY,
        ),
        ("PAGERDUTY_API_TOKEN", crate::fake_pagers::API_TOKEN),
        (
            "POMPIER_PAGING__PAGERDUTY_API_URL",
            pagers.opsgenie_url.as_str(),
        ),
    ];
    let app = start(TestDb::new(backend).await, slack, &env).await;
    app.slash_as("U0456", "C0123", "open sev3 team:payments Refunds are late")
        .await;
    app.run_pending_jobs().await;
    let members = app.slack.members(&channel_of(&app, 0));
    assert!(members.contains(&"U0DAN".to_string()), "{members:?}");
    assert!(
        !members.contains(&"U0BOSS".to_string()),
        "the second level is not called: {members:?}"
    );
    let (db, slack) = app.into_parts().await;
    // PagerDuty down: the others are invited, and the channel hears who is missing.
    let env = [
        ("POMPIER_TEAMS__PAYMENTS__USERS", "[\"U0CAT\"]"),
        (
            "POMPIER_TEAMS__PAYMENTS__PAGERDUTY_ESCALATION_POLICY",
            crate::fake_pagers::POLICY,
        ),
        ("PAGERDUTY_API_TOKEN", crate::fake_pagers::API_TOKEN),
        ("POMPIER_PAGING__PAGERDUTY_API_URL", "http://127.0.0.1:9"),
    ];
    let app = start(db, slack, &env).await;
    app.slash_as(
        "U0456",
        "C0123",
        "open sev3 team:payments Refunds are late again",
    )
    .await;
    app.run_pending_jobs().await;
    let channel = channel_of(&app, 1);
    assert!(app.slack.members(&channel).contains(&"U0CAT".to_string()));
    let told = app.told(&channel);
    assert!(
        told.contains("the on-call of PPAY") && told.contains("unreachable"),
        "{told}"
    );
    app.stop().await;
}

async fn the_form_offers_the_teams_and_declares_for_the_one_chosen(backend: Backend) {
    let app = app(backend).await;
    app.post_signed(
        "/slack/commands",
        crate::helpers::command_body("U0456", "C0123", ""),
    )
    .await;
    let form = app.slack.views()[0].to_string();
    assert!(
        form.contains("\"block_id\":\"team\"") && form.contains("payments"),
        "{form}"
    );
    let payload = serde_json::json!({
        "type": "view_submission", "trigger_id": "1.2.3", "user": {"id": "U0456"},
        "view": {"id": "V9", "callback_id": "declare_incident", "private_metadata": "",
                 "state": {"values": {
                     "title": {"title": {"type": "plain_text_input", "value": "Refunds are late"}},
                     "severity": {"severity": {"type": "static_select", "selected_option": {"value": "SEV2"}}},
                     "team": {"team": {"type": "static_select", "selected_option": {"value": "payments"}}}}}}});
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish();
    assert_eq!(
        app.post_signed("/slack/interactions", body).await.status(),
        200
    );
    app.run_pending_jobs().await;
    assert_eq!(app.api_get("/api/v1/incidents/1").await["team"], "payments");
    assert!(app
        .slack
        .members(&channel_of(&app, 0))
        .contains(&"U0ANA".to_string()));
    app.stop().await;
}

crate::on_both_backends!(
    the_form_offers_the_teams_and_declares_for_the_one_chosen,
    the_teams_on_call_is_invited_and_a_pager_down_is_said,
    the_api_and_alert_routes_declare_for_a_team,
    people_are_invited_by_hand,
    a_team_is_pulled_in_at_declaration_and_a_severity_at_a_raise,
    a_private_incident_invites_its_team_only,
    user_groups_are_read_once_for_many_incidents,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pompier_check_reads_every_user_group() {
    let slack = FakeSlack::start().await;
    slack.add_group("S0PAY", &["U0ANA", "U0BEN"]);
    let db = TestDb::new(Backend::Sqlite).await;
    let env = |group: &str| {
        vec![
            ("DATABASE_URL", db.url.clone()),
            ("SLACK_API_URL", slack.url.clone()),
            ("SLACK_BOT_TOKEN", crate::fake_slack::BOT_TOKEN.to_owned()),
            ("POMPIER_TEAMS__PAYMENTS__SLACK_USERGROUP", group.to_owned()),
        ]
    };
    let (code, said) = crate::helpers::pompier_check(env("S0PAY")).await;
    assert_eq!(code, Some(0), "{said}");
    assert!(
        said.contains("ok   teams") && said.contains("S0PAY (2 users)"),
        "{said}"
    );
    let pagers = crate::fake_pagers::FakePagers::start().await;
    let mut with_policy = env("S0PAY");
    with_policy.push((
        "POMPIER_TEAMS__PAYMENTS__PAGERDUTY_ESCALATION_POLICY",
        "PPAY".into(),
    ));
    with_policy.push(("PAGERDUTY_API_TOKEN", crate::fake_pagers::API_TOKEN.into()));
    with_policy.push((
        "POMPIER_PAGING__PAGERDUTY_API_URL",
        pagers.opsgenie_url.clone(),
    ));
    let (code, said) = crate::helpers::pompier_check(with_policy.clone()).await;
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("PPAY (1 on call)"), "{said}");
    with_policy.push(("PAGERDUTY_API_TOKEN", "wrong".into()));
    let (code, said) = crate::helpers::pompier_check(with_policy).await;
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains("FAIL teams") && said.contains("PPAY: PagerDuty answered HTTP 401"),
        "{said}"
    );
    let (code, said) = crate::helpers::pompier_check(env("S0GONE")).await;
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains("FAIL teams") && said.contains("S0GONE"),
        "{said}"
    );
}
