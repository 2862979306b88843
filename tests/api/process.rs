//! The real `pompier` binary in a process of its own, for the faults that only a process
//! shows: SIGTERM, SIGKILL, stalled connections against the real accept loop.

use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::fake_slack::BOT_TOKEN;
use crate::helpers::{command_body, free_port, TestDb, API_TOKEN, SIGNING_SECRET};

pub struct Server {
    child: Child,
    pub address: String,
    pub client: reqwest::Client,
}

impl Server {
    /// `pompier serve` on `db` against the Slack at `slack_url`, with workers on, once
    /// it answers `/healthz`.
    pub async fn start(db: &TestDb, slack_url: &str, extra: &[(&str, &str)]) -> Server {
        Server::start_logging(db, slack_url, extra, Stdio::inherit()).await
    }

    /// Like `start`, its log written to `log`.
    pub async fn start_logging(
        db: &TestDb,
        slack_url: &str,
        extra: &[(&str, &str)],
        log: Stdio,
    ) -> Server {
        let port = free_port();
        let mut env: Vec<(String, String)> = vec![
            ("DATABASE_URL".into(), db.url.clone()),
            ("SLACK_API_URL".into(), slack_url.into()),
            ("SLACK_BOT_TOKEN".into(), BOT_TOKEN.into()),
            ("SLACK_SIGNING_SECRET".into(), SIGNING_SECRET.into()),
            ("POMPIER_API_TOKEN".into(), API_TOKEN.into()),
            ("POMPIER_LISTEN".into(), format!("127.0.0.1:{port}")),
            ("POMPIER_JOBS__POLL_INTERVAL_MS".into(), "100".into()),
            ("POMPIER_SLACK__TIMEOUT_SECS".into(), "30".into()),
            // Slack's tiers are paced where a test says so (see `helpers::settings`).
            ("POMPIER_SLACK__PACE_PERCENT".into(), "0".into()),
            ("RUST_LOG".into(), "warn".into()),
        ];
        for (k, v) in extra {
            env.retain(|(name, _)| name != k);
            env.push((k.to_string(), v.to_string()));
        }
        let child = Command::new(env!("CARGO_BIN_EXE_pompier"))
            .arg("serve")
            .env_clear()
            .envs(env)
            .stdin(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start pompier");
        let server = Server {
            child,
            address: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = server.client.get(server.url("/healthz")).send().await {
                if r.status().is_success() {
                    return server;
                }
            }
            assert!(Instant::now() < deadline, "pompier did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `/incident TEXT` by U0456 in C0123, signed; the reply.
    pub async fn slash(&self, text: &str) -> serde_json::Value {
        let body = command_body("U0456", "C0123", text);
        let ts = chrono::Utc::now().timestamp().to_string();
        let signature =
            pompier::slack::verify::sign(SIGNING_SECRET.as_bytes(), &ts, body.as_bytes());
        self.client
            .post(self.url("/slack/commands"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts)
            .header("x-slack-signature", signature)
            .body(body)
            .send()
            .await
            .expect("the command is answered")
            .json()
            .await
            .unwrap()
    }

    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), signal).unwrap();
    }

    /// Waits up to `limit` for the process to exit; its status and how long it took.
    pub async fn wait(&mut self, limit: Duration) -> (Option<ExitStatus>, Duration) {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (Some(status), started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (None, started.elapsed())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `pompier ARGS` on `db`; what it printed. Panics if it failed.
pub fn cli(db: &TestDb, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_pompier"))
        .args(args)
        .env_clear()
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("run pompier");
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "pompier {args:?}: {printed} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    printed
}
