//! `/metrics` in Prometheus text format: counters kept in memory by this process; the
//! queue's depth is read from the database at scrape time by the caller (so it is right
//! across instances and restarts) and passed in.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
    jobs_done: AtomicU64,
    jobs_retried: AtomicU64,
    jobs_dead: AtomicU64,
}

/// Unfinished jobs of one service in one state.
pub struct QueueDepth<'a> {
    pub service: &'a str,
    pub state: &'a str,
    pub count: i64,
}

impl Metrics {
    pub fn job_done(&self) {
        self.jobs_done.fetch_add(1, Ordering::Relaxed);
    }

    pub fn job_retried(&self) {
        self.jobs_retried.fetch_add(1, Ordering::Relaxed);
    }

    pub fn job_dead(&self) {
        self.jobs_dead.fetch_add(1, Ordering::Relaxed);
    }

    /// The text of `/metrics`: `queue` as read now, and whether each service
    /// (`services`: name, configured) has what it needs to run its jobs.
    pub fn render(&self, queue: &[QueueDepth], services: &[(&str, bool)]) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP pompier_jobs Unfinished jobs by service and state: queued (behind another \
             job of its incident), pending (due or retrying), dead (failed for good; \
             `pompier jobs retry` revives them).\n# TYPE pompier_jobs gauge\n",
        );
        for (service, _) in services {
            for state in ["queued", "pending", "dead"] {
                let n: i64 = queue
                    .iter()
                    .filter(|d| d.service == *service && d.state == state)
                    .map(|d| d.count)
                    .sum();
                let _ = writeln!(
                    out,
                    "pompier_jobs{{service=\"{service}\",state=\"{state}\"}} {n}"
                );
            }
        }
        out.push_str(
            "# HELP pompier_service_configured Whether a service's settings are there (1) or \
             its jobs wait for them (0).\n# TYPE pompier_service_configured gauge\n",
        );
        for (service, configured) in services {
            let _ = writeln!(
                out,
                "pompier_service_configured{{service=\"{service}\"}} {}",
                u8::from(*configured)
            );
        }
        out.push_str(
            "# HELP pompier_job_runs_total Job runs by this process, by outcome.\n\
             # TYPE pompier_job_runs_total counter\n",
        );
        for (outcome, counter) in [
            ("done", &self.jobs_done),
            ("retry", &self.jobs_retried),
            ("dead", &self.jobs_dead),
        ] {
            let _ = writeln!(
                out,
                "pompier_job_runs_total{{outcome=\"{outcome}\"}} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        out
    }
}
