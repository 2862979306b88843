//! pompier: a Slack incident-management bot.
//!
//! `main` parses the command line and settings, then calls [`run`] with a bound listener,
//! so tests run the very same server on port 0.
// The OpenAPI document is one `json!` literal, deeper than the default limit.
#![recursion_limit = "256"]
#![forbid(unsafe_code)]

pub mod alerts;
pub mod app;
pub mod boards;
pub mod check;
pub mod config;
pub mod confluence;
pub mod domain;
pub mod http;
pub mod incidents;
pub mod jira;
pub mod jobs;
pub mod metrics;
pub mod outbound;
pub mod outbox;
pub mod paging;
pub mod people;
pub mod shutdown;
pub mod slack;
pub mod socket;
pub mod sso;
pub mod store;
pub mod streams;
pub mod telemetry;
pub mod throttle;
pub mod tokens;

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

use shutdown::until_set;

pub use app::App;
use config::Settings;
use store::Store;

/// Now, at the precision both databases keep (microseconds), so a time read back from
/// the store equals the time written.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}

/// Connects to the database and applies its migrations.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let url = &settings.database_url;
    let store = Store::connect(url.expose(), &settings.database)
        .await
        .with_context(|| format!("cannot open the database {} (DATABASE_URL)", url.redacted()))?;
    store
        .migrate()
        .await
        .context("cannot apply database migrations")?;
    Ok(store)
}

/// Says once, at start, which parts are off for want of a setting.
fn warn_missing(settings: &Settings) {
    let s = &settings.secrets;
    if s.slack_signing_secret.is_none() {
        tracing::warn!(
            "SLACK_SIGNING_SECRET is not set: every /slack/* request is refused (401);              Socket Mode (SLACK_APP_TOKEN) needs none"
        );
    }
    if s.slack_bot_token.is_none() {
        tracing::warn!(
            "SLACK_BOT_TOKEN is not set: no channel is created and nothing is posted; \
             Slack jobs wait in the queue and run once the token is set and pompier restarts"
        );
    }
    if s.api_token.is_none() {
        tracing::warn!("POMPIER_API_TOKEN is not set: /api/* refuses every request (401)");
    }
    if settings.confluence.base_url.is_none() {
        tracing::info!("CONFLUENCE_BASE_URL is not set: no postmortem pages are drafted");
    }
}

/// Opens the database, then serves pompier on `listener` until `shutdown` completes.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = open_store(&settings).await?;
    serve(App::new(store, settings)?, listener, shutdown).await
}

/// Serves `app` on `listener` until `shutdown` completes. Then it stops accepting,
/// finishes the requests in flight, stops claiming jobs, gives the jobs in hand
/// `jobs.shutdown_grace_secs` to finish and releases the leases of the others: it
/// returns within that grace time and about a second, whatever clients or Slack do.
pub async fn serve(
    app: App,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let App { state, worker } = app;
    let settings = state.settings.clone();
    let store = state.store.clone();
    let _alone = store.hold_alone(settings.database_url.expose())?;
    warn_missing(&settings);
    let grace = Duration::from_secs(settings.jobs.shutdown_grace_secs);
    let (stop, stopping) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down");
        let _ = stop.send(true);
    });
    let checked = settings.clone();
    tokio::spawn(async move { check::at_start(&checked).await });
    // Other instances' workers hear of the jobs this one queues, even with none here.
    worker.announce_to_others(stopping.clone());
    let workers = if settings.jobs.enabled {
        Some(worker.spawn())
    } else {
        tracing::info!("jobs.enabled is false: this instance runs no job workers");
        None
    };
    tracing::info!(
        address = %listener.local_addr()?,
        database = store.backend(),
        "pompier is serving"
    );
    let mut stopped = stopping.clone();
    let jobs = async move {
        until_set(&mut stopped).await;
        if let Some(workers) = workers {
            workers.stop(grace).await;
        }
    };
    // Socket Mode, when an app token is set: the same handlers as HTTP.
    let socket = settings.secrets.slack_app_token.clone().map(|token| {
        tracing::info!("SLACK_APP_TOKEN is set: Slack traffic also arrives over Socket Mode");
        tokio::spawn(socket::run(state.clone(), token, stopping.clone()))
    });
    // Tokens seen before are answered from memory while revocations can reach it.
    let cached = store.clone();
    tokio::spawn({
        let stopping = stopping.clone();
        async move { cached.keep_tokens_cached(stopping).await }
    });
    // The statistics' daily rollups follow the incidents' changes.
    tokio::spawn({
        let (store, stopping) = (store.clone(), stopping.clone());
        let every = Duration::from_millis(settings.stats.fold_interval_ms.max(10));
        async move { store.keep_stats_folded(every, stopping).await }
    });
    // Live boards end when pompier stops, rather than hold the shutdown.
    let streams = state.streams.clone();
    let mut stopped = stopping.clone();
    tokio::spawn(async move {
        until_set(&mut stopped).await;
        streams.end_all();
    });
    // `/metrics` on a listener of its own, when asked: bound before serving, so a
    // taken address stops the start.
    if let Some(address) = settings.http.metrics_listen {
        let metrics = TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address} (POMPIER_METRICS_LISTEN)"))?;
        tracing::info!(%address, "/metrics is served on its own listener");
        let (router, http_settings, stopping) = (
            http::metrics_router(state.clone()),
            settings.http.clone(),
            stopping.clone(),
        );
        tokio::spawn(async move {
            if let Err(e) =
                http::server::serve(metrics, router, &http_settings, stopping, grace).await
            {
                tracing::error!(error = %e, "the metrics listener failed");
            }
        });
    }
    let http = http::server::serve(
        listener,
        http::router(state),
        &settings.http,
        stopping,
        grace,
    );
    let (served, ()) = tokio::join!(http, jobs);
    if let Some(socket) = socket {
        let _ = tokio::time::timeout(Duration::from_secs(1), socket).await;
    }
    if tokio::time::timeout(Duration::from_millis(500), store.close())
        .await
        .is_err()
    {
        tracing::warn!("the database pool did not close in time");
    }
    served.context("HTTP server failed")
}
