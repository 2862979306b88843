//! What every request handler and worker shares.

use std::sync::Arc;

use crate::config::Settings;
use crate::domain::{Policy, RoleName};
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub policy: Arc<Policy>,
    /// Role names `/incident role` accepts.
    pub roles: Arc<Vec<RoleName>>,
}

impl AppState {
    pub fn new(store: Store, settings: Settings) -> AppState {
        AppState {
            store,
            policy: Arc::new(settings.policy()),
            roles: Arc::new(settings.roles()),
            settings: Arc::new(settings),
        }
    }
}
