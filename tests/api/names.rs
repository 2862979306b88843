//! People by name: the incident page, the API and the CSV show Slack names (kept in
//! the database, read again after a day), and the incident page shows everything the
//! API has. On both databases.

use crate::helpers::{spawn_app, Backend};

async fn pages_api_and_csv_name_people_reading_slack_once_a_day(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.declare("sev2 Cart empty").await;
    app.run_pending_jobs().await;
    let channel = app.slack.channels()[0].id.clone();
    app.slash_as("U0456", &channel, "lead <@U0777>").await;
    app.slash_as("U0456", &channel, "impact Carts lose their items")
        .await;
    app.slash_as("U0456", &channel, "class capacity").await;
    app.slash_as("U0456", &channel, "followup <@U0777> Add a cart size alert")
        .await;
    app.run_pending_jobs().await;

    let page = app.page_text(&format!("/dashboard/incidents/{id}")).await;
    for part in [
        "Real U0456",
        "Real U0777",
        "Carts lose their items",
        "capacity",
        "id=\"followups\"",
        "Add a cart size alert",
    ] {
        assert!(page.contains(part), "{part} in {page}");
    }
    assert!(!page.contains(">U0777<"), "a name, not an id: {page}");
    let read = app.slack.count("users.info");
    assert!(read >= 2, "{read}");

    // The API keeps ids and adds names; what was read is not read again.
    let json = app.incident_json(id).await;
    assert_eq!(json["roles"]["lead"], "U0777");
    assert_eq!(json["names"]["U0777"], "Real U0777");
    assert_eq!(json["names"]["U0456"], "Real U0456");
    let csv = reqwest::Client::new()
        .get(app.url("/api/v1/incidents.csv"))
        .bearer_auth(crate::helpers::API_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let header = csv.lines().next().unwrap();
    assert!(
        header.ends_with(",declared_by_name,lead_name,comms_name"),
        "{header}"
    );
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .ends_with(",Real U0456,Real U0777,"),
        "{csv}"
    );
    assert_eq!(app.slack.count("users.info"), read, "names are kept");

    // A day later a name is read again.
    crate::queue::execute(
        &app.db,
        "UPDATE slack_names SET fetched_at = '2020-01-01T00:00:00Z' WHERE user_id = 'U0777'",
    )
    .await;
    app.page_text(&format!("/dashboard/incidents/{id}")).await;
    assert_eq!(app.slack.count("users.info"), read + 1);
}

crate::on_both_backends!(pages_api_and_csv_name_people_reading_slack_once_a_day);
