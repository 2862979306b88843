//! Paging out, against fake PagerDuty and Opsgenie servers reached through
//! `paging.pagerduty_url` and `paging.opsgenie_url`, with Slack faked too.

use serde_json::Value;

use crate::fake_pagers::{Failure, FakePagers, ROUTING_KEY, TEAM_ROUTING_KEY};
use crate::fake_slack::FakeSlack;
use crate::helpers::{start, Backend, TestApp, TestDb};

fn later(secs: i64) -> chrono::DateTime<chrono::Utc> {
    pompier::now() + chrono::Duration::seconds(secs)
}

async fn app_with(backend: Backend, pagers: &FakePagers, more: &[(&'static str, &str)]) -> TestApp {
    let db = TestDb::new(backend).await;
    let slack = FakeSlack::start().await;
    let mut env = pagers.env();
    env.push(("POMPIER_PUBLIC_URL", "https://pompier.example.com".into()));
    env.extend(more.iter().map(|(k, v)| (*k, v.to_string())));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    start(db, slack, &env).await
}

/// `/incident TEXT` in `channel`, which must be done.
async fn done(app: &TestApp, channel: &str, text: &str) -> Value {
    let (_, reply) = app.slash_as("U0456", channel, text).await;
    assert!(
        reply["text"].as_str().unwrap_or_default().contains("Done"),
        "{text}: {reply}"
    );
    reply
}

/// Declares `text` and runs its jobs: its number and channel.
async fn declared(app: &TestApp, text: &str) -> (i64, String) {
    let id = app.declare(text).await;
    app.run_pending_jobs().await;
    let channel = app.slack.channels().last().unwrap().id.clone();
    (id.0, channel)
}

fn pairs(actions: &[(&str, &str)]) -> Vec<(String, String)> {
    actions
        .iter()
        .map(|(a, k)| (a.to_string(), k.to_string()))
        .collect()
}

async fn a_sev1_is_paged_acknowledged_and_resolved_in_order(backend: Backend) {
    let pagers = FakePagers::start().await;
    let app = app_with(backend, &pagers, &[]).await;
    let (id, channel) = declared(&app, "sev1 Checkout returns 500").await;
    let trigger = &pagers.received()[..];
    let pd = trigger.iter().find(|r| r.pager == "pagerduty").unwrap();
    assert_eq!(pd.body["routing_key"], ROUTING_KEY);
    assert_eq!(pd.body["dedup_key"], "pompier-1");
    assert_eq!(
        pd.body["payload"]["summary"],
        "[SEV1] #1 Checkout returns 500"
    );
    assert_eq!(pd.body["payload"]["severity"], "critical");
    assert_eq!(pd.body["payload"]["source"], "pompier");
    assert_eq!(pd.body["payload"]["custom_details"]["status"], "open");
    let links = pd.body["links"].to_string();
    assert!(
        links.contains("https://pompier.example.com/dashboard/incidents/1"),
        "{links}"
    );
    let og = trigger.iter().find(|r| r.pager == "opsgenie").unwrap();
    assert_eq!(og.body["message"], "[SEV1] #1 Checkout returns 500");
    assert_eq!(og.body["alias"], "pompier-1");
    assert_eq!(og.body["priority"], "P1");

    done(&app, &channel, "investigating").await;
    app.run_pending_jobs().await;
    done(&app, &channel, "resolved rolled back").await;
    app.run_pending_jobs().await;
    let expected = pairs(&[
        ("trigger", "pompier-1"),
        ("acknowledge", "pompier-1"),
        ("resolve", "pompier-1"),
    ]);
    assert_eq!(pagers.actions("pagerduty"), expected);
    assert_eq!(pagers.actions("opsgenie"), expected);
    // Opsgenie closed it by alias (an id lookup would have left it open).
    assert_eq!(
        pagers.alert("opsgenie", "", "pompier-1").as_deref(),
        Some("resolved")
    );
    assert_eq!(
        pagers
            .alert("pagerduty", ROUTING_KEY, "pompier-1")
            .as_deref(),
        Some("resolved")
    );
    let json = app.api_get(&format!("/api/v1/incidents/{id}")).await;
    let pages = json["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 2, "{json}");
    for page in pages {
        assert_eq!(page["state"], "resolved", "{page}");
        assert!(page["team"].is_null());
    }
    // The pinned summary says who was paged.
    let summary = app.slack.updates().last().unwrap().body.to_string();
    assert!(summary.contains("Paged"), "{summary}");

    // A reopen pages again, under the same key.
    done(&app, &channel, "investigating it came back").await;
    app.run_pending_jobs().await;
    assert_eq!(
        pagers.actions("pagerduty").last().unwrap(),
        &("trigger".to_owned(), "pompier-1".to_owned())
    );
    assert_eq!(
        pagers
            .alert("pagerduty", ROUTING_KEY, "pompier-1")
            .as_deref(),
        Some("triggered")
    );
    app.stop().await;
}

async fn a_sev4_pages_nobody_until_it_is_raised(backend: Backend) {
    let pagers = FakePagers::start().await;
    let app = app_with(backend, &pagers, &[]).await;
    let (_, channel) = declared(&app, "sev4 Typo on the about page").await;
    done(&app, &channel, "investigating").await;
    done(&app, &channel, "severity sev3").await;
    app.run_pending_jobs().await;
    assert_eq!(pagers.calls("pagerduty") + pagers.calls("opsgenie"), 0);
    // Raised to the paging severity: paged, acknowledged later, then resolved.
    done(&app, &channel, "severity sev2").await;
    app.run_pending_jobs().await;
    done(&app, &channel, "mitigated").await;
    done(&app, &channel, "resolved").await;
    app.run_pending_jobs().await;
    assert_eq!(
        pagers.actions("pagerduty"),
        pairs(&[("trigger", "pompier-1"), ("resolve", "pompier-1")])
    );
    let trigger = &pagers.received()[0].body;
    assert_eq!(trigger["payload"]["severity"], "error");
    app.stop().await;
}

async fn a_pager_down_holds_back_nothing_and_its_page_arrives_after(backend: Backend) {
    let pagers = FakePagers::start().await;
    let app = app_with(backend, &pagers, &[]).await;
    // PagerDuty fails for a while: 5xx, then a 429 asking for two minutes, then an
    // answer lost after the event was taken.
    pagers.fail(
        "pagerduty",
        [
            Failure::Status(500),
            Failure::Status(503),
            Failure::RateLimited(120),
            Failure::AfterEffect(502),
        ],
    );
    let (_, channel) = declared(&app, "sev2 Search is slow").await;
    // Slack's work is all done meanwhile, and Opsgenie's page is out.
    assert!(!app.slack.messages_in(&channel).is_empty());
    assert_eq!(pagers.actions("opsgenie").len(), 1);
    assert_eq!(pagers.actions("pagerduty").len(), 0);
    // The retries come with backoff; the 429's wait is kept, by every worker.
    let mut at = 0;
    while pagers.calls("pagerduty") < 3 {
        at += 30;
        assert!(at < 600, "PagerDuty was not called again");
        app.run_jobs_at(later(at)).await;
    }
    let asked_to_wait = at;
    app.run_jobs_at(later(asked_to_wait + 60)).await;
    assert_eq!(pagers.calls("pagerduty"), 3, "called within Retry-After");
    app.run_jobs_at(later(asked_to_wait + 125)).await;
    assert_eq!(pagers.calls("pagerduty"), 4);
    // The lost answer: tried again, taken twice, one alert.
    app.run_jobs_at(later(asked_to_wait + 600)).await;
    assert_eq!(pagers.calls("pagerduty"), 5);
    assert_eq!(
        pagers.actions("pagerduty"),
        pairs(&[("trigger", "pompier-1"), ("trigger", "pompier-1")])
    );
    assert_eq!(
        pagers
            .alert("pagerduty", ROUTING_KEY, "pompier-1")
            .as_deref(),
        Some("triggered")
    );
    // Counted: every call, and the failed ones by how they failed.
    let metrics = app.metrics().await;
    let calls = |labels: &[(&str, &str)]| {
        crate::helpers::metric_in(
            &metrics,
            "pompier_outside_call_duration_seconds_count",
            labels,
        )
    };
    assert_eq!(
        calls(&[("service", "pagerduty"), ("method", "trigger")]),
        5.0
    );
    let errors = |error| {
        crate::helpers::metric_in(
            &metrics,
            "pompier_outside_call_errors_total",
            &[("service", "pagerduty"), ("error", error)],
        )
    };
    assert_eq!((errors("transient"), errors("rate_limited")), (3.0, 1.0));
    let json = app.api_get("/api/v1/incidents/1").await;
    let states: Vec<&str> = json["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["triggered", "triggered"], "{json}");
    app.stop().await;
}

async fn a_private_incident_is_paged_without_its_title(backend: Backend) {
    let pagers = FakePagers::start().await;
    let app = app_with(backend, &pagers, &[]).await;
    app.slash("open private sev1 Acquisition of Initech leaks")
        .await;
    app.run_pending_jobs().await;
    let received = pagers.received();
    assert_eq!(received.len(), 2);
    for r in &received {
        let text = r.body.to_string();
        assert!(!text.contains("Initech"), "{text}");
        assert!(text.contains("[SEV1] #1 Private incident"), "{text}");
    }
    app.stop().await;
}

async fn a_team_is_paged_by_hand_with_its_own_routing(backend: Backend) {
    let pagers = FakePagers::start().await;
    let app = app_with(backend, &pagers, &[]).await;
    let (id, channel) = declared(&app, "sev3 Refunds are late").await;
    assert!(pagers.received().is_empty());
    done(&app, &channel, "page payments the refund queue is stuck").await;
    app.run_pending_jobs().await;
    let received = pagers.received();
    let pd = received.iter().find(|r| r.pager == "pagerduty").unwrap();
    assert_eq!(pd.body["routing_key"], TEAM_ROUTING_KEY);
    assert_eq!(pd.body["dedup_key"], "pompier-1-payments");
    assert_eq!(
        pd.body["payload"]["custom_details"]["message"],
        "the refund queue is stuck"
    );
    let og = received.iter().find(|r| r.pager == "opsgenie").unwrap();
    assert_eq!(og.body["responders"][0]["name"], "Payments");
    assert!(og.body["description"]
        .as_str()
        .unwrap()
        .contains("the refund queue is stuck"));
    // On the timeline, told in the channel.
    let json = app.api_get(&format!("/api/v1/incidents/{id}")).await;
    let kinds: Vec<&str> = json["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"page"), "{kinds:?}");
    assert_eq!(json["pages"][0]["team"], "payments", "{json}");
    let told = app.told(&channel);
    assert!(told.contains("paged team *payments*"), "{told}");
    // A team that is not set up is refused, naming those that are; nothing is paged.
    let (_, reply) = app.slash_as("U0456", &channel, "page billing").await;
    let text = reply["text"].as_str().unwrap();
    assert!(text.contains("payments"), "{text}");
    app.run_pending_jobs().await;
    assert_eq!(pagers.received().len(), 2);
    // Resolving resolves the team's page with the team's routing key.
    done(&app, &channel, "resolved").await;
    app.run_pending_jobs().await;
    assert_eq!(
        pagers
            .alert("pagerduty", TEAM_ROUTING_KEY, "pompier-1-payments")
            .as_deref(),
        Some("resolved")
    );
    assert_eq!(
        pagers
            .alert("opsgenie", "", "pompier-1-payments")
            .as_deref(),
        Some("resolved")
    );
    app.stop().await;
}

async fn a_refused_page_is_dead_and_told_in_the_channel(backend: Backend) {
    let pagers = FakePagers::start().await;
    let app = app_with(
        backend,
        &pagers,
        &[
            ("PAGERDUTY_ROUTING_KEY", "not-a-routing-key"),
            ("OPSGENIE_API_KEY", "wrong"),
        ],
    )
    .await;
    let (_, channel) = declared(&app, "sev1 Login fails").await;
    app.run_pending_jobs().await;
    let dead = app.store.list_jobs(true, 10).await.unwrap();
    let kinds: Vec<&str> = dead.iter().map(|j| j.kind.as_str()).collect();
    assert_eq!(kinds, ["pagerduty", "opsgenie"], "{dead:?}");
    let told = app.told(&channel);
    assert!(told.contains("Paging through pagerduty failed"), "{told}");
    assert!(told.contains("Paging through opsgenie failed"), "{told}");
    // No secret in what is told.
    assert!(
        !told.contains("not-a-routing-key") && !told.contains("wrong"),
        "{told}"
    );
    app.stop().await;
}

async fn drills_page_only_when_told_to(backend: Backend) {
    let pagers = FakePagers::start().await;
    let app = app_with(backend, &pagers, &[]).await;
    app.slash("drill sev1 team:payments Primary database lost")
        .await;
    app.run_pending_jobs().await;
    assert!(pagers.received().is_empty());
    app.stop().await;
    let pagers = FakePagers::start().await;
    let app = app_with(backend, &pagers, &[("POMPIER_PAGING__DRILLS", "true")]).await;
    app.slash("drill sev1 team:payments Primary database lost")
        .await;
    app.run_pending_jobs().await;
    let pd = &pagers.received()[0].body;
    assert_eq!(
        pd["payload"]["summary"],
        "DRILL [SEV1] #1 Primary database lost"
    );
    app.stop().await;
}

crate::on_both_backends!(
    a_sev1_is_paged_acknowledged_and_resolved_in_order,
    a_sev4_pages_nobody_until_it_is_raised,
    a_pager_down_holds_back_nothing_and_its_page_arrives_after,
    a_private_incident_is_paged_without_its_title,
    a_team_is_paged_by_hand_with_its_own_routing,
    a_refused_page_is_dead_and_told_in_the_channel,
    drills_page_only_when_told_to,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pompier_check_says_whether_the_pagers_take_their_keys() {
    let pagers = FakePagers::start().await;
    let db = TestDb::new(Backend::Sqlite).await;
    let run = |pd_key: &'static str, genie_key: &'static str| {
        let mut env = pagers.env();
        env.push(("DATABASE_URL", db.url.clone()));
        env.push(("PAGERDUTY_ROUTING_KEY", pd_key.into()));
        env.push(("OPSGENIE_API_KEY", genie_key.into()));
        crate::helpers::pompier_check(env)
    };
    let (code, said) = run(ROUTING_KEY, crate::fake_pagers::GENIE_KEY).await;
    assert_eq!(code, Some(0), "{said}");
    for line in ["ok   pagerduty", "team payments's key", "ok   opsgenie"] {
        assert!(said.contains(line), "{line} in {said}");
    }
    // Nothing was paged by the check.
    assert!(pagers
        .received()
        .iter()
        .all(|r| r.action == "resolve" && r.key == "pompier-check"));
    let (code, said) = run("badroutingkey", "badgeniekey").await;
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("FAIL pagerduty"), "{said}");
    assert!(said.contains("FAIL opsgenie"), "{said}");
    assert!(
        !said.contains("badroutingkey") && !said.contains("badgeniekey"),
        "{said}"
    );
}
