//! `/metrics`: what a Prometheus scraping pompier sees after real traffic.

use std::time::Duration;

use pompier::outbox::{Service, SlackJob};

use crate::fake_slack::Failure;
use crate::helpers::{spawn_app, Backend};

async fn metrics_count_requests_commands_jobs_calls_and_incidents(backend: Backend) {
    let app = spawn_app(backend).await;
    app.slack
        .fail("conversations.create", [Failure::Status(503)]);
    let id = app.declare("sev1 Payments down").await;
    app.slash("bogus words").await;
    app.slash("list").await;
    // Nothing has run yet: the channel's job is due and waits, so the queue lags.
    tokio::time::sleep(Duration::from_millis(30)).await;
    let lag = app.metric("pompier_queue_lag_seconds", &[]).await;
    assert!((0.03..30.0).contains(&lag), "lag {lag}");
    let pending = [
        ("service", "slack"),
        ("kind", "create_channel"),
        ("state", "pending"),
    ];
    assert_eq!(app.metric("pompier_jobs", &pending).await, 1.0);
    // The setup's steps (channel, members, topic, summary) are that one row; a job
    // queued after it waits behind it.
    let queued = [("service", "slack"), ("kind", "all"), ("state", "queued")];
    assert_eq!(app.metric("pompier_jobs", &queued).await, 0.0);
    app.store
        .queue(id, &[SlackJob::UpdateSummary.into()])
        .await
        .unwrap();
    assert_eq!(app.metric("pompier_jobs", &queued).await, 1.0);

    // A worker holds the job: it counts as running, not pending.
    let now = pompier::now();
    let claimed = app
        .store
        .claim_job(
            "test",
            &Service::ALL,
            now,
            now + chrono::Duration::seconds(30),
        )
        .await
        .unwrap()
        .expect("a due job");
    let running = [("kind", "create_channel"), ("state", "running")];
    assert_eq!(app.metric("pompier_jobs", &running).await, 1.0);
    assert_eq!(app.metric("pompier_jobs", &pending).await, 0.0);
    assert_eq!(app.metric("pompier_queue_lag_seconds", &[]).await, 0.0);
    app.store.release_lease(claimed.id, "test").await.unwrap();

    // The first try meets a 503, the retry (after its backoff) the rest.
    app.run_pending_jobs().await;
    app.run_jobs_at(pompier::now() + chrono::Duration::seconds(600))
        .await;
    app.slash(&format!("{id} mitigated")).await;

    let text = app.metrics().await;
    let m = |name: &str, labels: &[(&str, &str)]| crate::helpers::metric_in(&text, name, labels);
    let commands = [
        ("route", "/slack/commands"),
        ("method", "POST"),
        ("status", "200"),
    ];
    assert_eq!(
        m("pompier_http_request_duration_seconds_count", &commands),
        4.0
    );
    // The histogram's buckets: all four under 3 s, none under 0 s.
    let slow = [("route", "/slack/commands"), ("le", "3.0")];
    assert_eq!(
        m("pompier_http_request_duration_seconds_bucket", &slow),
        4.0
    );
    for (subcommand, n) in [
        ("declare", 1.0),
        ("invalid", 1.0),
        ("list", 1.0),
        ("move", 1.0),
    ] {
        assert_eq!(
            m("pompier_commands_total", &[("subcommand", subcommand)]),
            n,
            "{subcommand} in {text}"
        );
    }
    let create = [("service", "slack"), ("method", "conversations.create")];
    assert_eq!(
        m("pompier_outside_call_duration_seconds_count", &create),
        2.0
    );
    let failed = [("method", "conversations.create"), ("error", "transient")];
    assert_eq!(m("pompier_outside_call_errors_total", &failed), 1.0);
    let retried = [("kind", "create_channel"), ("outcome", "retried")];
    assert_eq!(m("pompier_job_runs_total", &retried), 1.0);
    let done = [("kind", "post_summary"), ("outcome", "done")];
    assert_eq!(m("pompier_job_runs_total", &done), 1.0);
    let mitigated = [("status", "mitigated"), ("severity", "SEV1")];
    assert_eq!(m("pompier_incidents", &mitigated), 1.0);
    assert_eq!(m("pompier_incidents", &[("status", "open")]), 0.0);
    assert!(text.ends_with("# EOF\n"), "{text}");
    app.stop().await;
}

async fn a_made_up_path_adds_no_series(backend: Backend) {
    let app = spawn_app(backend).await;
    for n in 0..3 {
        let path = format!("/no/such/{n}");
        app.client.get(app.url(&path)).send().await.unwrap();
    }
    app.client
        .get(app.url("/api/v1/incidents/9999"))
        .send()
        .await
        .unwrap();
    let text = app.metrics().await;
    assert!(!text.contains("/no/such"), "{text}");
    let unmatched = [("route", "unmatched"), ("status", "404")];
    assert_eq!(
        crate::helpers::metric_in(
            &text,
            "pompier_http_request_duration_seconds_count",
            &unmatched
        ),
        3.0
    );
    let by_pattern = [("route", "/api/v1/incidents/{id}"), ("status", "401")];
    assert_eq!(
        crate::helpers::metric_in(
            &text,
            "pompier_http_request_duration_seconds_count",
            &by_pattern
        ),
        1.0
    );
    app.stop().await;
}

crate::on_both_backends!(
    metrics_count_requests_commands_jobs_calls_and_incidents,
    a_made_up_path_adds_no_series,
);

/// Every metric the Grafana dashboard in `docs/` queries is one pompier exposes (once
/// it has something to count: a family shows with its first series).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grafana_dashboard_queries_metrics_that_exist() {
    let app = spawn_app(Backend::Sqlite).await;
    app.slack
        .fail("conversations.create", [Failure::Status(503)]);
    app.declare("Something to count").await;
    app.run_pending_jobs().await;
    let text = app.metrics().await;
    let families: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/grafana-dashboard.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut queried = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if !word.starts_with("pompier_") {
                    continue;
                }
                let family = ["_bucket", "_count", "_sum", "_total"]
                    .iter()
                    .find_map(|suffix| word.strip_suffix(suffix))
                    .unwrap_or(word);
                assert!(
                    families.contains(&family),
                    "{} queries {word}, which /metrics lacks: {families:?}",
                    panel["title"]
                );
                queried += 1;
            }
        }
    }
    assert!(queried >= 12, "{queried}");
    app.stop().await;
}
