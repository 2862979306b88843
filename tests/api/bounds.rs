//! Input whose cost grows with what a client typed is bounded, and told clearly: ranges
//! of statistics, a body that never finishes, text that reads in another order.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{spawn_app, spawn_app_with, Backend, API_TOKEN};

async fn statistics_ranges_are_bounded(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, body) = app
        .api_get_with(
            "/api/v1/stats?from=0001-01-01T00:00:00Z&to=9999-12-31T00:00:00Z",
            Some(API_TOKEN),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"].as_str().unwrap().contains("3653"), "{body}");
    // The dashboard says so on its page, for a browser.
    for path in [
        "/dashboard?from=0001-01-01&to=9999-12-31",
        "/dashboard?days=5000",
    ] {
        let r = reqwest::Client::new()
            .get(app.url(path))
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path}");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let page = r.text().await.unwrap();
        assert!(
            page.contains("id=\"problem\"") && page.contains("3653"),
            "{page}"
        );
    }
    // Ten years is fine (the most SPEC allows); a day more is not.
    let (status, _) = app
        .api_get_with(
            "/api/v1/stats?from=2016-01-01T00:00:00Z&to=2025-12-31T00:00:00Z",
            Some(API_TOKEN),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .api_get_with(
            "/api/v1/stats?from=2015-12-30T00:00:00Z&to=2025-12-31T00:00:00Z",
            Some(API_TOKEN),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn a_request_that_never_finishes_gets_a_json_408(backend: Backend) {
    let app = spawn_app_with(backend, &[("POMPIER_HTTP__REQUEST_TIMEOUT_SECS", "1")]).await;
    let host = app.address.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(&host).await.unwrap();
    s.write_all(
        b"POST /slack/commands HTTP/1.1\r\nHost: x\r\nContent-Type: \
          application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ntext=open",
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/json"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let json: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{answer}"));
    assert!(json["error"].is_string(), "{json}");
}

async fn text_that_reads_in_another_order_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let reply = app.slash("open sev2 Invoice \u{202E}fdp.exe").await;
    assert_eq!(reply["response_type"], "ephemeral");
    assert!(
        reply["text"].as_str().unwrap().contains("U+202E"),
        "{reply}"
    );
    let list = app.api_get("/api/v1/incidents").await;
    assert_eq!(list["incidents"].as_array().unwrap().len(), 0, "{list}");
}

crate::on_both_backends!(
    statistics_ranges_are_bounded,
    a_request_that_never_finishes_gets_a_json_408,
    text_that_reads_in_another_order_is_refused,
);
