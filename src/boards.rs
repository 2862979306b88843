//! Live game day boards, one poll per board: the first viewer of a board starts a task
//! that reads it every second and, when it changed, hands the new HTML to every viewer
//! at once (a `watch` channel); the task ends a beat after the last viewer leaves. A
//! thousand people on one board cost the database one read a second, not a thousand.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::metrics::Metrics;

/// How often a watched board is read.
pub const POLL: Duration = Duration::from_secs(1);

/// The boards being watched: each one's latest HTML.
#[derive(Default)]
pub struct Feeds {
    boards: Mutex<HashMap<i64, watch::Sender<Arc<str>>>>,
    /// Boards being read for their first viewer.
    starting: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
}

impl Feeds {
    /// Held by the viewer who reads a board nobody watches yet, so that those who
    /// arrive meanwhile wait for that read and join its feed rather than read it too (a
    /// thousand opening the board at once cost one read). Let go with
    /// [`Feeds::started`].
    pub async fn first(&self, id: i64) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut starting = self.starting.lock().expect("the starting map");
            starting.entry(id).or_default().clone()
        };
        lock.lock_owned().await
    }

    /// Board `id` has its feed, or could not be read: the next first viewer starts
    /// afresh.
    pub fn started(&self, id: i64, first: tokio::sync::OwnedMutexGuard<()>) {
        self.starting.lock().expect("the starting map").remove(&id);
        drop(first);
    }

    /// Board `id`'s HTML as it changes, if someone watches it already: a viewer who
    /// joins reads nothing from the database (a thousand arriving at once cost no more
    /// than one).
    pub fn joined(&self, id: i64) -> Option<watch::Receiver<Arc<str>>> {
        let boards = self.boards.lock().expect("the board map");
        boards.get(&id).map(watch::Sender::subscribe)
    }

    /// Board `id`'s HTML as it changes, starting with `first` (read by this viewer's
    /// request) when nobody watches it yet; `read` reads it again (`None`: a hiccup,
    /// the board stays as it was).
    pub fn watch<F, R>(
        self: &Arc<Self>,
        id: i64,
        first: String,
        read: R,
        metrics: &Arc<Metrics>,
    ) -> watch::Receiver<Arc<str>>
    where
        R: Fn() -> F + Send + 'static,
        F: Future<Output = Option<String>> + Send,
    {
        let mut boards = self.boards.lock().expect("the board map");
        if let Some(feed) = boards.get(&id) {
            return feed.subscribe();
        }
        let (feed, viewer) = watch::channel(Arc::<str>::from(first));
        boards.insert(id, feed.clone());
        drop(boards);
        let (feeds, metrics) = (self.clone(), metrics.clone());
        tokio::spawn(async move { feeds.poll(id, feed, read, metrics).await });
        viewer
    }

    /// Reads board `id` every `POLL` while someone watches it.
    async fn poll<F, R>(
        &self,
        id: i64,
        feed: watch::Sender<Arc<str>>,
        read: R,
        metrics: Arc<Metrics>,
    ) where
        R: Fn() -> F,
        F: Future<Output = Option<String>>,
    {
        loop {
            tokio::time::sleep(POLL).await;
            {
                // Decided under the map's lock, so a viewer arriving now either finds
                // this feed or starts a new one.
                let mut boards = self.boards.lock().expect("the board map");
                if feed.receiver_count() == 0 {
                    boards.remove(&id);
                    return;
                }
            }
            metrics.board_polled();
            let Some(html) = read().await else {
                continue;
            };
            feed.send_if_modified(|shown| {
                let changed = **shown != *html;
                if changed {
                    *shown = Arc::from(html);
                }
                changed
            });
        }
    }
}
