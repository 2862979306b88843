//! Postmortem drafts in Confluence, against a fake Confluence reached through
//! `CONFLUENCE_BASE_URL`, with Slack faked too.

use crate::fake_confluence::{Failure, FakeConfluence, SPACE_ID, SPACE_KEY, TOKEN, USER};
use crate::fake_slack::FakeSlack;
use crate::helpers::{start, Backend, TestApp, TestDb};

fn later(secs: i64) -> chrono::DateTime<chrono::Utc> {
    pompier::now() + chrono::Duration::seconds(secs)
}

/// Cloud settings: Basic auth, space id, a parent page.
fn cloud(confluence: &FakeConfluence) -> Vec<(&'static str, String)> {
    vec![
        ("CONFLUENCE_BASE_URL", confluence.url.clone()),
        ("CONFLUENCE_USER", USER.into()),
        ("CONFLUENCE_API_TOKEN", TOKEN.into()),
        ("CONFLUENCE_SPACE_ID", SPACE_ID.into()),
        ("CONFLUENCE_PARENT_PAGE_ID", "67890".into()),
    ]
}

async fn app_with(backend: Backend, env: &[(&'static str, String)]) -> TestApp {
    let db = TestDb::new(backend).await;
    let slack = FakeSlack::start().await;
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    start(db, slack, &env).await
}

/// An incident in its channel, taken through to `postmortem`, Slack jobs done.
async fn to_postmortem(app: &TestApp) -> (pompier::domain::IncidentId, String) {
    let id = app.declare("sev1 Checkout returns 500").await;
    app.run_pending_jobs().await;
    let channel = app.slack.channels()[0].id.clone();
    for text in [
        "lead <@U0BOB|bob>",
        "investigating",
        "note <@U0BOB|bob> restarted the primary &amp; it held",
        "resolved rolled back",
        "investigating it came back",
        "resolved",
        "postmortem",
    ] {
        let (_, reply) = app.slash_as("U0456", &channel, text).await;
        assert!(
            reply["text"].as_str().unwrap().contains("Done"),
            "{text}: {reply}"
        );
    }
    (id, channel)
}

async fn a_postmortem_page_is_drafted_once_with_what_pompier_knows(backend: Backend) {
    let confluence = FakeConfluence::start().await;
    let app = app_with(backend, &cloud(&confluence)).await;
    let (id, channel) = to_postmortem(&app).await;
    app.run_pending_jobs().await;
    // What the page's job queued, due from when it ran.
    app.run_pending_jobs().await;
    let pages = confluence.pages();
    assert_eq!(pages.len(), 1);
    let page = &pages[0];
    assert_eq!(
        page.title,
        format!("Postmortem #{id}: Checkout returns 500")
    );
    assert_eq!(
        (page.space.as_str(), page.parent.as_deref()),
        (SPACE_ID, Some("67890"))
    );
    for part in [
        "<ac:parameter ac:name=\"title\">SEV1</ac:parameter>",
        "<th>Lead</th><td>Real U0BOB</td>",
        "<th>Declared by</th><td>Real U0456</td>",
        "@Real U0BOB restarted the primary &amp; it held",
        "resolved → investigating<br/>it came back",
        &format!("https://slack.com/app_redirect?channel={channel}"),
        "<h2>Action items</h2>",
    ] {
        assert!(page.body.contains(part), "{part} in {}", page.body);
    }
    // Each person was looked up once.
    assert_eq!(app.slack.count("users.info"), 2);
    // The link is on the incident, in the channel and on the pinned summary.
    let url = format!("{}{}", confluence.url, crate::fake_confluence::webui(page));
    assert!(url.contains(&format!("/spaces/{SPACE_ID}/pages/")), "{url}");
    let incident = app.incident_json(id).await;
    assert_eq!(incident["postmortem_url"], url.as_str());
    let timeline = incident["timeline"].as_array().unwrap();
    assert_eq!(timeline.last().unwrap()["kind"], "postmortem");
    let said = app.slack.messages_in(&channel);
    assert!(
        said.last().unwrap().body["text"]
            .as_str()
            .unwrap()
            .contains(&url),
        "{said:?}"
    );
    let summary = app.slack.updates().last().unwrap().body.to_string();
    assert!(summary.contains(&url), "{summary}");
    // Nothing runs twice; asking again posts the link again.
    assert_eq!(app.run_jobs_at(later(3600)).await, 0);
    let (_, reply) = app.slash_as("U0456", &channel, "postmortem").await;
    assert_eq!(reply["response_type"], "in_channel");
    assert!(reply["text"].as_str().unwrap().contains(&url), "{reply}");
    assert_eq!(confluence.pages().len(), 1);
}

async fn confluence_failing_for_now_is_retried_into_one_page(backend: Backend) {
    let confluence = FakeConfluence::start().await;
    confluence.fail(
        "create",
        [
            Failure::Status(503),
            Failure::RateLimited(30),
            Failure::Status(503),
        ],
    );
    let app = app_with(backend, &cloud(&confluence)).await;
    let (id, _) = to_postmortem(&app).await;
    for minutes in 0..10 {
        app.run_jobs_at(later(60 * minutes)).await;
    }
    assert_eq!(confluence.pages().len(), 1);
    assert_eq!(confluence.count("POST", "/api/v2/pages"), 4);
    assert!(app.incident_json(id).await["postmortem_url"].is_string());
}

async fn a_page_that_exists_is_reused_and_a_lost_answer_makes_no_second(backend: Backend) {
    let confluence = FakeConfluence::start().await;
    let app = app_with(backend, &cloud(&confluence)).await;
    // Made by someone (or an earlier pompier) already.
    let theirs = confluence.add_page(SPACE_ID, "Postmortem #1: Checkout returns 500");
    let (id, _) = to_postmortem(&app).await;
    app.run_pending_jobs().await;
    assert_eq!(confluence.count("POST", "/api/v2/pages"), 0);
    let url = app.incident_json(id).await["postmortem_url"].clone();
    assert!(
        url.as_str().unwrap().contains(&format!("/pages/{theirs}/")),
        "{url}"
    );

    // The page is made but the answer is lost; pompier restarts; the retry finds it.
    let confluence = FakeConfluence::start().await;
    confluence.fail("create", [Failure::AfterEffect(502)]);
    let db = app.db;
    let env = cloud(&confluence);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = start(TestDb::new(backend).await, FakeSlack::start().await, &env).await;
    drop(db);
    let (id, _) = to_postmortem(&app).await;
    app.run_pending_jobs().await;
    let app = app.restart(&env).await;
    app.run_jobs_at(later(120)).await;
    assert_eq!(confluence.pages().len(), 1, "one page");
    assert_eq!(confluence.count("POST", "/api/v2/pages"), 1);
    assert!(app.incident_json(id).await["postmortem_url"].is_string());
}

async fn data_center_takes_a_bearer_token_and_the_space_key(backend: Backend) {
    let confluence = FakeConfluence::start().await;
    let env = vec![
        ("CONFLUENCE_BASE_URL", confluence.url.clone()),
        ("POMPIER_CONFLUENCE__API", "datacenter".into()),
        ("CONFLUENCE_API_TOKEN", TOKEN.into()),
        ("CONFLUENCE_SPACE_KEY", SPACE_KEY.into()),
    ];
    let app = app_with(backend, &env).await;
    let (id, _) = to_postmortem(&app).await;
    app.run_pending_jobs().await;
    let pages = confluence.pages();
    assert_eq!((pages.len(), pages[0].space.as_str()), (1, SPACE_KEY));
    assert!(confluence.calls().iter().all(
        |(_, path, auth)| path.starts_with("/rest/api/") && auth == &format!("Bearer {TOKEN}")
    ));
    assert!(app.incident_json(id).await["postmortem_url"].is_string());
    // Cloud sends Basic auth.
    let confluence = FakeConfluence::start().await;
    let app = app_with(backend, &cloud(&confluence)).await;
    to_postmortem(&app).await;
    app.run_pending_jobs().await;
    assert!(confluence
        .calls()
        .iter()
        .all(|(_, path, auth)| path.starts_with("/api/v2/") && auth.starts_with("Basic ")));
}

async fn refused_credentials_are_said_in_the_channel_and_not_retried(backend: Backend) {
    let confluence = FakeConfluence::start().await;
    let mut env = cloud(&confluence);
    env.retain(|(k, _)| *k != "CONFLUENCE_API_TOKEN");
    env.push(("CONFLUENCE_API_TOKEN", "wrong-token".into()));
    let app = app_with(backend, &env).await;
    let (id, channel) = to_postmortem(&app).await;
    for minutes in 0..5 {
        app.run_jobs_at(later(60 * minutes)).await;
    }
    assert_eq!(confluence.count("GET", "/api/v2/pages"), 1, "no retry loop");
    let job = app
        .store
        .jobs_of(id)
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.kind == "draft_postmortem")
        .unwrap();
    assert_eq!(job.state, "dead");
    let said: Vec<String> = app
        .slack
        .messages_in(&channel)
        .iter()
        .map(|m| m.body["text"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        said.iter()
            .any(|t| t.contains("could not be created") && t.contains("credentials")),
        "{said:?}"
    );
    assert!(!said.iter().any(|t| t.contains("wrong-token")));
}

async fn confluence_down_does_not_hold_back_slack(backend: Backend) {
    let confluence = FakeConfluence::start().await;
    confluence.fail("find", (0..50).map(|_| Failure::Status(503)));
    let app = app_with(backend, &cloud(&confluence)).await;
    let (id, channel) = to_postmortem(&app).await;
    app.slash_as("U0456", &channel, "closed").await;
    app.run_pending_jobs().await;
    app.run_jobs_at(later(60)).await;
    assert!(app.slack.channels()[0].archived, "Slack went on");
    let states: Vec<(String, String)> = app
        .store
        .jobs_of(id)
        .await
        .unwrap()
        .into_iter()
        .map(|j| (j.kind, j.state))
        .collect();
    assert!(
        states.contains(&("draft_postmortem".into(), "pending".into())),
        "{states:?}"
    );
}

async fn slack_down_does_not_hold_back_confluence(backend: Backend) {
    let confluence = FakeConfluence::start().await;
    let app = app_with(backend, &cloud(&confluence)).await;
    let (id, _) = to_postmortem(&app).await;
    // Slack goes down once the incident reached postmortem: its posts wait.
    for method in ["chat.postMessage", "chat.update", "users.info"] {
        app.slack.fail(
            method,
            (0..50).map(|_| crate::fake_slack::Failure::Status(503)),
        );
    }
    app.run_pending_jobs().await;
    app.run_jobs_at(later(60)).await;
    assert_eq!(
        confluence.pages().len(),
        1,
        "the page is drafted all the same"
    );
    let incident = app.incident_json(id).await;
    assert!(incident["postmortem_url"].is_string());
    let waiting = app
        .store
        .jobs_of(id)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.service == "slack" && j.state == "pending")
        .count();
    assert!(waiting > 0, "Slack's posts wait for Slack");
}

async fn without_confluence_the_channel_is_told(backend: Backend) {
    let app = app_with(backend, &[]).await;
    let (id, channel) = to_postmortem(&app).await;
    app.run_pending_jobs().await;
    assert_eq!(app.incident_json(id).await["status"], "postmortem");
    let said = app.slack.messages_in(&channel);
    assert!(said.last().unwrap().body["text"]
        .as_str()
        .unwrap()
        .contains("Confluence is not configured"));
}

async fn a_team_template_replaces_the_built_in_one(backend: Backend) {
    let confluence = FakeConfluence::start().await;
    let file = std::env::temp_dir().join(format!("pompier-template-{}.xml", uuid::Uuid::new_v4()));
    std::fs::write(
        &file,
        "<h2>Our review of {{ title }}</h2><p>{{ severity }}</p>",
    )
    .unwrap();
    let mut env = cloud(&confluence);
    env.push(("POMPIER_CONFLUENCE__TEMPLATE", file.display().to_string()));
    let app = app_with(backend, &env).await;
    to_postmortem(&app).await;
    app.run_pending_jobs().await;
    assert_eq!(
        confluence.pages()[0].body,
        "<h2>Our review of Checkout returns 500</h2><p>SEV1</p>"
    );
    let _ = std::fs::remove_file(file);
}

crate::on_both_backends!(
    a_team_template_replaces_the_built_in_one,
    a_postmortem_page_is_drafted_once_with_what_pompier_knows,
    confluence_failing_for_now_is_retried_into_one_page,
    a_page_that_exists_is_reused_and_a_lost_answer_makes_no_second,
    data_center_takes_a_bearer_token_and_the_space_key,
    refused_credentials_are_said_in_the_channel_and_not_retried,
    confluence_down_does_not_hold_back_slack,
    without_confluence_the_channel_is_told,
    slack_down_does_not_hold_back_confluence,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pompier_check_says_what_works() {
    let confluence = FakeConfluence::start().await;
    let slack = FakeSlack::start().await;
    let db = TestDb::new(Backend::Sqlite).await;
    let base: Vec<(String, String)> = [
        ("DATABASE_URL", db.url.as_str()),
        ("SLACK_API_URL", slack.url.as_str()),
        ("SLACK_BOT_TOKEN", crate::fake_slack::BOT_TOKEN),
        ("CONFLUENCE_BASE_URL", confluence.url.as_str()),
        ("CONFLUENCE_USER", USER),
        ("CONFLUENCE_SPACE_ID", SPACE_ID),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let run = |token: &'static str| {
        let base = base.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_pompier"))
                    .arg("check")
                    .env_clear()
                    .envs(base)
                    .env("CONFLUENCE_API_TOKEN", token)
                    .output()
                    .unwrap()
            })
            .await
            .unwrap()
        }
    };
    let good = run(TOKEN).await;
    let said = String::from_utf8_lossy(&good.stdout);
    assert!(good.status.success(), "{said}");
    for line in ["ok   database", "ok   slack", "ok   confluence"] {
        assert!(said.contains(line), "{line} in {said}");
    }
    let bad = run("wrong").await;
    let said = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{said}");
    assert!(
        said.contains("FAIL confluence") && said.contains("credentials"),
        "{said}"
    );
    assert!(
        !said.contains("wrong,") && !said.contains(" wrong"),
        "no secret printed: {said}"
    );
}
