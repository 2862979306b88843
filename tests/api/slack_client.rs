//! `SlackClient` against a fake Slack (wiremock): what each failure becomes.

use std::time::{Duration, Instant};

use pompier::slack::client::{SlackClient, SlackError};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{bearer_token, body_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "xoxb-very-secret";

async fn client(server: &MockServer, timeout: Duration) -> SlackClient {
    SlackClient::new(
        &format!("{}/api", server.uri()),
        SecretString::from(TOKEN),
        timeout,
    )
}

async fn answer(template: ResponseTemplate) -> Result<serde_json::Value, SlackError> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(template)
        .mount(&server)
        .await;
    client(&server, Duration::from_secs(2))
        .await
        .call("chat.postMessage", &json!({"channel": "C1", "text": "hi"}))
        .await
}

#[tokio::test]
async fn a_call_sends_json_with_the_bearer_token_and_returns_slacks_answer() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/conversations.create"))
        .and(bearer_token(TOKEN))
        .and(body_json(json!({"name": "inc-1"})))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"ok": true, "channel": {"id": "C9"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let answer = client(&server, Duration::from_secs(2))
        .await
        .call("conversations.create", &json!({"name": "inc-1"}))
        .await
        .unwrap();
    assert_eq!(answer["channel"]["id"], "C9");
}

#[tokio::test]
async fn ok_false_is_an_error_carrying_slacks_code() {
    let err = answer(
        ResponseTemplate::new(200)
            .set_body_json(json!({"ok": false, "error": "channel_not_found"})),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Some("channel_not_found"));
    assert!(matches!(err, SlackError::Refused { .. }));
    let err = answer(
        ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": "internal_error"})),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, SlackError::Transient(_)), "{err:?}");
}

#[tokio::test]
async fn a_429_carries_retry_after() {
    let err = answer(ResponseTemplate::new(429).insert_header("Retry-After", "30"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SlackError::RateLimited {
            retry_after: Some(Duration::from_secs(30))
        }
    );
    let err = answer(ResponseTemplate::new(429)).await.unwrap_err();
    assert_eq!(err, SlackError::RateLimited { retry_after: None });
}

#[tokio::test]
async fn server_errors_and_timeouts_are_transient_and_never_show_the_token() {
    for status in [500, 502, 503] {
        let err = answer(ResponseTemplate::new(status)).await.unwrap_err();
        assert!(matches!(err, SlackError::Transient(_)), "{status}: {err:?}");
    }
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let started = Instant::now();
    let err = client(&server, Duration::from_millis(300))
        .await
        .call("chat.postMessage", &json!({}))
        .await
        .unwrap_err();
    assert!(matches!(err, SlackError::Transient(_)), "{err:?}");
    assert!(
        err.to_string().contains("timed out"),
        "the cause is kept: {err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the timeout holds"
    );
    assert!(!format!("{err} {err:?}").contains(TOKEN));
    // Nothing listening at all.
    let closed = SlackClient::new(
        "http://127.0.0.1:9/api",
        SecretString::from(TOKEN),
        Duration::from_secs(1),
    );
    let err = closed
        .call("chat.postMessage", &json!({}))
        .await
        .unwrap_err();
    assert!(matches!(err, SlackError::Transient(_)), "{err:?}");
    assert!(err.to_string().contains("Connection refused"), "{err}");
    assert!(!format!("{err} {err:?}").contains(TOKEN));
}
