//! What every request handler and worker shares.

use std::sync::Arc;

use tokio::sync::Notify;

use crate::config::Settings;
use crate::domain::{Policy, RoleName};
use crate::jobs::Effects;
use crate::metrics::Metrics;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub policy: Arc<Policy>,
    /// Role names `/incident role` accepts.
    pub roles: Arc<Vec<RoleName>>,
    /// Which jobs each change queues.
    pub effects: Arc<Effects>,
    /// Wakes the workers when a request queued jobs.
    pub jobs_queued: Arc<Notify>,
    pub metrics: Arc<Metrics>,
}

impl AppState {
    pub fn new(store: Store, settings: Settings) -> AppState {
        AppState {
            store,
            policy: Arc::new(settings.policy()),
            roles: Arc::new(settings.roles()),
            effects: Arc::new(Effects {
                announce: settings.announce_channel().is_some(),
                archive_on_close: settings.slack.archive_on_close,
            }),
            jobs_queued: Arc::new(Notify::new()),
            metrics: Arc::new(Metrics::default()),
            settings: Arc::new(settings),
        }
    }
}
