//! Operational security: wrong tokens throttled per client (behind trusted proxies, the
//! forwarded client), only failures counted; `/metrics` on a listener of its own.

use reqwest::StatusCode;

use crate::helpers::{free_port, spawn_app_with, Backend, API_TOKEN};

async fn wrong_tokens_are_throttled_per_client_behind_trusted_proxies(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[("POMPIER_HTTP__TRUSTED_PROXIES", "[\"127.0.0.1\"]")],
    )
    .await;
    let get = |token: &'static str, client: &'static str| {
        app.client
            .get(app.url("/api/v1/incidents"))
            .bearer_auth(token)
            .header("x-forwarded-for", client)
            .send()
    };
    // Successes use up nothing.
    for _ in 0..8 {
        assert_eq!(
            get(API_TOKEN, "203.0.113.9").await.unwrap().status(),
            StatusCode::OK
        );
    }
    for _ in 0..5 {
        assert_eq!(
            get("guess", "203.0.113.9").await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // That client waits, even with the right token; another behind the same proxy does not.
    assert_eq!(
        get(API_TOKEN, "203.0.113.9").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        get(API_TOKEN, "198.51.100.7").await.unwrap().status(),
        StatusCode::OK
    );
    // The audit trail names the forwarded client of a failed sign-in.
    app.client
        .post(app.url("/dashboard/login"))
        .header("origin", app.address.clone())
        .header("x-forwarded-for", "198.51.100.7")
        .form(&[("token", "wrong"), ("next", "/dashboard")])
        .send()
        .await
        .unwrap();
    let (_, trail) = app.api_get_with("/api/v1/audit", Some(API_TOKEN)).await;
    let failed = trail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "sign_in_failed")
        .cloned()
        .unwrap();
    assert_eq!(failed["origin"], "198.51.100.7", "{trail}");
}

async fn metrics_can_have_a_listener_of_their_own(backend: Backend) {
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let app = spawn_app_with(backend, &[("POMPIER_METRICS_LISTEN", address.as_str())]).await;
    let main = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(main.status(), StatusCode::NOT_FOUND);
    // Bound before the main listener serves; a loaded machine may still be slow to
    // answer its first connection.
    let mut own = reqwest::get(format!("http://{address}/metrics")).await;
    for _ in 0..50 {
        if own.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        own = reqwest::get(format!("http://{address}/metrics")).await;
    }
    let own = own.unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    assert!(own.text().await.unwrap().contains("pompier_"));
    let other = reqwest::get(format!("http://{address}/api/v1/incidents"))
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND, "nothing else there");
}

crate::on_both_backends!(
    wrong_tokens_are_throttled_per_client_behind_trusted_proxies,
    metrics_can_have_a_listener_of_their_own,
);
