//! Faults, with real processes where a process is what fails: SIGTERM with a silent
//! Slack and stalled clients, SIGKILL mid-call, hundreds of stalled connections, jobs
//! queued while the workers are busy.

use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use reqwest::StatusCode;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::fake_slack::{Failure, FakeSlack};
use crate::helpers::{spawn_app_with, start, Backend, TestDb};
use crate::process::Server;

/// Opens `n` connections to `address` that each send part of a request and then stall:
/// half stop inside the headers, half inside a large signed-looking body.
async fn stall(address: &str, n: usize) -> Vec<TcpStream> {
    let host = address.trim_start_matches("http://");
    let mut held = Vec::with_capacity(n);
    for i in 0..n {
        let mut s = TcpStream::connect(host).await.expect("connect");
        let partial = if i % 2 == 0 {
            "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ".to_string()
        } else {
            "POST /slack/commands HTTP/1.1\r\nHost: x\r\nContent-Type: \
             application/x-www-form-urlencoded\r\nContent-Length: 1048576\r\n\r\ntext=open"
                .to_string()
        };
        s.write_all(partial.as_bytes()).await.expect("write");
        held.push(s);
    }
    held
}

async fn sigterm_exits_within_the_grace_time_whatever_slack_and_clients_do(backend: Backend) {
    let db = TestDb::new(backend).await;
    let slack = FakeSlack::start().await;
    slack.fail("conversations.create", (0..3).map(|_| Failure::Hang));
    let mut server = Server::start(
        &db,
        &slack.url,
        &[("POMPIER_JOBS__SHUTDOWN_GRACE_SECS", "2")],
    )
    .await;
    for i in 0..3 {
        server.slash(&format!("open Stuck {i}")).await;
    }
    let _stalled = stall(&server.address, 50).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while slack.count("conversations.create") < 3 {
        assert!(Instant::now() < deadline, "the jobs never reached Slack");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.signal(Signal::SIGTERM);
    let (status, took) = server.wait(Duration::from_secs(6)).await;
    let status = status.expect("pompier exits after SIGTERM");
    assert!(status.success(), "{status:?}");
    assert!(
        took < Duration::from_secs(3),
        "grace 2 s + 1 s, took {took:?}"
    );
    // The unfinished jobs' leases were released: they run again at once, not after it.
    let app = start(db, slack, &[]).await;
    app.run_pending_jobs().await;
    assert_eq!(app.slack.channels().len(), 3);
}

async fn a_job_of_a_killed_process_runs_again_within_15_s(backend: Backend) {
    let db = TestDb::new(backend).await;
    let slack = FakeSlack::start().await;
    slack.fail("conversations.create", [Failure::Hang]);
    let first = Server::start(&db, &slack.url, &[]).await;
    let reply = first.slash("open Killed mid-call").await;
    assert_eq!(reply["response_type"], "in_channel");
    let deadline = Instant::now() + Duration::from_secs(10);
    while slack.count("conversations.create") < 1 {
        assert!(Instant::now() < deadline, "the job never reached Slack");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.signal(Signal::SIGKILL);
    let killed = Instant::now();
    drop(first);
    let _second = Server::start(&db, &slack.url, &[]).await;
    while slack.pins().is_empty() {
        assert!(
            killed.elapsed() < Duration::from_secs(15),
            "the job did not run again within 15 s of the kill"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        slack.channels().len(),
        1,
        "one channel, the acknowledged incident kept"
    );
}

async fn stalled_connections_do_not_keep_pompier_from_answering(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("POMPIER_HTTP__HEADER_READ_TIMEOUT_SECS", "2"),
            ("POMPIER_HTTP__REQUEST_TIMEOUT_SECS", "3"),
        ],
    )
    .await;
    app.declare_in("C0123", "sev2 Under attack").await;
    let mut stalled = stall(&app.address, 500).await;
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let started = Instant::now();
    let health = quick
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("healthz answers");
    assert_eq!(health.status(), StatusCode::OK);
    let reply = app.slash("status").await;
    assert!(
        reply["text"].as_str().unwrap().contains("Under attack"),
        "{reply}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    // Past their deadlines, stalled clients are let go.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut closed = 0;
    for s in stalled.iter_mut() {
        let mut buf = [0u8; 512];
        match tokio::time::timeout(
            Duration::from_millis(50),
            tokio::io::AsyncReadExt::read(s, &mut buf),
        )
        .await
        {
            // Closed, reset, or told 408.
            Ok(Ok(0)) | Ok(Err(_)) => closed += 1,
            Ok(Ok(n)) if buf[..n].starts_with(b"HTTP/1.1 408") => closed += 1,
            _ => {}
        }
    }
    assert_eq!(closed, stalled.len(), "every stalled client was cut off");
}

async fn a_job_queued_while_workers_are_busy_runs_at_once(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("POMPIER_JOBS__ENABLED", "true"),
            ("POMPIER_JOBS__CONCURRENCY", "1"),
            ("POMPIER_JOBS__POLL_INTERVAL_MS", "60000"),
        ],
    )
    .await;
    app.slack.fail("conversations.create", [Failure::Slow(500)]);
    let started = Instant::now();
    app.declare("First").await;
    app.declare("Second, while the worker is busy").await;
    while app.slack.pins().len() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "jobs waited for the poll interval"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.stop().await;
}

crate::on_both_backends!(
    no_secret_reaches_the_log,
    sigterm_exits_within_the_grace_time_whatever_slack_and_clients_do,
    a_job_of_a_killed_process_runs_again_within_15_s,
    stalled_connections_do_not_keep_pompier_from_answering,
    a_job_queued_while_workers_are_busy_runs_at_once,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_serve_on_one_sqlite_file_is_refused() {
    let app = crate::helpers::spawn_app(Backend::Sqlite).await;
    let settings = crate::helpers::settings(&app.db, &app.slack.url, &[]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let second = tokio::time::timeout(
        Duration::from_secs(10),
        pompier::run(settings.clone(), listener, std::future::pending()),
    )
    .await
    .expect("refused at once, not served");
    let err = format!("{:#}", second.unwrap_err());
    assert!(err.contains("another pompier serve"), "{err}");
    // Nor through a symbolic link to the same file.
    let file = app.db.url.trim_start_matches("sqlite://").to_owned();
    let link = format!("{file}.link.db");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    let linked = format!("sqlite://{link}");
    let settings = crate::helpers::settings(&app.db, &app.slack.url, &[("DATABASE_URL", &linked)]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let through_link = tokio::time::timeout(
        Duration::from_secs(10),
        pompier::run(settings, listener, std::future::pending()),
    )
    .await
    .expect("refused at once, not served");
    let _ = std::fs::remove_file(&link);
    let err = format!("{:#}", through_link.unwrap_err());
    assert!(err.contains("another pompier serve"), "{err}");
    // Once the first stops, the file is free again.
    let (db, slack) = app.into_parts().await;
    let again = start(db, slack, &[]).await;
    again.stop().await;
}

/// A whole run at `debug`, every secret set: not one reaches the log.
async fn no_secret_reaches_the_log(backend: Backend) {
    use crate::fake_confluence::{FakeConfluence, SPACE_ID, TOKEN as CONFLUENCE_TOKEN, USER};
    let db = TestDb::new(backend).await;
    let slack = FakeSlack::start().await;
    let confluence = FakeConfluence::start().await;
    let log_path = std::env::temp_dir().join(format!("pompier-log-{}.txt", uuid::Uuid::new_v4()));
    let log = std::fs::File::create(&log_path).unwrap();
    let secrets = [
        crate::fake_slack::BOT_TOKEN,
        crate::helpers::SIGNING_SECRET,
        crate::helpers::API_TOKEN,
        CONFLUENCE_TOKEN,
        "xapp-never-in-a-log",
    ];
    let mut server = Server::start_logging(
        &db,
        &slack.url,
        &[
            ("RUST_LOG", "debug"),
            ("SLACK_APP_TOKEN", "xapp-never-in-a-log"),
            ("CONFLUENCE_BASE_URL", &confluence.url),
            ("CONFLUENCE_USER", USER),
            ("CONFLUENCE_API_TOKEN", CONFLUENCE_TOKEN),
            ("CONFLUENCE_SPACE_ID", SPACE_ID),
        ],
        log.into(),
    )
    .await;
    server.slash("open sev1 Logged").await;
    for text in ["1 investigating", "1 resolved", "1 postmortem", "1 status"] {
        server.slash(text).await;
    }
    // Refused requests, and the API with and without its token.
    let client = reqwest::Client::new();
    let _ = client
        .post(server.url("/slack/commands"))
        .header("x-slack-request-timestamp", "1")
        .header("x-slack-signature", "v0=00")
        .body("text=open+x")
        .send()
        .await;
    for token in [crate::helpers::API_TOKEN, "wrong"] {
        let _ = client
            .get(server.url("/api/v1/incidents/1"))
            .bearer_auth(token)
            .header("x-request-id", "req-42")
            .send()
            .await;
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    while confluence.pages().is_empty() {
        assert!(Instant::now() < deadline, "the page was never made");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.signal(Signal::SIGTERM);
    server.wait(Duration::from_secs(5)).await;
    let logged = std::fs::read_to_string(&log_path).unwrap();
    let _ = std::fs::remove_file(&log_path);
    assert!(logged.lines().count() > 20, "a debug run logs: {logged}");
    assert!(
        logged.contains("req-42"),
        "the request id is on the request's lines"
    );
    assert!(
        !logged.contains("\u{1b}["),
        "no colour codes off a terminal"
    );
    for secret in secrets {
        assert!(!logged.contains(secret), "{secret} in the log");
    }
}

/// A TCP proxy to PostgreSQL that a test can cut (every connection dropped, new ones
/// refused) and restore: a database outage without stopping the machine's server.
struct CutProxy {
    port: u16,
    up: Arc<std::sync::atomic::AtomicBool>,
    open: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl CutProxy {
    async fn start(upstream: &str) -> CutProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let open: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (upstream, flag, tasks) = (upstream.to_owned(), up.clone(), open.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !flag.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // dropped: refused
                }
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().unwrap().push(task.abort_handle());
            }
        });
        CutProxy { port, up, open }
    }

    fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for task in self.open.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_under_load_loses_no_acknowledged_command() {
    if crate::helpers::skip(Backend::Postgres) {
        return;
    }
    let db = TestDb::new(Backend::Postgres).await;
    let proxy = CutProxy::start("127.0.0.1:5432").await;
    let via_proxy = db
        .url
        .replace("127.0.0.1:5432", &format!("127.0.0.1:{}", proxy.port));
    let slack = FakeSlack::start().await;
    let app = start(db, slack, &[("DATABASE_URL", &via_proxy)]).await;
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let mut acknowledged = Vec::new();
    let mut refused = 0;
    for round in 0..90 {
        if round == 30 {
            proxy.cut();
            let ready = quick.get(app.url("/readyz")).send().await.unwrap();
            assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
        }
        if round == 60 {
            proxy.restore();
        }
        let started = Instant::now();
        let body =
            crate::helpers::command_body("U0456", "C0OPS", &format!("open Outage test {round}"));
        let ts = crate::helpers::now_ts().to_string();
        let sig = pompier::slack::verify::sign(
            crate::helpers::SIGNING_SECRET.as_bytes(),
            &ts,
            body.as_bytes(),
        );
        let reply: serde_json::Value = quick
            .post(app.url("/slack/commands"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts)
            .header("x-slack-signature", sig)
            .body(body)
            .send()
            .await
            .expect("answered within 3 s, never a hang")
            .json()
            .await
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(3));
        let text = reply["text"].as_str().unwrap_or_default().to_owned();
        if reply["response_type"] == "in_channel" {
            let number: i64 = text
                .split("*#")
                .nth(1)
                .and_then(|t| t.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("a number in {text}"));
            acknowledged.push((number, round));
        } else {
            assert_eq!(reply["response_type"], "ephemeral");
            assert!(text.contains("database"), "a clear error: {text}");
            refused += 1;
        }
    }
    assert!(refused > 0, "the outage was felt");
    assert!(
        acknowledged.iter().any(|(_, r)| *r >= 60),
        "pompier recovered without a restart"
    );
    let ready = quick.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    // Every command that got a success reply is in the database.
    for (number, round) in &acknowledged {
        let incident = app
            .store
            .get(pompier::domain::IncidentId(*number))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("#{number}, acknowledged in round {round}, is lost"));
        assert_eq!(incident.title, format!("Outage test {round}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_one_killed_mid_run_make_nothing_twice() {
    if crate::helpers::skip(Backend::Postgres) {
        return;
    }
    let db = TestDb::new(Backend::Postgres).await;
    let slack = FakeSlack::start().await;
    // Slack is slow: the instance killed has calls in flight.
    slack.fail("conversations.create", (0..12).map(|_| Failure::Slow(400)));
    slack.fail("chat.postMessage", (0..12).map(|_| Failure::Slow(200)));
    let a = Server::start(&db, &slack.url, &[]).await;
    let b = Server::start(&db, &slack.url, &[]).await;
    let mut numbers = Vec::new();
    for i in 0..24 {
        let server = if i % 2 == 0 { &a } else { &b };
        if i == 12 {
            a.signal(Signal::SIGKILL);
        }
        let server = if i >= 12 { &b } else { server };
        let reply = server.slash(&format!("open Two instances {i}")).await;
        let text = reply["text"].as_str().unwrap().to_owned();
        let number: i64 = text
            .split("*#")
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        numbers.push(number);
    }
    drop(a);
    let mut unique = numbers.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        numbers.len(),
        "incident numbers are unique: {numbers:?}"
    );
    // The survivor finishes the dead one's jobs: every incident gets its channel and its
    // pinned summary, once.
    let deadline = Instant::now() + Duration::from_secs(40);
    while slack.pins().len() < 24 {
        assert!(
            Instant::now() < deadline,
            "only {} summaries pinned",
            slack.pins().len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let channels = slack.channels();
    assert_eq!(channels.len(), 24, "no duplicate channel");
    for channel in &channels {
        assert_eq!(
            slack.messages_in(&channel.id).len(),
            1,
            "one summary in {}",
            channel.name
        );
    }
    let mut pins = slack.pins();
    pins.sort();
    pins.dedup();
    assert_eq!(pins.len(), 24);
    drop(b);
}
