//! Who is calling, as far as pompier can tell: the connection's address, or, behind a
//! proxy listed in `http.trusted_proxies`, the address that proxy says it served
//! (`X-Forwarded-For`, read from the right, past the trusted ones). Wrong tokens are
//! throttled by it: a client whose tokens were refused too often waits a minute.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;
use crate::app::AppState;

/// The client's address, as the edge decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The client of a request from `peer` with these headers, trusting `trusted` proxies.
pub fn client_ip(peer: IpAddr, headers: &axum::http::HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in forwarded.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return ip,
            // Garbage where an address should be: the proxy itself is all we know.
            Err(_) => return peer,
        }
    }
    peer
}

/// Whether the request carries a token (a bearer, or a probe's `?token=`).
fn carries_token(request: &Request) -> bool {
    request
        .headers()
        .contains_key(axum::http::header::AUTHORIZATION)
        || request
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|p| p.starts_with("token=")))
}

/// Records the client's address on the request; refuses a client whose tokens were
/// refused too often this minute (429), and counts each refusal (401).
pub async fn client_address(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let client = client_ip(
        peer,
        request.headers(),
        &state.settings.http.trusted_proxies,
    );
    request.extensions_mut().insert(ClientIp(client));
    let token = carries_token(&request);
    let now = std::time::Instant::now();
    if token && !state.attempts.allow(client, now) {
        return ApiError::TooMany("too many refused tokens from here: wait a minute".into())
            .into_response();
    }
    let response = next.run(request).await;
    if token && response.status() == StatusCode::UNAUTHORIZED {
        state.attempts.failed(client, now);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue};

    #[test]
    fn only_a_trusted_proxy_is_believed() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.9, 10.0.0.2"),
        );
        let trusted = [ip("10.0.0.1"), ip("10.0.0.2")];
        // Straight from the client: its own address, whatever it claims.
        assert_eq!(
            client_ip(ip("198.51.100.7"), &headers, &trusted),
            ip("198.51.100.7")
        );
        // Through the proxies: the first address from the right they did not add.
        assert_eq!(
            client_ip(ip("10.0.0.1"), &headers, &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), &HeaderMap::new(), &trusted),
            ip("10.0.0.1")
        );
        let mut junk = HeaderMap::new();
        junk.insert(
            "x-forwarded-for",
            HeaderValue::from_static("not an address"),
        );
        assert_eq!(client_ip(ip("10.0.0.1"), &junk, &trusted), ip("10.0.0.1"));
    }
}
