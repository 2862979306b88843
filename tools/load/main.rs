//! pompier-load: sends signed `/incident open …` commands to a running pompier at a
//! given concurrency and prints throughput and latency percentiles.
//!
//!   pompier-load --url http://127.0.0.1:8080 --secret "$SLACK_SIGNING_SECRET" \
//!                --concurrency 32 --requests 20000
//!
//! Bounded: it sends `--requests` commands (after `--warmup` ones) and stops.

#[path = "../fake_slack.rs"]
mod fake_slack;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Parser)]
#[command(name = "pompier-load", version)]
struct Args {
    /// Base URL of the pompier under test (loopback only).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The server's SLACK_SIGNING_SECRET.
    #[arg(long, env = "SLACK_SIGNING_SECRET", default_value = "")]
    secret: String,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Requests measured.
    #[arg(long, default_value_t = 10_000)]
    requests: usize,
    /// Requests sent first and not measured.
    #[arg(long, default_value_t = 500)]
    warmup: usize,
    /// Requests started per second (open loop); 0 sends each as soon as a slot is free.
    /// With a rate, latency counts from each request's scheduled start, so a server
    /// that falls behind shows it.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Slash-command text; `{n}` becomes the request number.
    #[arg(long, default_value = "open sev2 Load test incident {n}")]
    text: String,
    /// Instead of sending load: serve a fake Slack Web API on this loopback address
    /// (`SLACK_API_URL=http://ADDR/api`) that answers every call with success, until
    /// killed.
    #[arg(long, value_name = "ADDR")]
    fake_slack: Option<std::net::SocketAddr>,
    /// With --fake-slack: how long each answer takes, in milliseconds.
    #[arg(long, default_value_t = 0)]
    fake_slack_delay_ms: u64,
}

fn body(text: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("team_id", "T0LOAD")
        .append_pair("channel_id", "C0LOAD")
        .append_pair("user_id", "U0LOAD")
        .append_pair("command", "/incident")
        .append_pair("text", text)
        .append_pair("response_url", "https://hooks.slack.com/commands/1/2/3")
        .append_pair("trigger_id", "1.2.3")
        .finish()
}

async fn send(
    client: &reqwest::Client,
    args: &Args,
    n: usize,
    start: Instant,
) -> Result<Duration, String> {
    let body = body(&args.text.replace("{n}", &n.to_string()));
    let ts = chrono::Utc::now().timestamp().to_string();
    let signature = pompier::slack::verify::sign(args.secret.as_bytes(), &ts, body.as_bytes());
    let response = client
        .post(format!("{}/slack/commands", args.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts)
        .header("x-slack-signature", signature)
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let reply: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
    let elapsed = start.elapsed();
    if !status.is_success() || reply["response_type"] != "in_channel" {
        return Err(format!("HTTP {status}: {reply}"));
    }
    Ok(elapsed)
}

/// Sends `count` requests numbered from `first`, `concurrency` at a time.
async fn run(
    client: &reqwest::Client,
    args: &Arc<Args>,
    first: usize,
    count: usize,
) -> (Vec<Duration>, Vec<String>) {
    let next = Arc::new(AtomicUsize::new(0));
    let began = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        let (client, args, next) = (client.clone(), args.clone(), next.clone());
        workers.spawn(async move {
            let (mut times, mut errors) = (Vec::new(), Vec::new());
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let start = if args.rate > 0.0 {
                    let scheduled = began + Duration::from_secs_f64(i as f64 / args.rate);
                    tokio::time::sleep_until(scheduled.into()).await;
                    scheduled
                } else {
                    Instant::now()
                };
                match send(&client, &args, first + i, start).await {
                    Ok(t) => times.push(t),
                    Err(e) => errors.push(e),
                }
            }
            (times, errors)
        });
    }
    let (mut times, mut errors) = (Vec::new(), Vec::new());
    while let Some(done) = workers.join_next().await {
        let (t, e) = done.expect("worker panicked");
        times.extend(t);
        errors.extend(e);
    }
    (times, errors)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() {
    let args = Arc::new(Args::parse());
    if let Some(addr) = args.fake_slack {
        assert!(
            addr.ip().is_loopback(),
            "the fake Slack listens on loopback only"
        );
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        let calls = fake_slack::spawn(listener, Duration::from_millis(args.fake_slack_delay_ms));
        // Bounded: it stops after an hour if nothing kills it first.
        tokio::time::sleep(Duration::from_secs(3600)).await;
        println!(
            "fake Slack answered {} calls",
            calls.load(Ordering::Relaxed)
        );
        return;
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client");
    let (_, warm_errors) = run(&client, &args, 0, args.warmup).await;
    if let Some(e) = warm_errors.first() {
        eprintln!("warm-up failed: {e}");
        std::process::exit(1);
    }
    let start = Instant::now();
    let (mut times, errors) = run(&client, &args, args.warmup, args.requests).await;
    let wall = start.elapsed();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "requests={} concurrency={} rate={} errors={} wall={:.2}s throughput={:.0}/s p50={:.2}ms p90={:.2}ms p99={:.2}ms max={:.2}ms",
        times.len(),
        args.concurrency,
        if args.rate > 0.0 { format!("{}/s", args.rate) } else { "max".into() },
        errors.len(),
        wall.as_secs_f64(),
        times.len() as f64 / wall.as_secs_f64(),
        ms(percentile(&times, 50.0)),
        ms(percentile(&times, 90.0)),
        ms(percentile(&times, 99.0)),
        ms(percentile(&times, 100.0)),
    );
    if let Some(e) = errors.first() {
        eprintln!("first error: {e}");
        std::process::exit(1);
    }
}
