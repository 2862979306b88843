//! The dashboard's session: a manager gives the API token once in a form; the server
//! answers with a cookie it signed (HttpOnly, SameSite=Strict), valid 12 hours. The
//! `Authorization: Bearer` header works too. Guessing the token through the form is
//! slowed to a few tries a minute per client.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The cookie's name.
pub const COOKIE: &str = "pompier_session";
/// How long a session lasts.
pub const LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Login attempts a client may make in a minute.
const TRIES_PER_MINUTE: u32 = 5;

type HmacSha256 = Hmac<Sha256>;

/// The token of an `Authorization: Bearer …` header (the scheme in any case).
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Whether `given` is the API token, in constant time.
pub fn is_token(expected: &SecretString, given: &str) -> bool {
    bool::from(given.as_bytes().ct_eq(expected.expose_secret().as_bytes()))
}

fn mac(token: &SecretString, claim: &str) -> HmacSha256 {
    // A key of its own, derived from the token: changing the token ends every session.
    let mut key =
        HmacSha256::new_from_slice(token.expose_secret().as_bytes()).expect("any key length");
    key.update(b"pompier dashboard session v1");
    let key = key.finalize().into_bytes();
    let mut mac = HmacSha256::new_from_slice(&key).expect("any key length");
    mac.update(claim.as_bytes());
    mac
}

/// A new session value that expires at `expires` (Unix seconds): `EXPIRES-NONCE.MAC`, the
/// nonce making each sign-in a session of its own (one logs out alone).
pub fn sign(token: &SecretString, expires: i64) -> String {
    let claim = format!("{expires}-{:016x}", rand::random::<u64>());
    format!(
        "{claim}.{}",
        hex::encode(mac(token, &claim).finalize().into_bytes())
    )
}

/// When session `value` expires (Unix seconds), as it says; not a proof it is valid.
pub fn expires(value: &str) -> Option<i64> {
    let (claim, _) = value.split_once('.')?;
    claim.split('-').next()?.parse().ok()
}

/// Whether `value` is a session this server signed that has not expired at `now`.
pub fn verify(token: &SecretString, value: &str, now: i64) -> bool {
    let Some((claim, signature)) = value.split_once('.') else {
        return false;
    };
    let (Some(expires), Ok(signature)) = (expires(value), hex::decode(signature)) else {
        return false;
    };
    expires > now && mac(token, claim).verify_slice(&signature).is_ok()
}

/// The session cookie to set; `secure` when people reach pompier over HTTPS.
pub fn cookie(value: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        LIFETIME.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// The header that ends the session.
pub fn expired_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The session cookie's value among the request's cookies.
pub fn from_cookies(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// Login attempts per client, in one-minute windows.
#[derive(Default)]
pub struct Attempts {
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl Attempts {
    /// Counts an attempt by `client`; false when it has had its share this minute.
    pub fn allow(&self, client: IpAddr, now: Instant) -> bool {
        let mut seen = self.seen.lock().expect("attempts");
        if seen.len() > 10_000 {
            seen.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(60));
        }
        let entry = seen.entry(client).or_insert((now, 0));
        if now.duration_since(entry.0) >= Duration::from_secs(60) {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= TRIES_PER_MINUTE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_session_holds_until_it_expires_and_nothing_else_does() {
        let token = SecretString::from("t0ken");
        let value = sign(&token, 1_000);
        assert!(verify(&token, &value, 999));
        assert!(!verify(&token, &value, 1_000), "expired");
        assert!(
            !verify(&SecretString::from("other"), &value, 999),
            "another token"
        );
        let forged = value.replacen("1000", "9999", 1);
        assert!(
            !verify(&token, &forged, 999),
            "a later expiry is not signed"
        );
        assert_ne!(
            sign(&token, 1_000),
            value,
            "each sign-in is its own session"
        );
        assert_eq!(expires(&value), Some(1_000));
        for junk in ["", ".", "abc", "1000.zz", "1000", "1000-ab.zz"] {
            assert!(!verify(&token, junk, 0), "{junk}");
        }
        assert_eq!(
            from_cookies(&format!("a=b; {COOKIE}={value}; c=d")),
            Some(value.as_str())
        );
        assert!(cookie(&value, true).contains("HttpOnly; SameSite=Strict"));
    }

    #[test]
    fn a_client_gets_a_few_tries_a_minute() {
        let attempts = Attempts::default();
        let (me, other) = ("127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..TRIES_PER_MINUTE {
            assert!(attempts.allow(me, t0));
        }
        assert!(!attempts.allow(me, t0));
        assert!(attempts.allow(other, t0));
        assert!(attempts.allow(me, t0 + Duration::from_secs(61)));
    }
}
