//! pompier-load: sends signed requests to a running pompier at a given concurrency (or
//! a fixed rate) and prints throughput and latency percentiles.
//!
//!   pompier-load --url http://127.0.0.1:8080 --secret "$SLACK_SIGNING_SECRET" \
//!                --concurrency 32 --requests 20000
//!
//! By default every request declares an incident (`/incident open …`). With `--mix`, the
//! requests are a realistic mix over `--incidents` incidents declared first: of every 20,
//! 4 declarations, 3 status changes, 4 notes, 3 `status`, 2 `list`, 2 button clicks on
//! the summary (a move or a severity) and 2 events (a member joining an incident's
//! channel).
//!
//! Bounded: it sends `--requests` requests (after `--warmup` ones) and stops.

#[path = "../fake_slack.rs"]
mod fake_slack;
mod storm;
mod viewers;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
    /// Send the realistic mix instead of declarations only.
    #[arg(long)]
    mix: bool,
    /// With --mix: how many incidents are declared first and then worked on.
    #[arg(long, default_value_t = 200)]
    incidents: usize,
    /// With --mix: the server's POMPIER_API_TOKEN, to read the incidents' channels; with
    /// --alert-groups, a token of scope `alerts`.
    #[arg(long, env = "POMPIER_API_TOKEN", default_value = "")]
    api_token: String,
    /// With --mix: where button clicks say Slack's `response_url` is (the fake Slack).
    #[arg(long, default_value = "http://127.0.0.1:9/api/response")]
    response_url: String,
    /// Post Alertmanager webhook payloads (with --api-token, scope `alerts`) instead of
    /// declarations: request `n` is a post of group `n % GROUPS`, so after the first
    /// GROUPS (the warm-up) every post repeats a group already open.
    #[arg(long, default_value_t = 0)]
    alert_groups: usize,
    /// With --alert-groups: every request is a group of its own (a new incident each).
    #[arg(long)]
    new_groups: bool,
    /// Instead of sending load: serve a fake Slack Web API on this loopback address
    /// (`SLACK_API_URL=http://ADDR/api`) that answers every call with success, until
    /// killed.
    #[arg(long, value_name = "ADDR")]
    fake_slack: Option<std::net::SocketAddr>,
    /// With --fake-slack: declare this many incidents one by one (at --url) and time
    /// each from its request to its summary pinned at this fake Slack.
    #[arg(long, default_value_t = 0)]
    time_to_summary: usize,
    /// With --fake-slack: how long each answer takes, in milliseconds.
    #[arg(long, default_value_t = 0)]
    fake_slack_delay_ms: u64,
    /// Instead of sending load: this many viewers watch game day `--board`'s live board
    /// (with --api-token), then `--changes` changes are timed to each of them.
    #[arg(long, default_value_t = 0)]
    viewers: usize,
    /// With --viewers: the game day's id.
    #[arg(long, default_value_t = 1)]
    board: i64,
    /// With --viewers: the changes timed.
    #[arg(long, default_value_t = 5)]
    changes: usize,
    /// With --fake-slack: enforce Slack's rate tiers (429 with Retry-After past them).
    #[arg(long)]
    tiers: bool,
    /// With --fake-slack and --api-token: declare this many incidents through the API
    /// over --storm-secs, alternating between --url and --url2 (`storm`).
    #[arg(long, default_value_t = 0)]
    storm: usize,
    #[arg(long, default_value_t = 60)]
    storm_secs: u64,
    /// A second instance, for --storm.
    #[arg(long)]
    url2: Option<String>,
    /// With --viewers: seconds the viewers stay after the changes.
    #[arg(long, default_value_t = 0)]
    hold: u64,
}

fn command_body(text: &str, channel: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("team_id", "T0LOAD")
        .append_pair("channel_id", channel)
        .append_pair("user_id", "U0LOAD")
        .append_pair("command", "/incident")
        .append_pair("text", text)
        .append_pair("response_url", "https://hooks.slack.com/commands/1/2/3")
        .append_pair("trigger_id", "1.2.3")
        .finish()
}

/// The incidents the mix works on: (number, channel id), and for each which way its next
/// move and severity change go, so that each is a real change (not "already so").
#[derive(Default)]
struct Targets {
    incidents: Vec<(i64, String)>,
    moved: Vec<AtomicBool>,
    raised: Vec<AtomicBool>,
}

impl Targets {
    fn new(incidents: Vec<(i64, String)>) -> Targets {
        let flags = || incidents.iter().map(|_| AtomicBool::new(false)).collect();
        Targets {
            moved: flags(),
            raised: flags(),
            incidents,
        }
    }

    /// The next status for incident `i`: investigating and mitigated in turn.
    fn next_status(&self, i: usize) -> &'static str {
        if self.moved[i].fetch_xor(true, Ordering::Relaxed) {
            "mitigated"
        } else {
            "investigating"
        }
    }

    /// The next severity for incident `i`: SEV3 and SEV2 in turn.
    fn next_severity(&self, i: usize) -> &'static str {
        if self.raised[i].fetch_xor(true, Ordering::Relaxed) {
            "SEV2"
        } else {
            "SEV3"
        }
    }
}

/// One request: its route, content type and body, and what a success looks like.
struct Call {
    route: &'static str,
    form: bool,
    body: String,
    /// A slash command's reply must be JSON; a declaration's in the channel.
    expect: Expect,
}

enum Expect {
    Declared,
    Reply,
    Ok,
}

/// An Alertmanager webhook payload (version 4) for group `group`, one alert firing.
fn notification(group: usize) -> String {
    serde_json::json!({
        "version": "4", "groupKey": format!("{{}}/{{team=\"load\"}}:{{alertname=\"Load{group}\"}}"),
        "truncatedAlerts": 0, "status": "firing", "receiver": "pompier",
        "groupLabels": {"alertname": format!("Load{group}")},
        "commonLabels": {"alertname": format!("Load{group}"), "severity": "warning", "team": "load"},
        "commonAnnotations": {"summary": format!("Load test alert {group}")},
        "externalURL": "http://alertmanager:9093",
        "alerts": [{"status": "firing",
                    "labels": {"alertname": format!("Load{group}"), "instance": "load-1",
                               "severity": "warning", "team": "load"},
                    "annotations": {"summary": format!("Load test alert {group}")},
                    "startsAt": "2026-12-05T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
                    "fingerprint": format!("{group:016x}")}],
    })
    .to_string()
}

/// Request `n` of the run: a declaration, or with `--mix` the `n`-th of the mix.
fn call(args: &Args, targets: &Targets, n: usize) -> Call {
    if args.alert_groups > 0 {
        // New groups are numbered apart from the repeated ones.
        let group = if args.new_groups {
            1_000_000 + n
        } else {
            n % args.alert_groups
        };
        return Call {
            route: "/api/v1/alerts/alertmanager",
            form: false,
            body: notification(group),
            expect: Expect::Ok,
        };
    }
    let declare = || Call {
        route: "/slack/commands",
        form: true,
        body: command_body(&args.text.replace("{n}", &n.to_string()), "C0LOAD"),
        expect: Expect::Declared,
    };
    if !args.mix || targets.incidents.is_empty() {
        return declare();
    }
    // Spread over the incidents so concurrent requests rarely touch the same one.
    let i = (n / 20 * 7 + n) % targets.incidents.len();
    let (id, channel) = &targets.incidents[i];
    let slash = |text: String, channel: &str| Call {
        route: "/slack/commands",
        form: true,
        body: command_body(&text, channel),
        expect: Expect::Reply,
    };
    match n % 20 {
        0..=3 => declare(),
        4..=6 => slash(format!("{id} {}", targets.next_status(i)), "C0LOAD"),
        7..=10 => slash(format!("note load note {n}"), channel),
        11..=13 => slash("status".into(), channel),
        14..=15 => slash("list".into(), "C0LOAD"),
        16..=17 => {
            let action = if n % 20 == 16 {
                let to = targets.next_status(i);
                serde_json::json!({"type": "button", "action_id": "move", "value": format!("{id}:{to}")})
            } else {
                let sev = targets.next_severity(i);
                serde_json::json!({"type": "static_select", "action_id": "severity",
                                   "selected_option": {"value": format!("{id}:{sev}")}})
            };
            let payload = serde_json::json!({
                "type": "block_actions", "trigger_id": format!("{n}.1.2"),
                "user": {"id": "U0CLICK"}, "channel": {"id": channel},
                "response_url": args.response_url, "actions": [action],
            });
            Call {
                route: "/slack/interactions",
                form: true,
                body: form_urlencoded::Serializer::new(String::new())
                    .append_pair("payload", &payload.to_string())
                    .finish(),
                expect: Expect::Ok,
            }
        }
        _ => Call {
            route: "/slack/events",
            form: false,
            body: serde_json::json!({
                "type": "event_callback", "event_id": format!("EvLOAD{n}"), "team_id": "T0LOAD",
                "event": {"type": "member_joined_channel", "user": format!("U0J{:03}", n % 500),
                          "channel": channel},
            })
            .to_string(),
            expect: Expect::Ok,
        },
    }
}

async fn send(
    client: &reqwest::Client,
    args: &Args,
    targets: &Targets,
    n: usize,
    start: Instant,
) -> Result<Duration, String> {
    let call = call(args, targets, n);
    let ts = chrono::Utc::now().timestamp().to_string();
    let signature = pompier::slack::verify::sign(args.secret.as_bytes(), &ts, call.body.as_bytes());
    let content_type = if call.form {
        "application/x-www-form-urlencoded"
    } else {
        "application/json"
    };
    let response = client
        .post(format!("{}{}", args.url, call.route))
        .bearer_auth(&args.api_token)
        .header("content-type", content_type)
        .header("x-slack-request-timestamp", ts)
        .header("x-slack-signature", signature)
        .body(call.body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let text = response.text().await.map_err(|e| e.to_string())?;
    let elapsed = start.elapsed();
    if !status.is_success() {
        return Err(format!("{} HTTP {status}: {text}", call.route));
    }
    match call.expect {
        Expect::Ok => {}
        Expect::Reply | Expect::Declared => {
            let reply: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}: {text}", call.route))?;
            if matches!(call.expect, Expect::Declared) && reply["response_type"] != "in_channel" {
                return Err(format!("not declared: {reply}"));
            }
        }
    }
    Ok(elapsed)
}

/// The incidents the mix works on: the newest `count`, once each has its channel.
async fn targets(client: &reqwest::Client, args: &Args) -> Result<Targets, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page: serde_json::Value = client
            .get(format!("{}/api/v1/incidents?limit=500", args.url))
            .bearer_auth(&args.api_token)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let all = page["incidents"].as_array().cloned().unwrap_or_default();
        let ready: Vec<(i64, String)> = all
            .iter()
            .take(args.incidents)
            .filter_map(|i| Some((i["id"].as_i64()?, i["channel_id"].as_str()?.to_owned())))
            .collect();
        if ready.len() >= args.incidents.min(all.len()) && !ready.is_empty() {
            return Ok(Targets::new(ready));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "only {} of {} incidents have a channel after 30 s: are the workers on?",
                ready.len(),
                args.incidents
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sends `count` requests numbered from `first`, `concurrency` at a time.
async fn run(
    client: &reqwest::Client,
    args: &Arc<Args>,
    targets: &Arc<Targets>,
    first: usize,
    count: usize,
) -> (Vec<Duration>, Vec<String>) {
    let next = Arc::new(AtomicUsize::new(0));
    let began = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        let (client, args, next) = (client.clone(), args.clone(), next.clone());
        let targets = targets.clone();
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
                match send(&client, &args, &targets, first + i, start).await {
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

/// Declares `count` incidents one after the other (after 5 not measured), each once the
/// previous one's summary is pinned, and times each from its request to the pin that
/// ends its Slack work (`pins.add` at this process's fake Slack).
async fn time_to_summary(args: &Args, calls: &fake_slack::Calls, count: usize) {
    let client = reqwest::Client::new();
    let targets = Targets::default();
    let (mut times, mut missed) = (vec![], 0);
    for n in 0..count + 5 {
        let before = calls.pins.load(Ordering::SeqCst);
        let start = Instant::now();
        if let Err(e) = send(&client, args, &targets, n, start).await {
            eprintln!("declaration failed: {e}");
            std::process::exit(1);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let pinned = loop {
            let notified = calls.pinned.notified();
            if calls.pins.load(Ordering::SeqCst) > before {
                break true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                break false;
            }
        };
        match (pinned, n >= 5) {
            (true, true) => times.push(start.elapsed()),
            (false, _) => missed += 1,
            (true, false) => {}
        }
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "first summary pinned samples={} missed={missed} p50={:.1}ms p90={:.1}ms p99={:.1}ms max={:.1}ms",
        times.len(),
        ms(percentile(&times, 50.0)),
        ms(percentile(&times, 90.0)),
        ms(percentile(&times, 99.0)),
        ms(percentile(&times, 100.0)),
    );
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
        let calls = fake_slack::spawn(
            listener,
            Duration::from_millis(args.fake_slack_delay_ms),
            args.tiers,
        );
        if args.storm > 0 {
            let urls: Vec<String> = std::iter::once(args.url.clone())
                .chain(args.url2.clone())
                .collect();
            let (count, secs) = (args.storm.min(1000), args.storm_secs.min(600));
            storm::run(&urls, &args.api_token, count, secs, &calls).await;
            return;
        }
        if args.time_to_summary > 0 {
            time_to_summary(&args, &calls, args.time_to_summary.min(10_000)).await;
            return;
        }
        // Bounded: it stops after an hour if nothing kills it first.
        tokio::time::sleep(Duration::from_secs(3600)).await;
        println!(
            "fake Slack answered {} calls",
            calls.all.load(Ordering::Relaxed)
        );
        return;
    }
    if args.viewers > 0 {
        let viewers = args.viewers.min(5000);
        viewers::run(
            &args.url,
            &args.api_token,
            &args.secret,
            args.board,
            viewers,
            args.changes,
            args.hold.min(3600),
        )
        .await;
        return;
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client");
    let no_targets = Arc::new(Targets::default());
    // The mix's incidents are declared first, with the warm-up.
    let warmup = if args.mix {
        args.warmup.max(args.incidents)
    } else {
        args.warmup
    };
    let (_, warm_errors) = run(&client, &args, &no_targets, 0, warmup).await;
    if let Some(e) = warm_errors.first() {
        eprintln!("warm-up failed: {e}");
        std::process::exit(1);
    }
    let targets = if args.mix {
        match targets(&client, &args).await {
            Ok(t) => Arc::new(t),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
    } else {
        no_targets
    };
    let start = Instant::now();
    let (mut times, errors) = run(&client, &args, &targets, warmup, args.requests).await;
    let wall = start.elapsed();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{} requests={} concurrency={} rate={} errors={} wall={:.2}s throughput={:.0}/s p50={:.2}ms p90={:.2}ms p99={:.2}ms max={:.2}ms",
        match (args.mix, args.alert_groups, args.new_groups) {
            (true, _, _) => "mix",
            (false, 0, _) => "declarations",
            (false, _, false) => "alert-repeats",
            (false, _, true) => "alert-new-groups",
        },
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
