//! The cadence's sweep: every `lifecycle.cadence_sweep_secs`, nudges the incidents whose
//! update (or postmortem) is overdue, until stopped.

use std::time::Duration;

use tokio::sync::watch;

use crate::incidents::Incidents;
use crate::shutdown::{is_set, until_set};

pub async fn run(incidents: Incidents, every: Duration, mut stopped: watch::Receiver<bool>) {
    while !is_set(&stopped) {
        if let Err(e) = incidents.sweep(crate::now()).await {
            tracing::warn!(error = %e, "cannot look for incidents due an update");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = until_set(&mut stopped) => {}
        }
    }
}
