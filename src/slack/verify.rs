//! Slack request signing (`v0`): HMAC-SHA256 over `v0:{timestamp}:{raw body}` with the
//! app's signing secret, compared in constant time, within five minutes of now.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Farthest a request's timestamp may be from now, in either direction.
pub const MAX_SKEW_SECS: i64 = 5 * 60;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("SLACK_SIGNING_SECRET is not set on this pompier, so no Slack request is accepted")]
    NoSecret,
    #[error("missing X-Slack-Request-Timestamp header")]
    MissingTimestamp,
    #[error("missing X-Slack-Signature header")]
    MissingSignature,
    #[error("X-Slack-Request-Timestamp is not a Unix time")]
    BadTimestamp,
    #[error("request timestamp is more than 5 minutes from now")]
    Stale,
    #[error("signature mismatch")]
    Mismatch,
}

fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac
}

/// The `X-Slack-Signature` value Slack sends for `body` at `timestamp`.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    format!(
        "v0={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

/// Checks a request's signature headers against its raw body; `now` is Unix seconds.
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    let timestamp = timestamp.ok_or(VerifyError::MissingTimestamp)?;
    let signature = signature.ok_or(VerifyError::MissingSignature)?;
    let sent: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    if now.abs_diff(sent) > MAX_SKEW_SECS as u64 {
        return Err(VerifyError::Stale);
    }
    let digest = signature
        .strip_prefix("v0=")
        .and_then(|hex_digest| hex::decode(hex_digest).ok())
        .ok_or(VerifyError::Mismatch)?;
    mac(secret, timestamp, body)
        .verify_slice(&digest)
        .map_err(|_| VerifyError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Slack's documented example (reference §1).
    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const TS: &str = "1531420618";
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    const NOW: i64 = 1531420618;

    fn check(
        secret: &[u8],
        ts: Option<&str>,
        sig: Option<&str>,
        body: &str,
        now: i64,
    ) -> Result<(), VerifyError> {
        verify(secret, ts, sig, body.as_bytes(), now)
    }

    #[test]
    fn slacks_documented_example_verifies() {
        assert_eq!(sign(SECRET, TS, BODY.as_bytes()), SIG);
        assert_eq!(check(SECRET, Some(TS), Some(SIG), BODY, NOW), Ok(()));
    }

    #[test]
    fn the_other_published_vectors_verify() {
        // slack-go's JSON event body, and a derived url_verification body (reference §1).
        let body = r#"{"token":"aF5ynEYQH0dFN9imlgcADxDB","team_id":"XXXXXXXXX","api_app_id":"YYYYYYYYY","event":{"type":"app_mention","user":"AAAAAAAAA","text":"<@EEEEEEEEE> hello world","client_msg_id":"477cc591-ch73-a14z-4db8-g0cd76321bec","ts":"1531431954.000073","channel":"TTTTTTTTT","event_ts":"1531431954.000073"},"type":"event_callback","event_id":"TvBP7LRED7","event_time":1531431954,"authed_users":["EEEEEEEEE"]}"#;
        let sig = "v0=adada4ed31709aef585c2580ca3267678c6a8eaeb7e0c1aca3ee57b656886b2c";
        let secret = b"e6b19c573432dcc6b075501d51b51bb8";
        assert_eq!(
            check(secret, Some("1531431954"), Some(sig), body, 1531431954),
            Ok(())
        );
        assert_eq!(
            check(
                b"e6b19c573432dcc6b075501d51b51boo",
                Some("1531431954"),
                Some(sig),
                body,
                1531431954
            ),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            sign(SECRET, TS, b""),
            "v0=55f41ec73231010289b54e669149ea021fccab11b5524355523533ce930cb739"
        );
    }

    #[test]
    fn a_tampered_body_or_wrong_secret_is_refused() {
        let tampered = BODY.replace("text=", "text=resolved");
        assert_eq!(
            check(SECRET, Some(TS), Some(SIG), &tampered, NOW),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(b"another-secret", Some(TS), Some(SIG), BODY, NOW),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(SECRET, Some(TS), Some("v0=zz"), BODY, NOW),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(SECRET, Some(TS), Some(&SIG[3..]), BODY, NOW),
            Err(VerifyError::Mismatch)
        );
        let other_ts = (NOW + 1).to_string();
        assert_eq!(
            check(SECRET, Some(&other_ts), Some(SIG), BODY, NOW),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn the_window_is_five_minutes_either_way() {
        assert_eq!(check(SECRET, Some(TS), Some(SIG), BODY, NOW + 300), Ok(()));
        assert_eq!(check(SECRET, Some(TS), Some(SIG), BODY, NOW - 300), Ok(()));
        assert_eq!(
            check(SECRET, Some(TS), Some(SIG), BODY, NOW + 301),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            check(SECRET, Some(TS), Some(SIG), BODY, NOW - 301),
            Err(VerifyError::Stale)
        );
    }

    #[test]
    fn missing_or_garbled_headers_are_refused() {
        assert_eq!(
            check(SECRET, None, Some(SIG), BODY, NOW),
            Err(VerifyError::MissingTimestamp)
        );
        assert_eq!(
            check(SECRET, Some(TS), None, BODY, NOW),
            Err(VerifyError::MissingSignature)
        );
        assert_eq!(
            check(SECRET, Some("soon"), Some(SIG), BODY, NOW),
            Err(VerifyError::BadTimestamp)
        );
        assert_eq!(
            check(SECRET, Some("-99999999999999999999"), Some(SIG), BODY, NOW),
            Err(VerifyError::BadTimestamp)
        );
    }
}
