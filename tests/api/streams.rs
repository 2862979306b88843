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

/// Reads `stream` until an event holding `text` arrives, within `within`.
async fn hears(stream: &mut reqwest::Response, text: &str, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    let mut heard = String::new();
    loop {
        match tokio::time::timeout_at(deadline, stream.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                heard.push_str(&String::from_utf8_lossy(&chunk));
                if heard.contains(text) {
                    return true;
                }
            }
            _ => return false,
        }
    }
}

async fn a_board_is_read_once_a_second_however_many_watch_it(backend: Backend) {
    let app = spawn_app_with(backend, &[("POMPIER_HTTP__MAX_STREAMS_PER_SESSION", "40")]).await;
    app.slash("gameday start Crowd").await;
    let before = app.metric("pompier_board_polls_total", &[]).await;
    // All at once, as a room opening the board.
    let mut viewers = futures::future::join_all((0..30).map(|_| {
        app.client
            .get(app.url("/gameday/1/stream"))
            .bearer_auth(API_TOKEN)
            .send()
    }))
    .await
    .into_iter()
    .map(|r| r.unwrap())
    .collect::<Vec<_>>();
    assert!(viewers.iter().all(|r| r.status() == StatusCode::OK));
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let polls = app.metric("pompier_board_polls_total", &[]).await - before;
    // One read as the first viewer comes (those after join it), then one a second.
    assert!(
        (2.0..=5.0).contains(&polls),
        "30 viewers, 3.5 s: {polls} reads"
    );
    // A change reaches every viewer.
    app.slash("drill sev2 team:crowd Everyone sees this").await;
    for viewer in &mut viewers {
        assert!(hears(viewer, "crowd", Duration::from_secs(5)).await);
    }
    // Nobody left: the reads stop.
    drop(viewers);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let stopped = app.metric("pompier_board_polls_total", &[]).await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(app.metric("pompier_board_polls_total", &[]).await, stopped);
}

crate::on_both_backends!(
    live_boards_are_capped_and_end_on_logout_and_on_stop,
    a_board_is_read_once_a_second_however_many_watch_it,
);
