//! Follow-up actions: added, listed, done, into the API, the statistics, the dashboard
//! and the postmortem page.

use serde_json::Value;

use crate::fake_confluence::{FakeConfluence, SPACE_ID, TOKEN, USER};
use crate::fake_slack::FakeSlack;
use crate::helpers::{start, Backend, TestDb};

async fn follow_ups_round_trip_into_the_api_stats_and_the_postmortem_page(backend: Backend) {
    let confluence = FakeConfluence::start().await;
    let env = [
        ("CONFLUENCE_BASE_URL", confluence.url.as_str()),
        ("CONFLUENCE_USER", USER),
        ("CONFLUENCE_API_TOKEN", TOKEN),
        ("CONFLUENCE_SPACE_ID", SPACE_ID),
    ];
    let app = start(TestDb::new(backend).await, FakeSlack::start().await, &env).await;
    let id = app.declare("sev2 Replica lag").await;
    app.run_pending_jobs().await;
    let channel = app.slack.channels()[0].id.clone();

    let (_, added) = app
        .slash_as(
            "U0456",
            &channel,
            "followup Alert on replica lag &gt; 30 s <@U0OWNER|owner>",
        )
        .await;
    assert_eq!(added["response_type"], "in_channel", "{added}");
    let said = added["text"].as_str().unwrap();
    assert!(
        said.contains("1. Alert on replica lag &gt; 30 s (owner <@U0OWNER>)"),
        "{said}"
    );
    let (_, second) = app
        .slash_as("U0456", &channel, "followup Write the failover runbook")
        .await;
    assert!(second["text"]
        .as_str()
        .unwrap()
        .contains("2. Write the failover runbook"));
    // From elsewhere, by number.
    app.slash(&format!("{id} followup Check the other replicas"))
        .await;
    let (_, done) = app.slash_as("U0789", &channel, "done 2").await;
    assert!(
        done["text"].as_str().unwrap().contains("Follow-up 2"),
        "{done}"
    );
    let (_, missing) = app.slash_as("U0789", &channel, "done 9").await;
    assert!(
        missing["text"].as_str().unwrap().contains("no follow-up 9"),
        "{missing}"
    );
    let (_, listed) = app.slash_as("U0789", &channel, "followups").await;
    let listed = listed["text"].as_str().unwrap();
    assert!(
        listed.contains("(2 open)")
            && listed.contains("2. Write the failover runbook :white_check_mark: done"),
        "{listed}"
    );

    let json = app.incident_json(id).await;
    let followups = json["followups"].as_array().unwrap();
    assert_eq!(followups.len(), 3);
    assert_eq!(followups[0]["text"], "Alert on replica lag > 30 s");
    assert_eq!(followups[0]["owner"], "U0OWNER");
    assert_eq!(followups[0]["done_at"], Value::Null);
    assert_eq!(followups[1]["done_by"], "U0789");
    assert!(followups[1]["done_at"].is_string());

    let stats = app.api_get("/api/v1/stats").await;
    assert_eq!(stats["followups"]["open"], 2, "{stats}");
    assert!(stats["followups"]["oldest"].as_f64().unwrap() >= 0.0);
    let page = app.page_text("/dashboard").await;
    assert!(
        page.contains("id=\"card-followups\" title=\"Follow-up actions not done, of every incident\"><div class=\"n\">2</div>"),
        "{page}"
    );

    // The page's action items are the follow-ups, done ones ticked.
    for text in ["class data", "resolved", "postmortem"] {
        app.slash_as("U0456", &channel, text).await;
    }
    app.run_pending_jobs().await;
    app.run_pending_jobs().await;
    let pages = confluence.pages();
    assert_eq!(pages.len(), 1);
    let body = &pages[0].body;
    for part in [
        "<ac:task-status>incomplete</ac:task-status><ac:task-body>1. Alert on replica lag &gt; 30 s (owner: Real U0OWNER)</ac:task-body>",
        "<ac:task-status>complete</ac:task-status><ac:task-body>2. Write the failover runbook</ac:task-body>",
        "3. Check the other replicas",
        "<h2>Failure class</h2>\n<p><strong>data</strong></p>",
    ] {
        assert!(body.contains(part), "{part} in {body}");
    }
    assert!(!body.contains("An action, its owner"));
    app.stop().await;
}

crate::on_both_backends!(follow_ups_round_trip_into_the_api_stats_and_the_postmortem_page);
