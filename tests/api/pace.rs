//! An incident storm within Slack's rate tiers: calls paced per method below the tier,
//! shared by every instance through the database; a SEV1's work before a SEV4's; a 429
//! holds its method back for every instance and no other method; a summary refresh made
//! pointless by a newer one is never sent.

use chrono::{DateTime, Duration, Utc};
use pompier::app::App;
use pompier::domain::IncidentId;
use pompier::jobs::Worker;

use crate::fake_slack::Failure;
use crate::helpers::{settings, spawn_app_with, Backend, TestApp};

const PACED: [(&str, &str); 2] = [
    ("POMPIER_SLACK__PACE_PERCENT", "90"),
    // Never wait in place: a call whose turn has not come puts its job off.
    ("POMPIER_SLACK__PACE_WAIT_MS", "0"),
];

fn at(t0: DateTime<Utc>, ms: i64) -> DateTime<Utc> {
    t0 + Duration::milliseconds(ms)
}

/// Another instance's workers on the app's database (its own pool on PostgreSQL; on
/// SQLite, one process owns the file).
async fn other_instance(app: &TestApp, extra: &[(&str, &str)]) -> Worker {
    let settings = settings(&app.db, &app.slack.url, extra);
    let store = match app.store.backend() {
        "postgres" => pompier::open_store(&settings).await.unwrap(),
        _ => app.store.clone(),
    };
    App::new(store, settings).unwrap().worker.clone()
}

async fn drain(worker: &Worker, at: DateTime<Utc>) -> usize {
    worker.drain(at).await.unwrap()
}

/// The names of the channels created, in order.
fn created(app: &TestApp) -> Vec<String> {
    app.slack
        .calls()
        .into_iter()
        .filter(|(m, _)| m == "conversations.create")
        .map(|(_, body)| body["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn next_attempt(app: &TestApp, id: IncidentId, kind: &str) -> DateTime<Utc> {
    let jobs = app.store.jobs_of(id).await.unwrap();
    let job = jobs.iter().find(|j| j.kind == kind).unwrap();
    assert_eq!(job.state, "pending", "{job:?}");
    assert!(
        job.failing_since.is_none(),
        "put off is not failing: {job:?}"
    );
    job.next_attempt_at
}

async fn a_storm_is_paced_per_method_across_instances_sev1_first(backend: Backend) {
    let app = spawn_app_with(backend, &PACED).await;
    app.slack.enforce_tiers();
    let other = other_instance(&app, &PACED).await;
    let mut storm = vec![];
    for n in 0..3 {
        storm.push(app.declare(&format!("sev4 Region down {n}")).await);
    }
    app.declare("sev1 Everything down").await;
    // Slack's Tier 2 at 90%: one conversations.create every 3,334 ms.
    let t0 = pompier::now();
    drain(&app.worker, t0).await;
    let names = created(&app);
    assert_eq!(names.len(), 1, "one call per slot: {names:?}");
    assert!(
        names[0].contains("everything-down"),
        "the SEV1 first: {names:?}"
    );
    assert_eq!(app.slack.pins().len(), 1, "the SEV1 set up at once");
    for id in &storm {
        let next = next_attempt(&app, *id, "create_channel").await;
        assert!(
            next >= at(t0, 3_000),
            "put off to the next slot: {next} vs {t0}"
        );
    }
    // The other instance takes the next slot, not one the first already took. A slot
    // taken late pushes the next one on from then (no credit for a quiet while).
    drain(&other, at(t0, 1_000)).await;
    assert_eq!(
        created(&app).len(),
        1,
        "no slot before 3.3 s, on any instance"
    );
    drain(&other, at(t0, 3_400)).await;
    assert_eq!(created(&app).len(), 2);
    drain(&app.worker, at(t0, 3_500)).await;
    assert_eq!(created(&app).len(), 2, "that slot is the other instance's");
    drain(&app.worker, at(t0, 6_800)).await;
    assert_eq!(created(&app).len(), 3);
    drain(&other, at(t0, 10_200)).await;
    let names = created(&app);
    assert_eq!(names.len(), 4, "{names:?}");
    for (n, name) in names[1..].iter().enumerate() {
        assert!(
            name.contains(&format!("region-down-{n}")),
            "in order: {names:?}"
        );
    }
    assert_eq!(app.slack.pins().len(), 4, "every summary pinned");
    assert_eq!(app.slack.over_tier(), 0, "no call past a tier");
}

async fn a_severity_raised_moves_the_incidents_waiting_work_up(backend: Backend) {
    let app = spawn_app_with(backend, &PACED).await;
    app.declare("sev4 Minor first").await;
    let raised = app.declare("sev4 Raised later").await;
    let (status, _) = app
        .api_post(
            &format!("/api/v1/incidents/{}/severity", raised.0),
            crate::helpers::API_TOKEN,
            serde_json::json!({"severity": "SEV1"}),
        )
        .await;
    assert_eq!(status, 200);
    app.run_pending_jobs().await;
    let names = created(&app);
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(
        names[0].contains("raised-later"),
        "the SEV1 first: {names:?}"
    );
}

async fn a_429_holds_its_method_back_on_every_instance_and_no_other(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let other = other_instance(&app, &[]).await;
    app.slack.fail("pins.add", [Failure::RateLimited(30)]);
    let first = app.declare("sev3 First").await;
    let t0 = pompier::now();
    drain(&app.worker, t0).await;
    assert_eq!(app.slack.count("pins.add"), 1);
    let put_off = next_attempt(&app, first, "post_summary").await;
    assert!(put_off >= at(t0, 29_000), "Retry-After kept: {put_off}");
    // Another incident on the other instance: its channel and summary go, its pin waits.
    let second = app.declare("sev3 Second").await;
    drain(&other, at(t0, 10_000)).await;
    assert_eq!(app.slack.channels().len(), 2, "other methods are not held");
    assert_eq!(app.slack.messages().len(), 2);
    assert_eq!(
        app.slack.count("pins.add"),
        1,
        "pins.add is held for everyone"
    );
    next_attempt(&app, second, "post_summary").await;
    drain(&other, at(t0, 31_000)).await;
    assert_eq!(app.slack.pins().len(), 2);
    assert_eq!(app.slack.count("pins.add"), 3);
}

/// Unpaced, an instance reads the holds at most once a second, not on every call: its
/// own 429 holds it back at once, another instance's once its copy is a second old.
async fn unpaced_a_429_holds_this_instance_at_once_and_another_within_a_second(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let other = other_instance(&app, &[]).await;
    // The workers' clock, ahead of the declarations below.
    let t0 = pompier::now() + Duration::seconds(1);
    // The other instance reads the holds (none) while it works.
    other_instance_declares(&app, &other, "sev3 Before", t0).await;
    assert_eq!(app.slack.count("pins.add"), 1);
    app.slack.fail("pins.add", [Failure::RateLimited(30)]);
    app.declare("sev3 Limited").await;
    drain(&app.worker, t0).await;
    assert_eq!(app.slack.count("pins.add"), 2, "the 429");
    let own = app.declare("sev3 Same instance").await;
    drain(&app.worker, at(t0, 1_000)).await;
    assert_eq!(app.slack.count("pins.add"), 2, "held here at once");
    next_attempt(&app, own, "post_summary").await;
    // Past a second, the other instance's copy is read again.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let elsewhere = other_instance_declares(&app, &other, "sev3 Elsewhere", at(t0, 2_000)).await;
    assert_eq!(app.slack.count("pins.add"), 2, "held on the other instance");
    next_attempt(&app, elsewhere, "post_summary").await;
}

/// Unpaced, a database that stalls on the held rows delays a call by the read's
/// deadline at most once a second: the setup still finishes within seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpaced_a_stalled_read_of_the_holds_does_not_hold_every_call() {
    if crate::helpers::skip(Backend::Postgres) {
        return;
    }
    let app = spawn_app_with(Backend::Postgres, &[]).await;
    // Another session keeps the rows locked for the whole test.
    let mut locker = <sqlx::PgConnection as sqlx::Connection>::connect(&app.db.url)
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
    sqlx::query("LOCK TABLE slack_pace IN ACCESS EXCLUSIVE MODE")
        .execute(&mut locker)
        .await
        .unwrap();
    let id = app.declare("sev3 Stalled pace").await;
    let start = std::time::Instant::now();
    let drained = tokio::time::timeout(
        std::time::Duration::from_secs(8),
        app.worker.drain(pompier::now()),
    )
    .await;
    assert!(
        drained.is_ok(),
        "still draining after {:?}",
        start.elapsed()
    );
    assert_eq!(app.slack.pins().len(), 1, "the setup went through");
    assert!(app
        .store
        .get(id)
        .await
        .unwrap()
        .unwrap()
        .summary_ts
        .is_some());
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
}

/// Declares `title` and drains `other`'s workers at `now`.
async fn other_instance_declares(
    app: &TestApp,
    other: &Worker,
    title: &str,
    now: DateTime<Utc>,
) -> IncidentId {
    let id = app.declare(title).await;
    drain(other, now).await;
    id
}

async fn a_refresh_made_pointless_by_a_newer_one_is_never_sent(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let id = app.declare("sev2 Checkout slow").await;
    app.run_pending_jobs().await;
    let channel = app
        .store
        .get(id)
        .await
        .unwrap()
        .unwrap()
        .channel_id
        .unwrap();
    let channel = channel.as_str();
    // The first refresh meets a 429: it waits, due, while three more changes come.
    app.slack.fail("chat.update", [Failure::RateLimited(5)]);
    app.slash_as("U0456", channel, "investigating looking")
        .await;
    app.run_pending_jobs().await;
    app.slash_as("U0456", channel, "lead <@U0777>").await;
    app.slash_as("U0456", channel, "mitigated").await;
    app.slash_as("U0456", channel, "resolved").await;
    let refreshes = app
        .store
        .jobs_of(id)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == "update_summary" && j.state != "done")
        .count();
    assert_eq!(
        refreshes, 1,
        "the waiting refresh stands for the newer ones"
    );
    app.run_jobs_at(pompier::now() + Duration::seconds(6)).await;
    let updates = app.slack.updates();
    assert_eq!(updates.len(), 1, "one refresh sent: {updates:?}");
    let shown = updates[0].body.to_string();
    assert!(
        shown.contains("resolved") && shown.contains("<@U0777>"),
        "as the incident is now: {shown}"
    );
    let told = app.slack.messages_in(channel).len();
    assert_eq!(told, 5, "the summary and the four changes, told once each");
}

crate::on_both_backends!(
    a_storm_is_paced_per_method_across_instances_sev1_first,
    a_severity_raised_moves_the_incidents_waiting_work_up,
    a_429_holds_its_method_back_on_every_instance_and_no_other,
    unpaced_a_429_holds_this_instance_at_once_and_another_within_a_second,
    a_refresh_made_pointless_by_a_newer_one_is_never_sent,
);
