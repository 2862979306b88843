//! Stopping: every loop and connection waits on one `watch` flag that turns true once.

use tokio::sync::watch;

/// Whether `signal` is set.
pub fn is_set(signal: &watch::Receiver<bool>) -> bool {
    *signal.borrow()
}

/// Returns once `signal` is true (at once if it is already).
pub async fn until_set(signal: &mut watch::Receiver<bool>) {
    let _ = signal.wait_for(|s| *s).await;
}
