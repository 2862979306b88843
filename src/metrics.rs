//! `/metrics` in the OpenMetrics text format (which Prometheus reads), through the
//! `prometheus-client` crate. Counters and histograms are kept in memory by this process
//! (requests, commands, job runs, outside calls); what the database knows (the queue,
//! incidents by status and severity, the queue's lag) is read at scrape time by the
//! caller, so it is right across instances and restarts, and passed in as a [`Snapshot`].

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Latency buckets, in seconds: from a fast answer (1 ms) to Slack's 3 s limit and a
/// slow outside call (10 s).
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 3.0, 10.0,
];

fn histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandLabels {
    subcommand: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobRunLabels {
    service: String,
    kind: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    service: String,
    kind: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    service: &'static str,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallErrorLabels {
    service: &'static str,
    method: String,
    error: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IncidentLabels {
    status: String,
    severity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabels {
    service: &'static str,
}

/// How a job run ended.
#[derive(Debug, Clone, Copy)]
pub enum JobOutcome {
    Done,
    Retried,
    /// Put off by a rate limit, not failed.
    Paced,
    Dead,
}

/// What the database says at scrape time.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Unfinished jobs: (service, kind, state, count), state one of `queued`,
    /// `pending`, `running`, `dead`.
    pub jobs: Vec<(String, String, String, i64)>,
    /// Incidents: (status, severity, count).
    pub incidents: Vec<(String, String, i64)>,
    /// Age of the oldest job that is due and not running.
    pub queue_lag: Duration,
    /// Whether API tokens are answered from memory (a revocation listener is up).
    pub token_cache: bool,
}

pub struct Metrics {
    registry: Registry,
    requests: Histograms<RequestLabels>,
    commands: Family<CommandLabels, Counter>,
    job_runs: Family<JobRunLabels, Counter>,
    calls: Histograms<CallLabels>,
    call_errors: Family<CallErrorLabels, Counter>,
    jobs: Family<JobLabels, Gauge>,
    incidents: Family<IncidentLabels, Gauge>,
    queue_lag: Gauge<f64, std::sync::atomic::AtomicU64>,
    token_cache: Gauge,
    board_polls: Counter,
    services: Vec<&'static str>,
    /// One scrape at a time sets the database's gauges and encodes them.
    scrape: Mutex<()>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// The metrics of one app; `services`: each service's name and whether its settings
    /// are there.
    pub fn new(services: &[(&'static str, bool)]) -> Metrics {
        let mut registry = Registry::with_prefix("pompier");
        let requests = Histograms::<RequestLabels>::new_with_constructor(histogram);
        registry.register_with_unit(
            "http_request_duration",
            "HTTP requests by route (its pattern), method and status, and how long they took",
            Unit::Seconds,
            requests.clone(),
        );
        let commands = Family::<CommandLabels, Counter>::default();
        registry.register(
            "commands",
            "Slash commands by subcommand (`invalid` when they do not parse)",
            commands.clone(),
        );
        let job_runs = Family::<JobRunLabels, Counter>::default();
        registry.register(
            "job_runs",
            "Job runs by this process, by service, kind and outcome (done, retried, dead)",
            job_runs.clone(),
        );
        let calls = Histograms::<CallLabels>::new_with_constructor(histogram);
        registry.register_with_unit(
            "outside_call_duration",
            "Calls to outside services (Slack, Confluence, PagerDuty, Opsgenie) by service and method, and how long they took",
            Unit::Seconds,
            calls.clone(),
        );
        let call_errors = Family::<CallErrorLabels, Counter>::default();
        registry.register(
            "outside_call_errors",
            "Failed calls to outside services, by service, method and error \
             (transient, rate_limited, refused)",
            call_errors.clone(),
        );
        let jobs = Family::<JobLabels, Gauge>::default();
        registry.register(
            "jobs",
            "Unfinished jobs by service, kind and state: queued (behind another job of \
             its incident), pending (due or waiting to retry), running (leased by a \
             worker), dead (failed for good; `pompier jobs retry` revives them)",
            jobs.clone(),
        );
        let incidents = Family::<IncidentLabels, Gauge>::default();
        registry.register(
            "incidents",
            "Incidents by status and severity",
            incidents.clone(),
        );
        let queue_lag = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register_with_unit(
            "queue_lag",
            "Age of the oldest job that is due and not running (0 when none waits)",
            Unit::Seconds,
            queue_lag.clone(),
        );
        let token_cache = Gauge::default();
        registry.register(
            "token_cache_live",
            "Whether API tokens seen before are answered from memory (1: PostgreSQL, with \
             its revocation listener up) or read from the database on every request (0)",
            token_cache.clone(),
        );
        let board_polls = Counter::default();
        registry.register(
            "board_polls",
            "Reads of live game day boards: one as its first viewer comes, then one a \
             second while watched, however many watch it",
            board_polls.clone(),
        );
        let configured = Family::<ServiceLabels, Gauge>::default();
        registry.register(
            "service_configured",
            "Whether a service's settings are there (1) or its jobs wait for them (0)",
            configured.clone(),
        );
        for (service, is) in services {
            configured
                .get_or_create(&ServiceLabels { service })
                .set(i64::from(*is));
        }
        Metrics {
            registry,
            requests,
            commands,
            job_runs,
            calls,
            call_errors,
            jobs,
            incidents,
            queue_lag,
            token_cache,
            board_polls,
            services: services.iter().map(|(s, _)| *s).collect(),
            scrape: Mutex::new(()),
        }
    }

    /// A request answered: `route` is the matched pattern (`/api/v1/incidents/{id}`),
    /// never the raw path, so an unauthenticated client cannot add label values.
    pub fn request(&self, route: &str, method: &str, status: u16, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
            })
            .observe(took.as_secs_f64());
    }

    /// A live board read once, for all its viewers.
    pub fn board_polled(&self) {
        self.board_polls.inc();
    }

    pub fn command(&self, subcommand: &'static str) {
        self.commands
            .get_or_create(&CommandLabels { subcommand })
            .inc();
    }

    pub fn job_run(&self, service: &str, kind: &str, outcome: JobOutcome) {
        let outcome = match outcome {
            JobOutcome::Done => "done",
            JobOutcome::Retried => "retried",
            JobOutcome::Paced => "paced",
            JobOutcome::Dead => "dead",
        };
        self.job_runs
            .get_or_create(&JobRunLabels {
                service: service.to_owned(),
                kind: kind.to_owned(),
                outcome,
            })
            .inc();
    }

    /// A call to an outside service; `error` names how it failed, if it did.
    pub fn call(
        &self,
        service: &'static str,
        method: &str,
        took: Duration,
        error: Option<&'static str>,
    ) {
        self.calls
            .get_or_create(&CallLabels {
                service,
                method: method.to_owned(),
            })
            .observe(took.as_secs_f64());
        if let Some(error) = error {
            self.call_errors
                .get_or_create(&CallErrorLabels {
                    service,
                    method: method.to_owned(),
                    error,
                })
                .inc();
        }
    }

    /// The text of `/metrics`, with `snapshot` as the database's gauges.
    pub fn render(&self, snapshot: &Snapshot) -> String {
        let _one = self.scrape.lock().unwrap_or_else(|e| e.into_inner());
        self.jobs.clear();
        for service in &self.services {
            // Every state of a configured service shows, 0 included, so a dashboard
            // query has a series from the start.
            for state in ["queued", "pending", "running", "dead"] {
                self.jobs
                    .get_or_create(&JobLabels {
                        service: (*service).to_owned(),
                        kind: "all".into(),
                        state: state.into(),
                    })
                    .set(0);
            }
        }
        for (service, kind, state, count) in &snapshot.jobs {
            let all = JobLabels {
                service: service.clone(),
                kind: "all".into(),
                state: state.clone(),
            };
            self.jobs.get_or_create(&all).inc_by(*count);
            self.jobs
                .get_or_create(&JobLabels {
                    kind: kind.clone(),
                    ..all
                })
                .set(*count);
        }
        self.incidents.clear();
        for (status, severity, count) in &snapshot.incidents {
            self.incidents
                .get_or_create(&IncidentLabels {
                    status: status.clone(),
                    severity: severity.clone(),
                })
                .set(*count);
        }
        self.queue_lag.set(snapshot.queue_lag.as_secs_f64());
        self.token_cache.set(i64::from(snapshot.token_cache));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_was_counted_and_what_the_database_said() {
        let metrics = Metrics::new(&[("slack", true), ("confluence", false)]);
        metrics.request("/slack/commands", "POST", 200, Duration::from_millis(2));
        metrics.command("declare");
        metrics.job_run("slack", "create_channel", JobOutcome::Retried);
        metrics.call(
            "slack",
            "chat.postMessage",
            Duration::from_millis(40),
            Some("transient"),
        );
        let text = metrics.render(&Snapshot {
            jobs: vec![
                ("slack".into(), "post_summary".into(), "pending".into(), 3),
                ("slack".into(), "invite".into(), "pending".into(), 2),
            ],
            incidents: vec![("open".into(), "SEV2".into(), 7)],
            queue_lag: Duration::from_millis(1500),
            token_cache: true,
        });
        for line in [
            "pompier_http_request_duration_seconds_count{route=\"/slack/commands\",method=\"POST\",status=\"200\"} 1",
            "pompier_http_request_duration_seconds_bucket{le=\"0.0025\",route=\"/slack/commands\",method=\"POST\",status=\"200\"} 1",
            "pompier_http_request_duration_seconds_bucket{le=\"0.001\",route=\"/slack/commands\",method=\"POST\",status=\"200\"} 0",
            "pompier_commands_total{subcommand=\"declare\"} 1",
            "pompier_job_runs_total{service=\"slack\",kind=\"create_channel\",outcome=\"retried\"} 1",
            "pompier_outside_call_duration_seconds_count{service=\"slack\",method=\"chat.postMessage\"} 1",
            "pompier_outside_call_errors_total{service=\"slack\",method=\"chat.postMessage\",error=\"transient\"} 1",
            "pompier_jobs{service=\"slack\",kind=\"all\",state=\"pending\"} 5",
            "pompier_jobs{service=\"slack\",kind=\"invite\",state=\"pending\"} 2",
            "pompier_jobs{service=\"confluence\",kind=\"all\",state=\"dead\"} 0",
            "pompier_incidents{status=\"open\",severity=\"SEV2\"} 7",
            "pompier_queue_lag_seconds 1.5",
            "pompier_token_cache_live 1",
            "pompier_service_configured{service=\"confluence\"} 0",
            "# EOF",
        ] {
            assert!(text.contains(line), "{line} not in\n{text}");
        }
        // A second scrape replaces the database's gauges rather than adding to them.
        let text = metrics.render(&Snapshot::default());
        assert!(text.contains("pompier_jobs{service=\"slack\",kind=\"all\",state=\"pending\"} 0"));
        assert!(!text.contains("kind=\"invite\""), "{text}");
        assert!(!text.contains("pompier_incidents{"), "{text}");
    }
}
