use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use pompier::config::Settings;

/// Environment variables a first run needs, shown by `--help`.
const ENVIRONMENT: &str = "\
Environment (all optional; pompier starts with none and says what is off):
  DATABASE_URL            sqlite://FILE (one instance) or postgres://… [default: sqlite://pompier.db]
  POMPIER_LISTEN          address to bind [default: 127.0.0.1:8080]
  SLACK_SIGNING_SECRET    Slack app signing secret, for Slack over HTTP; without it /slack/*
                          answers 401 (Socket Mode needs none)
  SLACK_BOT_TOKEN         xoxb-… bot token; without it Slack jobs wait in the queue
  SLACK_API_URL           Slack Web API base [default: https://slack.com/api]
  SLACK_APP_TOKEN         xapp-… token: Slack traffic over Socket Mode, no public URL needed
  POMPIER_ANNOUNCE_CHANNEL  channel id where incidents are announced [default: none]
  POMPIER_PUBLIC_URL      base URL people reach pompier at [default: none]
  POMPIER_METRICS_LISTEN  serve /metrics on this address alone [default: on POMPIER_LISTEN]
  POMPIER_API_TOKEN       bearer token for /api/* and the dashboard's sign-in; unset, both refuse all
  CONFLUENCE_BASE_URL, CONFLUENCE_USER, CONFLUENCE_API_TOKEN  postmortem pages in Confluence
  CONFLUENCE_SPACE_ID (Cloud) or CONFLUENCE_SPACE_KEY (Data Center), CONFLUENCE_PARENT_PAGE_ID
                          where the pages go
  PAGERDUTY_ROUTING_KEY   Events API v2 integration key: incidents page through PagerDuty
  OPSGENIE_API_KEY        API integration key: incidents page through Opsgenie
  PAGERDUTY_API_TOKEN     REST API key: a team's escalation policy on-call is invited
  JIRA_BASE_URL, JIRA_USER, JIRA_API_TOKEN  Jira issues for follow-ups and serious incidents
  JIRA_WEBHOOK_SECRET     secret of Jira's webhook to POST /api/v1/webhooks/jira
  POMPIER_<SECTION>__<KEY>  any other setting of config/default.toml, e.g. POMPIER_JOBS__CONCURRENCY=4
  RUST_LOG                log filter [default: info]";

/// Prints the audit trail from `since` on, oldest first.
async fn audit(store: &pompier::store::Store, since: Option<&str>) -> anyhow::Result<()> {
    let since = match since {
        None => pompier::now() - chrono::Duration::days(7),
        Some(text) => match chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(day) => day.and_hms_opt(0, 0, 0).expect("midnight").and_utc(),
            Err(_) => chrono::DateTime::parse_from_rfc3339(text)
                .map_err(|_| {
                    anyhow::anyhow!("--since: `{text}` is not YYYY-MM-DD nor an RFC 3339 time")
                })?
                .to_utc(),
        },
    };
    let mut after = 0;
    loop {
        let page = store.audit_since(since, after, 1000).await?;
        for e in &page {
            println!(
                "{}  {:<24}  {:<20}  {:<16}  {}",
                e.at.format("%Y-%m-%d %H:%M:%S"),
                e.actor,
                e.action,
                e.origin,
                e.detail
            );
        }
        match page.last() {
            Some(last) if page.len() == 1000 => after = last.id,
            _ => return Ok(()),
        }
    }
}

/// pompier: a Slack incident-management bot.
///
/// Settings: config/default.toml (built in), then --config FILE, then environment
/// variables.
#[derive(Parser)]
#[command(name = "pompier", version, after_help = ENVIRONMENT)]
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
    #[command(after_help = ENVIRONMENT)]
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Try every configured outside service (database, Slack, Confluence) and say what
    /// works; exit 1 if anything configured does not.
    Check,
    /// Look at the job queue, and send dead jobs back to it once their cause is fixed.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Make, list and revoke scoped API tokens (`POMPIER_API_TOKEN` keeps every scope).
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// The statistics' daily rollups.
    #[command(subcommand)]
    Stats(StatsCommand),
    /// The audit trail: sign-ins, tokens, job retries, exports, refusals, villains.
    Audit {
        /// From this day (YYYY-MM-DD) or time (RFC 3339) on [default: 7 days ago].
        #[arg(long)]
        since: Option<String>,
    },
}

#[derive(Subcommand)]
enum TokensCommand {
    /// Make a token and print it, once: only its hash is kept.
    Create {
        /// Its name, shown on the timeline as `token:NAME`.
        name: String,
        /// What it may do: read, write, alerts, gameday (repeatable).
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
    },
    /// Every token: name, scopes, when made, last used, revoked (never the token).
    List,
    /// Refuse token NAME from now on, on every instance.
    Revoke { name: String },
}

#[derive(Subcommand)]
enum StatsCommand {
    /// Rebuild the daily rollups from the incidents, in one transaction (after a
    /// restore, or an incident changed by hand with the triggers off).
    Rebuild,
}

#[derive(Subcommand)]
enum JobsCommand {
    /// Unfinished jobs (queued, pending, dead), oldest first.
    List {
        /// Only the dead ones: jobs refused for good or failing past the retry horizon.
        #[arg(long)]
        dead: bool,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Send a dead job (or every dead job) back to the queue; it runs in its incident's order.
    Retry {
        /// The job's id, as `jobs list` shows it.
        #[arg(required_unless_present = "all_dead", conflicts_with = "all_dead")]
        id: Option<i64>,
        /// Every dead job.
        #[arg(long)]
        all_dead: bool,
    },
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
            Command::Check => check(&settings).await,
            Command::Tokens(command) => {
                let store = pompier::open_store(&settings).await?;
                let result = tokens(&store, command).await;
                store.close().await;
                result
            }
            Command::Jobs(command) => {
                // Looking at the queue must not make an empty database where none was.
                if let Some(path) = settings.database_url.sqlite_path() {
                    if !path.exists() {
                        anyhow::bail!(
                            "there is no database here: {} does not exist and DATABASE_URL \
                             is not set to another",
                            path.display()
                        );
                    }
                }
                let store = pompier::open_store(&settings).await?;
                let result = jobs(&store, command).await;
                store.close().await;
                result
            }
            Command::Stats(StatsCommand::Rebuild) => {
                let store = pompier::open_store(&settings).await?;
                let started = std::time::Instant::now();
                let result = store.rebuild_stats().await;
                let tidied = store.tidy_stats_log().await;
                store.close().await;
                let read = result?;
                tidied?;
                println!(
                    "rebuilt the daily statistics from {read} incidents in {:.1} s",
                    started.elapsed().as_secs_f64()
                );
                Ok(())
            }
            Command::Audit { since } => {
                let store = pompier::open_store(&settings).await?;
                let result = audit(&store, since.as_deref()).await;
                store.close().await;
                result
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

async fn check(settings: &Settings) -> anyhow::Result<()> {
    let database = match pompier::open_store(settings).await {
        Ok(store) => {
            let backend = store.backend();
            let pinged = store.ping().await;
            store.close().await;
            Some(
                pinged
                    .map(|_| format!("{backend} answers"))
                    .map_err(|e| e.to_string()),
            )
        }
        Err(e) => Some(Err(format!("{e:#}"))),
    };
    let mut verdicts = vec![pompier::check::Verdict {
        service: "database",
        outcome: database,
    }];
    verdicts.extend(pompier::check::services(settings).await);
    let mut failed = 0;
    for v in &verdicts {
        match &v.outcome {
            None => println!("-    {:<10} not configured", v.service),
            Some(Ok(what)) => println!("ok   {:<10} {what}", v.service),
            Some(Err(why)) => {
                failed += 1;
                println!("FAIL {:<10} {why}", v.service);
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} configured service(s) do not work");
    }
    Ok(())
}

async fn jobs(store: &pompier::store::Store, command: JobsCommand) -> anyhow::Result<()> {
    match command {
        JobsCommand::List { dead, limit } => {
            let jobs = store.list_jobs(dead, limit).await?;
            println!(
                "{:>8}  {:>8}  {:<10}  {:<8}  {:<18}  {:>8}  last error",
                "job", "incident", "service", "state", "kind", "attempts"
            );
            for j in &jobs {
                println!(
                    "{:>8}  {:>8}  {:<10}  {:<8}  {:<18}  {:>8}  {}",
                    j.id,
                    j.incident_id.map_or("-".to_owned(), |id| id.to_string()),
                    j.service,
                    j.state,
                    j.kind,
                    j.attempts,
                    j.last_error.as_deref().unwrap_or("")
                );
            }
            println!("{} job(s)", jobs.len());
        }
        JobsCommand::Retry { id, all_dead } => {
            let id = if all_dead { None } else { id };
            if let Some(id) = id {
                match store.job_state(id).await?.as_deref() {
                    None => anyhow::bail!("there is no job {id} (see `pompier jobs list`)"),
                    Some("dead") => {}
                    Some(state) => anyhow::bail!(
                        "job {id} is {state}, not dead (see `pompier jobs list --dead`)"
                    ),
                }
            }
            let revived = store.retry_dead(id, pompier::now()).await?;
            let said = match id {
                Some(id) => format!("job {id}"),
                None => format!("every dead job ({revived})"),
            };
            store.audit("cli", "jobs_retried", &said, "cli").await;
            println!("{revived} dead job(s) sent back to the queue");
        }
    }
    Ok(())
}

async fn tokens(store: &pompier::store::Store, command: TokensCommand) -> anyhow::Result<()> {
    use pompier::tokens::{self, Scope};
    match command {
        TokensCommand::Create { name, scopes } => {
            let name = tokens::parse_name(&name)?;
            let mut parsed = scopes
                .iter()
                .map(|s| s.parse::<Scope>())
                .collect::<Result<Vec<_>, _>>()?;
            parsed.sort();
            parsed.dedup();
            let token = tokens::generate();
            match store
                .create_token(&name, &tokens::hash(&token), &parsed, pompier::now())
                .await
            {
                Err(pompier::store::StoreError::Duplicate(_)) => {
                    anyhow::bail!("a token named {name} exists (revoked ones keep their name)")
                }
                other => other?,
            }
            let said = format!("{name} ({})", tokens::join(&parsed));
            store.audit("cli", "token_created", &said, "cli").await;
            eprintln!(
                "token {name} ({}); it is shown once, keep it now:",
                tokens::join(&parsed)
            );
            println!("{token}");
        }
        TokensCommand::List => {
            let at = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_else(|| "-".into())
            };
            println!(
                "{:<24}  {:<26}  {:<16}  {:<16}  revoked",
                "name", "scopes", "created", "last used"
            );
            for t in store.tokens().await? {
                println!(
                    "{:<24}  {:<26}  {:<16}  {:<16}  {}",
                    t.name,
                    tokens::join(&t.scopes),
                    at(Some(t.created_at)),
                    at(t.last_used_at),
                    at(t.revoked_at)
                );
            }
        }
        TokensCommand::Revoke { name } => {
            if !store.revoke_token(&name, pompier::now()).await? {
                anyhow::bail!("there is no valid token named {name} (see `pompier tokens list`)");
            }
            store.audit("cli", "token_revoked", &name, "cli").await;
            println!("token {name} revoked");
        }
    }
    Ok(())
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
}
