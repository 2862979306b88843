//! Layered settings: the embedded `config/default.toml`, then an optional file, then the
//! environment. Secrets come from the environment only and are held as `SecretString`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use figment::providers::{Format, Serialized, Toml};
use figment::value::Value;
use figment::Figment;
use secrecy::SecretString;
use serde::Deserialize;

use crate::domain::cadence::Cadence;
use crate::domain::{Policy, RoleName, Severity};

/// The documented defaults, compiled in so the binary runs with no file beside it.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// The documented environment variables and the setting each one sets.
const NAMED_VARIABLES: &[(&str, &str)] = &[
    ("DATABASE_URL", "database_url"),
    ("POMPIER_LISTEN", "listen"),
    ("POMPIER_PUBLIC_URL", "public_url"),
    ("POMPIER_METRICS_LISTEN", "http.metrics_listen"),
    ("SLACK_API_URL", "slack.api_url"),
    ("POMPIER_ANNOUNCE_CHANNEL", "slack.announce_channel"),
    ("CONFLUENCE_BASE_URL", "confluence.base_url"),
    ("CONFLUENCE_USER", "confluence.user"),
    ("CONFLUENCE_SPACE_ID", "confluence.space_id"),
    ("CONFLUENCE_SPACE_KEY", "confluence.space_key"),
    ("CONFLUENCE_PARENT_PAGE_ID", "confluence.parent_page_id"),
    ("JIRA_BASE_URL", "jira.base_url"),
    ("JIRA_USER", "jira.user"),
    ("POMPIER_OIDC_ISSUER", "oidc.issuer"),
    ("POMPIER_OIDC_CLIENT_ID", "oidc.client_id"),
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub database_url: DatabaseUrl,
    pub listen: SocketAddr,
    pub public_url: Option<String>,
    /// POMPIER_CA_FILE: a PEM bundle of extra roots to trust (an internal Confluence
    /// behind a company CA), beside the system's and Mozilla's.
    pub ca_file: Option<std::path::PathBuf>,
    pub database: DatabaseSettings,
    pub http: HttpSettings,
    pub slack: SlackSettings,
    pub lifecycle: LifecycleSettings,
    pub confluence: ConfluenceSettings,
    pub jobs: JobSettings,
    pub alerts: AlertSettings,
    pub paging: PagingSettings,
    pub jira: JiraSettings,
    /// `[teams.NAME]`: who a team is.
    pub teams: std::collections::BTreeMap<crate::domain::Team, TeamSettings>,
    /// `[invite]`: who joins every public incident of a severity.
    pub invite: std::collections::BTreeMap<Severity, Vec<String>>,
    pub status_page: StatusPageSettings,
    /// `[permissions]`: who may do what in Slack.
    #[serde(default)]
    pub permissions: crate::domain::permissions::Permissions,
    pub audit: AuditSettings,
    pub stats: StatsSettings,
    /// `[auth]`: who may see what on the dashboard.
    #[serde(default)]
    pub auth: crate::domain::roles::Roles,
    /// `[oidc]`: single sign-on for the dashboard.
    pub oidc: OidcSettings,
    #[serde(skip)]
    pub secrets: Secrets,
}

/// `[oidc]`: the company's OpenID Connect provider, for the dashboard's sign-in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// POMPIER_OIDC_ISSUER: its issuer URL; unset: no single sign-on.
    pub issuer: Option<String>,
    /// POMPIER_OIDC_CLIENT_ID.
    pub client_id: Option<String>,
    pub scopes: Vec<String>,
    /// The ID token's claim that lists a person's groups.
    pub groups_claim: String,
    /// The sign-in button says "Sign in with LABEL".
    pub label: String,
}

/// `[stats]`: the managers' statistics.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsSettings {
    /// Up to this many incidents in a range's whole days, statistics are read from the
    /// incidents themselves, with exact percentiles; past it, from the daily rollups.
    pub exact_up_to: u64,
    /// How often each instance folds the logged changes into the daily rollups.
    pub fold_interval_ms: u64,
}

/// `[audit]`: the audit trail.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// Days an act is kept.
    pub keep_days: u64,
}

/// `[status_page]`: the public status page (`/status`).
#[derive(Debug, Clone, Deserialize)]
pub struct StatusPageSettings {
    /// Its heading: the company or product.
    pub title: String,
    /// The components customers know, each one word (`checkout`, `search`).
    pub components: Vec<String>,
}

/// `DATABASE_URL`, whose password never reaches a log or a `Debug` print.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The whole URL, password included: for connecting only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SQLite file it names, if it names one (not `:memory:`).
    pub fn sqlite_path(&self) -> Option<std::path::PathBuf> {
        sqlite_path(&self.0)
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        let url = &self.0;
        let Some((scheme, rest)) = url.split_once("://") else {
            return url.clone();
        };
        let authority_end = rest.find('/').unwrap_or(rest.len());
        match rest[..authority_end].rfind('@') {
            Some(at) => match rest[..at].split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
                None => url.clone(),
            },
            None => url.clone(),
        }
    }
}

/// The file of a `sqlite://FILE` or `sqlite:FILE` URL, if it names one.
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| path.into())
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Connections served at once; more wait in the kernel's queue.
    pub max_connections: usize,
    pub header_read_timeout_secs: u64,
    /// Whole request, body included.
    pub request_timeout_secs: u64,
    /// Bytes held at once by `/slack/*` bodies whose signature is not checked yet.
    pub unverified_body_budget_kib: usize,
    /// Live boards open at once, all sessions together: kept below `max_connections`,
    /// so viewers never take the connections Slack's requests need.
    pub max_streams: usize,
    /// Live boards one dashboard session may hold open.
    pub max_streams_per_session: usize,
    /// A dashboard session unused this long ends.
    pub session_idle_minutes: u64,
    /// A dashboard session ends this long after its sign-in, used or not.
    pub session_max_hours: u64,
    /// Proxies whose `X-Forwarded-For` is believed (their own addresses).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// POMPIER_METRICS_LISTEN: `/metrics` on a listener of its own (and not on the
    /// main one).
    pub metrics_listen: Option<SocketAddr>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
    /// SQLite only: `full` (a commit survives a power cut) or `normal` (faster; the
    /// last commits may be lost in a power cut, never in a crash of pompier).
    pub sqlite_synchronous: SqliteSync,
    /// SQLite only: connections that read beside the one writer. Reads are in-process
    /// and short; each connection keeps its own page cache and statements.
    pub sqlite_readers: u32,
    /// SQLite only: each connection's page cache, in KiB (SQLite's default is 2,000).
    pub sqlite_cache_kib: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSync {
    Full,
    Normal,
}

impl DatabaseSettings {
    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_secs(self.acquire_timeout_secs)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackSettings {
    pub api_url: String,
    pub announce_channel: Option<String>,
    pub timeout_secs: u64,
    pub archive_on_close: bool,
    /// Socket Mode pings this often; a connection silent for one and a half times as
    /// long is taken for dead and replaced.
    pub socket_ping_secs: u64,
    /// Calls per method are paced to this percent of Slack's rate tier, shared by every
    /// instance through the database; 0 paces nothing.
    pub pace_percent: u32,
    /// The longest a job's call waits in place for its slot; a later slot puts the job
    /// off until then, freeing its worker.
    pub pace_wait_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSettings {
    pub enabled: bool,
    pub concurrency: usize,
    pub poll_interval_ms: u64,
    pub lease_secs: u64,
    pub job_timeout_secs: u64,
    pub retry_horizon_secs: u64,
    pub backoff_base_ms: u64,
    pub backoff_max_secs: u64,
    pub shutdown_grace_secs: u64,
    pub keep_done_days: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleSettings {
    pub postmortem_optional: Vec<Severity>,
    pub roles: Vec<String>,
    /// What each severity means, shown in the form, `help` and the summary.
    #[serde(default)]
    pub severities: std::collections::BTreeMap<Severity, String>,
    /// What each role expects, told to whoever takes it (a direct message).
    #[serde(default)]
    pub role_duties: std::collections::BTreeMap<String, String>,
    pub failure_classes: Vec<String>,
    /// Minutes between updates by severity (0: no cadence).
    pub sev1_update_minutes: u64,
    pub sev2_update_minutes: u64,
    pub sev3_update_minutes: u64,
    pub sev4_update_minutes: u64,
    /// Days a postmortem waits before its channel is reminded (0: never).
    pub postmortem_reminder_days: u64,
    /// How often each instance looks for incidents due a nudge.
    pub cadence_sweep_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfluenceSettings {
    pub base_url: Option<String>,
    /// `cloud` (v2 API, space id) or `datacenter` (v1 API, space key).
    pub api: ConfluenceApi,
    pub user: Option<String>,
    pub space_id: Option<String>,
    pub space_key: Option<String>,
    pub parent_page_id: Option<String>,
    /// A template of the team's own, replacing the built-in one.
    pub template: Option<std::path::PathBuf>,
    pub timeout_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfluenceApi {
    Cloud,
    Datacenter,
}

impl ConfluenceSettings {
    /// The space pages go to (an id on Cloud, a key on Data Center), or which setting
    /// is missing for it.
    pub fn space(&self) -> Result<&str, &'static str> {
        match self.api {
            ConfluenceApi::Cloud => self.space_id.as_deref().ok_or("CONFLUENCE_SPACE_ID"),
            ConfluenceApi::Datacenter => self.space_key.as_deref().ok_or("CONFLUENCE_SPACE_KEY"),
        }
    }
}

/// Alerts in (`POST /api/v1/alerts…`): how a group becomes an incident.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSettings {
    pub default_severity: Severity,
    /// Values of the `severity` label (lowercase) → severity.
    pub severity_labels: std::collections::BTreeMap<String, Severity>,
    pub max_declared_per_minute: u32,
    /// `mitigated` or `resolved`: where a resolved group moves its incident.
    pub resolve_moves_to: Option<crate::domain::Status>,
    /// Where groups routed with `declare = false` wait for someone to declare.
    pub triage_channel: Option<String>,
    pub routes: Vec<crate::domain::alert::Route>,
}

impl AlertSettings {
    pub fn rules(&self) -> crate::domain::alert::Rules {
        crate::domain::alert::Rules {
            severity_labels: self
                .severity_labels
                .iter()
                .map(|(k, v)| (k.to_lowercase(), *v))
                .collect(),
            default_severity: self.default_severity,
            routes: self.routes.clone(),
        }
    }
}

/// Paging out (`PAGERDUTY_ROUTING_KEY`, `OPSGENIE_API_KEY`): who is woken, and when.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagingSettings {
    pub pagerduty_url: String,
    /// PagerDuty's REST API, for who is on call (`PAGERDUTY_API_TOKEN`).
    pub pagerduty_api_url: String,
    pub opsgenie_url: String,
    pub min_severity: Severity,
    pub drills: bool,
    pub timeout_secs: u64,
    pub teams: std::collections::BTreeMap<crate::domain::Team, PagingTeam>,
}

/// A team (`[teams.NAME]`): its people and where it hears of its incidents.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamSettings {
    /// A Slack user group id (`S…`).
    pub slack_usergroup: Option<String>,
    /// Slack user ids.
    #[serde(default)]
    pub users: Vec<String>,
    /// A channel id where the team hears of its incidents.
    pub channel: Option<String>,
    /// A PagerDuty escalation policy id: its first-level on-call is invited too (with
    /// `PAGERDUTY_API_TOKEN`).
    pub pagerduty_escalation_policy: Option<String>,
}

impl Settings {
    /// Who is pulled into incidents, as the outbox needs it.
    pub fn invites(&self) -> crate::outbox::Invites {
        crate::outbox::Invites {
            teams: self
                .teams
                .iter()
                .map(|(name, t)| {
                    let mut people: Vec<String> = t.slack_usergroup.iter().cloned().collect();
                    people.extend(t.users.iter().cloned());
                    people.extend(
                        t.pagerduty_escalation_policy
                            .iter()
                            .map(|p| format!("{ONCALL_PREFIX}{p}")),
                    );
                    (
                        name.clone(),
                        crate::outbox::TeamPeople {
                            people,
                            channel: t.channel.clone(),
                        },
                    )
                })
                .collect(),
            by_severity: self.invite.clone(),
        }
    }
}

/// What marks an escalation policy among a team's people: its on-call is invited.
pub const ONCALL_PREFIX: &str = "pagerduty:";

/// Jira (`JIRA_BASE_URL`, `JIRA_API_TOKEN`): an issue per follow-up, and per incident at
/// `incident_min_severity` or worse.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JiraSettings {
    pub base_url: Option<String>,
    /// With `JIRA_API_TOKEN`: Cloud (REST v3, Basic). Without: Data Center (REST v2,
    /// the token as a Bearer personal access token).
    pub user: Option<String>,
    pub project_key: Option<String>,
    pub followup_issue_type: String,
    pub incident_issue_type: String,
    pub incident_min_severity: Severity,
    /// How long after an attempt whose answer was lost Jira's search is given to show
    /// the issue it may have made, before another is made.
    pub search_settle_secs: u64,
    pub timeout_secs: u64,
}

/// A team that may be paged (`[paging.teams.NAME]`): its own PagerDuty routing key, its
/// Opsgenie team, or both.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagingTeam {
    pub pagerduty_routing_key: Option<SecretString>,
    pub opsgenie_team: Option<String>,
}

impl Settings {
    /// Who is paged, and when, as the outbox needs it.
    pub fn paging(&self) -> crate::outbox::Paging {
        use crate::outbox::Service;
        let mut services = vec![];
        if self.secrets.pagerduty_routing_key.is_some() {
            services.push(Service::PagerDuty);
        }
        if self.secrets.opsgenie_api_key.is_some() {
            services.push(Service::Opsgenie);
        }
        let teams = self
            .paging
            .teams
            .iter()
            .map(|(name, team)| {
                let mut through = vec![];
                if team.pagerduty_routing_key.is_some() {
                    through.push(Service::PagerDuty);
                }
                if team.opsgenie_team.is_some() && self.secrets.opsgenie_api_key.is_some() {
                    through.push(Service::Opsgenie);
                }
                (name.clone(), through)
            })
            .collect();
        crate::outbox::Paging {
            services,
            min_severity: self.paging.min_severity,
            drills: self.paging.drills,
            teams,
        }
    }
}

/// Secrets, from the environment only. `Debug` prints them redacted.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    pub slack_signing_secret: Option<SecretString>,
    pub slack_bot_token: Option<SecretString>,
    /// `xapp-…`: Slack traffic also arrives over Socket Mode.
    pub slack_app_token: Option<SecretString>,
    pub confluence_api_token: Option<SecretString>,
    pub api_token: Option<SecretString>,
    pub pagerduty_routing_key: Option<SecretString>,
    pub opsgenie_api_key: Option<SecretString>,
    pub jira_api_token: Option<SecretString>,
    /// A PagerDuty REST API key: who is on call.
    pub pagerduty_api_token: Option<SecretString>,
    pub jira_webhook_secret: Option<SecretString>,
    /// POMPIER_OIDC_CLIENT_SECRET.
    pub oidc_client_secret: Option<SecretString>,
}

/// A setting that is missing or wrong, named so the admin can fix it.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {0}")]
pub struct ConfigError(String);

impl Settings {
    /// Defaults, then `file` if any, then `env` (pass `std::env::vars()`).
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError(format!(
                    "--config/POMPIER_CONFIG: no such file {}",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        let mut secrets = Secrets::default();
        for (name, value) in env {
            if value.is_empty() {
                continue;
            }
            let secret = || Some(SecretString::from(value.clone()));
            match name.as_str() {
                "SLACK_SIGNING_SECRET" => secrets.slack_signing_secret = secret(),
                "SLACK_BOT_TOKEN" => secrets.slack_bot_token = secret(),
                "SLACK_APP_TOKEN" => secrets.slack_app_token = secret(),
                "CONFLUENCE_API_TOKEN" => secrets.confluence_api_token = secret(),
                "POMPIER_API_TOKEN" => secrets.api_token = secret(),
                "PAGERDUTY_ROUTING_KEY" => secrets.pagerduty_routing_key = secret(),
                "OPSGENIE_API_KEY" => secrets.opsgenie_api_key = secret(),
                "JIRA_API_TOKEN" => secrets.jira_api_token = secret(),
                "PAGERDUTY_API_TOKEN" => secrets.pagerduty_api_token = secret(),
                "JIRA_WEBHOOK_SECRET" => secrets.jira_webhook_secret = secret(),
                "POMPIER_OIDC_CLIENT_SECRET" => secrets.oidc_client_secret = secret(),
                // Read by the command line, and by the test harness.
                "POMPIER_CONFIG" => {}
                "POMPIER_LOG_FORMAT" => {
                    if !LOG_FORMATS.iter().any(|f| value.eq_ignore_ascii_case(f)) {
                        return Err(ConfigError(format!(
                            "POMPIER_LOG_FORMAT: `{value}` is not a log format; use {}",
                            LOG_FORMATS.join(" or ")
                        )));
                    }
                }
                _ if name.starts_with("POMPIER_TEST_") => {}
                // Kubernetes sets these for a Service named `pompier`; they are not ours.
                _ if is_service_link(&name) => {}
                _ => {
                    if let Some((_, key)) = NAMED_VARIABLES.iter().find(|(var, _)| *var == name) {
                        figment = figment.merge(Serialized::default(key, value));
                    } else if let Some(key) = setting_key(&name) {
                        // An unknown key is refused when the settings are read.
                        let value: Value = value.parse().unwrap_or(Value::from(value));
                        figment = figment.merge(Serialized::default(&key, value));
                    }
                }
            }
        }
        let mut settings: Settings = figment.extract().map_err(|e| ConfigError(one_line(&e)))?;
        settings.secrets = secrets;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(bad) = self.permissions.invalid() {
            return Err(ConfigError(format!(
                "permissions: `{bad}` is not a Slack user id (U…, W…) or user group id (S…)"
            )));
        }
        let url = self.database_url.expose();
        if !(url.starts_with("postgres://")
            || url.starts_with("postgresql://")
            || url.starts_with("sqlite:"))
        {
            return Err(ConfigError(
                "database_url (DATABASE_URL): use postgres://… or sqlite://FILE".into(),
            ));
        }
        if !is_http_url(&self.slack.api_url) {
            return Err(ConfigError(
                "slack.api_url (SLACK_API_URL): must start with http:// or https://".into(),
            ));
        }
        if let Some(base) = &self.confluence.base_url {
            if !is_http_url(base) {
                return Err(ConfigError(
                    "confluence.base_url (CONFLUENCE_BASE_URL): must start with http:// or https://"
                        .into(),
                ));
            }
        }
        if let Some(public) = &self.public_url {
            if !is_http_url(public) {
                return Err(ConfigError(
                    "public_url: must start with http:// or https://".into(),
                ));
            }
        }
        if let Some(issuer) = &self.oidc.issuer {
            let local = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
                .iter()
                .any(|p| issuer.starts_with(p));
            if !issuer.starts_with("https://") && !local {
                return Err(ConfigError(
                    "oidc.issuer (POMPIER_OIDC_ISSUER): must be an https:// URL".into(),
                ));
            }
            if self
                .oidc
                .client_id
                .as_deref()
                .unwrap_or_default()
                .is_empty()
            {
                return Err(ConfigError(
                    "oidc.client_id (POMPIER_OIDC_CLIENT_ID): needed with POMPIER_OIDC_ISSUER"
                        .into(),
                ));
            }
            if self.public_url.is_none() {
                return Err(ConfigError(
                    "public_url (POMPIER_PUBLIC_URL): needed with POMPIER_OIDC_ISSUER, for the \
                     address the provider sends people back to"
                        .into(),
                ));
            }
        }
        if let Some(path) = &self.ca_file {
            crate::outbound::ca_certificates(path)
                .map_err(|e| ConfigError(format!("ca_file (POMPIER_CA_FILE): {e}")))?;
        }
        if let Some(channel) = &self.slack.announce_channel {
            channel.parse::<crate::domain::ChannelId>().map_err(|e| {
                ConfigError(format!(
                    "slack.announce_channel (POMPIER_ANNOUNCE_CHANNEL): {e}"
                ))
            })?;
        }
        for component in &self.status_page.components {
            let fine = |c: char| c.is_alphanumeric() || c == '-' || c == '_';
            if component.is_empty()
                || component.chars().count() > 40
                || !component.chars().all(fine)
            {
                return Err(ConfigError(format!(
                    "status_page.components: `{component}` must be one word of at most 40 \
                     letters, digits, `-` or `_`"
                )));
            }
        }
        for role in &self.lifecycle.roles {
            role.parse::<RoleName>()
                .map_err(|e| ConfigError(format!("lifecycle.roles: {e}")))?;
        }
        let class = |c: &String| {
            !c.is_empty()
                && c.len() <= 40
                && c.chars()
                    .all(|ch| ch.is_alphanumeric() || ch == '-' || ch == '_')
        };
        if self.lifecycle.failure_classes.is_empty()
            || !self.lifecycle.failure_classes.iter().all(class)
        {
            return Err(ConfigError(
                "lifecycle.failure_classes: one or more words (letters, digits, `-`, `_`)".into(),
            ));
        }
        for (key, value) in [
            ("jobs.concurrency", self.jobs.concurrency as u64),
            (
                "lifecycle.cadence_sweep_secs",
                self.lifecycle.cadence_sweep_secs,
            ),
            ("jobs.poll_interval_ms", self.jobs.poll_interval_ms),
            ("jobs.retry_horizon_secs", self.jobs.retry_horizon_secs),
            ("slack.timeout_secs", self.slack.timeout_secs),
            ("slack.socket_ping_secs", self.slack.socket_ping_secs),
            ("confluence.timeout_secs", self.confluence.timeout_secs),
            ("http.max_connections", self.http.max_connections as u64),
            (
                "http.header_read_timeout_secs",
                self.http.header_read_timeout_secs,
            ),
            ("http.request_timeout_secs", self.http.request_timeout_secs),
            ("http.max_streams", self.http.max_streams as u64),
            (
                "http.max_streams_per_session",
                self.http.max_streams_per_session as u64,
            ),
        ] {
            if value == 0 {
                return Err(ConfigError(format!("{key}: must be at least 1")));
            }
        }
        if self.http.max_streams >= self.http.max_connections {
            return Err(ConfigError(format!(
                "http.max_streams ({}) must be below http.max_connections ({}): live boards \
                 must leave connections for Slack",
                self.http.max_streams, self.http.max_connections
            )));
        }
        if self.slack.pace_percent > 100 {
            return Err(ConfigError(
                "slack.pace_percent: a share of Slack's rate tiers, 0 (no pacing) to 100".into(),
            ));
        }
        // The lease is renewed every third of it while a job runs.
        if self.jobs.lease_secs < 3 {
            return Err(ConfigError("jobs.lease_secs: must be at least 3".into()));
        }
        if self.jobs.job_timeout_secs < self.slack.timeout_secs {
            return Err(ConfigError(format!(
                "jobs.job_timeout_secs: must be at least slack.timeout_secs ({} s)",
                self.slack.timeout_secs
            )));
        }
        if let Some(template) = &self.confluence.template {
            if !template.is_file() {
                return Err(ConfigError(format!(
                    "confluence.template: no such file {}",
                    template.display()
                )));
            }
        }
        if self.http.unverified_body_budget_kib < 1024 {
            return Err(ConfigError(
                "http.unverified_body_budget_kib: must be at least 1024 (one whole body)".into(),
            ));
        }
        if !matches!(
            self.alerts.resolve_moves_to,
            None | Some(crate::domain::Status::Mitigated | crate::domain::Status::Resolved)
        ) {
            return Err(ConfigError(
                "alerts.resolve_moves_to: `mitigated`, `resolved`, or unset".into(),
            ));
        }
        if let Some(channel) = &self.alerts.triage_channel {
            channel
                .parse::<crate::domain::ChannelId>()
                .map_err(|e| ConfigError(format!("alerts.triage_channel: {e}")))?;
        }
        if self.alerts.routes.iter().any(|r| !r.declare) && self.alerts.triage_channel.is_none() {
            return Err(ConfigError(
                "alerts.routes: a route with `declare = false` needs alerts.triage_channel".into(),
            ));
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError(
                "database.max_connections: must be at least 1".into(),
            ));
        }
        for route in &self.alerts.routes {
            if let Some(team) = route.team.as_ref().filter(|t| !self.teams.contains_key(*t)) {
                return Err(ConfigError(format!(
                    "alerts.routes: team `{team}` is not configured ([teams.{team}])"
                )));
            }
        }
        Ok(())
    }

    /// The announce channel, already checked by `validate`.
    pub fn announce_channel(&self) -> Option<crate::domain::ChannelId> {
        self.slack
            .announce_channel
            .as_deref()
            .and_then(|c| c.parse().ok())
    }

    pub fn policy(&self) -> Policy {
        Policy {
            postmortem_optional: self.lifecycle.postmortem_optional.clone(),
            failure_classes: self
                .lifecycle
                .failure_classes
                .iter()
                .map(|c| c.to_lowercase())
                .collect(),
            cadence: self.cadence(),
            components: self
                .status_page
                .components
                .iter()
                .map(|c| c.to_lowercase())
                .collect(),
            severities: self
                .lifecycle
                .severities
                .iter()
                .map(|(s, what)| (*s, what.trim().chars().take(75).collect()))
                .filter(|(_, what): &(Severity, String)| !what.is_empty())
                .collect(),
            duties: self
                .lifecycle
                .role_duties
                .iter()
                .map(|(role, duty)| (role.to_lowercase(), duty.trim().to_owned()))
                .filter(|(_, duty)| !duty.is_empty())
                .collect(),
        }
    }

    /// The update cadence the lifecycle settings ask for.
    pub fn cadence(&self) -> Cadence {
        let l = &self.lifecycle;
        let minutes = |m: u64| (m > 0).then(|| chrono::Duration::minutes(m.min(525_600) as i64));
        Cadence {
            update: [
                minutes(l.sev1_update_minutes),
                minutes(l.sev2_update_minutes),
                minutes(l.sev3_update_minutes),
                minutes(l.sev4_update_minutes),
            ],
            postmortem_reminder: minutes(l.postmortem_reminder_days.saturating_mul(1440)),
        }
    }

    /// Every role `/incident role` accepts: `lead`, `comms` and the configured ones.
    pub fn roles(&self) -> Vec<RoleName> {
        let mut roles = Vec::new();
        let names = ["lead", "comms"].into_iter();
        for name in names.chain(self.lifecycle.roles.iter().map(String::as_str)) {
            if let Ok(role) = name.parse::<RoleName>() {
                if !roles.contains(&role) {
                    roles.push(role);
                }
            }
        }
        roles
    }
}

/// `POMPIER_DATABASE__MAX_CONNECTIONS` → `database.max_connections`, `POMPIER_X` → `x`.
fn setting_key(var: &str) -> Option<String> {
    let rest = var.strip_prefix("POMPIER_")?;
    Some(rest.to_lowercase().replace("__", "."))
}

/// The values of `POMPIER_LOG_FORMAT`.
const LOG_FORMATS: [&str; 2] = ["text", "json"];

/// A variable Kubernetes sets for a Service named `pompier` (`POMPIER_PORT`,
/// `POMPIER_PORT_8080_TCP_ADDR`, `POMPIER_SERVICE_HOST`…): never a setting, whose
/// variables split sections with `__`.
fn is_service_link(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("POMPIER_") else {
        return false;
    };
    !rest.contains("__")
        && (rest == "PORT"
            || rest.starts_with("PORT_")
            || rest == "SERVICE_HOST"
            || rest.starts_with("SERVICE_PORT"))
}

fn is_http_url(s: &str) -> bool {
    (s.starts_with("http://") || s.starts_with("https://")) && s.len() > "https://".len()
}

/// `jobs.concurrency (POMPIER_JOBS__CONCURRENCY): invalid type: …`: the setting, the
/// variable that sets it, and what is wrong, on one line.
fn one_line(e: &figment::Error) -> String {
    let first = e.clone().into_iter().next().unwrap_or_else(|| e.clone());
    let key = first.path.join(".");
    let variable = NAMED_VARIABLES
        .iter()
        .find(|(_, k)| *k == key)
        .map(|(var, _)| var.to_string())
        .unwrap_or_else(|| format!("POMPIER_{}", key.to_uppercase().replace('.', "__")));
    let what = first.kind.to_string().replace('\n', " ");
    if key.is_empty() {
        // A file that does not parse: which file, and the parser's line and column.
        match first.metadata.as_ref().and_then(|m| m.source.as_ref()) {
            Some(figment::Source::File(path)) => format!("in {}: {what}", path.display()),
            _ => what,
        }
    } else {
        format!("{key} ({variable}): {what}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn kubernetes_links_pass_bad_log_formats_and_toml_say_where() {
        let links = [
            ("POMPIER_PORT", "tcp://10.0.0.1:8080"),
            ("POMPIER_PORT_8080_TCP", "tcp://10.0.0.1:8080"),
            ("POMPIER_PORT_8080_TCP_ADDR", "10.0.0.1"),
            ("POMPIER_SERVICE_HOST", "10.0.0.1"),
            ("POMPIER_SERVICE_PORT", "8080"),
            ("POMPIER_SERVICE_PORT_HTTP", "8080"),
            ("POMPIER_LOG_FORMAT", "JSON"),
        ];
        assert!(Settings::load(None, env(&links)).is_ok());
        let xml = Settings::load(None, env(&[("POMPIER_LOG_FORMAT", "xml")]))
            .unwrap_err()
            .to_string();
        assert!(
            xml.contains("`xml`") && xml.contains("text or json"),
            "{xml}"
        );
        let dir = std::env::temp_dir().join(format!("pompier-toml-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pompier.toml");
        std::fs::write(&file, "[slack]\napi_url = \"https://x\"\nbroken = \n").unwrap();
        let bad = Settings::load(Some(&file), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            bad.contains("pompier.toml") && bad.contains("line 3"),
            "{bad}"
        );
        std::fs::write(dir.join("junk.pem"), "no certificate here").unwrap();
        let ca = dir.join("junk.pem").display().to_string();
        let refused = Settings::load(None, env(&[("POMPIER_CA_FILE", &ca)]))
            .unwrap_err()
            .to_string();
        assert!(refused.contains("POMPIER_CA_FILE"), "{refused}");
        for url in ["javascript:alert(1)", "ftp://x", "https://"] {
            let refused = Settings::load(None, env(&[("CONFLUENCE_BASE_URL", url)]));
            assert!(refused.is_err(), "{url}");
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_defaults_start_on_sqlite_with_nothing_set() {
        let s = Settings::load(None, env(&[])).unwrap();
        assert_eq!(s.database_url.expose(), "sqlite://pompier.db");
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.slack.api_url, "https://slack.com/api");
        assert_eq!(s.slack.announce_channel, None);
        let policy = s.policy();
        assert_eq!(policy.severities.len(), 4, "each severity explained");
        assert!(policy.duties.contains_key("lead") && policy.duties.contains_key("comms"));
        assert_eq!(
            Policy {
                severities: Default::default(),
                duties: Default::default(),
                ..policy
            },
            Policy::default()
        );
        assert!(s.secrets.api_token.is_none());
    }

    #[test]
    fn environment_variables_override_the_file_which_overrides_the_defaults() {
        let dir = std::env::temp_dir().join(format!("pompier-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pompier.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\n[slack]\napi_url = \"http://file\"\n[database]\nmax_connections = 3\n",
        )
        .unwrap();
        let s = Settings::load(
            Some(&file),
            env(&[
                ("SLACK_API_URL", "http://env"),
                ("CONFLUENCE_SPACE_ID", "12345"),
                ("POMPIER_ANNOUNCE_CHANNEL", "C0ANNOUNCE"),
                ("POMPIER_API_TOKEN", "s3cret"),
                ("POMPIER_DATABASE__ACQUIRE_TIMEOUT_SECS", "7"),
            ]),
        )
        .unwrap();
        assert_eq!(s.listen.port(), 9000);
        assert_eq!(s.slack.api_url, "http://env");
        assert_eq!(s.database.max_connections, 3);
        assert_eq!(s.database.acquire_timeout_secs, 7);
        assert_eq!(s.confluence.space_id.as_deref(), Some("12345"));
        assert_eq!(s.slack.announce_channel.as_deref(), Some("C0ANNOUNCE"));
        assert_eq!(
            s.secrets.api_token.as_ref().unwrap().expose_secret(),
            "s3cret"
        );
        assert!(!format!("{s:?}").contains("s3cret"), "secrets are redacted");
    }

    #[test]
    fn a_bad_setting_fails_with_one_line_naming_it() {
        let cases = [
            (("DATABASE_URL", "mysql://x"), "DATABASE_URL"),
            (("POMPIER_LISTEN", "not-an-address"), "listen"),
            (("SLACK_API_URL", "ftp://x"), "SLACK_API_URL"),
            (
                ("POMPIER_ANNOUNCE_CHANNEL", "#general"),
                "POMPIER_ANNOUNCE_CHANNEL",
            ),
            (
                ("POMPIER_DATABASE__MAX_CONNECTIONS", "many"),
                "max_connections",
            ),
            (("POMPIER_JOBS__MAX_ATTEMPS", "3"), "max_attemps"),
            (("POMPIER_SLAK__TIMEOUT_SECS", "3"), "slak"),
            (("POMPIER_LISTN", "127.0.0.1:1"), "listn"),
            (
                (
                    "POMPIER_ALERTS__ROUTES",
                    "[{match = {a = \"b\"}, team = \"ghosts\"}]",
                ),
                "team `ghosts` is not configured",
            ),
            (("POMPIER_INVITE__SEV9", "[\"U1\"]"), "SEV9"),
            (("POMPIER_PAGING__MIN_SEVERITY", "SEV7"), "SEV7"),
        ];
        for ((var, value), named) in cases {
            let err = Settings::load(None, env(&[(var, value)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(named), "{var}={value}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
        let err = Settings::load(Some(Path::new("/nonexistent/p.toml")), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/p.toml"), "{err}");
    }

    #[test]
    fn unknown_keys_in_a_file_stop_start_up_and_public_url_comes_from_the_environment() {
        let dir = std::env::temp_dir().join(format!("pompier-cfg-unknown-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pompier.toml");
        std::fs::write(&file, "[jobs]\nconcurency = 3\n").unwrap();
        let err = Settings::load(Some(&file), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("concurency"), "{err}");
        let s = Settings::load(
            None,
            env(&[("POMPIER_PUBLIC_URL", "https://pompier.example.com")]),
        )
        .unwrap();
        assert_eq!(s.public_url.as_deref(), Some("https://pompier.example.com"));
    }

    #[test]
    fn a_database_password_never_shows() {
        let s = Settings::load(
            None,
            env(&[(
                "DATABASE_URL",
                "postgres://pompier:hunter2@db.internal:5432/pompier",
            )]),
        )
        .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("postgres://pompier:***@db.internal:5432/pompier"),
            "{shown}"
        );
        assert_eq!(
            s.database_url.expose(),
            "postgres://pompier:hunter2@db.internal:5432/pompier"
        );
    }

    #[test]
    fn configured_roles_join_lead_and_comms() {
        let s = Settings::load(None, env(&[("POMPIER_LIFECYCLE__ROLES", "[\"scribe\"]")])).unwrap();
        let names: Vec<_> = s.roles().iter().map(|r| r.to_string()).collect();
        assert_eq!(names, ["lead", "comms", "scribe"]);
    }
}
