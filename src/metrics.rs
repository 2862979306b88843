//! `/metrics` in Prometheus text format: counters kept in memory, queue depth read from
//! the database at scrape time (so it is right across instances and restarts).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::store::{Store, StoreError};

#[derive(Debug, Default)]
pub struct Metrics {
    jobs_done: AtomicU64,
    jobs_retried: AtomicU64,
    jobs_dead: AtomicU64,
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

    pub async fn render(&self, store: &Store) -> Result<String, StoreError> {
        let mut out = String::new();
        out.push_str(
            "# HELP pompier_jobs Jobs by state: queued (behind another job of its incident), \
             pending (due or retrying), done, dead.\n",
        );
        out.push_str("# TYPE pompier_jobs gauge\n");
        let counts = store.job_counts().await?;
        for state in ["queued", "pending", "done", "dead"] {
            let n = counts
                .iter()
                .find(|(s, _)| s == state)
                .map_or(0, |(_, n)| *n);
            let _ = writeln!(out, "pompier_jobs{{state=\"{state}\"}} {n}");
        }
        out.push_str("# HELP pompier_job_runs_total Job runs by this process, by outcome.\n");
        out.push_str("# TYPE pompier_job_runs_total counter\n");
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
        Ok(out)
    }
}
