//! Private incidents: a private channel, not announced, listed to members only, counted
//! without their title; the API (the operator's token) marks them.

use crate::helpers::{spawn_app_with, Backend};

const ANNOUNCE: &str = "C0ANNOUNCE";
const SECRET: &str = "Payroll export leaked";

async fn a_private_incidents_title_leaks_nowhere(backend: Backend) {
    let app = spawn_app_with(backend, &[("POMPIER_ANNOUNCE_CHANNEL", ANNOUNCE)]).await;
    let (_, reply) = app
        .slash_as("U0456", "C0GENERAL", &format!("open private sev1 {SECRET}"))
        .await;
    // Only the declarer is told, where they typed it.
    assert_eq!(reply["response_type"], "ephemeral", "{reply}");
    assert!(reply["text"].as_str().unwrap().contains(SECRET));
    app.declare("sev2 Public one").await;
    let id = pompier::domain::IncidentId(1);
    app.slash(&format!("{id} investigating")).await;
    app.run_pending_jobs().await;

    let create = app
        .slack
        .calls()
        .into_iter()
        .find(|(m, _)| m == "conversations.create")
        .unwrap()
        .1;
    assert_eq!(create["is_private"], true, "{create}");
    let announced = app.slack.messages_in(ANNOUNCE);
    assert_eq!(announced.len(), 1, "only the public one is announced");
    assert!(!format!("{announced:?}").contains("Payroll"));

    // Listed to its members only.
    let (_, theirs) = app.slash_as("U0456", "C0GENERAL", "list").await;
    assert!(theirs.to_string().contains(SECRET), "{theirs}");
    let (_, others) = app.slash_as("U0OTHER", "C0GENERAL", "list").await;
    assert!(
        !others.to_string().contains("Payroll") && others.to_string().contains("Public one"),
        "{others}"
    );
    // Someone who joins its channel is a member.
    let channel = app.incident_json(id).await["channel_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.store
        .add_participant(id, &"U0OTHER".parse().unwrap(), pompier::now())
        .await
        .unwrap();
    let (_, joined) = app.slash_as("U0OTHER", &channel, "list").await;
    assert!(joined.to_string().contains(SECRET), "{joined}");

    // Counted in the statistics; titled nowhere a manager looks.
    let stats = app.api_get("/api/v1/stats").await;
    assert_eq!(stats["total"], 2);
    assert!(!stats.to_string().contains("Payroll"));
    for path in [
        "/dashboard",
        "/dashboard/incidents/1",
        "/api/v1/incidents.csv",
    ] {
        let body = app.page_text(path).await;
        assert!(!body.contains("Payroll"), "{path}: {body}");
        assert!(body.contains("Private incident"), "{path}: {body}");
    }
    // Nor its people or links: severity, status and times only.
    let page = app.page_text("/dashboard/incidents/1").await;
    for hidden in ["U0456", &channel, "slack-link", "postmortem-link"] {
        assert!(!page.contains(hidden), "{hidden} on the page: {page}");
    }
    assert!(
        page.contains("SEV1") && page.contains("investigating"),
        "{page}"
    );
    let csv = app.page_text("/api/v1/incidents.csv").await;
    let mut rows = csv.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    assert_eq!(
        &header[header.len() - 6..],
        [
            "drill",
            "private",
            "jira",
            "declared_by_name",
            "lead_name",
            "comms_name"
        ]
    );
    let private_row = rows.find(|r| r.starts_with("1,")).unwrap();
    assert!(
        !private_row.contains("U0") && !private_row.contains(&channel),
        "{private_row}"
    );
    assert!(private_row.ends_with(",false,true,,,,"), "{private_row}");
    // The API, with the operator's token, says what it is.
    let json = app.incident_json(id).await;
    assert_eq!(
        (&json["private"], &json["title"]),
        (
            &serde_json::Value::Bool(true),
            &serde_json::Value::from(SECRET)
        )
    );
    app.stop().await;
}

async fn a_private_postmortem_is_linked_by_page_id(backend: Backend) {
    use crate::fake_confluence::{FakeConfluence, SPACE_ID, TOKEN, USER};
    let confluence = FakeConfluence::start().await;
    let app = spawn_app_with(
        backend,
        &[
            ("CONFLUENCE_BASE_URL", &confluence.url),
            ("CONFLUENCE_USER", USER),
            ("CONFLUENCE_API_TOKEN", TOKEN),
            ("CONFLUENCE_SPACE_ID", SPACE_ID),
        ],
    )
    .await;
    app.slash_as("U0456", "C0GENERAL", &format!("open private sev2 {SECRET}"))
        .await;
    app.run_pending_jobs().await;
    for step in ["investigating", "resolved", "postmortem"] {
        app.slash_as("U0456", "C0GENERAL", &format!("1 {step}"))
            .await;
    }
    app.run_pending_jobs().await;
    app.run_pending_jobs().await;
    let page = &confluence.pages()[0];
    let url = app.incident_json(pompier::domain::IncidentId(1)).await["postmortem_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        url,
        format!(
            "{}/pages/viewpage.action?pageId={}",
            confluence.url, page.id
        )
    );
    assert!(!url.contains("Payroll"), "{url}");
    app.stop().await;
}

crate::on_both_backends!(
    a_private_incidents_title_leaks_nowhere,
    a_private_postmortem_is_linked_by_page_id
);
