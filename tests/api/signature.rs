//! `/slack/*` refuses anything not signed by Slack, before reading it, and stores nothing.

use reqwest::StatusCode;

use crate::helpers::{command_body, now_ts, spawn_app, spawn_app_with, Backend, SIGNING_SECRET};

async fn unsigned_stale_future_or_forged_requests_get_401_and_store_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = command_body("U0456", "C0123", "open sev1 forged");
    // Each timestamp is taken as its request leaves: on a loaded machine the requests
    // before it may take a second, which would bring a skew of 301 s back within 300.
    let cases = [
        ("wrong secret", "another-secret", 0),
        ("302 s old", SIGNING_SECRET, -302),
        ("302 s ahead", SIGNING_SECRET, 302),
    ];
    for (what, secret, skew) in cases {
        let r = app
            .post_signed_as("/slack/commands", body.clone(), secret, now_ts() + skew)
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{what}");
    }
    // Tampered: signed for one body, sent with another.
    let ts = now_ts().to_string();
    let signature = pompier::slack::verify::sign(SIGNING_SECRET.as_bytes(), &ts, body.as_bytes());
    let tampered = body.replace("forged", "tampered");
    let r = app
        .client
        .post(app.url("/slack/commands"))
        .header("x-slack-request-timestamp", &ts)
        .header("x-slack-signature", &signature)
        .body(tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Missing headers.
    for (ts_header, sig_header) in [
        (Some(ts.as_str()), None),
        (None, Some(signature.as_str())),
        (None, None),
    ] {
        let mut request = app
            .client
            .post(app.url("/slack/commands"))
            .body(body.clone());
        if let Some(ts) = ts_header {
            request = request.header("x-slack-request-timestamp", ts);
        }
        if let Some(sig) = sig_header {
            request = request.header("x-slack-signature", sig);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let reason: serde_json::Value = r.json().await.unwrap();
        assert!(
            reason["error"].as_str().unwrap().contains("missing"),
            "{reason}"
        );
    }
    assert_eq!(app.trace_count().await, (0, 0));
    // The same request, rightly signed, goes through.
    assert_eq!(
        app.post_signed("/slack/commands", body).await.status(),
        StatusCode::OK
    );
    assert_eq!(app.trace_count().await.0, 1);
}

async fn a_body_over_one_mebibyte_gets_413(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut body = command_body("U0456", "C0123", "open sev1 big");
    body.push_str(&"&pad=".repeat(1024 * 1024 / 5 + 1));
    assert!(body.len() > 1024 * 1024);
    let r = app.post_signed("/slack/commands", body).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.trace_count().await, (0, 0));
}

async fn without_a_signing_secret_slack_requests_are_refused_with_the_reason(backend: Backend) {
    let app = spawn_app_with(backend, &[("SLACK_SIGNING_SECRET", "")]).await;
    let r = app
        .post_signed("/slack/commands", command_body("U1", "C1", "list"))
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let reason: serde_json::Value = r.json().await.unwrap();
    assert!(
        reason["error"]
            .as_str()
            .unwrap()
            .contains("SLACK_SIGNING_SECRET"),
        "{reason}"
    );
}

async fn slacks_ssl_check_is_acknowledged(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app
        .post_signed("/slack/commands", "ssl_check=1&token=x")
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.trace_count().await, (0, 0));
}

crate::on_both_backends!(
    unsigned_stale_future_or_forged_requests_get_401_and_store_nothing,
    a_body_over_one_mebibyte_gets_413,
    without_a_signing_secret_slack_requests_are_refused_with_the_reason,
    slacks_ssl_check_is_acknowledged,
);
