//! Live boards (Server-Sent Events) are long requests: they are counted apart from the
//! connection cap, so viewers never take the connections Slack's requests need, at most
//! `http.max_streams` in all and `http.max_streams_per_session` for one session, and each
//! ends when its session logs out or pompier stops.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

/// Why a stream was not opened.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The session has its share open.
    Session(usize),
    /// Every stream is taken.
    All(usize),
}

pub struct Streams {
    total: Arc<Semaphore>,
    max_total: usize,
    per_session: usize,
    /// Per session: streams open, and the signal that ends them.
    sessions: Mutex<HashMap<String, (usize, watch::Sender<bool>)>>,
    /// Ends every stream (shutdown).
    all: watch::Sender<bool>,
    /// Sessions logged out on this instance, with when they would have expired (Unix
    /// seconds): refused until then.
    logged_out: Mutex<HashMap<String, i64>>,
}

/// An open stream's place: given back when dropped.
pub struct Pass {
    _permit: OwnedSemaphorePermit,
    streams: Arc<Streams>,
    session: String,
    ended: watch::Receiver<bool>,
    all: watch::Receiver<bool>,
}

impl Streams {
    pub fn new(max_total: usize, per_session: usize) -> Arc<Streams> {
        Arc::new(Streams {
            total: Arc::new(Semaphore::new(max_total)),
            max_total,
            per_session,
            sessions: Mutex::default(),
            all: watch::channel(false).0,
            logged_out: Mutex::default(),
        })
    }

    /// A place for one more stream of `session`.
    pub fn open(self: &Arc<Self>, session: &str) -> Result<Pass, Refused> {
        let mut sessions = self.sessions.lock().expect("the stream map");
        let (open, end) = sessions
            .entry(session.to_owned())
            .or_insert_with(|| (0, watch::channel(false).0));
        if *open >= self.per_session {
            return Err(Refused::Session(self.per_session));
        }
        let permit = self
            .total
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refused::All(self.max_total))?;
        *open += 1;
        Ok(Pass {
            _permit: permit,
            streams: self.clone(),
            session: session.to_owned(),
            ended: end.subscribe(),
            all: self.all.subscribe(),
        })
    }

    /// `session`, valid until `expires` (Unix seconds), logged out at `now`: its streams
    /// end, and it is refused from now on.
    pub fn log_out(&self, session: &str, expires: i64, now: i64) {
        let mut out = self.logged_out.lock().expect("the logout map");
        out.retain(|_, until| *until > now);
        out.insert(session.to_owned(), expires);
        drop(out);
        self.end_session(session);
    }

    /// Whether `session` was logged out.
    pub fn is_logged_out(&self, session: &str) -> bool {
        self.logged_out
            .lock()
            .expect("the logout map")
            .contains_key(session)
    }

    /// Ends the streams of `session`.
    fn end_session(&self, session: &str) {
        if let Some((_, end)) = self.sessions.lock().expect("the stream map").get(session) {
            let _ = end.send(true);
        }
    }

    /// Ends every stream (pompier stops).
    pub fn end_all(&self) {
        let _ = self.all.send(true);
    }
}

impl Pass {
    /// Returns once the stream must end.
    pub async fn ended(&mut self) {
        tokio::select! {
            _ = self.ended.wait_for(|e| *e) => {}
            _ = self.all.wait_for(|e| *e) => {}
        }
    }

    /// Whether the stream must end now.
    pub fn is_ended(&self) -> bool {
        *self.ended.borrow() || *self.all.borrow()
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        let mut sessions = self.streams.sessions.lock().expect("the stream map");
        if let Some((open, _)) = sessions.get_mut(&self.session) {
            *open -= 1;
            if *open == 0 {
                sessions.remove(&self.session);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_capped_per_session_and_in_all_and_given_back() {
        let streams = Streams::new(3, 2);
        let a1 = streams.open("a").unwrap();
        let _a2 = streams.open("a").unwrap();
        assert_eq!(streams.open("a").err(), Some(Refused::Session(2)));
        let _b1 = streams.open("b").unwrap();
        assert_eq!(streams.open("c").err(), Some(Refused::All(3)));
        drop(a1);
        let c1 = streams.open("c").unwrap();
        streams.log_out("c", 100, 10);
        assert!(c1.is_ended());
        assert!(streams.is_logged_out("c") && !streams.is_logged_out("b"));
        assert!(!_b1.is_ended());
        streams.end_all();
        assert!(_b1.is_ended());
    }
}
