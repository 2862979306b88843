//! When a failed job runs again: exponential backoff with jitter, or Slack's `Retry-After`.

use std::time::Duration;

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The wait after failed attempt number `attempt` (1 for the first); `jitter` in
    /// [0, 1) spreads retries of many jobs between half and all of the wait.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let exp = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(30)));
        let capped = exp.min(self.max);
        capped.mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0)
    }

    /// `Retry-After` when the server gave one (up to an hour), else the backoff.
    pub fn next(&self, attempt: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
        match retry_after {
            Some(wait) => wait.min(MAX_RETRY_AFTER),
            None => self.delay(attempt, jitter),
        }
    }
}

/// The longest `Retry-After` obeyed: a server asking for more is asked again in an hour.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// `now + wait`, saturating instead of overflowing.
pub fn after(now: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(wait)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_up_to_the_cap_and_jitter_keeps_at_least_half() {
        let b = Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
        };
        assert_eq!(b.delay(1, 1.0), Duration::from_secs(1));
        assert_eq!(b.delay(2, 1.0), Duration::from_secs(2));
        assert_eq!(b.delay(4, 1.0), Duration::from_secs(8));
        assert_eq!(b.delay(4, 0.0), Duration::from_secs(4));
        assert_eq!(b.delay(30, 1.0), Duration::from_secs(60));
        assert_eq!(b.delay(u32::MAX, 1.0), Duration::from_secs(60));
        assert_eq!(
            b.next(3, Some(Duration::from_secs(30)), 0.0),
            Duration::from_secs(30)
        );
    }
}
