//! Jira issues for incidents and follow-ups, against a fake Jira reached through
//! `JIRA_BASE_URL`, with Slack faked too; and Jira's signed webhook.

use hmac::{Hmac, Mac};
use serde_json::{json, Value};

use crate::fake_jira::{Failure, FakeJira};
use crate::fake_slack::FakeSlack;
use crate::helpers::{start, Backend, TestApp, TestDb};

const SECRET: &str = "jira-webhook-secret";

fn later(secs: i64) -> chrono::DateTime<chrono::Utc> {
    pompier::now() + chrono::Duration::seconds(secs)
}

async fn app_with(backend: Backend, jira: &FakeJira, cloud: bool) -> TestApp {
    let db = TestDb::new(backend).await;
    let slack = FakeSlack::start().await;
    start(db, slack, &env(jira, cloud)).await
}

fn env(jira: &FakeJira, cloud: bool) -> Vec<(&'static str, &'static str)> {
    let mut env: Vec<(&'static str, String)> = jira.env(cloud);
    env.push(("POMPIER_PUBLIC_URL", "https://pompier.example.com".into()));
    env.push(("JIRA_WEBHOOK_SECRET", SECRET.into()));
    // Leaked on purpose: the settings live as long as the test.
    env.into_iter()
        .map(|(k, v)| (k, &*Box::leak(v.into_boxed_str())))
        .collect()
}

/// `/incident TEXT` in `channel`, which must be done.
async fn done(app: &TestApp, channel: &str, text: &str) {
    let (_, reply) = app.slash_as("U0456", channel, text).await;
    let said = reply["text"].as_str().unwrap_or_default();
    assert!(
        said.contains("Done") || said.contains("Follow-up"),
        "{text}: {reply}"
    );
}

async fn an_incident_and_each_followup_get_one_issue(backend: Backend) {
    let jira = FakeJira::start().await;
    let app = app_with(backend, &jira, true).await;
    app.declare("sev4 Typo on the about page").await;
    app.run_pending_jobs().await;
    assert!(jira.issues().is_empty(), "a SEV4 has no issue of its own");
    let id = app.declare("sev2 Checkout returns 500").await;
    app.run_pending_jobs().await;
    let channel = app.slack.channels().last().unwrap().id.clone();
    let issues = jira.issues();
    assert_eq!(issues.len(), 1);
    let f = &issues[0].fields;
    assert_eq!(f["summary"], "[SEV2] #2 Checkout returns 500");
    assert_eq!(f["labels"], json!(["pompier", "pompier-incident-2"]));
    assert_eq!(f["description"]["type"], "doc");
    assert!(f["description"]
        .to_string()
        .contains("https://pompier.example.com/dashboard/incidents/2"));

    done(
        &app,
        &channel,
        "followup Add a retry to checkout <@U0BOB|bob>",
    )
    .await;
    app.run_pending_jobs().await;
    // Carol's issue fails once before it is made.
    jira.fail([Failure::Status(500)]);
    done(
        &app,
        &channel,
        "followup Alert on the error rate <@U0CAROL|carol>",
    )
    .await;
    app.run_pending_jobs().await;
    app.run_jobs_at(later(400)).await;
    let issues = jira.issues();
    assert_eq!(issues.len(), 3, "{issues:?}");
    let bob = &issues[1].fields;
    assert_eq!(bob["summary"], "Follow-up of #2: Add a retry to checkout");
    assert_eq!(bob["assignee"], json!({"accountId": "acc-bob"}));
    assert_eq!(bob["labels"][1], "pompier-followup-2-1");
    // Carol has no Jira account: unassigned, and the channel hears it.
    assert!(issues[2].fields["assignee"].is_null());
    app.run_pending_jobs().await;
    let unassigned = app
        .slack
        .messages_in(&channel)
        .iter()
        .filter(|m| {
            m.body["text"]
                .as_str()
                .is_some_and(|t| t.contains("went to Jira unassigned"))
        })
        .count();
    assert_eq!(unassigned, 1, "{}", app.told(&channel));
    let json = app.api_get(&format!("/api/v1/incidents/{}", id.0)).await;
    assert_eq!(json["jira"]["key"], "OPS-1", "{json}");
    assert_eq!(json["jira"]["url"], format!("{}/browse/OPS-1", jira.url));
    assert_eq!(json["followups"][0]["jira"]["key"], "OPS-2");
    assert_eq!(json["followups"][1]["jira"]["key"], "OPS-3");
    // The pinned summary, the incident page and the CSV show the issue.
    let summary = app.slack.updates().last().unwrap().body.to_string();
    assert!(summary.contains("OPS-1"), "{summary}");
    let page = app.page_text("/dashboard/incidents/2").await;
    assert!(page.contains("Jira OPS-1"), "{page}");
    let csv = app.page_text("/api/v1/incidents.csv").await;
    let row = csv.lines().find(|l| l.starts_with("2,")).unwrap();
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with(",jira,declared_by_name,lead_name,comms_name"),
        "{csv}"
    );
    assert!(row.contains(",OPS-1,"), "{row}");
    // Raising the SEV4 files it; raising it again files nothing more.
    app.slash_as("U0456", "C0123", "1 severity sev1").await;
    app.run_pending_jobs().await;
    assert_eq!(jira.issues().len(), 4);
    assert_eq!(
        jira.issues()[3].fields["summary"],
        "[SEV1] #1 Typo on the about page"
    );
    app.stop().await;
}

async fn a_lost_answer_and_a_restart_make_one_issue(backend: Backend) {
    let jira = FakeJira::start().await;
    let app = app_with(backend, &jira, true).await;
    // Cloud's search lags; the first create's answer is lost.
    jira.lag();
    jira.fail([Failure::AfterEffect(502)]);
    app.declare("sev1 Login fails").await;
    app.run_pending_jobs().await;
    assert_eq!(jira.issues().len(), 1);
    // Restarted mid-retry: the retry looks first, and waits for the search to settle.
    let app = app.restart(&env(&jira, true)).await;
    app.run_jobs_at(later(30)).await;
    app.run_jobs_at(later(90)).await;
    assert!(jira.searches() >= 1);
    assert_eq!(
        jira.issues().len(),
        1,
        "made again before the search settled"
    );
    jira.settle();
    app.run_jobs_at(later(180)).await;
    assert_eq!(jira.issues().len(), 1);
    let json = app.api_get("/api/v1/incidents/1").await;
    assert_eq!(json["jira"]["key"], "OPS-1", "{json}");

    // A create that failed outright is made once the search had its time.
    jira.fail([Failure::Status(500)]);
    app.declare("sev1 Payments fail").await;
    app.run_pending_jobs().await;
    app.run_jobs_at(later(60)).await;
    assert_eq!(jira.issues().len(), 1);
    app.run_jobs_at(later(400)).await;
    let jobs = app.store.list_jobs(false, 100).await.unwrap();
    assert_eq!(jira.issues().len(), 2, "{jobs:?}");
    let json = app.api_get("/api/v1/incidents/2").await;
    assert_eq!(json["jira"]["key"], "OPS-2", "{json}");
    app.stop().await;
}

async fn data_center_gets_plain_text_and_its_own_search(backend: Backend) {
    let jira = FakeJira::start().await;
    let app = app_with(backend, &jira, false).await;
    jira.fail([Failure::AfterEffect(504)]);
    app.declare("sev2 Search is slow").await;
    app.run_pending_jobs().await;
    app.run_jobs_at(later(60)).await;
    let issues = jira.issues();
    assert_eq!(issues.len(), 1);
    assert!(issues[0].fields["description"]
        .as_str()
        .unwrap()
        .contains("Incident #1"));
    let json = app.api_get("/api/v1/incidents/1").await;
    assert_eq!(json["jira"]["key"], "OPS-1", "{json}");
    app.stop().await;
}

fn signature(body: &[u8], secret: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn webhook(app: &TestApp, body: &Value, secret: &str) -> (u16, Value) {
    let raw = serde_json::to_vec(body).unwrap();
    let r = app
        .client
        .post(app.url("/api/v1/webhooks/jira"))
        .header("content-type", "application/json")
        .header("x-hub-signature", signature(&raw, secret))
        .body(raw)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn issue_updated(key: &str, category: &str) -> Value {
    json!({"timestamp": 1767261600000u64, "webhookEvent": "jira:issue_updated",
           "issue_event_type_name": "issue_generic",
           "user": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Ana Smith"},
           "issue": {"id": "10012", "key": key,
                     "fields": {"summary": "x", "status": {"name": "Done",
                                "statusCategory": {"id": 3, "key": category, "name": "Done"}}}},
           "changelog": {"items": [{"field": "status", "fromString": "In Progress", "toString": "Done"}]}})
}

async fn the_signed_webhook_marks_a_followup_done_and_back(backend: Backend) {
    let jira = FakeJira::start().await;
    let app = app_with(backend, &jira, true).await;
    app.declare("sev3 Refunds are late").await;
    app.run_pending_jobs().await;
    let channel = app.slack.channels()[0].id.clone();
    done(&app, &channel, "followup Drain the refund queue").await;
    app.run_pending_jobs().await;
    let followup = |json: &Value| json["followups"][0].clone();

    // A wrong signature, or none: 401, nothing changes.
    let (status, _) = webhook(&app, &issue_updated("OPS-1", "done"), "not-the-secret").await;
    assert_eq!(status, 401);
    let r = app
        .client
        .post(app.url("/api/v1/webhooks/jira"))
        .body(serde_json::to_vec(&issue_updated("OPS-1", "done")).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(followup(&app.api_get("/api/v1/incidents/1").await)["done_at"].is_null());

    let (status, said) = webhook(&app, &issue_updated("OPS-1", "done"), SECRET).await;
    assert_eq!((status, &said), (200, &json!({"taken": true})));
    let json = app.api_get("/api/v1/incidents/1").await;
    assert!(!followup(&json)["done_at"].is_null(), "{json}");
    assert_eq!(followup(&json)["done_by"], "jira:Ana_Smith");
    let last = json["timeline"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["kind"].as_str(), last["to"].as_str()),
        (Some("followup"), Some("done"))
    );
    // Delivered again: nothing more.
    let (_, said) = webhook(&app, &issue_updated("OPS-1", "done"), SECRET).await;
    assert_eq!(said, json!({"taken": false}));
    // Reopened in Jira: open again.
    webhook(&app, &issue_updated("OPS-1", "indeterminate"), SECRET).await;
    let json = app.api_get("/api/v1/incidents/1").await;
    assert!(followup(&json)["done_at"].is_null(), "{json}");
    app.run_pending_jobs().await;
    assert!(app.told(&channel).contains("marked a follow-up"));
    // An issue pompier did not make: taken, ignored.
    let (status, said) = webhook(&app, &issue_updated("OPS-99", "done"), SECRET).await;
    assert_eq!((status, said), (200, json!({"taken": false})));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pompier_check_says_whether_jira_takes_the_settings() {
    let jira = FakeJira::start().await;
    let db = TestDb::new(Backend::Sqlite).await;
    let run = |token: &'static str| {
        let mut env = jira.env(true);
        env.push(("DATABASE_URL", db.url.clone()));
        env.push(("JIRA_API_TOKEN", token.into()));
        crate::helpers::pompier_check(env)
    };
    let (code, said) = run(crate::fake_jira::TOKEN).await;
    assert_eq!(code, Some(0), "{said}");
    assert!(
        said.contains("ok   jira") && said.contains("Operations"),
        "{said}"
    );
    let (code, said) = run("wrong-token").await;
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains("FAIL jira") && said.contains("JIRA_API_TOKEN"),
        "{said}"
    );
    assert!(!said.contains("wrong-token"), "{said}");
}

async fn the_incident_issue_links_the_postmortem_once_drafted(backend: Backend) {
    use crate::fake_confluence::{FakeConfluence, SPACE_ID, TOKEN, USER};
    let jira = FakeJira::start().await;
    let confluence = FakeConfluence::start().await;
    let mut env = env(&jira, true);
    for (k, v) in [
        ("CONFLUENCE_BASE_URL", confluence.url.as_str()),
        ("CONFLUENCE_USER", USER),
        ("CONFLUENCE_API_TOKEN", TOKEN),
        ("CONFLUENCE_SPACE_ID", SPACE_ID),
    ] {
        env.push((k, Box::leak(v.to_owned().into_boxed_str())));
    }
    let app = start(TestDb::new(backend).await, FakeSlack::start().await, &env).await;
    app.declare("sev2 Checkout returns 500").await;
    app.run_pending_jobs().await;
    let channel = app.slack.channels()[0].id.clone();
    assert!(!jira.issues()[0].fields["description"]
        .to_string()
        .contains("Postmortem"));
    for text in ["resolved", "postmortem"] {
        done(&app, &channel, text).await;
    }
    app.run_pending_jobs().await;
    app.run_pending_jobs().await;
    let postmortem = app.api_get("/api/v1/incidents/1").await["postmortem_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let description = jira.issues()[0].fields["description"].to_string();
    assert!(description.contains(&postmortem), "{description}");
    assert_eq!(jira.issues().len(), 1);
    app.stop().await;
}

crate::on_both_backends!(
    the_incident_issue_links_the_postmortem_once_drafted,
    an_incident_and_each_followup_get_one_issue,
    a_lost_answer_and_a_restart_make_one_issue,
    data_center_gets_plain_text_and_its_own_search,
    the_signed_webhook_marks_a_followup_done_and_back,
);
