//! pompier: a Slack incident-management bot.
//!
//! `main` parses the command line and settings, then calls [`run`] with a bound listener,
//! so tests run the very same server on port 0.
#![forbid(unsafe_code)]

pub mod app;
pub mod config;
pub mod domain;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod slack;
pub mod store;
pub mod telemetry;

use std::future::Future;

use anyhow::Context;
use tokio::net::TcpListener;

use app::AppState;
use config::Settings;
use jobs::slack_jobs::SlackJobs;
use jobs::Worker;
use slack::client::SlackClient;
use store::Store;

/// Now, at the precision both databases keep (microseconds), so a time read back from
/// the store equals the time written.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}

/// Connects to the database and applies its migrations.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let store = Store::connect(&settings.database_url, &settings.database)
        .await
        .context("cannot open the database named by DATABASE_URL")?;
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
        tracing::warn!("SLACK_SIGNING_SECRET is not set: every /slack/* request is refused (401)");
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
    serve(store, settings, listener, shutdown).await
}

/// Serves pompier on `listener`, with an open and migrated `store`, until `shutdown`.
pub async fn serve(
    store: Store,
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    warn_missing(&settings);
    let state = AppState::new(store.clone(), settings);
    let workers = match worker(&state) {
        Some(worker) if state.settings.jobs.enabled => {
            Some(worker.spawn(state.jobs_queued.clone()))
        }
        Some(_) => {
            tracing::info!("jobs.enabled is false: this instance runs no job workers");
            None
        }
        None => None,
    };
    tracing::info!(
        address = %listener.local_addr()?,
        database = store.backend(),
        "pompier is serving"
    );
    let served = axum::serve(listener, http::router(state))
        .with_graceful_shutdown(shutdown)
        .await
        .context("HTTP server failed");
    if let Some(workers) = workers {
        workers.stop().await;
    }
    store.close().await;
    served
}

/// The job worker of this app, or `None` without `SLACK_BOT_TOKEN` (its jobs then wait).
pub fn worker(state: &AppState) -> Option<Worker> {
    let settings = &state.settings;
    let token = settings.secrets.slack_bot_token.clone()?;
    let slack = SlackClient::new(
        &settings.slack.api_url,
        token,
        std::time::Duration::from_secs(settings.slack.timeout_secs),
    );
    let jobs = SlackJobs {
        slack,
        store: state.store.clone(),
        effects: (*state.effects).clone(),
        announce_channel: settings.announce_channel(),
        public_url: settings.public_url.clone(),
    };
    Some(Worker::new(
        state.store.clone(),
        jobs,
        settings.jobs.worker(),
        state.metrics.clone(),
    ))
}
