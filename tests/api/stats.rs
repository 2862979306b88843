//! `/api/v1/stats` against hand-computed data, and `/api/v1/incidents.csv`, on both
//! databases.

use chrono::{DateTime, Duration, Utc};
use pompier::domain::{Policy, Severity, SlackUserId, Status};
use pompier::store::NewIncident;
use reqwest::StatusCode;

use crate::helpers::{spawn_app, Backend, TestApp, API_TOKEN};

fn user() -> SlackUserId {
    "U0MGR".parse().unwrap()
}

/// 2026-11-16 00:00 UTC, a Monday of ISO week 47.
fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_794_787_200 + secs, 0).unwrap()
}

/// An incident opened at `t(opened)` and moved through `moves` at their times.
async fn incident(app: &TestApp, severity: Severity, opened: i64, moves: &[(Status, i64)]) {
    let i = app
        .store
        .declare(
            NewIncident {
                once: None,
                first_events: vec![],
                drill: None,
                private: false,
                team: None,
                answers: None,
                alert: None,
                from_triage: None,
                tell_in: None,
                title: format!("{severity} at {opened}"),
                severity,
                declared_by: user().into(),
                at: t(opened),
            },
            &[],
        )
        .await
        .unwrap();
    for (to, at) in moves {
        app.store
            .change(
                i.id,
                |inc| inc.move_to(*to, &user().into(), None, t(*at), &Policy::default()),
                |_| vec![],
            )
            .await
            .unwrap();
    }
}

async fn stats_are_exact_on_hand_computed_data(backend: Backend) {
    let app = spawn_app(backend).await;
    use Status::*;
    // SEV1: acknowledged after 100 s, mitigated 500, resolved 1000, postmortem, closed.
    incident(
        &app,
        Severity::Sev1,
        0,
        &[
            (Investigating, 100),
            (Mitigated, 500),
            (Resolved, 1000),
            (Postmortem, 2000),
            (Closed, 3000),
        ],
    )
    .await;
    // SEV2, the next week: acknowledged after 300, mitigated 900, still mitigated.
    let w = 7 * 86_400;
    incident(
        &app,
        Severity::Sev2,
        w,
        &[(Investigating, w + 300), (Mitigated, w + 900)],
    )
    .await;
    // SEV4, open.
    incident(&app, Severity::Sev4, 50, &[]).await;
    // SEV2 reopened: acknowledged at +200, resolved at +1000, back to investigating,
    // resolved again at +4000 (skipping mitigated, stamped then).
    incident(
        &app,
        Severity::Sev2,
        10,
        &[
            (Investigating, 210),
            (Resolved, 1010),
            (Investigating, 1500),
            (Resolved, 4010),
        ],
    )
    .await;
    // Outside the range: counted only in open_now.
    incident(&app, Severity::Sev3, -40 * 86_400, &[]).await;

    let from = t(0).to_rfc3339();
    let to = t(13 * 86_400).to_rfc3339();
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("from", &from)
        .append_pair("to", &to)
        .finish();
    let s = app.api_get(&format!("/api/v1/stats?{query}")).await;
    assert_eq!(s["total"], 4);
    assert_eq!(
        s["open_now"], 3,
        "SEV2 mitigated, SEV4 open, the old SEV3: {s}"
    );
    assert_eq!(
        s["by_severity"],
        serde_json::json!({"SEV1": 1, "SEV2": 2, "SEV3": 0, "SEV4": 1})
    );
    assert_eq!(
        s["by_status"],
        serde_json::json!({"open": 1, "investigating": 0, "mitigated": 1, "resolved": 1, "postmortem": 0, "closed": 1})
    );
    assert_eq!(
        s["per_week"],
        serde_json::json!([
            {"week": "2026-W47", "count": 3, "by_severity": {"SEV1": 1, "SEV2": 1, "SEV3": 0, "SEV4": 1}},
            {"week": "2026-W48", "count": 1, "by_severity": {"SEV1": 0, "SEV2": 1, "SEV3": 0, "SEV4": 0}}
        ])
    );
    // Acknowledge: 100, 200, 300.
    assert_eq!(
        s["time_to_acknowledge"],
        serde_json::json!({"count": 3, "mean": 200.0, "median": 200.0, "p90": 280.0})
    );
    // Mitigate: 500, 900, 4000 (the reopened one's skipped milestone).
    assert_eq!(s["time_to_mitigate"]["count"], 3);
    assert_eq!(s["time_to_mitigate"]["median"], 900.0);
    // Resolve: 1000 and 4000.
    assert_eq!(
        s["time_to_resolve"],
        serde_json::json!({"count": 2, "mean": 2500.0, "median": 2500.0, "p90": 3700.0})
    );
    assert_eq!(
        s["by_severity_times"]["SEV2"]["time_to_acknowledge"]["mean"],
        250.0
    );
    assert_eq!(
        s["by_severity_times"]["SEV1"]["time_to_resolve"]["median"],
        1000.0
    );
    let coverage = s["postmortem_coverage"].as_f64().unwrap();
    assert!((coverage - 1.0 / 3.0).abs() < 1e-9, "{coverage}");
    assert_eq!(
        (s["from"].as_str().unwrap(), s["to"].as_str().unwrap()),
        ("2026-11-16T00:00:00Z", "2026-11-29T00:00:00Z")
    );

    // An empty range: zeros and nulls.
    let empty = app
        .api_get("/api/v1/stats?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z")
        .await;
    assert_eq!(empty["total"], 0);
    assert_eq!(empty["time_to_resolve"]["median"], serde_json::Value::Null);
    assert_eq!(empty["postmortem_coverage"], serde_json::Value::Null);
}

async fn bad_or_reversed_ranges_are_refused_and_the_default_is_30_days(backend: Backend) {
    let app = spawn_app(backend).await;
    for query in [
        "from=yesterday",
        "to=2026-13-01T00:00:00Z",
        "from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
    ] {
        let (status, body) = app
            .api_get_with(&format!("/api/v1/stats?{query}"), Some(API_TOKEN))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains('`')),
            "{body}"
        );
    }
    app.declare("sev2 Recent").await;
    let s = app.api_get("/api/v1/stats").await;
    assert_eq!(s["total"], 1);
    let from = DateTime::parse_from_rfc3339(s["from"].as_str().unwrap()).unwrap();
    let to = DateTime::parse_from_rfc3339(s["to"].as_str().unwrap()).unwrap();
    assert_eq!(to - from, Duration::days(30));
}

async fn the_csv_round_trips_and_follows_the_filters(backend: Backend) {
    let app = spawn_app(backend).await;
    let titles = [
        "Plain",
        "Commas, \"quotes\" and\nnewlines",
        "=HYPERLINK(\"http://evil\")",
    ];
    for (n, title) in titles.iter().enumerate() {
        app.store
            .declare(
                NewIncident {
                    once: None,
                    first_events: vec![],
                    drill: None,
                    private: false,
                    team: None,
                    answers: None,
                    alert: None,
                    from_triage: None,
                    tell_in: None,
                    title: title.to_string(),
                    severity: if n == 0 {
                        Severity::Sev1
                    } else {
                        Severity::Sev3
                    },
                    declared_by: user().into(),
                    at: t(n as i64),
                },
                &[],
            )
            .await
            .unwrap();
    }
    // More than a page of the stream (500).
    for n in 0..520 {
        app.store
            .declare(
                NewIncident {
                    once: None,
                    first_events: vec![],
                    drill: None,
                    private: false,
                    team: None,
                    answers: None,
                    alert: None,
                    from_triage: None,
                    tell_in: None,
                    title: format!("Bulk {n}"),
                    severity: Severity::Sev4,
                    declared_by: user().into(),
                    at: t(10 + n),
                },
                &[],
            )
            .await
            .unwrap();
    }
    let response = app
        .client
        .get(app.url("/api/v1/incidents.csv"))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let body = response.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[1], "title");
    assert!(headers.iter().any(|h| h == "time_to_resolve_s"));
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 523, "every incident, across pages");
    let read: Vec<&str> = rows.iter().map(|r| &r[1]).collect();
    assert!(read.contains(&"Commas, \"quotes\" and\nnewlines"));
    assert!(
        read.contains(&"'=HYPERLINK(\"http://evil\")"),
        "a formula is defused"
    );
    // Newest first, like the list; filters as the list takes them.
    assert_eq!(&rows[0][1], "Bulk 519");
    let response = app
        .client
        .get(app.url("/api/v1/incidents.csv?severity=SEV1"))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    let body = response.text().await.unwrap();
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(body.as_bytes())
        .records()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][1], "Plain");
}

async fn stats_and_csv_want_the_token(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in ["/api/v1/stats", "/api/v1/incidents.csv"] {
        for token in [None, Some("wrong")] {
            let (status, body) = app.api_get_with(path, token).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} {token:?}");
            assert!(body["error"].is_string());
        }
    }
}

crate::on_both_backends!(
    stats_are_exact_on_hand_computed_data,
    bad_or_reversed_ranges_are_refused_and_the_default_is_30_days,
    the_csv_round_trips_and_follows_the_filters,
    stats_and_csv_want_the_token,
);
