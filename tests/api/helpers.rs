//! The test harness: each test gets its own database (a PostgreSQL database or a SQLite
//! file), the real server on port 0, and typed helpers to talk to it.

use std::sync::OnceLock;

use pompier::config::Settings;
use pompier::domain::{ChannelId, IncidentId};
use pompier::jobs::Worker;
use pompier::slack::verify::sign;
use pompier::store::Store;
use pompier::App;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::fake_slack::{FakeSlack, BOT_TOKEN};

pub const SIGNING_SECRET: &str = "test-signing-secret";
pub const API_TOKEN: &str = "test-api-token";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// Where the PostgreSQL tests create their databases.
fn postgres_admin_url() -> String {
    std::env::var("POMPIER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// PostgreSQL tests run unless a developer opts out; CI never may.
pub fn skip(backend: Backend) -> bool {
    if backend != Backend::Postgres || std::env::var("POMPIER_TEST_SKIP_POSTGRES").is_err() {
        return false;
    }
    assert!(
        std::env::var("CI").is_err(),
        "POMPIER_TEST_SKIP_POSTGRES is set in CI, where the PostgreSQL tests must run"
    );
    static SAID: OnceLock<()> = OnceLock::new();
    SAID.get_or_init(|| eprintln!("POMPIER_TEST_SKIP_POSTGRES is set: skipping PostgreSQL tests"));
    true
}

/// Runs each named `async fn(Backend)` of the calling module on PostgreSQL and on SQLite.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if !$crate::helpers::skip($crate::helpers::Backend::Postgres) {
                        super::$name($crate::helpers::Backend::Postgres).await
                    }
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
    };
}

/// A database of one test's own, removed when the test ends.
pub struct TestDb {
    pub url: String,
    backend: Backend,
    name: String,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        let name = format!("pompier_test_{}", uuid::Uuid::new_v4().simple());
        match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("{name}.db"));
                TestDb {
                    url: format!("sqlite://{}", path.display()),
                    backend,
                    name: path.display().to_string(),
                }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
                    .await
                    .unwrap_or_else(|e| {
                        panic!(
                            "PostgreSQL is unreachable at {admin} ({e}). Start it (see README), \
                             point POMPIER_TEST_POSTGRES_URL at one, or set \
                             POMPIER_TEST_SKIP_POSTGRES=1 to skip these tests outside CI."
                        )
                    });
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("cannot create a test database");
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
                TestDb {
                    url: format!("{base}/{name}"),
                    backend,
                    name,
                }
            }
        }
    }

    /// Makes the database unreachable, for readiness tests.
    pub async fn drop_now(&self) {
        if self.backend == Backend::Postgres {
            drop_postgres(&self.name).await;
        }
    }
}

async fn drop_postgres(name: &str) {
    if let Ok(mut conn) =
        <sqlx::PgConnection as sqlx::Connection>::connect(&postgres_admin_url()).await
    {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await;
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match self.backend {
            Backend::Sqlite => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", self.name));
                }
            }
            Backend::Postgres => {
                let name = self.name.clone();
                // Drop cannot await: do it on a thread of its own.
                let _ = std::thread::spawn(move || {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap()
                        .block_on(drop_postgres(&name))
                })
                .join();
            }
        }
    }
}

/// Settings as a user would give them, through the environment. Workers are off: tests
/// drain the queue themselves with `run_pending_jobs`.
pub fn settings(db: &TestDb, slack_url: &str, extra: &[(&str, &str)]) -> Settings {
    let mut env: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), db.url.clone()),
        ("SLACK_API_URL".into(), slack_url.into()),
        ("SLACK_BOT_TOKEN".into(), BOT_TOKEN.into()),
        ("POMPIER_JOBS__ENABLED".into(), "false".into()),
        ("POMPIER_JOBS__LEASE_SECS".into(), "30".into()),
        ("POMPIER_JOBS__SHUTDOWN_GRACE_SECS".into(), "2".into()),
        ("POMPIER_SLACK__TIMEOUT_SECS".into(), "2".into()),
        // Most tests declare several incidents in a second, as a storm does: Slack's
        // tiers are paced where a test says so (`pace.rs`). A 429 still holds a method.
        ("POMPIER_SLACK__PACE_PERCENT".into(), "0".into()),
        ("POMPIER_LISTEN".into(), "127.0.0.1:0".into()),
        ("SLACK_SIGNING_SECRET".into(), SIGNING_SECRET.into()),
        ("POMPIER_API_TOKEN".into(), API_TOKEN.into()),
        ("POMPIER_LIFECYCLE__ROLES".into(), "[\"scribe\"]".into()),
    ];
    for (k, v) in extra {
        env.retain(|(name, _)| name != k);
        env.push((k.to_string(), v.to_string()));
    }
    Settings::load(None, env).expect("test settings")
}

pub struct TestApp {
    pub address: String,
    pub store: Store,
    pub client: reqwest::Client,
    pub slack: FakeSlack,
    /// The server's own job worker: tests drain the queue with it.
    pub worker: Worker,
    /// The server's incidents service: tests run the cadence's sweep with it, at the
    /// time they choose.
    pub incidents: pompier::incidents::Incidents,
    pub db: TestDb,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[]).await
}

/// The app with extra environment variables (`("POMPIER_API_TOKEN", "")` unsets one).
pub async fn spawn_app_with(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
    let db = TestDb::new(backend).await;
    let slack = FakeSlack::start().await;
    start(db, slack, extra).await
}

/// Starts the server on `db`, talking to `slack`.
/// A value of `extra` may name the server's own address as `{address}`
/// (`POMPIER_PUBLIC_URL`).
pub async fn start(db: TestDb, slack: FakeSlack, extra: &[(&str, &str)]) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let extra: Vec<(&str, String)> = extra
        .iter()
        .map(|(k, v)| (*k, v.replace("{address}", &address)))
        .collect();
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let settings = settings(&db, &slack.url, &extra);
    let store = pompier::open_store(&settings)
        .await
        .expect("open test store");
    let (stop, stopped) = oneshot::channel::<()>();
    let app = App::new(store.clone(), settings).expect("the app");
    let worker = app.worker.clone();
    let incidents = app.state.incidents.clone();
    let server = tokio::spawn(pompier::serve(app, listener, async {
        let _ = stopped.await;
    }));
    TestApp {
        address,
        store,
        client: reqwest::Client::new(),
        slack,
        worker,
        incidents,
        db,
        stop: Some(stop),
        server: Some(server),
    }
}

/// A slash command's form body, as Slack encodes it.
pub fn command_body(user: &str, channel: &str, text: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("token", "deprecated")
        .append_pair("team_id", "T0001")
        .append_pair("channel_id", channel)
        .append_pair("channel_name", "test")
        .append_pair("user_id", user)
        .append_pair("user_name", "someone")
        .append_pair("command", "/incident")
        .append_pair("text", text)
        .append_pair("response_url", "https://hooks.slack.com/commands/1/2/3")
        // Each command Slack sends has a trigger of its own (so its own signature).
        .append_pair(
            "trigger_id",
            &format!("13345224609.738474920.{}", uuid::Uuid::new_v4().simple()),
        )
        .finish()
}

pub fn now_ts() -> i64 {
    chrono::Utc::now().timestamp()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Posts `body` to `path` signed with `secret` at `timestamp`.
    pub async fn post_signed_as(
        &self,
        path: &str,
        body: impl Into<Vec<u8>>,
        secret: &str,
        timestamp: i64,
    ) -> reqwest::Response {
        let body = body.into();
        let ts = timestamp.to_string();
        self.client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", &ts)
            .header("x-slack-signature", sign(secret.as_bytes(), &ts, &body))
            .body(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_signed(&self, path: &str, body: impl Into<Vec<u8>>) -> reqwest::Response {
        self.post_signed_as(path, body, SIGNING_SECRET, now_ts())
            .await
    }

    /// `/incident TEXT` typed by `user` in `channel`; the HTTP status and Slack reply.
    pub async fn slash_as(&self, user: &str, channel: &str, text: &str) -> (StatusCode, Value) {
        let response = self
            .post_signed("/slack/commands", command_body(user, channel, text))
            .await;
        let status = response.status();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// `/incident TEXT` by U0456 in C0123; asserts HTTP 200 and returns the reply.
    pub async fn slash(&self, text: &str) -> Value {
        let (status, body) = self.slash_as("U0456", "C0123", text).await;
        assert_eq!(status, StatusCode::OK, "/incident {text}: {body}");
        body
    }

    /// Declares an incident by slash command and returns its number.
    pub async fn declare(&self, text: &str) -> IncidentId {
        let reply = self.slash(&format!("open {text}")).await;
        assert_eq!(reply["response_type"], "in_channel", "{reply}");
        let page = self
            .store
            .list(&pompier::store::Filter {
                limit: 1,
                ..Default::default()
            })
            .await
            .unwrap();
        page.incidents[0].id
    }

    /// Declares an incident and gives it channel `channel`, as the Slack worker would.
    pub async fn declare_in(&self, channel: &str, text: &str) -> IncidentId {
        let id = self.declare(text).await;
        let channel: ChannelId = channel.parse().unwrap();
        self.store.set_channel(id, &channel).await.unwrap();
        id
    }

    pub async fn api_get_with(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// POSTs `body` (JSON) to an API path with `token`: the status and the JSON answer.
    pub async fn api_post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A new API token named `name` with `scopes`, as `pompier tokens create` makes it.
    pub async fn token(&self, name: &str, scopes: &[pompier::tokens::Scope]) -> String {
        let token = pompier::tokens::generate();
        self.store
            .create_token(name, &pompier::tokens::hash(&token), scopes, pompier::now())
            .await
            .unwrap();
        token
    }

    /// `user` presses button `action` with `value` in `channel`, as Slack delivers it.
    pub async fn click(&self, user: &str, channel: &str, action: &str, value: &str) {
        let payload = serde_json::json!({"type": "block_actions", "user": {"id": user},
            "trigger_id": "1.2.3", "action_ts": uuid::Uuid::new_v4().to_string(),
            "channel": {"id": channel}, "response_url": self.slack.response_url(),
            "actions": [{"type": "button", "action_id": action, "value": value}]});
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish();
        let r = self.post_signed("/slack/interactions", body).await;
        assert_eq!(r.status(), 200);
    }

    /// What the response_url has heard, once `n` answers reached it.
    pub async fn responses(&self, n: usize) -> Vec<Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while self.slack.responses().len() < n {
            assert!(std::time::Instant::now() < deadline, "no answer to a click");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        self.slack.responses()
    }

    /// GETs an API path with the right token; asserts 200.
    pub async fn api_get(&self, path: &str) -> Value {
        let (status, body) = self.api_get_with(path, Some(API_TOKEN)).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    /// The text of `/metrics`.
    pub async fn metrics(&self) -> String {
        let response = self
            .client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("request");
        response.text().await.expect("metrics text")
    }

    /// The body of `GET path` with the API token (a dashboard or scoreboard page).
    pub async fn page_text(&self, path: &str) -> String {
        self.client
            .get(self.url(path))
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .expect("request")
            .text()
            .await
            .expect("page text")
    }

    /// Every message posted to `channel`, as one JSON text.
    pub fn told(&self, channel: &str) -> String {
        let bodies: Vec<Value> = self
            .slack
            .messages_in(channel)
            .iter()
            .map(|m| m.body.clone())
            .collect();
        serde_json::to_string(&bodies).unwrap()
    }

    /// The sum of the `/metrics` series named `name` whose labels include `labels`.
    pub async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        metric_in(&self.metrics().await, name, labels)
    }

    /// The audit trail, oldest first: (actor, action, detail) of each act.
    pub async fn audit_trail(&self) -> Vec<(String, String, String)> {
        let (_, trail) = self.api_get_with("/api/v1/audit", Some(API_TOKEN)).await;
        trail["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| {
                let field = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
                (field("actor"), field("action"), field("detail"))
            })
            .collect()
    }

    pub async fn incident_json(&self, id: IncidentId) -> Value {
        self.api_get(&format!("/api/v1/incidents/{id}")).await
    }

    /// Every incident and event stored, to check that a refused request left no trace.
    pub async fn trace_count(&self) -> (usize, usize) {
        let page = self
            .store
            .list(&pompier::store::Filter {
                limit: 10_000,
                ..Default::default()
            })
            .await
            .unwrap();
        let mut events = 0;
        for incident in &page.incidents {
            events += self.store.timeline(incident.id).await.unwrap().len();
        }
        (page.incidents.len(), events)
    }

    async fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
        self.store.close().await;
    }

    pub async fn stop(mut self) {
        self.shut_down().await;
    }

    /// Stops this app; its database and fake Slack.
    pub async fn into_parts(mut self) -> (TestDb, FakeSlack) {
        self.shut_down().await;
        let TestApp { db, slack, .. } = self;
        (db, slack)
    }

    /// Stops this app and starts another on the same database and fake Slack.
    pub async fn restart(mut self, extra: &[(&str, &str)]) -> TestApp {
        self.shut_down().await;
        let TestApp { db, slack, .. } = self;
        start(db, slack, extra).await
    }

    /// Runs every job due now, as the workers would; how many ran.
    pub async fn run_pending_jobs(&self) -> usize {
        self.run_jobs_at(pompier::now()).await
    }

    /// Runs every job due at `at`: a later time lets backoffs and leases expire.
    pub async fn run_jobs_at(&self, at: chrono::DateTime<chrono::Utc>) -> usize {
        self.worker.drain(at).await.unwrap()
    }
}

/// The sum of the series named `name` in the metrics text `text` whose labels include
/// `labels`.
pub fn metric_in(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, rest) = series.split_once('{').unwrap_or((series, "}"));
            let wanted = series_name == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
            wanted.then(|| value.parse::<f64>().ok()).flatten()
        })
        .sum()
}

/// A child process killed (and reaped) when the test ends, however it ends.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port free right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether the outside `programs` a test drives are installed: without them the test
/// is skipped (saying what to install), except in CI, where `.ci/run` installs them.
pub fn can_run(programs: &[&str], install: &str) -> bool {
    if programs.iter().all(|p| installed(p)) {
        return true;
    }
    assert!(
        std::env::var("CI").is_err(),
        "CI must have {programs:?}: .ci/run installs them"
    );
    eprintln!("{programs:?} missing: skipping (apt-get install {install})");
    false
}

/// Whether `program --version` runs.
fn installed(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `pompier check` with only `env`: its exit and what it printed.
pub async fn pompier_check(env: Vec<(&'static str, String)>) -> (Option<i32>, String) {
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_pompier"))
            .arg("check")
            .env_clear()
            .envs(env)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}
