//! `/dashboard`: the statistics as a page for managers, incident pages, and the sign-in
//! that guards them. Server-rendered HTML with inline SVG charts and inline CSS: every
//! byte comes from pompier, it works offline and without JavaScript. Templates go
//! through minijinja, which escapes every value: a title like `<script>` is shown.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::extract::{ConnectInfo, FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Extension;
use axum::Form;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use minijinja::{context, Environment, Value};
use serde::Deserialize;

use super::charts;
use super::session;
use super::stats::{compute, Range as Asked};
use super::ApiError;
use crate::app::AppState;
use crate::domain::stats::{check_range, MAX_RANGE_DAYS};
use crate::domain::{EventKind, IncidentId, Severity, Status};
use crate::slack::text::plain;
use crate::store::Filter;
use crate::tokens::Scope;

fn pages() -> &'static Environment<'static> {
    static PAGES: OnceLock<Environment<'static>> = OnceLock::new();
    PAGES.get_or_init(|| {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        for (name, source) in [
            ("layout.html", include_str!("../../templates/layout.html")),
            ("login.html", include_str!("../../templates/login.html")),
            (
                "dashboard.html",
                include_str!("../../templates/dashboard.html"),
            ),
            (
                "incident.html",
                include_str!("../../templates/incident.html"),
            ),
            ("gameday.html", include_str!("../../templates/gameday.html")),
            ("status.html", include_str!("../../templates/status.html")),
            (
                "gameday_board.html",
                include_str!("../../templates/gameday_board.html"),
            ),
        ] {
            env.add_template(name, source).expect("a page template");
        }
        env
    })
}

pub(super) fn render(name: &str, ctx: Value) -> Result<Html<String>, ApiError> {
    pages()
        .get_template(name)
        .and_then(|t| t.render(ctx))
        .map(Html)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("page {name}: {e}")))
}

/// Someone signed in: with the session cookie or the `Authorization: Bearer` header.
pub struct Viewer {
    /// The session's cookie value, or `bearer` for the header.
    pub session: String,
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let headers = &parts.headers;
        // The operator's token, or a scoped one with `read`.
        if super::api::holder(headers, state, Scope::Read)
            .await
            .is_ok()
        {
            return Ok(Viewer {
                session: "bearer".into(),
            });
        }
        // Sessions are signed with a key derived from the operator's token.
        let Some(token) = &state.settings.secrets.api_token else {
            return Err((
                StatusCode::UNAUTHORIZED,
                Html(
                    "POMPIER_API_TOKEN is not set on this pompier, so the dashboard has no \
                      sign-in; send a token with the `read` scope as `Authorization: Bearer`.",
                ),
            )
                .into_response());
        };
        let cookie = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(session::from_cookies)
            .find(|value| {
                session::verify(token, value, Utc::now().timestamp())
                    && !state.streams.is_logged_out(value)
            });
        if let Some(value) = cookie {
            return Ok(Viewer {
                session: value.to_owned(),
            });
        }
        let next = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/dashboard");
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("next", next)
            .finish();
        Err(Redirect::to(&format!("/dashboard/login?{query}")).into_response())
    }
}

/// Only a path of the dashboard: never a redirect elsewhere.
fn safe_next(next: &str) -> &str {
    if next.starts_with("/dashboard") && !next.starts_with("//") {
        next
    } else {
        "/dashboard"
    }
}

pub async fn login_form(RawQuery(query): RawQuery) -> Result<Html<String>, ApiError> {
    let next = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| "/dashboard".into());
    render(
        "login.html",
        context! { next => safe_next(&next), signed_in => false },
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
    #[serde(default)]
    next: String,
}

pub async fn login(
    State(state): State<AppState>,
    Extension(attempts): Extension<Arc<session::Attempts>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Form(form): Form<LoginForm>,
) -> Result<Response, ApiError> {
    let client = remote.ip();
    let next = safe_next(&form.next).to_owned();
    let again = |status: StatusCode, error: &str| -> Result<Response, ApiError> {
        let page = render(
            "login.html",
            context! { next => next.clone(), error => error, signed_in => false },
        )?;
        Ok((status, page).into_response())
    };
    if !attempts.allow(client, std::time::Instant::now()) {
        return again(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many tries from here: wait a minute.",
        );
    }
    let Some(token) = &state.settings.secrets.api_token else {
        return again(
            StatusCode::UNAUTHORIZED,
            "POMPIER_API_TOKEN is not set on this pompier.",
        );
    };
    // The operator's token, or any with the `read` scope.
    let given = form.token.trim();
    if super::api::token_holder(&state, given, Scope::Read)
        .await
        .is_err()
    {
        return again(
            StatusCode::UNAUTHORIZED,
            "That is not this pompier's token, nor one with the `read` scope.",
        );
    }
    let expires = Utc::now().timestamp() + session::LIFETIME.as_secs() as i64;
    let secure = state
        .settings
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    let cookie = session::cookie(&session::sign(token, expires), secure);
    Ok((
        StatusCode::SEE_OTHER,
        [(header::SET_COOKIE, cookie), (header::LOCATION, next)],
    )
        .into_response())
}

/// Ends this session (and its live boards) on this instance, and its cookie.
pub async fn logout(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    for value in headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(session::from_cookies)
    {
        if let Some(expires) = session::expires(value) {
            state
                .streams
                .log_out(value, expires, Utc::now().timestamp());
        }
    }
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, session::expired_cookie()),
            (header::LOCATION, "/dashboard/login".to_owned()),
        ],
    )
        .into_response()
}

pub(super) fn at(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// The range a page shows, and the preset (`days`) it came from, if any.
type Range = (DateTime<Utc>, DateTime<Utc>, Option<i64>);

/// The range of the page: `days=N`, or `from`/`to` as dates or RFC 3339 times.
fn range(query: Option<&str>) -> Result<Range, ApiError> {
    let (mut from, mut to, mut days) = (None, None, None);
    let parse = |name: &str, v: &str, end: bool| -> Result<DateTime<Utc>, ApiError> {
        if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
            let t = if end {
                d.and_hms_opt(23, 59, 59)
            } else {
                d.and_hms_opt(0, 0, 0)
            };
            return Ok(t.expect("a time of day").and_utc());
        }
        super::api::parse_time(name, v)
    };
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "from" if !v.is_empty() => from = Some(parse("from", &v, false)?),
            "to" if !v.is_empty() => to = Some(parse("to", &v, true)?),
            "days" => {
                days = Some(
                    v.parse::<i64>()
                        .ok()
                        .filter(|d| (1..=MAX_RANGE_DAYS).contains(d))
                        .ok_or_else(|| {
                            ApiError::BadRequest(format!(
                                "`days` must be a number from 1 to {MAX_RANGE_DAYS}"
                            ))
                        })?,
                )
            }
            _ => {}
        }
    }
    let to = to.unwrap_or_else(crate::now);
    let from = from.unwrap_or(to - Duration::days(days.unwrap_or(30)));
    check_range(from, to).map_err(ApiError::BadRequest)?;
    let preset =
        (days.is_some() || query.unwrap_or_default().is_empty()).then(|| days.unwrap_or(30));
    Ok((from, to, preset))
}

pub async fn dashboard(
    _: Viewer,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Html<String>, ApiError> {
    let (from, to, preset) = range(query.as_deref())?;
    // Drills stay out of the dashboard: the game day's scoreboard shows them.
    let drills = false;
    let stats = compute(&state.store, Asked { from, to, drills }).await?;
    let recent = state
        .store
        .list(&Filter {
            from: Some(from),
            to: Some(to),
            limit: 25,
            ..Filter::default()
        })
        .await?;
    let median = |s: &crate::domain::stats::Summary| {
        s.median.map(charts::duration).unwrap_or_else(|| "—".into())
    };
    let recent: Vec<Value> = recent
        .incidents
        .iter()
        .map(|i| {
            context! {
                id => i.id.0,
                title => plain(i.shown_title()),
                severity => i.severity.as_str(),
                colour => charts::colour(i.severity.as_str()),
                status => i.status.as_str(),
                opened_at => i.milestones.opened_at.map(at),
                resolve => i.milestones.time_to(Status::Resolved)
                    .map(|d| charts::duration(d.num_seconds() as f64))
                    .unwrap_or_else(|| "—".into()),
            }
        })
        .collect();
    render(
        "dashboard.html",
        context! {
            signed_in => true,
            range_label => match preset {
                Some(days) => format!("last {days} days"),
                None => format!("{} to {}", from.format("%Y-%m-%d"), to.format("%Y-%m-%d")),
            },
            ranges => [7, 30, 90, 365].map(|d| context! { days => d, on => preset == Some(d) }),
            from_date => from.format("%Y-%m-%d").to_string(),
            to_date => to.format("%Y-%m-%d").to_string(),
            medians => context! {
                acknowledge => median(&stats.times.time_to_acknowledge),
                mitigate => median(&stats.times.time_to_mitigate),
                resolve => median(&stats.times.time_to_resolve),
            },
            followups => stats.followups.as_ref().map(|f| context! {
                open => f.open,
                oldest => f.oldest.map(charts::duration).unwrap_or_else(|| "—".into()),
            }),
            coverage => stats.postmortem_coverage
                .map(|c| format!("{:.0}%", c * 100.0))
                .unwrap_or_else(|| "none in range".into()),
            charts => context! {
                weekly => Value::from_safe_string(charts::weekly(&stats.per_week)),
                resolve => Value::from_safe_string(charts::resolve_by_severity(&stats.by_severity_times)),
                statuses => Value::from_safe_string(charts::statuses(&stats.by_status)),
                coverage => Value::from_safe_string(charts::coverage(stats.postmortem_coverage)),
            },
            severities => Severity::ALL.map(|s| context! { name => s.as_str(), colour => charts::colour(s.as_str()) }),
            stats => Value::from_serialize(&stats),
            recent => recent,
        },
    )
}

pub async fn incident(
    _: Viewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Html<String>, ApiError> {
    let id: IncidentId = id
        .parse()
        .map_err(|e: crate::domain::Invalid| ApiError::BadRequest(e.0))?;
    let i = state
        .store
        .get(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("incident #{id} does not exist")))?;
    // A private incident's timeline and alerts are its members' (they tell what it is
    // about).
    let (timeline, alerts, issues) = if i.private {
        (Vec::new(), Vec::new(), Vec::new())
    } else {
        tokio::try_join!(
            state.store.timeline(id),
            state.store.alerts_of(id),
            state.store.jira_issues(id)
        )?
    };
    let jira = issues
        .iter()
        .find(|(n, _)| *n == 0)
        .map(|(_, issue)| context! { key => issue.key, url => issue.url });
    let alerts: Vec<Value> = alerts
        .iter()
        .map(|a| {
            context! {
                title => a.title, url => a.url, source => a.source, status => a.status,
                first => at(a.first_at), last => at(a.last_at), count => a.count,
            }
        })
        .collect();
    let m = &i.milestones;
    let milestones: Vec<Value> = Status::ALL
        .into_iter()
        .filter_map(|s| {
            m.get(s).map(|t| {
                context! {
                    status => s.as_str(),
                    at => at(t),
                    since => m.time_to(s)
                        .map(|d| charts::duration(d.num_seconds() as f64))
                        .unwrap_or_default(),
                }
            })
        })
        .collect();
    let timeline: Vec<Value> = timeline
        .iter()
        .map(|e| {
            let from = e.from.as_deref().unwrap_or("?");
            let to = e.to.as_deref().unwrap_or("?");
            let mut what = vec![match e.kind {
                EventKind::Declared => "declared".to_owned(),
                EventKind::Status => format!("{from} → {to}"),
                EventKind::Severity => format!("severity {from} → {to}"),
                EventKind::Role => format!(
                    "{to} is {}",
                    e.role.as_ref().map(|r| r.as_str()).unwrap_or("?")
                ),
                EventKind::Note => "note".to_owned(),
                EventKind::Alert => "alert".to_owned(),
                EventKind::Page => format!("paged {to}"),
                EventKind::Followup => format!("follow-up {to}"),
                EventKind::Edit => format!("{} changed", e.field().unwrap_or("?")),
                EventKind::Postmortem => "postmortem drafted".to_owned(),
                EventKind::Public => "on the status page".to_owned(),
            }];
            what.extend(
                e.said()
                    .map(plain)
                    .into_iter()
                    .flat_map(|n| n.lines().map(str::to_owned).collect::<Vec<_>>()),
            );
            context! { at => at(e.at), who => e.actor.to_string(), what => what }
        })
        .collect();
    render(
        "incident.html",
        context! {
            signed_in => true,
            i => context! {
                id => i.id.0,
                title => plain(i.shown_title()),
                private => i.private,
                severity => i.severity.as_str(),
                colour => charts::colour(i.severity.as_str()),
                status => i.status.as_str(),
                // A private incident's people and links are its members' too.
                declared_by => (!i.private).then(|| i.declared_by.to_string()),
                roles => i.roles.iter().filter(|_| !i.private).map(|(r, u)| context! { role => r.as_str(), user => u.as_str() }).collect::<Vec<_>>(),
                channel_url => i.channel_id.as_ref().filter(|_| !i.private).map(|c| format!("https://slack.com/app_redirect?channel={c}")),
                postmortem_url => i.postmortem_url.clone().filter(|_| !i.private),
                jira => jira,
                milestones => milestones,
                timeline => timeline,
                alerts => alerts,
            },
        },
    )
}
