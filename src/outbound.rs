//! Calls to outside services (Slack, Confluence, and what comes next): each service's one
//! `reqwest::Client`, built here with its timeouts and the roots it trusts (the system's
//! store, Mozilla's, and `POMPIER_CA_FILE` for an internal service behind a company CA),
//! and the reading of answers every service shares: `Retry-After`, what a status means,
//! the root cause of a call that failed.

use std::path::Path;
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;

/// The certificates of a PEM file (a company CA), checked at start.
pub fn ca_certificates(path: &Path) -> Result<Vec<reqwest::Certificate>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let certificates = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("{} is not a PEM certificate bundle: {e}", path.display()))?;
    if certificates.is_empty() {
        return Err(format!("{} holds no certificate", path.display()));
    }
    Ok(certificates)
}

/// A service's client: every call within `timeout`, connecting within 5 s of it,
/// trusting the system's roots, Mozilla's, and those of `ca_file`.
pub fn client(timeout: Duration, ca_file: Option<&Path>) -> Result<reqwest::Client, String> {
    builder(timeout, ca_file)?
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))
}

/// The builder of [`client`], for a caller that sets more.
pub fn builder(
    timeout: Duration,
    ca_file: Option<&Path>,
) -> Result<reqwest::ClientBuilder, String> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5).min(timeout))
        .timeout(timeout)
        .user_agent(concat!("pompier/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_file {
        for certificate in ca_certificates(path)? {
            builder = builder.add_root_certificate(certificate);
        }
    }
    Ok(builder)
}

/// What an answer's status says, before its body is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Success,
    /// 429, or a 5xx that says when to come back: the whole service waits that long.
    RateLimited(Option<Duration>),
    /// Another 5xx: worth trying again.
    Transient(String),
    /// A 4xx: the service refused; its body may say why.
    Refused,
}

pub fn status(status: StatusCode, headers: &HeaderMap) -> Status {
    let wait = retry_after(headers);
    if status == StatusCode::TOO_MANY_REQUESTS || (status.is_server_error() && wait.is_some()) {
        Status::RateLimited(wait)
    } else if status.is_server_error() {
        Status::Transient(format!("HTTP {status}"))
    } else if status.is_success() {
        Status::Success
    } else {
        Status::Refused
    }
}

/// `Retry-After` in seconds, if the service gave one.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// What went wrong, down to the root cause ("Connection refused", "operation timed
/// out"), without the URL (nothing secret is in it, but it says nothing useful).
pub fn cause(e: reqwest::Error) -> String {
    let e = e.without_url();
    let text = if e.is_timeout() {
        "timed out".to_owned()
    } else {
        e.to_string()
    };
    with_causes(text, std::error::Error::source(&e))
}

/// An error and its causes, in one line.
pub fn chain(e: &dyn std::error::Error) -> String {
    with_causes(e.to_string(), e.source())
}

/// `text`, then each cause from `source` down that it does not say already.
fn with_causes(mut text: String, mut source: Option<&dyn std::error::Error>) -> String {
    while let Some(inner) = source {
        let said = inner.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = inner.source();
    }
    text
}

tokio::task_local! {
    /// How far the job's clock (`jobs::Run::at`) is ahead of the real one: a test that
    /// runs jobs an hour later finds the paces and holds of that hour passed.
    static AHEAD: chrono::Duration;
}

/// Runs `f` (a job's calls) on the clock that says `at` now: the paces of calls and the
/// holds of rate limits are read on it.
pub async fn on_clock<F: std::future::Future>(
    at: chrono::DateTime<chrono::Utc>,
    f: F,
) -> F::Output {
    let ahead = (at - crate::now()).max(chrono::Duration::zero());
    AHEAD.scope(ahead, f).await
}

/// Now, on the job's clock.
pub fn clock() -> chrono::DateTime<chrono::Utc> {
    crate::now() + AHEAD.try_with(|a| *a).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_read_alike_for_every_service() {
        let none = HeaderMap::new();
        let mut wait = HeaderMap::new();
        wait.insert(RETRY_AFTER, "30".parse().unwrap());
        assert_eq!(status(StatusCode::OK, &none), Status::Success);
        assert_eq!(
            status(StatusCode::TOO_MANY_REQUESTS, &wait),
            Status::RateLimited(Some(Duration::from_secs(30)))
        );
        assert_eq!(
            status(StatusCode::SERVICE_UNAVAILABLE, &wait),
            Status::RateLimited(Some(Duration::from_secs(30)))
        );
        assert!(matches!(
            status(StatusCode::BAD_GATEWAY, &none),
            Status::Transient(_)
        ));
        assert_eq!(status(StatusCode::FORBIDDEN, &none), Status::Refused);
    }

    #[test]
    fn a_ca_file_must_hold_certificates() {
        let dir = std::env::temp_dir().join(format!("pompier-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        assert!(ca_certificates(&junk).is_err());
        assert!(ca_certificates(&dir.join("missing.pem"))
            .unwrap_err()
            .contains("cannot read"));
        assert!(client(Duration::from_secs(1), None).is_ok());
    }
}
