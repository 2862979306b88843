//! `--viewers N`: N people watching one game day board (Server-Sent Events) at once.
//! Once every one has the board, it says so (`connected`), then changes the board
//! `--changes` times (a drill of a new team each time, by a signed slash command) and
//! times how long each change takes to reach each viewer; then it holds the viewers
//! open `--hold` seconds (for a load run beside them) and stops.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

/// When each viewer saw each mark: `seen[mark][viewer]`.
type Seen = Arc<Mutex<Vec<Vec<Option<Instant>>>>>;

/// How long a change may take to reach every viewer before it counts as missed.
const DEADLINE: Duration = Duration::from_secs(10);

pub async fn run(
    url: &str,
    token: &str,
    secret: &str,
    board: i64,
    viewers: usize,
    changes: usize,
    hold: u64,
) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("HTTP client");
    let seen: Seen = Arc::new(Mutex::new(vec![vec![None; viewers]; changes + 1]));
    let start = Instant::now();
    let mut tasks = vec![];
    for v in 0..viewers {
        let (client, seen) = (client.clone(), seen.clone());
        let request = client
            .get(format!("{url}/gameday/{board}/stream"))
            .bearer_auth(token);
        tasks.push(tokio::spawn(async move {
            let response = match request.send().await {
                Ok(r) if r.status().is_success() => r,
                Ok(r) => return Err(format!("HTTP {}", r.status())),
                Err(e) => return Err(e.to_string()),
            };
            let mut body = response.bytes_stream();
            let mut heard = String::new();
            while let Some(Ok(chunk)) = body.next().await {
                heard.push_str(&String::from_utf8_lossy(&chunk));
                let now = Instant::now();
                let mut seen = seen.lock().expect("seen");
                // Mark 0 is the board itself; mark k the team `mark-k`.
                for (k, marks) in seen.iter_mut().enumerate() {
                    let found = k == 0 || heard.contains(&format!("mark-{k}<"));
                    if found && marks[v].is_none() {
                        marks[v] = Some(now);
                    }
                }
                // Keep only the tail: a mark is whole within one event.
                if heard.len() > 1 << 16 {
                    heard.drain(..heard.len() - (1 << 15));
                }
            }
            Ok(())
        }));
    }
    // Everyone has the board.
    let connected = wait(&seen, 0, viewers, start + Duration::from_secs(60)).await;
    println!(
        "connected viewers={connected}/{viewers} in {:.1}s",
        start.elapsed().as_secs_f64()
    );
    let mut latencies: Vec<Duration> = vec![];
    let mut missed = viewers - connected;
    for k in 1..=changes {
        // Apart, so each is its own change.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let at = Instant::now();
        declare(
            &client,
            url,
            secret,
            &format!("drill sev4 team:mark-{k} Board change {k}"),
        )
        .await;
        wait(&seen, k, viewers, at + DEADLINE).await;
        let seen = seen.lock().expect("seen");
        for when in &seen[k] {
            match when {
                Some(t) => latencies.push(t.saturating_duration_since(at)),
                None => missed += 1,
            }
        }
    }
    latencies.sort();
    let ms = |p: f64| {
        latencies
            .get(
                ((latencies.len() as f64 * p / 100.0).ceil() as usize)
                    .clamp(1, latencies.len().max(1))
                    - 1,
            )
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "board updates viewers={viewers} changes={changes} received={} missed={missed} p50={:.0}ms p99={:.0}ms max={:.0}ms",
        latencies.len(),
        ms(50.0),
        ms(99.0),
        ms(100.0)
    );
    tokio::time::sleep(Duration::from_secs(hold)).await;
    for task in tasks {
        task.abort();
    }
}

/// Waits until `viewers` saw mark `k`, or `until`; how many did.
async fn wait(seen: &Seen, k: usize, viewers: usize, until: Instant) -> usize {
    loop {
        let n = seen.lock().expect("seen")[k]
            .iter()
            .filter(|t| t.is_some())
            .count();
        if n == viewers || Instant::now() >= until {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends `/incident TEXT`, signed.
async fn declare(client: &reqwest::Client, url: &str, secret: &str, text: &str) {
    let body = super::command_body(text, "C0LOAD");
    let ts = chrono::Utc::now().timestamp().to_string();
    let signature = pompier::slack::verify::sign(secret.as_bytes(), &ts, body.as_bytes());
    let r = client
        .post(format!("{url}/slack/commands"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts)
        .header("x-slack-signature", signature)
        .body(body)
        .send()
        .await
        .expect("the slash command is answered");
    assert!(r.status().is_success(), "{text}: HTTP {}", r.status());
}
