//! Live boards: capped per session and in all, apart from the connections Slack needs;
//! ended by logging out and by stopping pompier.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::{spawn_app_with, Backend, TestApp, API_TOKEN};

/// Signs in through the form; the session cookie.
async fn session(app: &TestApp) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .post(app.url("/dashboard/login"))
        .header("origin", app.address.clone())
        .form(&[("token", API_TOKEN), ("next", "/dashboard")])
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

async fn board(app: &TestApp, cookie: &str) -> reqwest::Response {
    app.client
        .get(app.url("/gameday/1/stream"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

/// Whether `stream` ends (its body closes) within `within`.
async fn ends(stream: &mut reqwest::Response, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.chunk()).await {
            Err(_) => return false,
            Ok(Ok(Some(_))) => continue,
            Ok(_) => return true,
        }
    }
}

async fn live_boards_are_capped_and_end_on_logout_and_on_stop(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("POMPIER_HTTP__MAX_STREAMS", "2"),
            ("POMPIER_HTTP__MAX_STREAMS_PER_SESSION", "1"),
            ("POMPIER_JOBS__SHUTDOWN_GRACE_SECS", "6"),
        ],
    )
    .await;
    app.slash("gameday start Streams").await;
    let (first, second, third) = (
        session(&app).await,
        session(&app).await,
        session(&app).await,
    );
    let mut a = board(&app, &first).await;
    assert_eq!(a.status(), StatusCode::OK);
    let twice = board(&app, &first).await;
    assert_eq!(twice.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(twice
        .text()
        .await
        .unwrap()
        .contains("max_streams_per_session"));
    let mut b = board(&app, &second).await;
    assert_eq!(b.status(), StatusCode::OK);
    let full = board(&app, &third).await;
    assert_eq!(full.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(full.text().await.unwrap().contains("max_streams"));
    // Slack is still answered.
    let reply = app.slash("help").await;
    assert!(reply["text"].as_str().unwrap().contains("usage"));

    // Logging out ends that session's board, and no other; its cookie is refused.
    let out = app
        .client
        .post(app.url("/dashboard/logout"))
        .header("origin", app.address.clone())
        .header("cookie", &first)
        .send()
        .await
        .unwrap();
    assert!(out.status().is_success() || out.status().is_redirection());
    assert!(
        ends(&mut a, Duration::from_secs(3)).await,
        "the board outlived its logout"
    );
    let after = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/dashboard"))
        .header("cookie", &first)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    // Its place is free again.
    let mut c = board(&app, &third).await;
    assert_eq!(c.status(), StatusCode::OK);

    // Stopping ends the open boards rather than wait the whole grace time for them.
    let started = Instant::now();
    app.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert!(ends(&mut b, Duration::from_secs(1)).await);
    assert!(ends(&mut c, Duration::from_secs(1)).await);
}

crate::on_both_backends!(live_boards_are_capped_and_end_on_logout_and_on_stop);
