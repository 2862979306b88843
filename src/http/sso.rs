//! `/dashboard/sso`: sign-in through the company's identity provider ([`crate::sso`]).
//! The browser leaves with a short-lived cookie holding the sign-in's `state`, `nonce`
//! and PKCE verifier, and comes back to `/dashboard/sso/callback` with a code; the
//! `state` it brings must be the cookie's. The person gets the role `[auth]` gives their
//! email or groups, and their Slack user is looked up by email for their private
//! incidents.

use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use base64::Engine;
use minijinja::context;
use subtle::ConstantTimeEq;

use super::client::ClientIp;
use super::dashboard::{login_page, open_session, render, safe_next, PageError};
use super::ApiError;
use crate::app::AppState;
use crate::sso::Pending;

/// The cookie that holds a sign-in under way.
const PENDING_COOKIE: &str = "pompier_sso";
/// How long a sign-in may take at the provider.
const PENDING_SECS: u64 = 600;
/// How long Slack may take to say whose an email is.
const LOOKUP_DEADLINE: Duration = Duration::from_secs(2);

fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn pending_cookie(value: &str, max_age: u64, secure: bool) -> String {
    format!(
        "{PENDING_COOKIE}={value}; Path=/dashboard/sso; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

fn secure(state: &AppState) -> bool {
    super::session::secure(state.settings.public_url.as_deref())
}

/// `GET /dashboard/sso?next=`: off to the identity provider.
pub async fn begin(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let Some(sso) = &state.sso else {
        return Err(ApiError::NotFound(
            "single sign-on is not set up here (POMPIER_OIDC_ISSUER)".into(),
        )
        .into());
    };
    let pairs = query_pairs(query.as_deref());
    let next = safe_next(param(&pairs, "next").unwrap_or("/dashboard")).to_owned();
    match sso.begin(&next).await {
        Ok((url, pending)) => {
            let value = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(serde_json::to_vec(&pending).map_err(anyhow::Error::from)?);
            Ok((
                StatusCode::SEE_OTHER,
                [
                    (
                        header::SET_COOKIE,
                        pending_cookie(&value, PENDING_SECS, secure(&state)),
                    ),
                    (header::LOCATION, url),
                ],
            )
                .into_response())
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot begin a single sign-on");
            let page = login_page(&state, &next, Some(&e.to_string()))?;
            Ok((StatusCode::BAD_GATEWAY, page).into_response())
        }
    }
}

/// The sign-in under way, from the request's cookie.
fn pending(headers: &HeaderMap) -> Option<Pending> {
    let value = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| super::session::named(v, PENDING_COOKIE))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// `GET /dashboard/sso/callback?code=&state=`: back from the identity provider. A
/// session opens for the person it vouches for, with the role `[auth]` gives them;
/// every failure is said on the sign-in page and audited. Failures are not counted
/// against the client's tries: nothing here is a secret to guess (the provider throttles
/// passwords, and a code is bound to this browser's verifier).
pub async fn callback(
    State(state): State<AppState>,
    Extension(ClientIp(client)): Extension<ClientIp>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let Some(sso) = state.sso.clone() else {
        return Err(ApiError::NotFound(
            "single sign-on is not set up here (POMPIER_OIDC_ISSUER)".into(),
        )
        .into());
    };
    let origin = client.to_string();
    let pending = pending(&headers);
    let next = pending
        .as_ref()
        .map_or("/dashboard", |p| safe_next(&p.next))
        .to_owned();
    // The sign-in under way ends here, whatever happens.
    let clear = pending_cookie("", 0, secure(&state));
    let fail = |status: StatusCode, who: String, why: String| {
        let state = state.clone();
        let (next, clear, origin) = (next.clone(), clear.clone(), origin.clone());
        async move {
            state
                .store
                .audit(&who, "sign_in_failed", &format!("sso: {why}"), &origin)
                .await;
            let page = login_page(&state, &next, Some(&format!("Not signed in: {why}.")))?;
            Ok::<_, PageError>((status, [(header::SET_COOKIE, clear)], page).into_response())
        }
    };
    let pairs = query_pairs(query.as_deref());
    if let Some(error) = param(&pairs, "error") {
        let said = param(&pairs, "error_description").unwrap_or(error);
        let why = format!(
            "the identity provider said {}",
            said.chars().take(200).collect::<String>()
        );
        return fail(StatusCode::FORBIDDEN, "unknown".into(), why).await;
    }
    let Some(pending) = pending else {
        let why = "this sign-in was not begun in this browser, or took over 10 minutes";
        return fail(StatusCode::BAD_REQUEST, "unknown".into(), why.into()).await;
    };
    let given = param(&pairs, "state").unwrap_or_default();
    if !bool::from(given.as_bytes().ct_eq(pending.state.as_bytes())) {
        let why = "its state does not match the one this browser was given";
        return fail(StatusCode::BAD_REQUEST, "unknown".into(), why.into()).await;
    }
    let Some(code) = param(&pairs, "code") else {
        let why = "the identity provider gave no code";
        return fail(StatusCode::BAD_REQUEST, "unknown".into(), why.into()).await;
    };
    let identity = match sso.finish(code, &pending).await {
        Ok(identity) => identity,
        Err(e) => {
            tracing::warn!(error = %e, "a single sign-on failed");
            let status = match e {
                crate::sso::SsoError::Provider(_) => StatusCode::BAD_GATEWAY,
                crate::sso::SsoError::Refused(_) => StatusCode::FORBIDDEN,
            };
            return fail(status, "unknown".into(), e.to_string()).await;
        }
    };
    let who = format!("sso:{}", identity.email);
    let Some(role) = state.settings.auth.of(&identity.email, &identity.groups) else {
        let why = format!("{} may not sign in here (`auth.viewers`)", identity.email);
        return fail(StatusCode::FORBIDDEN, who, why).await;
    };
    let slack_user = state
        .people
        .by_email(&identity.email, LOOKUP_DEADLINE)
        .await;
    let cookie = open_session(
        &state,
        &who,
        None,
        Some(role),
        slack_user.as_ref().map(|u| u.as_str()),
    )
    .await?;
    state
        .store
        .audit(
            &who,
            "sign_in",
            &format!("dashboard via sso as {}", role.as_str()),
            &origin,
        )
        .await;
    // A page, not a redirect: the session's cookie is `SameSite=Strict`, and a browser
    // sends none on a redirect that a cross-site navigation (from the provider) began.
    let page = render(
        "signed_in.html",
        context! { next => next, name => identity.name.unwrap_or(identity.email), signed_in => false },
    )?;
    Ok((
        StatusCode::OK,
        axum::response::AppendHeaders([
            (header::SET_COOKIE, cookie),
            (header::SET_COOKIE, clear),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ]),
        page,
    )
        .into_response())
}
