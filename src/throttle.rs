//! Refused tokens by client: after a few in a minute (the sign-in form and
//! `Authorization: Bearer` alike), the client waits out the minute. Only failures count.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Refused tries a client may make in a minute.
const TRIES_PER_MINUTE: u32 = 5;

/// Refused tries per client, in one-minute windows.
#[derive(Default)]
pub struct Attempts {
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl Attempts {
    /// Whether `client` may try now: fewer than `TRIES_PER_MINUTE` failures in the
    /// last minute. Only failures count.
    pub fn allow(&self, client: IpAddr, now: Instant) -> bool {
        let seen = self.seen.lock().expect("attempts");
        match seen.get(&client) {
            Some((start, n)) if now.duration_since(*start) < Duration::from_secs(60) => {
                *n < TRIES_PER_MINUTE
            }
            _ => true,
        }
    }

    /// Counts a failed try of `client`.
    pub fn failed(&self, client: IpAddr, now: Instant) {
        let mut seen = self.seen.lock().expect("attempts");
        if seen.len() > 10_000 {
            seen.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(60));
        }
        let entry = seen.entry(client).or_insert((now, 0));
        if now.duration_since(entry.0) >= Duration::from_secs(60) {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_a_few_tries_a_minute() {
        let attempts = Attempts::default();
        let (me, other) = ("127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..TRIES_PER_MINUTE {
            assert!(attempts.allow(me, t0));
            attempts.failed(me, t0);
        }
        assert!(
            !attempts.allow(me, t0),
            "only failures count, and five is the end"
        );
        assert!(attempts.allow(other, t0));
        assert!(attempts.allow(me, t0 + Duration::from_secs(61)));
    }
}
