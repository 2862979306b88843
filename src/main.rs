use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use pompier::config::Settings;

/// pompier: a Slack incident-management bot.
///
/// Settings: config/default.toml (built in), then --config FILE, then environment
/// variables (DATABASE_URL, POMPIER_LISTEN, SLACK_SIGNING_SECRET, …).
#[derive(Parser)]
#[command(name = "pompier", version)]
struct Cli {
    /// A TOML file overriding the built-in defaults.
    #[arg(long, global = true, env = "POMPIER_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server and background workers; migrations are applied at start.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref(), std::env::vars()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("pompier: {e}");
            return ExitCode::from(2);
        }
    };
    pompier::telemetry::init();
    let runtime = tokio::runtime::Runtime::new().expect("cannot start the async runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve => {
                let listener = tokio::net::TcpListener::bind(settings.listen)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.listen))?;
                pompier::run(settings, listener, shutdown_signal()).await
            }
            Command::Migrate => {
                let store = pompier::open_store(&settings).await?;
                tracing::info!(database = store.backend(), "migrations applied");
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("pompier: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
