//! The janitor: every minute, forgets delivery and idempotency keys past their window
//! and Slack call paces past, and deletes finished jobs and audit entries past their
//! retention, until stopped.

use std::time::Duration;

use tokio::sync::watch;

use crate::shutdown::{is_set, until_set};
use crate::store::Store;

/// How often it runs, and how many finished jobs it deletes at a time.
const EVERY: Duration = Duration::from_secs(60);
const BATCH: i64 = 10_000;

/// How long each kind of delivery key is kept: past it, Slack no longer retries that
/// delivery (signatures are refused as stale after 5 minutes; events, envelopes and
/// submissions are retried within the hour), and a message pinned again a month later
/// is captured again.
const DELIVERY_WINDOWS: [(&str, Duration); 6] = [
    ("sig:", Duration::from_secs(10 * 60)),
    ("event:", Duration::from_secs(60 * 60)),
    ("envelope:", Duration::from_secs(60 * 60)),
    ("view:", Duration::from_secs(60 * 60)),
    ("pin:", Duration::from_secs(30 * 24 * 60 * 60)),
    // A change of an alert group, told once however many replicas post it.
    ("alert:", Duration::from_secs(24 * 60 * 60)),
];

fn ago(window: Duration) -> chrono::DateTime<chrono::Utc> {
    crate::now() - chrono::Duration::from_std(window).unwrap_or_default()
}

/// Runs until `stopped`, keeping finished jobs `keep_done` and the audit trail
/// `keep_audit`.
pub async fn run(
    store: Store,
    keep_done: Duration,
    keep_audit: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    while !is_set(&stopped) {
        for (prefix, window) in DELIVERY_WINDOWS {
            if let Err(e) = store.forget_deliveries(prefix, ago(window)).await {
                tracing::warn!(error = %e, "cannot forget old delivery keys");
            }
        }
        if let Err(e) = store
            .forget_keys(crate::now() - crate::store::KEY_KEPT)
            .await
        {
            tracing::warn!(error = %e, "cannot forget old idempotency keys");
        }
        if let Err(e) = store.forget_slots(ago(Duration::from_secs(60))).await {
            tracing::warn!(error = %e, "cannot forget the paces of Slack calls past");
        }
        if let Err(e) = store.purge_sessions(crate::now()).await {
            tracing::warn!(error = %e, "cannot delete ended dashboard sessions");
        }
        if let Err(e) = store.purge_audit(ago(keep_audit)).await {
            tracing::warn!(error = %e, "cannot delete the audit trail past its retention");
        }
        let before = ago(keep_done);
        loop {
            match store.purge_done(before, BATCH).await {
                Ok(n) if n as i64 == BATCH && !is_set(&stopped) => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot delete old finished jobs");
                    break;
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = until_set(&mut stopped) => {}
        }
    }
}
