//! pompier-bench-jobs: how fast the job queue drains against a Slack that answers at
//! once. Declares `--incidents` incidents (each queues create_channel, then invite,
//! topic and summary: 4 jobs), then times `--concurrency` workers draining the queue.
//!
//!   pompier-bench-jobs --database-url postgres://postgres@127.0.0.1/bench --incidents 2000
//!
//! The fake Slack listens on 127.0.0.1 only; the run is bounded by `--incidents`.

// The storm's call log is read by pompier-load alone.
#[allow(dead_code)]
#[path = "../fake_slack.rs"]
mod fake_slack;

use std::time::{Duration, Instant};

use clap::Parser;

use pompier::config::Settings;
use pompier::App;

#[derive(Parser)]
#[command(name = "pompier-bench-jobs", version)]
struct Args {
    /// Database to use; its queue should start empty.
    #[arg(long, default_value = "sqlite://pompier-bench-jobs.db")]
    database_url: String,
    #[arg(long, default_value_t = 1000)]
    incidents: usize,
    /// Workers draining at once (the `jobs.concurrency` setting).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let slack_url = format!("http://{}/api", listener.local_addr()?);
    fake_slack::spawn(listener, Duration::ZERO, false);

    let env = [
        ("DATABASE_URL", args.database_url.as_str()),
        ("SLACK_API_URL", slack_url.as_str()),
        ("SLACK_BOT_TOKEN", "xoxb-bench"),
        // The stand-in Slack has no tiers: nothing to pace below.
        ("POMPIER_SLACK__PACE_PERCENT", "0"),
    ];
    let settings = Settings::load(None, env.map(|(k, v)| (k.to_owned(), v.to_owned())))?;
    let store = pompier::open_store(&settings).await?;
    let app = App::new(store.clone(), settings).expect("the app");
    let by: pompier::domain::SlackUserId = "U0BENCH".parse().unwrap();
    for i in 0..args.incidents {
        app.state
            .incidents
            .declare(format!("Bench incident {i}"), None, &by)
            .await?;
    }
    let worker = app.worker;
    let started = Instant::now();
    let mut drains = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        let worker = worker.clone();
        drains.spawn(async move { anyhow::Ok(worker.drain(pompier::now()).await?) });
    }
    let mut jobs = 0;
    while let Some(ran) = drains.join_next().await {
        jobs += ran??;
    }
    let wall = started.elapsed();
    let counts = store.job_counts(pompier::now()).await?;
    println!(
        "backend={} incidents={} concurrency={} jobs={jobs} wall={:.2}s throughput={:.0} jobs/s queue={counts:?}",
        store.backend(),
        args.incidents,
        args.concurrency,
        wall.as_secs_f64(),
        jobs as f64 / wall.as_secs_f64(),
    );
    Ok(())
}
