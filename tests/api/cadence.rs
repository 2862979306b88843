//! The update cadence: a quiet incident is nudged once after its interval, not again
//! before the next, once whatever the number of sweeps; postmortems get a reminder; the
//! statistics count updates made on time. The clock is the tests' (no sleeping).

use chrono::Duration;

use crate::helpers::{spawn_app, Backend, TestApp};

/// Far enough ahead that every job queued at any time the tests chose is due.
fn later() -> chrono::DateTime<chrono::Utc> {
    pompier::now() + Duration::days(30)
}

fn texts(app: &TestApp, channel: &str) -> Vec<String> {
    app.slack
        .messages_in(channel)
        .iter()
        .map(|m| m.body["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn nudges(app: &TestApp, channel: &str) -> usize {
    texts(app, channel)
        .iter()
        .filter(|t| t.contains(":hourglass:"))
        .count()
}

async fn a_quiet_incident_is_nudged_once_per_interval(backend: Backend) {
    let app = spawn_app(backend).await;
    let t0 = pompier::now();
    let id = app.declare("sev2 Checkout slow").await;
    app.run_jobs_at(later()).await;
    let channel = app.slack.channels()[0].id.clone();
    // The summary says when the next update is due.
    let summary = app.slack.messages_in(&channel)[0].body.to_string();
    assert!(summary.contains("Next update due"), "{summary}");

    // Before the interval (SEV2: 30 minutes), nothing.
    assert_eq!(
        app.incidents
            .sweep(t0 + Duration::minutes(29))
            .await
            .unwrap(),
        0
    );
    // Past it: one nudge, asking someone to lead; two sweeps at once (two instances) make one.
    let at = t0 + Duration::minutes(31);
    let (a, b) = tokio::join!(app.incidents.sweep(at), app.incidents.sweep(at));
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    // The nudge's job is due from the sweep's time.
    app.run_jobs_at(later()).await;
    assert_eq!(nudges(&app, &channel), 1);
    let said = texts(&app, &channel)
        .into_iter()
        .find(|t| t.contains(":hourglass:"))
        .unwrap();
    assert!(
        said.contains(&format!("#{id}")) && said.contains("nobody leads"),
        "{said}"
    );
    // Not again before a further interval.
    assert_eq!(
        app.incidents
            .sweep(t0 + Duration::minutes(50))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        app.incidents
            .sweep(t0 + Duration::minutes(62))
            .await
            .unwrap(),
        1
    );
    app.run_jobs_at(later()).await;
    assert_eq!(nudges(&app, &channel), 2);

    // With a lead, the lead is named (news resetting the clock is the domain's test:
    // here the news is older than the last nudge, which the tests' clock put ahead).
    app.slash(&format!("{id} lead <@U0LEAD|lead>")).await;
    let news = t0 + Duration::minutes(62);
    assert_eq!(
        app.incidents
            .sweep(news + Duration::minutes(29))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        app.incidents
            .sweep(news + Duration::minutes(31))
            .await
            .unwrap(),
        1
    );
    app.run_jobs_at(later()).await;
    let last = texts(&app, &channel)
        .into_iter()
        .rev()
        .find(|t| t.contains(":hourglass:"))
        .unwrap();
    assert!(last.contains("<@U0LEAD>, time for an update"), "{last}");

    // Resolved: no more nudges.
    app.slash(&format!("{id} resolved")).await;
    assert_eq!(
        app.incidents
            .sweep(news + Duration::hours(10))
            .await
            .unwrap(),
        0
    );
    app.stop().await;
}

async fn a_waiting_postmortem_is_reminded_after_days(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.declare("sev1 Data loss").await;
    for to in ["resolved", "postmortem"] {
        app.slash(&format!("{id} {to}")).await;
    }
    app.run_jobs_at(later()).await;
    let channel = app.slack.channels()[0].id.clone();
    let now = pompier::now();
    assert_eq!(
        app.incidents.sweep(now + Duration::days(4)).await.unwrap(),
        0
    );
    assert_eq!(
        app.incidents
            .sweep(now + Duration::days(5) + Duration::minutes(1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        app.incidents.sweep(now + Duration::days(6)).await.unwrap(),
        0
    );
    app.run_jobs_at(later()).await;
    let said = texts(&app, &channel);
    assert!(
        said.iter()
            .any(|t| t.contains(":memo: The postmortem of") && t.contains("waited 5 days")),
        "{said:?}"
    );
    app.stop().await;
}

async fn the_statistics_count_updates_made_on_time(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.declare("sev1 Flapping").await;
    // Two updates well within SEV1's 15 minutes.
    app.slash(&format!("{id} investigating")).await;
    app.slash(&format!("{id} note still on it")).await;
    let stats = app.api_get("/api/v1/stats").await;
    assert_eq!(stats["updates"]["total"], 2, "{stats}");
    assert_eq!(stats["updates"]["late"], 0, "{stats}");
    assert_eq!(stats["updates"]["on_time_share"], 1.0, "{stats}");
    app.stop().await;
}

crate::on_both_backends!(
    a_quiet_incident_is_nudged_once_per_interval,
    a_waiting_postmortem_is_reminded_after_days,
    the_statistics_count_updates_made_on_time,
);
