//! The real Alertmanager (Debian's `prometheus-alertmanager`, which `.ci/run` installs)
//! posting to pompier through its webhook receiver, with a token of scope `alerts` in
//! `http_config.authorization`, as the README tells operators to set it up: a firing
//! alert opens an incident, its resolution is told and recorded.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{can_run, free_port, spawn_app, Backend, KillOnDrop, TestApp};
use pompier::tokens::Scope;

const BINARY: &str = "prometheus-alertmanager";

/// Polls incident 1's JSON until `done` holds, for at most 30 s.
async fn wait_for(app: &TestApp, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, json) = app
            .api_get_with("/api/v1/incidents/1", Some(crate::helpers::API_TOKEN))
            .await;
        if done(&json) {
            return json;
        }
        assert!(
            Instant::now() < deadline,
            "Alertmanager never {what}: {json}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_alertmanager_opens_and_resolves_an_incident() {
    if !can_run(&[BINARY], "prometheus-alertmanager") {
        return;
    }
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.token("alertmanager", &[Scope::Alerts]).await;
    let dir = std::env::temp_dir().join(format!("pompier-am-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("alertmanager.yml");
    // The README's receiver, with waits short enough for a test.
    std::fs::write(
        &config,
        format!(
            r#"route:
  receiver: pompier
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
- name: pompier
  webhook_configs:
  - url: {}
    send_resolved: true
    max_alerts: 50
    http_config:
      authorization:
        type: Bearer
        credentials: "{token}"
"#,
            app.url("/api/v1/alerts/alertmanager")
        ),
    )
    .unwrap();
    let port = free_port();
    let _alertmanager = KillOnDrop(
        Command::new(BINARY)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", dir.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let alertmanager = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !app
        .client
        .get(format!("{alertmanager}/-/ready"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "Alertmanager did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let alert = |ends: Option<String>| {
        let mut a = json!({
            "labels": {"alertname": "HighLatency", "severity": "critical", "service": "checkout"},
            "annotations": {"summary": "Checkout p99 above 2s"},
            "generatorURL": "http://prometheus:9090/graph?g0.expr=latency",
        });
        if let Some(ends) = ends {
            a["endsAt"] = ends.into();
        }
        json!([a])
    };
    let post = |body: Value| {
        app.client
            .post(format!("{alertmanager}/api/v2/alerts"))
            .json(&body)
            .send()
    };
    assert!(post(alert(None)).await.unwrap().status().is_success());
    let incident = wait_for(&app, "opened an incident", |j| j["id"] == 1).await;
    assert_eq!(
        (
            &incident["title"],
            &incident["severity"],
            &incident["declared_by"],
            &incident["alerts"][0]["url"]
        ),
        (
            &"Checkout p99 above 2s".into(),
            &"SEV1".into(),
            &"alerts:alertmanager".into(),
            &"http://prometheus:9090/graph?g0.expr=latency".into()
        )
    );

    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert!(post(alert(Some(now))).await.unwrap().status().is_success());
    let incident = wait_for(&app, "told the resolution", |j| {
        j["alerts"][0]["status"] == "resolved"
    })
    .await;
    let last = incident["timeline"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["kind"], "alert");
    assert!(
        last["note"].as_str().unwrap().contains("resolved"),
        "{last}"
    );
    // One incident, however often Alertmanager sent.
    assert_eq!(app.trace_count().await.0, 1);
    app.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
