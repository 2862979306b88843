//! `/api/v1/incidents`: token, filters, pagination and SPEC's JSON shapes.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_with, Backend, API_TOKEN};

async fn the_api_wants_the_bearer_token(backend: Backend) {
    let app = spawn_app(backend).await;
    for token in [None, Some("wrong"), Some("")] {
        let (status, body) = app.api_get_with("/api/v1/incidents", token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert!(body["error"].is_string());
    }
    let (status, _) = app.api_get_with("/api/v1/incidents/1", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.api_get_with("/api/v1/incidents", Some(API_TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
}

async fn without_a_configured_token_the_api_refuses_everyone(backend: Backend) {
    let app = spawn_app_with(backend, &[("POMPIER_API_TOKEN", "")]).await;
    for token in [None, Some(API_TOKEN), Some("")] {
        let (status, body) = app.api_get_with("/api/v1/incidents", token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("POMPIER_API_TOKEN"),
            "{body}"
        );
    }
}

async fn incidents_have_specs_json_shape(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.declare_in("C0123", "sev2 Checkout returns 500").await;
    app.slash("lead <@U0456>").await;
    app.slash("investigating on it").await;

    let one = app.incident_json(id).await;
    let keys: Vec<&str> = one
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "id",
        "title",
        "severity",
        "status",
        "channel_id",
        "declared_by",
        "roles",
        "opened_at",
        "investigating_at",
        "mitigated_at",
        "resolved_at",
        "postmortem_at",
        "closed_at",
        "postmortem_url",
        "participants",
        "timeline",
        "drill",
        "failure_class",
        "private",
        "followups",
        "alerts",
        "pages",
        "jira",
        "summary",
        "impact",
        "names",
    ];
    let mut sorted = keys.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected);
    assert_eq!(one["id"], id.0);
    assert_eq!(one["channel_id"], "C0123");
    assert_eq!(one["roles"]["lead"], "U0456");
    assert_eq!(one["postmortem_url"], Value::Null);
    assert_eq!(one["mitigated_at"], Value::Null);
    let opened = one["opened_at"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(opened).is_ok() && opened.ends_with('Z'),
        "{opened}"
    );
    let last = one["timeline"].as_array().unwrap().last().unwrap();
    assert_eq!(
        last,
        &serde_json::json!({"at": one["investigating_at"], "kind": "status", "actor": "U0456",
                            "from": "open", "to": "investigating", "note": "on it"})
    );

    let list = app.api_get("/api/v1/incidents").await;
    assert_eq!(list["next_cursor"], Value::Null);
    let listed = &list["incidents"][0];
    let mut without_timeline = one.clone();
    without_timeline.as_object_mut().unwrap().remove("timeline");
    for one_only in ["followups", "alerts", "pages", "jira", "names"] {
        without_timeline.as_object_mut().unwrap().remove(one_only);
    }
    assert_eq!(listed, &without_timeline);

    let (status, body) = app
        .api_get_with("/api/v1/incidents/9999", Some(API_TOKEN))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = app
        .api_get_with("/api/v1/incidents/abc", Some(API_TOKEN))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

fn ids(page: &Value) -> Vec<i64> {
    page["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect()
}

async fn filters_select_by_status_severity_and_time(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.declare("sev1 A").await.0;
    let b = app.declare("sev2 B").await.0;
    let c = app.declare("sev3 C").await.0;
    let d = app.declare("sev4 D").await.0;
    app.slash(&format!("{b} investigating")).await;
    app.slash(&format!("{c} resolved")).await;

    assert_eq!(ids(&app.api_get("/api/v1/incidents").await), [d, c, b, a]);
    assert_eq!(
        ids(&app.api_get("/api/v1/incidents?status=open").await),
        [d, a]
    );
    assert_eq!(
        ids(&app
            .api_get("/api/v1/incidents?status=open&status=resolved")
            .await),
        [d, c, a]
    );
    assert_eq!(
        ids(&app
            .api_get("/api/v1/incidents?status=investigating,resolved")
            .await),
        [c, b]
    );
    assert_eq!(
        ids(&app.api_get("/api/v1/incidents?severity=SEV1,sev4").await),
        [d, a]
    );
    assert_eq!(
        ids(&app
            .api_get("/api/v1/incidents?severity=SEV2&status=open")
            .await),
        Vec::<i64>::new()
    );

    let b_opened = app.incident_json(pompier::domain::IncidentId(b)).await["opened_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let c_opened = app.incident_json(pompier::domain::IncidentId(c)).await["opened_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let q = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    assert_eq!(
        ids(&app
            .api_get(&format!("/api/v1/incidents?from={}", q(&b_opened)))
            .await),
        [d, c, b]
    );
    assert_eq!(
        ids(&app
            .api_get(&format!("/api/v1/incidents?to={}", q(&c_opened)))
            .await),
        [c, b, a]
    );
    assert_eq!(
        ids(&app
            .api_get(&format!(
                "/api/v1/incidents?from={}&to={}",
                q(&b_opened),
                q(&c_opened)
            ))
            .await),
        [c, b]
    );
    assert_eq!(
        ids(&app
            .api_get("/api/v1/incidents?from=2000-01-01T00:00:00%2B02:00")
            .await),
        [d, c, b, a]
    );
    assert_eq!(
        ids(&app
            .api_get("/api/v1/incidents?to=2000-01-01T00:00:00Z")
            .await),
        Vec::<i64>::new()
    );

    for bad in [
        "status=burning",
        "severity=SEV0",
        "from=yesterday",
        "limit=0",
        "cursor=abc",
        "from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
    ] {
        let (status, body) = app
            .api_get_with(&format!("/api/v1/incidents?{bad}"), Some(API_TOKEN))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body["error"].is_string());
    }
}

async fn a_cursor_walks_every_incident_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut declared = vec![];
    for i in 0..7 {
        declared.push(app.declare(&format!("Incident {i}")).await.0);
    }
    declared.reverse();
    let mut seen = vec![];
    let mut path = "/api/v1/incidents?limit=3".to_string();
    let mut pages = 0;
    loop {
        let page = app.api_get(&path).await;
        pages += 1;
        assert!(ids(&page).len() <= 3);
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/incidents?limit=3&cursor={cursor}"),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(seen, declared);
    assert_eq!(pages, 3);
}

crate::on_both_backends!(
    the_api_wants_the_bearer_token,
    without_a_configured_token_the_api_refuses_everyone,
    incidents_have_specs_json_shape,
    filters_select_by_status_severity_and_time,
    a_cursor_walks_every_incident_once,
);
