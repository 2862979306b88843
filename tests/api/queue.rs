//! The job queue under what strands queues: a rate limit (the whole app's), a job of a
//! newer version, a dead job of one service, a lost answer for a private channel, the
//! operator's commands on a queue that is not there, delivery keys past their window.

use pompier::domain::IncidentId;
use pompier::outbox::{ConfluenceJob, Job, SlackJob};

use crate::fake_confluence::{Failure as PageFailure, FakeConfluence, SPACE_ID, TOKEN, USER};
use crate::fake_slack::{Failure, FakeSlack};
use crate::helpers::{spawn_app, start, Backend, TestDb};
use crate::process::cli;
use crate::slack_jobs::job_states;

fn later(secs: i64) -> chrono::DateTime<chrono::Utc> {
    pompier::now() + chrono::Duration::seconds(secs)
}

/// Runs `sql` on the test's database, as another program would.
pub async fn execute(db: &TestDb, sql: &str) {
    use sqlx::Connection;
    if db.url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    } else {
        let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
}

async fn a_rate_limit_holds_back_every_call_to_the_service(backend: Backend) {
    let app = spawn_app(backend).await;
    app.slack
        .fail("conversations.create", [Failure::RateLimited(30)]);
    for n in 0..4 {
        app.declare(&format!("Storm {n}")).await;
    }
    app.run_pending_jobs().await;
    // One call heard the 429; the others waited instead of asking too.
    assert_eq!(app.slack.count("conversations.create"), 1);
    assert_eq!(app.slack.channels().len(), 0);
    // Once Retry-After has passed, everything goes through.
    app.run_jobs_at(later(31)).await;
    assert_eq!(app.slack.channels().len(), 4);
    assert_eq!(app.slack.count("conversations.create"), 5);
}

async fn a_job_of_a_newer_version_is_handed_back_not_buried(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.declare("Rolling deploy").await;
    app.run_pending_jobs().await;
    // A newer pompier queued a kind this one does not know, then an older kind.
    execute(
        &app.db,
        &format!(
            "INSERT INTO jobs (incident_id, service, kind, payload, state, next_attempt_at, created_at) \
             VALUES ({id}, 'slack', 'page_out', '{{\"kind\":\"page_out\"}}', 'pending', \
             CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
            id = id.0
        ),
    )
    .await;
    app.store
        .queue(
            id,
            &[SlackJob::Post {
                text: "after it".into(),
            }
            .into()],
        )
        .await
        .unwrap();
    app.run_pending_jobs().await;
    let after = job_states(&app, id).await;
    assert!(
        after.contains(&("page_out".into(), "pending".into())),
        "{after:?}"
    );
    assert!(!after.iter().any(|(_, s)| s == "dead"), "{after:?}");
    // Nor does it run again before its pause is over.
    let tries = app.store.jobs_of(id).await.unwrap();
    let attempts = tries
        .iter()
        .find(|j| j.kind == "page_out")
        .unwrap()
        .attempts;
    app.run_pending_jobs().await;
    let again = app.store.jobs_of(id).await.unwrap();
    assert_eq!(
        again
            .iter()
            .find(|j| j.kind == "page_out")
            .unwrap()
            .attempts,
        attempts
    );
}

async fn a_dead_job_lets_the_next_of_its_own_service_run(backend: Backend) {
    let confluence = FakeConfluence::start().await;
    let db = TestDb::new(backend).await;
    let slack = FakeSlack::start().await;
    let app = start(
        db,
        slack,
        &[
            ("CONFLUENCE_BASE_URL", &confluence.url),
            ("CONFLUENCE_USER", USER),
            ("CONFLUENCE_API_TOKEN", TOKEN),
            ("CONFLUENCE_SPACE_ID", SPACE_ID),
        ],
    )
    .await;
    let id = app.declare("Two drafts").await;
    app.run_pending_jobs().await;
    confluence.fail("create", [PageFailure::Status(400)]);
    let draft: Job = ConfluenceJob::DraftPostmortem { by: "U0456".into() }.into();
    app.store.queue(id, &[draft.clone(), draft]).await.unwrap();
    app.run_pending_jobs().await;
    app.run_pending_jobs().await;
    let drafts: Vec<String> = job_states(&app, id)
        .await
        .into_iter()
        .filter(|(kind, _)| kind == "draft_postmortem")
        .map(|(_, s)| s)
        .collect();
    assert_eq!(drafts, ["dead", "done"]);
    assert_eq!(confluence.pages().len(), 1);
}

async fn a_private_channel_made_by_a_call_that_seemed_to_fail_is_taken_not_doubled(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    app.slack
        .fail("conversations.create", [Failure::AfterEffect(502)]);
    app.slash_as("U0456", "C0GENERAL", "open private Lost answer")
        .await;
    app.run_pending_jobs().await;
    app.run_jobs_at(later(60)).await;
    let channels = app.slack.channels();
    assert_eq!(channels.len(), 1, "{channels:?}");
    assert!(channels[0].private);
    let json = app.incident_json(IncidentId(1)).await;
    assert_eq!(json["channel_id"], channels[0].id.as_str());
}

async fn the_operators_commands_say_what_is_not_there(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.declare("Queue").await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pompier"))
        .args(["jobs", "retry", "4242"])
        .env_clear()
        .env("DATABASE_URL", &app.db.url)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("there is no job 4242"), "{said}");
    // A job that is not dead is said to be so.
    let first = app.store.jobs_of(id).await.unwrap()[0].id.to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pompier"))
        .args(["jobs", "retry", &first])
        .env_clear()
        .env("DATABASE_URL", &app.db.url)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("not dead"));
    assert!(cli(&app.db, &["jobs", "list"]).contains("create_channel"));
}

/// Where there is no database, `jobs list` says so and makes none.
#[test]
fn jobs_list_without_a_database_makes_none() {
    let dir = std::env::temp_dir().join(format!("pompier-nodb-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pompier"))
        .args(["jobs", "list"])
        .current_dir(&dir)
        .env_clear()
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("there is no database"), "{said}");
    assert!(!dir.join("pompier.db").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

async fn delivery_keys_are_forgotten_after_their_window(backend: Backend) {
    let app = spawn_app(backend).await;
    let two_hours_ago = later(-2 * 3600);
    for key in ["sig:a", "event:Ev1", "envelope:e1", "view:V1", "pin:C1:1.0"] {
        assert!(app.store.first_time(key, two_hours_ago).await.unwrap());
    }
    // The janitor runs when the workers start. It forgets one kind of key after the
    // other (`sig:`, `event:`, `envelope:`, `view:`): once the last is gone, so are
    // the others.
    let (db, slack) = app.into_parts().await;
    let app = start(db, slack, &[("POMPIER_JOBS__ENABLED", "true")]).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if app
            .store
            .first_time("view:V1", pompier::now())
            .await
            .unwrap()
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "keys past their window are kept forever"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for key in ["sig:a", "event:Ev1", "envelope:e1"] {
        assert!(
            app.store.first_time(key, pompier::now()).await.unwrap(),
            "{key}"
        );
    }
    // A message pinned again within the month is still captured once.
    assert!(!app
        .store
        .first_time("pin:C1:1.0", pompier::now())
        .await
        .unwrap());
    app.stop().await;
}

crate::on_both_backends!(
    a_rate_limit_holds_back_every_call_to_the_service,
    a_job_of_a_newer_version_is_handed_back_not_buried,
    a_dead_job_lets_the_next_of_its_own_service_run,
    a_private_channel_made_by_a_call_that_seemed_to_fail_is_taken_not_doubled,
    the_operators_commands_say_what_is_not_there,
    delivery_keys_are_forgotten_after_their_window,
);

/// Two instances on one PostgreSQL: a declaration on the one without workers reaches
/// the other's workers at once (`pg_notify`), not at their next poll a minute later.
#[tokio::test]
async fn jobs_queued_on_one_instance_wake_the_workers_of_another() {
    let web = spawn_app(Backend::Postgres).await;
    let settings = crate::helpers::settings(
        &web.db,
        &web.slack.url,
        &[
            ("POMPIER_JOBS__ENABLED", "true"),
            ("POMPIER_JOBS__POLL_INTERVAL_MS", "60000"),
        ],
    );
    let store = pompier::open_store(&settings).await.unwrap();
    let workers = pompier::app::App::new(store, settings)
        .unwrap()
        .worker
        .spawn();
    // Its first look at the queue, and its listener connected.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let started = std::time::Instant::now();
    web.declare("sev2 Declared on the web instance").await;
    let made = loop {
        let made = web
            .slack
            .calls()
            .iter()
            .any(|(m, _)| m == "conversations.create");
        if made || started.elapsed() > std::time::Duration::from_secs(5) {
            break made;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    workers.stop(std::time::Duration::from_secs(2)).await;
    assert!(made, "the other instance's workers slept until their poll");
}

/// An instance says "jobs queued" only when jobs were queued, at most once per gap
/// (20 ms) under a burst, and never leaves the last queuing of a burst unsaid.
#[tokio::test]
async fn queuings_are_said_at_most_once_per_gap_and_the_last_is_never_lost() {
    use std::time::{Duration, Instant};
    let db = TestDb::new(Backend::Postgres).await;
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let mut listener = sqlx::postgres::PgListener::connect(&db.url).await.unwrap();
    listener.listen("pompier_jobs").await.unwrap();
    let queued = std::sync::Arc::new(tokio::sync::Notify::new());
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let announcer = tokio::spawn(pompier::jobs::wake::announce(
        pool,
        queued.clone(),
        stopping,
    ));
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Nothing queued: nothing said.
    let quiet = tokio::time::timeout(Duration::from_millis(100), listener.recv()).await;
    assert!(quiet.is_err(), "said with nothing queued");
    // A burst: a queuing every 2 ms for 100 ms.
    let burst = async {
        let (started, mut last) = (Instant::now(), Instant::now());
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(2)).await;
            last = Instant::now();
            queued.notify_waiters();
        }
        (started, last)
    };
    let heard = async {
        let mut heard = Vec::new();
        while let Ok(n) = tokio::time::timeout(Duration::from_secs(1), listener.recv()).await {
            n.unwrap();
            heard.push(Instant::now());
        }
        heard
    };
    let ((started, last_queued), heard) = tokio::join!(burst, heard);
    let _ = stop.send(true);
    announcer.await.unwrap();
    assert!(heard.len() >= 2, "the burst was said {} times", heard.len());
    let at_most = last_queued.duration_since(started).as_millis() / 20 + 2;
    assert!(
        heard.len() as u128 <= at_most,
        "said {} times over {:?}: not held to once per gap",
        heard.len(),
        last_queued.duration_since(started)
    );
    assert!(
        *heard.last().unwrap() > last_queued,
        "the burst's last queuing was never said"
    );
    db.drop_now().await;
}

/// PostgreSQL without statistics of a queue that grew at once (a storm, the end of an
/// outage, a new database) sorts every due job to claim one, and each claim costs more as
/// the queue grows. A slow claim refreshes the statistics at once, not 1,000 claims later.
#[tokio::test]
async fn a_slow_claim_refreshes_the_queues_statistics() {
    let app = spawn_app(Backend::Postgres).await;
    let id = app.declare("Burst").await;
    execute(&app.db, "ALTER TABLE jobs SET (autovacuum_enabled = false)").await;
    // 50,000 jobs queued at once for later (a retry's backoff), never analyzed.
    execute(
        &app.db,
        &format!(
            "INSERT INTO jobs (incident_id, service, kind, payload, state, next_attempt_at, \
             created_at) SELECT {id}, 'slack', 'post', '{{}}', 'pending', \
             now() + interval '1 hour', now() FROM generate_series(1, 50000)",
            id = id.0
        ),
    )
    .await;
    let known = || async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&app.db.url).await.unwrap();
        let tuples: f32 =
            sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE relname = 'jobs'")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        tuples
    };
    assert!(
        known().await < 0.0,
        "the queue was analyzed before its claims"
    );
    // The server counts the rows changed once the inserting session has ended.
    let changed = || async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&app.db.url).await.unwrap();
        let n: i64 = sqlx::query_scalar(
            "SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = 'jobs'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        n
    };
    let started = std::time::Instant::now();
    while changed().await < 50000 {
        assert!(
            started.elapsed().as_secs() < 10,
            "the server never counted the burst"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    app.run_pending_jobs().await;
    assert!(known().await > 40000.0, "the statistics were not refreshed");
    // Fresh now: not taken again.
    assert!(!app.store.refresh_job_stats().await.unwrap());
    assert!(
        app.slack.channels().len() == 1,
        "the declaration's setup did not run"
    );
}
