//! The dashboard's session: a manager gives an API token once in a form; the server
//! keeps a session (its id's hash, in the database) and answers with the id in a cookie
//! (HttpOnly, SameSite=Strict, Secure over HTTPS). It ends when idle, when too old, at
//! sign-out, or when its token is revoked, on every instance. The `Authorization:
//! Bearer` header works too. Guessing a token is slowed by [`crate::throttle`].

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The cookie's name.
pub const COOKIE: &str = "pompier_session";
/// How long a session lasts.
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

/// A new session id: 32 random bytes, hex. Only its hash is stored.
pub fn new_id() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// What the database keeps of a session id, or of the operator's token: its SHA-256.
pub fn hash(secret: &str) -> String {
    use sha2::Digest;
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether a form post comes from a page of this pompier: its `Origin` (else its
/// `Referer`) names the host it was sent to (`Host`, or `X-Forwarded-Host` as a proxy
/// passes it on), or the host of `POMPIER_PUBLIC_URL`. A browser always sends one with a
/// form, and a page of another site can set none of these headers.
pub fn same_origin(headers: &axum::http::HeaderMap, public_url: Option<&str>) -> bool {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let host_of = |url: &str| -> Option<String> {
        let (_, rest) = url.split_once("://")?;
        Some(
            rest.split('/')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase(),
        )
    };
    let from = get("origin")
        .filter(|o| *o != "null")
        .or_else(|| get("referer"))
        .and_then(host_of);
    let Some(from) = from else {
        return false;
    };
    let ours = [get("host"), get("x-forwarded-host")]
        .into_iter()
        .flatten()
        .map(|h| {
            h.split(',')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .chain(public_url.and_then(host_of));
    ours.into_iter()
        .any(|host| !host.is_empty() && host == from)
}

pub fn cookie(value: &str, secure: bool, lifetime: Duration) -> String {
    format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        lifetime.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// The header that ends the session.
pub fn expired_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The session cookie's value among the request's cookies.
pub fn from_cookies(header: &str) -> Option<&str> {
    named(header, COOKIE)
}

/// Cookie `name`'s value in a `Cookie` header.
pub fn named<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

/// Whether cookies are `Secure`: when people reach pompier over HTTPS.
pub fn secure(public_url: Option<&str>) -> bool {
    public_url.is_some_and(|u| u.starts_with("https://"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_new_each_time_and_only_their_hash_is_kept() {
        let (a, b) = (new_id(), new_id());
        assert_ne!(a, b, "two sign-ins in the same second get two sessions");
        assert_eq!(a.len(), 64);
        assert_eq!(hash(&a), hash(&a));
        assert_ne!(hash(&a), a);
        assert_eq!(
            from_cookies(&format!("a=b; {COOKIE}={a}; c=d")),
            Some(a.as_str())
        );
        let set = cookie(&a, true, Duration::from_secs(60));
        assert!(
            set.contains("HttpOnly; SameSite=Strict; Max-Age=60; Secure"),
            "{set}"
        );
    }

    #[test]
    fn a_form_post_must_come_from_this_pompier() {
        use axum::http::{header, HeaderMap, HeaderValue};
        let headers = |pairs: &[(header::HeaderName, &'static str)]| {
            let mut h = HeaderMap::new();
            for (name, value) in pairs {
                h.insert(name.clone(), HeaderValue::from_static(value));
            }
            h
        };
        let host = (header::HOST, "pompier.acme.com");
        let same_origin = |h: &HeaderMap| same_origin(h, None);
        assert!(same_origin(&headers(&[
            host.clone(),
            (header::ORIGIN, "https://pompier.acme.com")
        ])));
        assert!(same_origin(&headers(&[
            host.clone(),
            (header::REFERER, "https://pompier.acme.com/dashboard/login")
        ])));
        // Behind a proxy that rewrites `Host`: its `X-Forwarded-Host`, or the public URL.
        let proxied = headers(&[
            (header::HOST, "10.0.0.5:8080"),
            (header::ORIGIN, "https://pompier.acme.com"),
        ]);
        assert!(!same_origin(&proxied));
        assert!(super::same_origin(
            &proxied,
            Some("https://pompier.acme.com/")
        ));
        let mut forwarded = proxied.clone();
        forwarded.insert(
            "x-forwarded-host",
            HeaderValue::from_static("pompier.acme.com"),
        );
        assert!(same_origin(&forwarded));
        for bad in [
            headers(&[host.clone(), (header::ORIGIN, "https://evil.example")]),
            headers(&[host.clone(), (header::ORIGIN, "null")]),
            headers(&[
                host.clone(),
                (header::ORIGIN, "https://pompier.acme.com.evil.example"),
            ]),
            headers(std::slice::from_ref(&host)),
            headers(&[(header::ORIGIN, "https://pompier.acme.com")]),
        ] {
            assert!(!same_origin(&bad), "{bad:?}");
        }
    }
}
