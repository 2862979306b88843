//! `/dashboard`: the statistics as a page for managers, incident pages, and the sign-in
//! that guards them. Server-rendered HTML with inline SVG charts and inline CSS: every
//! byte comes from pompier, it works offline and without JavaScript. Templates go
//! through minijinja, which escapes every value: a title like `<script>` is shown.

use std::sync::OnceLock;

use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Extension;
use axum::Form;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use minijinja::{context, Environment, Value};
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::charts;
use super::client::ClientIp;
use super::session;
use super::stats::{compute, Range as Asked};
use super::ApiError;
use crate::app::AppState;
use crate::domain::roles::Role;
use crate::domain::stats::{check_range, MAX_RANGE_DAYS};
use crate::domain::{EventKind, IncidentId, Severity, SlackUserId, Status};
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
            ("error.html", include_str!("../../templates/error.html")),
            ("audit.html", include_str!("../../templates/audit.html")),
            (
                "signed_in.html",
                include_str!("../../templates/signed_in.html"),
            ),
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

/// An error as a browser wants it: a page saying what went wrong, with its status.
pub struct PageError(pub ApiError);

impl<E: Into<ApiError>> From<E> for PageError {
    fn from(e: E) -> PageError {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, message) = self.0.parts();
        let title = match status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::BAD_REQUEST => "That cannot be shown",
            s if s.is_server_error() => "Something went wrong",
            _ => "Not allowed",
        };
        let page = render(
            "error.html",
            context! { title => title, message => message, signed_in => true },
        );
        match page {
            Ok(page) => (status, page).into_response(),
            Err(e) => e.into_response(),
        }
    }
}

/// Someone signed in: with the session cookie or the `Authorization: Bearer` header.
pub struct Viewer {
    /// The session's id hash, or `bearer` for the header.
    pub session: String,
    /// As the audit trail names them: `operator`, `token:NAME` or `sso:EMAIL`.
    pub name: String,
    pub role: Role,
    /// Their Slack user, for a person signed in through the identity provider whose
    /// email Slack knows: they see the private incidents they are a member of.
    pub slack_user: Option<SlackUserId>,
}

impl Viewer {
    /// Refused unless their role is `at_least`, saying which setting would allow it; a
    /// refusal of `act` from `origin` is audited.
    pub async fn needs(
        &self,
        state: &AppState,
        at_least: Role,
        (what, act): (&str, &str),
        origin: &str,
    ) -> Result<(), ApiError> {
        if self.role >= at_least {
            return Ok(());
        }
        state
            .store
            .audit(&self.name, "permission_refused", act, origin)
            .await;
        Err(ApiError::Forbidden(format!(
            "{what} is for {}s (`auth.{}s`); you are signed in as a {}",
            at_least.as_str(),
            at_least.as_str(),
            self.role.as_str()
        )))
    }

    /// Which of `incidents` they see in full: the public ones, and for a responder whose
    /// Slack user is known, the private ones they are a member of (the incidents
    /// service decides, as in Slack).
    pub async fn members_among(
        &self,
        state: &AppState,
        incidents: &[&crate::domain::Incident],
    ) -> Result<std::collections::HashSet<IncidentId>, crate::store::StoreError> {
        let mut seen: std::collections::HashSet<IncidentId> = incidents
            .iter()
            .filter(|i| !i.private)
            .map(|i| i.id)
            .collect();
        if let (Some(user), true) = (&self.slack_user, self.role >= Role::Responder) {
            let caller = crate::incidents::Caller::slack(user, None);
            seen.extend(state.incidents.members_among(incidents, &caller).await?);
        }
        Ok(seen)
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let headers = &parts.headers;
        // The operator's token, or a scoped one with `read`.
        if let Ok(holder) = super::api::holder(headers, state, Scope::Read).await {
            return Ok(Viewer {
                session: "bearer".into(),
                name: holder.audit_name(),
                role: holder.role(),
                slack_user: None,
            });
        }
        let id = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(session::from_cookies);
        if let Some(id) = id {
            match live_session(state, &session::hash(id)).await {
                Ok(Some(viewer)) => return Ok(viewer),
                Ok(None) => {}
                Err(e) => return Err(PageError(e.into()).into_response()),
            }
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

/// The session whose id hashes to `hash`, if it is still open: not past its end, not
/// idle too long, its token not revoked (or, for the operator's, not changed). Seen
/// now (written at most once a minute).
async fn live_session(
    state: &AppState,
    hash: &str,
) -> Result<Option<Viewer>, crate::store::StoreError> {
    let Some(s) = state.store.session(hash).await? else {
        return Ok(None);
    };
    let now = Utc::now();
    let idle = Duration::minutes(state.settings.http.session_idle_minutes as i64);
    let sso_role = s.role.as_deref().and_then(Role::parse);
    let (holder_valid, role, name) = match (&sso_role, s.holder == crate::tokens::OPERATOR) {
        // Through the identity provider: for as long as the session lasts.
        (Some(role), _) => (true, *role, s.holder.clone()),
        (None, true) => (
            state.settings.secrets.api_token.as_ref().is_some_and(|op| {
                s.operator_print.as_deref() == Some(session::hash(op.expose_secret()).as_str())
            }),
            Role::Admin,
            s.holder.clone(),
        ),
        (None, false) => (
            s.token_valid,
            Role::Responder,
            format!("token:{}", s.holder),
        ),
    };
    if s.expires_at <= now || s.seen_at + idle <= now || !holder_valid {
        return Ok(None);
    }
    if now - s.seen_at > Duration::minutes(1) {
        state.store.touch_session(hash, now).await?;
    }
    Ok(Some(Viewer {
        session: hash.to_owned(),
        name,
        role,
        slack_user: s.slack_user.and_then(|u| u.parse().ok()),
    }))
}

/// Only a path of the dashboard or a game day board: never a redirect elsewhere.
pub(super) fn safe_next(next: &str) -> &str {
    let ours = next.starts_with("/dashboard") || next.starts_with("/gameday/");
    if ours && !next.starts_with("//") && !next.contains("\\") {
        next
    } else {
        "/dashboard"
    }
}

pub async fn login_form(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Html<String>, ApiError> {
    let next = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| "/dashboard".into());
    login_page(&state, &next, None)
}

/// The sign-in page: the identity provider's button when there is one, the token form
/// unless `auth.token_login` is off, and what went wrong last.
pub(super) fn login_page(
    state: &AppState,
    next: &str,
    error: Option<&str>,
) -> Result<Html<String>, ApiError> {
    let next = safe_next(next);
    let sso_href = format!(
        "/dashboard/sso?{}",
        form_urlencoded::Serializer::new(String::new())
            .append_pair("next", next)
            .finish()
    );
    render(
        "login.html",
        context! {
            next => next,
            error => error,
            signed_in => false,
            sso_label => state.sso.as_ref().map(|_| state.settings.oidc.label.clone()),
            sso_href => sso_href,
            token_login => state.settings.auth.token_login,
        },
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
    Extension(ClientIp(client)): Extension<ClientIp>,
    headers: axum::http::HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let attempts = &state.attempts;
    let next = safe_next(&form.next).to_owned();
    let again = |status: StatusCode, error: &str| -> Result<Response, PageError> {
        Ok((status, login_page(&state, &next, Some(error))?).into_response())
    };
    if !state.settings.auth.token_login {
        return again(
            StatusCode::FORBIDDEN,
            "Signing in with a token is off here (`auth.token_login`).",
        );
    }
    if !session::same_origin(&headers, state.settings.public_url.as_deref()) {
        return again(
            StatusCode::FORBIDDEN,
            "This form was sent from another site; sign in from this page.",
        );
    }
    if !attempts.allow(client, std::time::Instant::now()) {
        return again(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many tries from here: wait a minute.",
        );
    }
    // The operator's token, or any with the `read` scope.
    let given = form.token.trim();
    let origin = client.to_string();
    let holder = match super::api::token_holder(&state, given, Scope::Read).await {
        Ok(holder) => holder,
        Err(_) => {
            attempts.failed(client, std::time::Instant::now());
            state
                .store
                .audit("unknown", "sign_in_failed", "dashboard", &origin)
                .await;
            return again(
                StatusCode::UNAUTHORIZED,
                "That is not this pompier's token, nor one with the `read` scope.",
            );
        }
    };
    state
        .store
        .audit(&holder.audit_name(), "sign_in", "dashboard", &origin)
        .await;
    let (name, print) = match &holder {
        super::api::Holder::Operator => (
            crate::tokens::OPERATOR.to_owned(),
            state
                .settings
                .secrets
                .api_token
                .as_ref()
                .map(|op| session::hash(op.expose_secret())),
        ),
        super::api::Holder::Token(name) => (name.clone(), None),
    };
    let cookie = open_session(&state, &name, print.as_deref(), None, None).await?;
    Ok((
        StatusCode::SEE_OTHER,
        [(header::SET_COOKIE, cookie), (header::LOCATION, next)],
    )
        .into_response())
}

/// Opens a session for `holder` and gives the cookie that carries it.
pub(super) async fn open_session(
    state: &AppState,
    holder: &str,
    operator_print: Option<&str>,
    role: Option<Role>,
    slack_user: Option<&str>,
) -> Result<String, PageError> {
    let lifetime = std::time::Duration::from_secs(state.settings.http.session_max_hours * 3600);
    let id = session::new_id();
    let now = Utc::now();
    let hash = session::hash(&id);
    state
        .store
        .create_session(crate::store::NewSession {
            id_hash: &hash,
            holder,
            operator_print,
            role: role.map(Role::as_str),
            slack_user,
            now,
            expires_at: now + Duration::from_std(lifetime).unwrap_or_default(),
        })
        .await?;
    let secure = session::secure(state.settings.public_url.as_deref());
    Ok(session::cookie(&id, secure, lifetime))
}

/// Ends this session, on every instance (and its live boards on this one), and its
/// cookie. A post from another site ends nothing.
pub async fn logout(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    if !session::same_origin(&headers, state.settings.public_url.as_deref()) {
        return PageError(ApiError::Forbidden(
            "this form was sent from another site".into(),
        ))
        .into_response();
    }
    for id in headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(session::from_cookies)
    {
        let hash = session::hash(id);
        if let Err(e) = state.store.end_session(&hash).await {
            return PageError(e.into()).into_response();
        }
        let now = Utc::now().timestamp();
        let until = now + state.settings.http.session_max_hours as i64 * 3600;
        state.streams.log_out(&hash, until, now);
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

/// How long a page waits for names read from Slack (ids show meanwhile).
const NAMES_DEADLINE: std::time::Duration = std::time::Duration::from_millis(1500);

/// What the dashboard was asked for beyond its range, as a query string to carry on
/// (range links, the CSV export).
fn slice_query(query: Option<&str>) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if super::api::SLICE_KEYS.contains(&k.as_ref()) && !v.is_empty() {
            out.append_pair(&k, &v);
        }
    }
    out.finish()
}

/// `−18%`, `+5%`, `=` against the previous period; `None` when it had nothing.
fn change(now: Option<f64>, before: Option<f64>) -> Option<Value> {
    let (now, before) = (now?, before?);
    if before <= 0.0 {
        return None;
    }
    let percent = ((now - before) / before * 100.0).round();
    let text = match percent {
        p if p > 0.0 => format!("+{p}%"),
        p if p < 0.0 => format!("−{}%", -p),
        _ => "=".to_owned(),
    };
    // Fewer incidents and shorter times are better.
    let trend = match percent {
        p if p > 0.0 => "worse",
        p if p < 0.0 => "better",
        _ => "same",
    };
    Some(context! { text => text, trend => trend })
}

pub async fn dashboard(
    viewer: Viewer,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.as_deref();
    match dashboard_page(&state, &viewer, query).await {
        Ok(page) => page.into_response(),
        // A bad filter or range: said on the page, with the form to fix it.
        Err(PageError(ApiError::BadRequest(why))) => {
            let page = render(
                "dashboard.html",
                context! { signed_in => true, problem => why, range_label => "?",
                ranges => [7, 30, 90, 365].map(|d| context! { days => d, on => false }) },
            );
            match page {
                Ok(page) => (StatusCode::BAD_REQUEST, page).into_response(),
                Err(e) => PageError(e).into_response(),
            }
        }
        Err(e) => e.into_response(),
    }
}

async fn dashboard_page(
    state: &AppState,
    viewer: &Viewer,
    query: Option<&str>,
) -> Result<Html<String>, PageError> {
    let (from, to, preset) = range(query)?;
    // Drills stay out of the dashboard: the game day's scoreboard shows them.
    let mut filter = Filter::default();
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if k != "include_drills" {
            super::api::parse_slice(&k, &v, &mut filter)?;
        }
    }
    let asked = Asked {
        from,
        to,
        filter: filter.clone(),
    };
    // The previous period of the same length, just before this one, for each card's
    // change.
    let before = from - (to - from);
    let before_end = from - Duration::microseconds(1);
    let exact_up_to = state.settings.stats.exact_up_to;
    let (stats, previous, recent, teams, by_team) = tokio::try_join!(
        compute(&state.store, &asked, exact_up_to),
        async {
            Ok(state
                .store
                .tally(before, before_end, &filter, exact_up_to)
                .await?)
        },
        async {
            let recent = Filter {
                from: Some(from),
                to: Some(to),
                limit: 25,
                ..filter.clone()
            };
            Ok(state.store.list(&recent).await?)
        },
        async { Ok(state.store.teams_seen().await?) },
        async { Ok(state.store.count_by_team(from, to, &filter).await?) },
    )?;
    let previous = previous.stats(before, before_end, 0);
    let median = |s: &crate::domain::stats::Summary| {
        s.median.map(charts::duration).unwrap_or_else(|| "—".into())
    };
    let members = viewer
        .members_among(state, &recent.incidents.iter().collect::<Vec<_>>())
        .await?;
    let recent: Vec<Value> = recent
        .incidents
        .iter()
        .map(|i| {
            let title = match members.contains(&i.id) {
                true => &i.title,
                false => i.shown_title(),
            };
            context! {
                id => i.id.0,
                title => plain(title),
                severity => i.severity.as_str(),
                colour => charts::colour(i.severity.as_str()),
                status => i.status.as_str(),
                team => i.team.as_ref().map(|t| t.to_string()),
                opened_at => i.milestones.opened_at.map(at),
                resolve => i.milestones.time_to(Status::Resolved)
                    .map(|d| charts::duration(d.num_seconds() as f64))
                    .unwrap_or_else(|| "—".into()),
            }
        })
        .collect();
    let slice = slice_query(query);
    let range_query = match preset {
        Some(days) => format!("days={days}"),
        None => format!(
            "from={}&to={}",
            from.format("%Y-%m-%d"),
            to.format("%Y-%m-%d")
        ),
    };
    let policy = state.incidents.policy();
    let mut team_names: Vec<String> = state
        .incidents
        .teams()
        .iter()
        .map(|t| t.to_string())
        .collect();
    team_names.extend(teams);
    team_names.sort();
    team_names.dedup();
    let chosen = |list: &[&str], on: Option<&str>| -> Vec<Value> {
        list.iter()
            .map(|v| context! { value => v, on => on == Some(*v) })
            .collect()
    };
    let one = |v: &[String]| (v.len() == 1).then(|| v[0].clone());
    let severity_on = one(&filter
        .severities
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect::<Vec<_>>());
    let status_on = one(&filter
        .statuses
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect::<Vec<_>>());
    let team_on = filter.team.as_ref().map(|t| t.to_string());
    let classes: Vec<&str> = policy.failure_classes.iter().map(String::as_str).collect();
    let times = |s: &crate::domain::stats::Stats| {
        [
            s.times.time_to_acknowledge.median,
            s.times.time_to_mitigate.median,
            s.times.time_to_resolve.median,
        ]
    };
    let (now_t, before_t) = (times(&stats), times(&previous));
    render(
        "dashboard.html",
        context! {
            signed_in => true,
            range_label => match preset {
                Some(days) => format!("last {days} days"),
                None => format!("{} to {}", from.format("%Y-%m-%d"), to.format("%Y-%m-%d")),
            },
            ranges => [7, 30, 90, 365].map(|d| context! {
                days => d, on => preset == Some(d),
                href => if slice.is_empty() { format!("/dashboard?days={d}") } else { format!("/dashboard?days={d}&{slice}") },
            }),
            from_date => from.format("%Y-%m-%d").to_string(),
            to_date => to.format("%Y-%m-%d").to_string(),
            preset => preset,
            filters => context! {
                severities => chosen(&Severity::ALL.map(|s| s.as_str()), severity_on.as_deref()),
                statuses => chosen(&Status::ALL.map(|s| s.as_str()), status_on.as_deref()),
                teams => chosen(&team_names.iter().map(String::as_str).collect::<Vec<_>>(), team_on.as_deref()),
                classes => chosen(&classes, filter.class.as_deref()),
                q => filter.text.clone().unwrap_or_default(),
                any => !slice.is_empty(),
            },
            can_export => viewer.role >= Role::Responder,
            is_admin => viewer.role >= Role::Admin,
            csv_href => format!("/dashboard/incidents.csv?from={}&to={}{}{}",
                from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true).replace('+', "%2B"),
                to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true).replace('+', "%2B"),
                if slice.is_empty() { "" } else { "&" }, slice),
            // The filters, kept by the dates form.
            kept => form_urlencoded::parse(slice.as_bytes())
                .map(|(k, v)| context! { name => k.into_owned(), value => v.into_owned() })
                .collect::<Vec<_>>(),
            previous_label => format!("{} to {}", before.format("%Y-%m-%d"), from.format("%Y-%m-%d")),
            medians => context! {
                acknowledge => median(&stats.times.time_to_acknowledge),
                mitigate => median(&stats.times.time_to_mitigate),
                resolve => median(&stats.times.time_to_resolve),
            },
            changes => context! {
                total => change(Some(stats.total as f64), Some(previous.total as f64)),
                acknowledge => change(now_t[0], before_t[0]),
                mitigate => change(now_t[1], before_t[1]),
                resolve => change(now_t[2], before_t[2]),
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
            severities => Severity::ALL.map(|s| context! {
                name => s.as_str(), colour => charts::colour(s.as_str()),
                means => policy.severities.get(&s).cloned(),
            }),
            by_team => by_team.iter().map(|(team, n)| context! {
                team => team, n => n,
                href => format!("/dashboard?{range_query}&team={}", form_urlencoded::byte_serialize(team.as_bytes()).collect::<String>()),
            }).collect::<Vec<_>>(),
            stats => Value::from_serialize(&stats),
            recent => recent,
        },
    )
    .map_err(PageError)
}

/// `GET /dashboard/incidents.csv`: the export, for whoever is signed in (the session
/// or a `read` token), with the dashboard's range and filters.
pub async fn incidents_csv(
    viewer: Viewer,
    State(state): State<AppState>,
    Extension(ClientIp(client)): Extension<ClientIp>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let origin = client.to_string();
    let said = query.as_deref().unwrap_or_default();
    let export = ("The CSV export", "dashboard csv_export");
    viewer
        .needs(&state, Role::Responder, export, &origin)
        .await?;
    state
        .store
        .audit(&viewer.name, "csv_export", said, &origin)
        .await;
    Ok(super::stats::export(&state, query.as_deref()).await?)
}

/// `GET /dashboard/audit`: the newest acts of the audit trail, for admins.
pub async fn audit(
    viewer: Viewer,
    State(state): State<AppState>,
    Extension(ClientIp(client)): Extension<ClientIp>,
) -> Result<Html<String>, PageError> {
    const LIMIT: usize = 500;
    let trail = ("The audit trail", "dashboard audit");
    viewer
        .needs(&state, Role::Admin, trail, &client.to_string())
        .await?;
    let shown: Vec<Value> = state
        .store
        .audit_latest(LIMIT as i64)
        .await?
        .iter()
        .map(|e| {
            context! { at => at(e.at), actor => &e.actor, action => &e.action,
            detail => &e.detail, origin => &e.origin }
        })
        .collect();
    render(
        "audit.html",
        context! { signed_in => true, entries => shown, limit => LIMIT },
    )
    .map_err(PageError)
}

pub async fn incident(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Html<String>, PageError> {
    let id: IncidentId = id
        .parse()
        .map_err(|e: crate::domain::Invalid| ApiError::BadRequest(e.0))?;
    let i = state
        .store
        .get(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("incident #{id} does not exist")))?;
    // A private incident's title, people, timeline and alerts are its members' (they
    // tell what it is about).
    let masked = !viewer.members_among(&state, &[&i]).await?.contains(&id);
    let ids = [id];
    let (timeline, alerts, issues, followups, mut joined, pages) = if masked {
        Default::default()
    } else {
        tokio::try_join!(
            state.store.timeline(id),
            state.store.alerts_of(id),
            state.store.jira_issues(id),
            state.store.followups(id),
            state.store.participants(&ids),
            state.store.pages_of(id),
        )?
    };
    let joined = joined.remove(&id).unwrap_or_default();
    // Everyone shown, by name where Slack says it.
    let mut ids: Vec<String> = vec![i.declared_by.to_string()];
    ids.extend(i.roles.values().map(|u| u.to_string()));
    ids.extend(timeline.iter().map(|e| e.actor.to_string()));
    ids.extend(joined.iter().map(|u| u.to_string()));
    ids.extend(
        followups
            .iter()
            .filter_map(|f| f.owner.as_ref().map(|u| u.to_string())),
    );
    let names = if masked {
        Default::default()
    } else {
        state
            .people
            .names(ids.iter().map(String::as_str), NAMES_DEADLINE)
            .await
    };
    let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_owned());
    let followups: Vec<Value> = followups
        .iter()
        .map(|f| {
            context! {
                number => f.number, text => plain(&f.text),
                owner => f.owner.as_ref().map(|u| name(u.as_str())),
                done => f.done_at.map(at),
                jira => f.jira.as_ref().map(|j| context! { key => j.key, url => j.url }),
            }
        })
        .collect();
    let pages: Vec<Value> = pages
        .iter()
        .map(|p| {
            context! {
                service => p.service, state => p.state.as_str(),
                team => p.team.as_ref().map_or("on-call".to_owned(), |t| t.to_string()),
            }
        })
        .collect();
    let joined: Vec<String> = joined.iter().map(|u| name(u.as_str())).collect();
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
            context! { at => at(e.at), who => name(&e.actor.to_string()), what => what }
        })
        .collect();
    render(
        "incident.html",
        context! {
            signed_in => true,
            i => context! {
                id => i.id.0,
                title => plain(if masked { i.shown_title() } else { &i.title }),
                private => i.private,
                severity => i.severity.as_str(),
                colour => charts::colour(i.severity.as_str()),
                status => i.status.as_str(),
                // A private incident's people and links are its members' too.
                declared_by => (!masked).then(|| name(&i.declared_by.to_string())),
                roles => i.roles.iter().filter(|_| !masked).map(|(r, u)| context! { role => r.as_str(), user => name(u.as_str()) }).collect::<Vec<_>>(),
                team => i.team.as_ref().map(|t| t.to_string()),
                class => i.failure_class.clone().filter(|_| !masked),
                summary => i.summary.as_deref().filter(|_| !masked).map(plain),
                impact => i.impact.as_deref().filter(|_| !masked).map(plain),
                followups => followups,
                pages => pages,
                participants => joined,
                channel_url => i.channel_id.as_ref().filter(|_| !masked).map(|c| format!("https://slack.com/app_redirect?channel={c}")),
                postmortem_url => i.postmortem_url.clone().filter(|_| !masked),
                jira => jira,
                milestones => milestones,
                timeline => timeline,
                alerts => alerts,
            },
        },
    )
    .map_err(PageError)
}
