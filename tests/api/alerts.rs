//! Alerts in: Alertmanager's and Grafana's webhooks and the generic alert, over real
//! HTTP on both databases. One incident per group while it is not closed, however many
//! replicas post at once; repeats count; changes and resolutions told in the channel;
//! storms gathered; untrusted payloads cleaned or refused with nothing stored.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, Backend, TestApp, API_TOKEN};
use pompier::tokens::Scope;

const ALERTMANAGER: &str = "/api/v1/alerts/alertmanager";
const GENERIC: &str = "/api/v1/alerts";

/// Alertmanager's group `key` (from the docs' example) with these alerts
/// (fingerprint, status).
pub fn notification(key: &str, alerts: &[(&str, &str)]) -> Value {
    let firing = alerts.iter().any(|(_, s)| *s == "firing");
    json!({
        "version": "4",
        "groupKey": key,
        "truncatedAlerts": 0,
        "status": if firing { "firing" } else { "resolved" },
        "receiver": "pompier",
        "groupLabels": {"alertname": "HighLatency"},
        "commonLabels": {"alertname": "HighLatency", "severity": "critical", "team": "payments"},
        "commonAnnotations": {"summary": "p99 latency above 2s"},
        "externalURL": "http://alertmanager:9093",
        "notification_reason": "first notification",
        "alerts": alerts.iter().map(|(fingerprint, status)| json!({
            "status": status,
            "labels": {"alertname": "HighLatency", "instance": format!("checkout-{fingerprint}"),
                       "severity": "critical", "team": "payments"},
            "annotations": {"summary": "p99 latency above 2s"},
            "startsAt": "2026-09-01T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=latency",
            "fingerprint": fingerprint,
        })).collect::<Vec<_>>(),
    })
}

/// Grafana's documented example (webhook contact point, version 1).
const GRAFANA: &str = r#"{"receiver":"pompier","status":"firing","orgId":1,"version":"1",
 "groupKey":"{}:{alertname=\"High memory\"}","truncatedAlerts":0,
 "title":"[FIRING:1] High memory (blue)","state":"alerting","message":"**Firing** ...",
 "groupLabels":{"alertname":"High memory"},"commonLabels":{"team":"blue"},"commonAnnotations":{},
 "externalURL":"https://grafana.example.com/",
 "alerts":[{"status":"firing","labels":{"alertname":"High memory","team":"blue"},"annotations":{"summary":"..."},
   "startsAt":"2026-09-01T09:51:03Z","endsAt":"0001-01-01T00:00:00Z",
   "generatorURL":"https://grafana.example.com/alerting/grafana/abc/view",
   "fingerprint":"c6eadffa33fcdf37","silenceURL":"https://grafana.example.com/alerting/silence/new?...",
   "dashboardURL":"","panelURL":"","values":{"B":44.2,"C":1},"valueString":"..."}]}"#;

async fn post_raw(app: &TestApp, path: &str, token: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let r = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn kinds(json: &Value) -> Vec<String> {
    json["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

async fn an_alert_group_opens_one_incident_and_tells_it_what_changes(backend: Backend) {
    let app = spawn_app_with(backend, &[("POMPIER_ANNOUNCE_CHANNEL", "C0ANNOUNCE")]).await;
    let am = app.token("am", &[Scope::Alerts]).await;
    let key = r#"{}/{team="payments"}:{alertname="HighLatency"}"#;

    let (status, json) = app
        .api_post(ALERTMANAGER, &am, notification(key, &[("a1", "firing")]))
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["created"], true);
    let id = json["incident"].as_i64().unwrap();
    let incident = app.api_get(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(
        (
            &incident["title"],
            &incident["severity"],
            &incident["declared_by"]
        ),
        (
            &"p99 latency above 2s".into(),
            &"SEV1".into(),
            &"alerts:alertmanager".into()
        )
    );
    let alert = &incident["alerts"][0];
    assert_eq!(
        (
            &alert["source"],
            &alert["dedup_key"],
            &alert["status"],
            &alert["count"]
        ),
        (
            &"alertmanager".into(),
            &key.into(),
            &"firing".into(),
            &1.into()
        )
    );
    assert_eq!(alert["url"], "http://prometheus:9090/graph?g0.expr=latency");
    // Declared as from Slack: a channel with its summary, announced.
    app.run_pending_jobs().await;
    let channel = app.slack.channels()[0].id.clone();
    assert!(format!("{:?}", app.slack.messages_in("C0ANNOUNCE")).contains("p99 latency"));

    // Repeats (resends, replicas) count and add nothing else.
    for _ in 0..3 {
        let (status, json) = app
            .api_post(ALERTMANAGER, &am, notification(key, &[("a1", "firing")]))
            .await;
        assert_eq!((status, &json["created"]), (StatusCode::OK, &false.into()));
        assert_eq!(json["incident"], id);
    }
    let incident = app.api_get(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(incident["alerts"][0]["count"], 4);
    assert_eq!(kinds(&incident), ["declared"]);
    let said = app.slack.messages_in(&channel).len();

    // A new alert in the group: one `alert` event, told in the channel.
    let two = notification(key, &[("a1", "firing"), ("b2", "firing")]);
    app.api_post(ALERTMANAGER, &am, two.clone()).await;
    app.api_post(ALERTMANAGER, &am, two).await;
    let incident = app.api_get(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(kinds(&incident), ["declared", "alert"]);
    assert_eq!(incident["timeline"][1]["actor"], "alerts:alertmanager");
    assert!(incident["timeline"][1]["note"]
        .as_str()
        .unwrap()
        .contains("firing (2)"));
    // Resolved: told, recorded, and the incident stays where it is.
    let (status, _) = app
        .api_post(
            ALERTMANAGER,
            &am,
            notification(key, &[("a1", "resolved"), ("b2", "resolved")]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let incident = app.api_get(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(kinds(&incident), ["declared", "alert", "alert"]);
    assert_eq!(
        (&incident["status"], &incident["alerts"][0]["status"]),
        (&"open".into(), &"resolved".into())
    );
    app.run_pending_jobs().await;
    let told: Vec<String> = app
        .slack
        .messages_in(&channel)
        .iter()
        .skip(said)
        .map(|m| m.body.to_string())
        .collect();
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(
        told[0].contains("firing (2)") && told[1].contains("is resolved"),
        "{told:?}"
    );

    // Closed: the next firing of the key opens a new incident.
    for to in ["resolved", "postmortem", "closed"] {
        let path = format!("/api/v1/incidents/{id}/status");
        let (status, json) = app.api_post(&path, API_TOKEN, json!({"status": to})).await;
        assert_eq!(status, StatusCode::OK, "{json}");
    }
    let (_, json) = app
        .api_post(ALERTMANAGER, &am, notification(key, &[("a1", "firing")]))
        .await;
    assert_eq!(json["created"], true);
    assert_ne!(json["incident"], id);
    app.stop().await;
}

async fn twenty_replicas_posting_one_new_group_open_one_incident(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let am = app.token("am", &[Scope::Alerts]).await;
    for round in 0..3 {
        let key = format!("{{}}:{{alertname=\"Race{round}\"}}");
        let body = notification(&key, &[("r1", "firing")]);
        let answers = futures_util::future::join_all(
            (0..20).map(|_| app.api_post(ALERTMANAGER, &am, body.clone())),
        )
        .await;
        let mut incidents = std::collections::BTreeSet::new();
        let mut created = 0;
        for (status, json) in &answers {
            assert_eq!(*status, StatusCode::OK, "{json}");
            incidents.insert(json["incident"].as_i64().unwrap());
            created += usize::from(json["created"] == true);
        }
        assert_eq!((incidents.len(), created), (1, 1), "{answers:?}");
        let id = incidents.first().unwrap();
        let incident = app.api_get(&format!("/api/v1/incidents/{id}")).await;
        assert_eq!(incident["alerts"][0]["count"], 20);
    }
    let (incidents, _) = app.trace_count().await;
    assert_eq!(incidents, 3);
    // The posts that lost the race left no job behind: each incident has its own.
    let jobs = app.store.list_jobs(false, 1000).await.unwrap();
    assert!(jobs.iter().all(|j| j.incident_id.is_some()), "{jobs:?}");
    let creates = jobs.iter().filter(|j| j.kind == "create_channel").count();
    assert_eq!(creates, 3, "{jobs:?}");
    // The posts that lost the race almost never take an incident number: the advisory
    // lock turns them away before they insert. One that read the groups in the instant
    // between the winner's commit and its own try for the lock inserts, fails on the
    // group's unique index, and rolls back, leaving a gap as any rolled-back insert
    // does in PostgreSQL; each round's losers are turned away once the group is seen.
    let (_, json) = app
        .api_post(GENERIC, &am, json!({"source": "x", "dedup_key": "after"}))
        .await;
    let next = json["incident"].as_i64().unwrap();
    assert!((4..=3 + 3 * 19).contains(&next), "{json}");
    app.stop().await;
}

async fn grafana_and_generic_alerts_open_incidents_too(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("POMPIER_ALERTS__RESOLVE_MOVES_TO", "mitigated"),
            ("POMPIER_ALERTS__DEFAULT_SEVERITY", "SEV4"),
        ],
    )
    .await;
    let token = app.token("monitoring", &[Scope::Alerts]).await;
    let (status, json) = post_raw(&app, ALERTMANAGER, &token, GRAFANA.into()).await;
    assert_eq!(
        (status, &json["created"]),
        (StatusCode::OK, &true.into()),
        "{json}"
    );
    // A contact point set to PUT reaches the same receiver: a repeat of that group.
    let put = app
        .client
        .put(app.url(ALERTMANAGER))
        .bearer_auth(&token)
        .header("Content-Type", "application/json")
        .body(GRAFANA)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    let put: Value = put.json().await.unwrap();
    assert_eq!(
        (&put["incident"], &put["created"]),
        (&json["incident"], &false.into())
    );
    let grafana = app
        .api_get(&format!("/api/v1/incidents/{}", json["incident"]))
        .await;
    assert_eq!(
        (
            &grafana["title"],
            &grafana["severity"],
            &grafana["declared_by"]
        ),
        (
            &"High memory".into(),
            &"SEV4".into(),
            &"alerts:grafana".into()
        )
    );

    let datadog = json!({"source": "datadog", "dedup_key": "monitor-42", "status": "firing",
                         "title": "Disk full on db-1", "severity": "high",
                         "labels": {"host": "db-1"}, "url": "https://app.datadoghq.com/monitors/42"});
    let (status, json) = app.api_post(GENERIC, &token, datadog.clone()).await;
    assert_eq!(
        (status, &json["created"]),
        (StatusCode::OK, &true.into()),
        "{json}"
    );
    let id = json["incident"].as_i64().unwrap();
    let (_, again) = app.api_post(GENERIC, &token, datadog.clone()).await;
    assert_eq!(
        (&again["incident"], &again["created"]),
        (&id.into(), &false.into())
    );
    let incident = app.api_get(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(
        (
            &incident["title"],
            &incident["severity"],
            &incident["alerts"][0]["url"]
        ),
        (
            &"Disk full on db-1".into(),
            &"SEV2".into(),
            &"https://app.datadoghq.com/monitors/42".into()
        )
    );
    // With `alerts.resolve_moves_to = "mitigated"` a resolution moves it.
    let mut resolved = datadog;
    resolved["status"] = "resolved".into();
    app.api_post(GENERIC, &token, resolved).await;
    let incident = app.api_get(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(incident["status"], "mitigated");
    assert_eq!(
        incident["timeline"].as_array().unwrap().last().unwrap()["actor"],
        "alerts:datadog"
    );
    app.stop().await;
}

async fn a_storm_gathers_new_groups_into_one_incident(backend: Backend) {
    let app = spawn_app_with(backend, &[("POMPIER_ALERTS__MAX_DECLARED_PER_MINUTE", "2")]).await;
    let token = app.token("am", &[Scope::Alerts]).await;
    let mut answers = vec![];
    for n in 0..6 {
        let key = format!("{{}}:{{alertname=\"Storm{n}\"}}");
        let (status, json) = app
            .api_post(ALERTMANAGER, &token, notification(&key, &[("s", "firing")]))
            .await;
        assert_eq!(status, StatusCode::OK, "{json}");
        answers.push(json["incident"].as_i64().unwrap());
    }
    // Two of their own, then all into one: three incidents, every group kept.
    assert_eq!(answers[..2], [1, 2]);
    assert!(answers[2..].iter().all(|id| *id == 3), "{answers:?}");
    let storm = app.api_get("/api/v1/incidents/3").await;
    assert_eq!(storm["title"], "Alert storm");
    let keys: Vec<&str> = storm["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["dedup_key"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), 5, "{keys:?}"); // the storm's own group and four
    assert_eq!(
        kinds(&storm).iter().filter(|k| *k == "alert").count(),
        4,
        "{storm}"
    );
    // A repeat of a group in the storm stays there.
    let (_, json) = app
        .api_post(
            ALERTMANAGER,
            &token,
            notification("{}:{alertname=\"Storm5\"}", &[("s", "firing")]),
        )
        .await;
    assert_eq!(
        (&json["incident"], &json["created"]),
        (&3.into(), &false.into())
    );
    let (incidents, _) = app.trace_count().await;
    assert_eq!(incidents, 3);
    app.stop().await;
}

async fn bad_alert_posts_are_refused_and_store_nothing(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let am = app.token("am", &[Scope::Alerts]).await;
    let reader = app.token("reader", &[Scope::Read]).await;
    let good = notification("{}:{a=\"b\"}", &[("f", "firing")]);
    let (status, _) = app.api_post(ALERTMANAGER, "pmp_nope", good.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, json) = app.api_post(ALERTMANAGER, &reader, good.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(json["error"].as_str().unwrap().contains("`alerts`"));
    for (path, body, says) in [
        (ALERTMANAGER, b"{not json".to_vec(), "Alertmanager"),
        (
            ALERTMANAGER,
            br#"{"version":"4","status":"firing","alerts":[]}"#.to_vec(),
            "groupKey",
        ),
        (
            GENERIC,
            br#"{"source":"dd","status":"firing"}"#.to_vec(),
            "dedup_key",
        ),
        (
            GENERIC,
            br#"{"source":"dd","dedup_key":"k","status":"on fire"}"#.to_vec(),
            "status",
        ),
    ] {
        let (status, json) = post_raw(&app, path, &am, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
        assert!(json["error"].as_str().unwrap().contains(says), "{json}");
    }
    // Over the body limit: 413; 10,000 alerts within it: taken.
    let mut huge = good.clone();
    huge["commonAnnotations"]["description"] = "x".repeat(1024 * 1024).into();
    let (status, _) = app.api_post(ALERTMANAGER, &am, huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.trace_count().await, (0, 0));
    let many: Vec<Value> = (0..10_000)
        .map(|i| json!({"status": "firing", "labels": {"alertname": "Disk", "i": i.to_string()}}))
        .collect();
    let body = json!({"version": "4", "groupKey": "{}:{alertname=\"Disk\"}", "status": "firing",
                      "alerts": many});
    let (status, json) = app.api_post(ALERTMANAGER, &am, body).await;
    assert_eq!(
        (status, &json["created"]),
        (StatusCode::OK, &true.into()),
        "{json}"
    );
    let incident = app.api_get("/api/v1/incidents/1").await;
    assert_eq!(incident["title"], "Disk");
    app.stop().await;
}

async fn a_route_without_declare_waits_in_triage_until_someone_declares(backend: Backend) {
    // The triage channel is an ordinary one of the workspace, the bot in it.
    let slack = crate::fake_slack::FakeSlack::start().await;
    let triage = slack.add_channel("alert-triage");
    let db = crate::helpers::TestDb::new(backend).await;
    let app = crate::helpers::start(
        db,
        slack,
        &[
            ("POMPIER_ALERTS__TRIAGE_CHANNEL", triage.as_str()),
            (
                "POMPIER_ALERTS__ROUTES",
                r#"[{match = {team = "payments"}, declare = false, severity = "SEV2"}]"#,
            ),
        ],
    )
    .await;
    let am = app.token("am", &[Scope::Alerts]).await;
    let key = "{}:{alertname=\"HighLatency\"}";
    for _ in 0..2 {
        let (status, json) = app
            .api_post(ALERTMANAGER, &am, notification(key, &[("a1", "firing")]))
            .await;
        assert_eq!(status, StatusCode::OK, "{json}");
        assert_eq!(
            json,
            json!({"incident": null, "created": false, "triage": true})
        );
    }
    assert_eq!(app.trace_count().await.0, 0);
    // Posted once in the triage channel, with a Declare button.
    app.run_pending_jobs().await;
    let posted = app.slack.messages_in(&triage);
    assert_eq!(posted.len(), 1, "{posted:?}");
    let body = posted[0].body.to_string();
    assert!(
        body.contains("p99 latency above 2s") && body.contains("SEV2"),
        "{body}"
    );
    let button = &posted[0].body["blocks"][1]["elements"][0];
    assert_eq!(button["action_id"], "declare_alert");
    let group = button["value"].as_str().unwrap().to_owned();

    // Two people press it: one incident, declared by the first, the alert attached.
    app.click("U0FIRST", &triage, "declare_alert", &group).await;
    app.click("U0SECOND", &triage, "declare_alert", &group)
        .await;
    // Each answer goes its own way to the response_url: in either order.
    let mut heard: Vec<String> = app
        .responses(2)
        .await
        .iter()
        .map(|r| r["text"].as_str().unwrap().to_owned())
        .collect();
    heard.sort();
    assert!(heard[0].contains("incident #1 already"), "{heard:?}");
    assert!(heard[1].contains("You declared incident #1"), "{heard:?}");
    let incident = app.api_get("/api/v1/incidents/1").await;
    assert_eq!(
        (
            &incident["declared_by"],
            &incident["severity"],
            &incident["title"]
        ),
        (
            &"U0FIRST".into(),
            &"SEV2".into(),
            &"p99 latency above 2s".into()
        )
    );
    assert_eq!(incident["alerts"][0]["dedup_key"], key);
    assert_eq!(app.trace_count().await.0, 1);
    // From now on the group's posts go to its incident.
    let (_, json) = app
        .api_post(ALERTMANAGER, &am, notification(key, &[("a1", "resolved")]))
        .await;
    assert_eq!(
        (&json["incident"], &json["created"]),
        (&1.into(), &false.into())
    );
    let incident = app.api_get("/api/v1/incidents/1").await;
    assert_eq!(kinds(&incident).last().unwrap(), "alert");
    app.stop().await;
}

crate::on_both_backends!(
    a_route_without_declare_waits_in_triage_until_someone_declares,
    an_alert_group_opens_one_incident_and_tells_it_what_changes,
    twenty_replicas_posting_one_new_group_open_one_incident,
    grafana_and_generic_alerts_open_incidents_too,
    a_storm_gathers_new_groups_into_one_incident,
    bad_alert_posts_are_refused_and_store_nothing,
);
