//! Failure classes: from the team's list, on the summary, the page, the API and the
//! statistics.

use crate::helpers::{spawn_app, spawn_app_with, Backend};

async fn a_failure_class_comes_from_the_list_and_shows_everywhere(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.declare("sev2 Disk full").await;
    app.declare("sev3 Unclassified one").await;
    app.run_pending_jobs().await;
    let channel = app.slack.channels()[0].id.clone();
    let (_, refused) = app.slash_as("U0456", &channel, "class gremlins").await;
    let refused = refused["text"].as_str().unwrap();
    assert!(
        refused.contains("not a failure class") && refused.contains("capacity"),
        "{refused}"
    );
    assert_eq!(
        app.incident_json(id).await["failure_class"],
        serde_json::Value::Null
    );
    let (_, set) = app.slash_as("U0456", &channel, "class Capacity").await;
    assert_eq!(set["response_type"], "in_channel", "{set}");
    assert!(
        set["text"].as_str().unwrap().contains("*capacity*"),
        "{set}"
    );
    assert_eq!(app.incident_json(id).await["failure_class"], "capacity");
    app.run_pending_jobs().await;
    let summary = app.slack.updates().last().unwrap().body.to_string();
    assert!(summary.contains("*Failure class*\\ncapacity"), "{summary}");
    let stats = app.api_get("/api/v1/stats").await;
    assert_eq!(stats["by_class"]["capacity"], 1, "{stats}");
    assert_eq!(stats["by_class"]["unclassified"], 1, "{stats}");
    let page = app.page_text("/dashboard").await;
    assert!(page.contains("<td>capacity</td><td>1</td>"), "{page}");
    app.stop().await;
}

async fn a_team_replaces_the_list(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[(
            "POMPIER_LIFECYCLE__FAILURE_CLASSES",
            "[\"humans\", \"machines\"]",
        )],
    )
    .await;
    let id = app.declare("Oops").await;
    let refused = app.slash(&format!("{id} class capacity")).await;
    assert!(
        refused["text"]
            .as_str()
            .unwrap()
            .contains("humans, machines"),
        "{refused}"
    );
    app.slash(&format!("{id} class machines")).await;
    assert_eq!(app.incident_json(id).await["failure_class"], "machines");
    app.stop().await;
}

crate::on_both_backends!(
    a_failure_class_comes_from_the_list_and_shows_everywhere,
    a_team_replaces_the_list,
);
