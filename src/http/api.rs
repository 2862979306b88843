//! `/api/v1`: incidents for dashboards and scripts, behind `POMPIER_API_TOKEN` or a
//! scoped token (`pompier tokens create`).

use std::collections::BTreeMap;
use std::marker::PhantomData;

use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::ApiError;
use crate::app::AppState;
use crate::domain::{Event, Followup, Incident, IncidentId, Severity, Status};
use crate::slack::text::plain;
use crate::store::{AlertRecord, Cursor, Filter, JiraIssue};
use crate::tokens::{self, Scope};

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;

/// Who holds a request's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// `POMPIER_API_TOKEN`: every scope, private incidents in full.
    Operator,
    /// A scoped token, by name.
    Token(String),
}

/// The scope a route needs.
pub trait Needs: Send + Sync {
    const SCOPE: Scope;
}

/// Reading: incidents, statistics, exports, game days. (`write` is `writes::Write`.)
pub struct Read;

impl Needs for Read {
    const SCOPE: Scope = Scope::Read;
}

/// A request whose `Authorization: Bearer` token has scope `N::SCOPE`: the operator's
/// token, or a scoped one (from the token cache on PostgreSQL, which hears a revocation
/// within milliseconds, else from the database). Unknown: 401; without the scope: 403
/// naming it.
pub struct Authorized<N: Needs = Read> {
    pub holder: Holder,
    needs: PhantomData<N>,
}

impl<N: Needs> FromRequestParts<AppState> for Authorized<N> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let holder = holder(&parts.headers, state, N::SCOPE).await?;
        Ok(Authorized {
            holder,
            needs: PhantomData,
        })
    }
}

/// The holder of the request's token, if it has `scope`.
pub async fn holder(
    headers: &axum::http::HeaderMap,
    state: &AppState,
    scope: Scope,
) -> Result<Holder, ApiError> {
    let given = super::session::bearer(headers).ok_or_else(|| {
        ApiError::Unauthorized(
            "missing `Authorization: Bearer` token (POMPIER_API_TOKEN, or one made with \
                 `pompier tokens create`)"
                .into(),
        )
    })?;
    token_holder(state, given, scope).await
}

/// The holder of token `given`, if it has `scope`: the operator's, or a scoped one.
pub async fn token_holder(state: &AppState, given: &str, scope: Scope) -> Result<Holder, ApiError> {
    match token_scopes(state, given).await? {
        (holder, scopes) if scopes.contains(&scope) => Ok(holder),
        (holder, _) => Err(ApiError::Forbidden(format!(
            "token {} does not have the `{scope}` scope this route needs",
            match holder {
                Holder::Operator => tokens::OPERATOR.to_owned(),
                Holder::Token(name) => name,
            }
        ))),
    }
}

/// The holder of token `given` and its scopes (the operator's has them all); 401 when
/// it is unknown or revoked.
pub async fn token_scopes(state: &AppState, given: &str) -> Result<(Holder, Vec<Scope>), ApiError> {
    if let Some(operator) = &state.settings.secrets.api_token {
        if super::session::is_token(operator, given) {
            return Ok((Holder::Operator, Scope::ALL.to_vec()));
        }
    }
    match state
        .store
        .use_token(&tokens::hash(given), crate::now())
        .await?
    {
        Some((name, scopes)) => Ok((Holder::Token(name), scopes)),
        None => {
            // Only a failure costs this look: a revoked token still in use is audited.
            if let Some(name) = state.store.revoked_token(&tokens::hash(given)).await? {
                let actor = format!("token:{name}");
                state
                    .store
                    .audit(&actor, "revoked_token_used", "", "")
                    .await;
            }
            Err(ApiError::Unauthorized(
            "unknown or revoked API token (POMPIER_API_TOKEN, or one made with `pompier tokens create`)"
                .into(),
            ))
        }
    }
}

impl Holder {
    /// On the dashboard: the operator's token is an admin; a `read` token may export,
    /// but is a member of no private incident.
    pub fn role(&self) -> crate::domain::roles::Role {
        match self {
            Holder::Operator => crate::domain::roles::Role::Admin,
            Holder::Token(_) => crate::domain::roles::Role::Responder,
        }
    }

    /// As the audit trail names it: `operator` or `token:NAME`.
    pub fn audit_name(&self) -> String {
        match self {
            Holder::Operator => tokens::OPERATOR.to_owned(),
            Holder::Token(name) => format!("token:{name}"),
        }
    }
}

#[derive(Serialize)]
pub struct IncidentJson {
    id: IncidentId,
    title: String,
    severity: Severity,
    status: Status,
    channel_id: Option<String>,
    declared_by: String,
    roles: BTreeMap<String, String>,
    opened_at: Option<DateTime<Utc>>,
    investigating_at: Option<DateTime<Utc>>,
    mitigated_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    postmortem_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    postmortem_url: Option<String>,
    /// A drill, declared to train.
    drill: bool,
    failure_class: Option<String>,
    /// A private incident (its title is shown here, to the operator's token, only).
    private: bool,
    /// What is happening, and who is affected, as people last said.
    summary: Option<String>,
    impact: Option<String>,
    /// The team it is declared for (a drill's too), and a drill's game day.
    #[serde(skip_serializing_if = "Option::is_none")]
    team: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gameday_id: Option<i64>,
    /// People who joined the incident's channel (one incident's JSON only).
    #[serde(skip_serializing_if = "Option::is_none")]
    participants: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeline: Option<Vec<EventJson>>,
    /// Its follow-up actions (one incident's JSON only).
    #[serde(skip_serializing_if = "Option::is_none")]
    followups: Option<Vec<FollowupJson>>,
    /// The alert groups behind it (one incident's JSON only).
    #[serde(skip_serializing_if = "Option::is_none")]
    alerts: Option<Vec<AlertRecord>>,
    /// Who was paged, and the page's state (one incident's JSON only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pages: Option<Vec<PageJson>>,
    /// Its Jira issue, once made (one incident's JSON only).
    #[serde(skip_serializing_if = "Option::is_none")]
    jira: Option<Option<JiraIssue>>,
    /// The Slack names of the people it mentions, by user id (one incident's JSON only;
    /// one Slack cannot tell yet is left out).
    #[serde(skip_serializing_if = "Option::is_none")]
    names: Option<BTreeMap<String, String>>,
}

#[derive(Serialize)]
struct PageJson {
    service: String,
    /// `null`: the default routing.
    team: Option<String>,
    state: &'static str,
}

impl From<crate::domain::paging::Page> for PageJson {
    fn from(p: crate::domain::paging::Page) -> PageJson {
        PageJson {
            service: p.service,
            team: p.team.map(|t| t.to_string()),
            state: p.state.as_str(),
        }
    }
}

#[derive(Serialize)]
struct FollowupJson {
    number: i64,
    text: String,
    owner: Option<String>,
    created_by: String,
    created_at: DateTime<Utc>,
    done_at: Option<DateTime<Utc>>,
    done_by: Option<String>,
    /// Its Jira issue, once made.
    jira: Option<JiraIssue>,
}

impl From<Followup> for FollowupJson {
    fn from(f: Followup) -> FollowupJson {
        FollowupJson {
            number: f.number,
            text: plain(&f.text),
            owner: f.owner.map(|u| u.to_string()),
            created_by: f.created_by.to_string(),
            created_at: f.created_at,
            done_at: f.done_at,
            done_by: f.done_by.map(|u| u.to_string()),
            jira: f.jira,
        }
    }
}

impl IncidentJson {
    /// As a scoped token sees a private incident (as the dashboard does): severity,
    /// status and times only.
    fn seen_by(mut self, holder: &Holder) -> IncidentJson {
        if !self.private || *holder == Holder::Operator {
            return self;
        }
        self.title = format!("{} #{}", crate::domain::incident::PRIVATE_TITLE, self.id);
        self.channel_id = None;
        self.declared_by = String::new();
        self.roles.clear();
        self.postmortem_url = None;
        self.failure_class = None;
        self.summary = None;
        self.impact = None;
        self.participants = self.participants.map(|_| vec![]);
        self.timeline = self.timeline.map(|_| vec![]);
        self.followups = self.followups.map(|_| vec![]);
        self.alerts = self.alerts.map(|_| vec![]);
        self.pages = self.pages.map(|_| vec![]);
        self.jira = self.jira.map(|_| None);
        self
    }

    fn new(i: Incident, timeline: Option<Vec<Event>>) -> IncidentJson {
        let m = i.milestones;
        IncidentJson {
            id: i.id,
            title: plain(&i.title),
            severity: i.severity,
            status: i.status,
            channel_id: i.channel_id.map(|c| c.to_string()),
            declared_by: i.declared_by.to_string(),
            roles: i
                .roles
                .into_iter()
                .map(|(role, user)| (role.to_string(), user.to_string()))
                .collect(),
            opened_at: m.opened_at,
            investigating_at: m.investigating_at,
            mitigated_at: m.mitigated_at,
            resolved_at: m.resolved_at,
            postmortem_at: m.postmortem_at,
            closed_at: m.closed_at,
            postmortem_url: i.postmortem_url,
            drill: i.drill.is_some(),
            failure_class: i.failure_class.clone(),
            private: i.private,
            summary: i.summary.as_deref().map(plain),
            impact: i.impact.as_deref().map(plain),
            team: i.team.as_ref().map(|t| t.to_string()),
            gameday_id: i.drill.as_ref().and_then(|d| d.gameday),
            participants: None,
            followups: None,
            alerts: None,
            pages: None,
            jira: None,
            names: None,
            timeline: timeline.map(|t| t.into_iter().map(EventJson::from).collect()),
        }
    }
}

fn names(users: Option<Vec<crate::domain::SlackUserId>>) -> Vec<String> {
    users
        .unwrap_or_default()
        .iter()
        .map(|u| u.to_string())
        .collect()
}

#[derive(Serialize)]
struct EventJson {
    at: DateTime<Utc>,
    kind: &'static str,
    actor: String,
    from: Option<String>,
    to: Option<String>,
    note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<String>,
    /// What an `edit` changed: `title`, `summary` or `impact`.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

impl From<Event> for EventJson {
    fn from(e: Event) -> Self {
        let field = e.field().map(str::to_owned);
        let edit = field.is_some();
        EventJson {
            at: e.at,
            kind: e.kind.as_str(),
            actor: e.actor.to_string(),
            from: e
                .from
                .as_deref()
                .map(|t| if edit { plain(t) } else { t.to_owned() }),
            to: e
                .to
                .as_deref()
                .map(|t| if edit { plain(t) } else { t.to_owned() }),
            note: e.note.as_deref().filter(|_| !edit).map(plain),
            role: e.role.map(|r| r.to_string()),
            field,
        }
    }
}

#[derive(Serialize)]
pub struct IncidentPage {
    incidents: Vec<IncidentJson>,
    next_cursor: Option<String>,
}

/// An RFC 3339 time from a query parameter.
pub fn parse_time(name: &str, value: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            ApiError::BadRequest(format!("`{name}` must be an RFC 3339 time, got `{value}`"))
        })
}

/// Values of a repeatable, comma-separated parameter.
fn parse_list<T: std::str::FromStr>(
    name: &str,
    value: &str,
    into: &mut Vec<T>,
) -> Result<(), ApiError>
where
    T::Err: std::fmt::Display,
{
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        into.push(
            item.parse()
                .map_err(|e| ApiError::BadRequest(format!("`{name}`: {e}")))?,
        );
    }
    Ok(())
}

/// The keys `parse_slice` reads, but `include_drills`: which incidents a view shows.
pub const SLICE_KEYS: [&str; 5] = ["severity", "status", "team", "class", "q"];

/// Reads `key=value` into `filter` when it says which incidents (`status`, `severity`
/// as comma-separated lists, `team`, `class`, `q` for text in the title,
/// `include_drills`); `false` for any other key. Empty values are no filter.
pub fn parse_slice(key: &str, value: &str, filter: &mut Filter) -> Result<bool, ApiError> {
    let value = value.trim();
    match key {
        "status" => parse_list("status", value, &mut filter.statuses)?,
        "severity" => parse_list("severity", value, &mut filter.severities)?,
        "include_drills" => filter.drills = parse_flag("include_drills", value)?,
        "team" | "class" | "q" if value.is_empty() => {}
        "team" => {
            filter.team = Some(value.to_lowercase().parse().map_err(
                |e: crate::domain::Invalid| ApiError::BadRequest(format!("`team`: {e}")),
            )?)
        }
        "class" => filter.class = Some(value.to_lowercase().chars().take(64).collect()),
        "q" => {
            if value.chars().count() > 100 {
                return Err(ApiError::BadRequest("`q` is at most 100 characters".into()));
            }
            filter.text = Some(value.to_owned())
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// `true` or `false` (also `1`/`0`).
pub fn parse_flag(name: &str, value: &str) -> Result<bool, ApiError> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(ApiError::BadRequest(format!(
            "`{name}` is `true` or `false`"
        ))),
    }
}

pub fn parse_filter(query: Option<&str>) -> Result<Filter, ApiError> {
    let mut filter = Filter {
        limit: DEFAULT_LIMIT,
        ..Filter::default()
    };
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if parse_slice(&key, &value, &mut filter)? {
            continue;
        }
        match key.as_ref() {
            "from" => filter.from = Some(parse_time("from", &value)?),
            "to" => filter.to = Some(parse_time("to", &value)?),
            "limit" => {
                let limit: u32 = value.parse().ok().filter(|l| *l > 0).ok_or_else(|| {
                    ApiError::BadRequest(format!("`limit` must be a number from 1 to {MAX_LIMIT}"))
                })?;
                filter.limit = limit.min(MAX_LIMIT);
            }
            "cursor" => {
                filter.after = Some(Cursor::decode(&value).ok_or_else(|| {
                    ApiError::BadRequest("`cursor` is not a `next_cursor` this API gave".into())
                })?)
            }
            _ => {}
        }
    }
    if let (Some(from), Some(to)) = (filter.from, filter.to) {
        if from > to {
            return Err(ApiError::BadRequest("`from` is after `to`".into()));
        }
    }
    Ok(filter)
}

/// `GET /api/v1/audit?since=&after=&limit=`: the audit trail, oldest first, for the
/// operator's token alone (scoped tokens get 403). `since`: RFC 3339, 7 days ago by
/// default; `after`: the last `id` of the previous page.
pub async fn audit(
    who: Authorized,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    if who.holder != Holder::Operator {
        return Err(ApiError::Forbidden(
            "the audit trail is for the operator's token (POMPIER_API_TOKEN)".into(),
        ));
    }
    let (mut since, mut after, mut limit) =
        (crate::now() - chrono::Duration::days(7), 0i64, 100i64);
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "since" => since = parse_time("since", &value)?,
            "after" => {
                after = value
                    .parse()
                    .map_err(|_| ApiError::BadRequest("`after` is an entry's `id`".into()))?
            }
            "limit" => {
                limit = value
                    .parse::<i64>()
                    .ok()
                    .filter(|l| (1..=1000).contains(l))
                    .ok_or_else(|| ApiError::BadRequest("`limit` is from 1 to 1000".into()))?
            }
            _ => {}
        }
    }
    let entries = state.store.audit_since(since, after, limit).await?;
    Ok(Json(serde_json::json!({ "entries": entries })))
}

/// `GET /api/v1/incidents`.
pub async fn list_incidents(
    who: Authorized,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<IncidentPage>, ApiError> {
    let filter = parse_filter(query.as_deref())?;
    let page = state.store.list(&filter).await?;
    let ids: Vec<IncidentId> = page.incidents.iter().map(|i| i.id).collect();
    let mut participants = state.store.participants(&ids).await?;
    Ok(Json(IncidentPage {
        incidents: page
            .incidents
            .into_iter()
            .map(|i| {
                let people = names(participants.remove(&i.id));
                let mut json = IncidentJson::new(i, None);
                json.participants = Some(people);
                json.seen_by(&who.holder)
            })
            .collect(),
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

/// `GET /api/v1/incidents/{id}`, with the timeline.
pub async fn get_incident(
    who: Authorized,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<IncidentJson>, ApiError> {
    let id: IncidentId = id
        .parse()
        .map_err(|e: crate::domain::Invalid| ApiError::BadRequest(e.0))?;
    let mut json = incident_json(&state, id, &who.holder).await?;
    // The ids stay; their names come beside them.
    let mut ids: Vec<&str> = vec![json.declared_by.as_str()];
    ids.extend(json.roles.values().map(String::as_str));
    ids.extend(json.participants.iter().flatten().map(String::as_str));
    ids.extend(json.timeline.iter().flatten().map(|e| e.actor.as_str()));
    ids.extend(
        json.followups
            .iter()
            .flatten()
            .filter_map(|f| f.owner.as_deref()),
    );
    let names = state.people.names(ids, NAMES_DEADLINE).await;
    json.names = Some(names.into_iter().collect());
    Ok(Json(json))
}

/// How long the API waits for names read from Slack (ids stand alone meanwhile).
const NAMES_DEADLINE: std::time::Duration = std::time::Duration::from_millis(1000);

/// Incident `id` whole, with its timeline, people and follow-ups, as `holder` may see it.
pub async fn incident_json(
    state: &AppState,
    id: IncidentId,
    holder: &Holder,
) -> Result<IncidentJson, ApiError> {
    let incident = state
        .store
        .get(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("incident #{id} does not exist")))?;
    if incident.private && *holder != Holder::Operator {
        // Nothing more of it is shown: nothing more is read.
        let mut json = IncidentJson::new(incident, Some(vec![]));
        json.participants = Some(vec![]);
        json.followups = Some(vec![]);
        json.alerts = Some(vec![]);
        json.pages = Some(vec![]);
        json.jira = Some(None);
        return Ok(json.seen_by(holder));
    }
    let ids = [id];
    let (timeline, mut participants, followups, alerts, pages, issues) = tokio::try_join!(
        state.store.timeline(id),
        state.store.participants(&ids),
        state.store.followups(id),
        state.store.alerts_of(id),
        state.store.pages_of(id),
        state.store.jira_issues(id)
    )?;
    let mut json = IncidentJson::new(incident, Some(timeline));
    json.participants = Some(names(participants.remove(&id)));
    json.followups = Some(followups.into_iter().map(FollowupJson::from).collect());
    json.jira = Some(issues.into_iter().find(|(n, _)| *n == 0).map(|(_, i)| i));
    json.alerts = Some(alerts);
    json.pages = Some(pages.into_iter().map(PageJson::from).collect());
    Ok(json.seen_by(holder))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_take_repeated_and_comma_separated_values() {
        let f = parse_filter(Some(
            "status=open,investigating&status=resolved&severity=sev1&limit=900",
        ))
        .unwrap();
        assert_eq!(
            f.statuses,
            vec![Status::Open, Status::Investigating, Status::Resolved]
        );
        assert_eq!(f.severities, vec![Severity::Sev1]);
        assert_eq!(f.limit, MAX_LIMIT);
        assert_eq!(parse_filter(None).unwrap().limit, DEFAULT_LIMIT);
    }

    #[test]
    fn bad_filters_say_what_is_wrong() {
        for (query, named) in [
            ("status=burning", "status"),
            ("severity=SEV9", "severity"),
            ("from=yesterday", "from"),
            ("limit=0", "limit"),
            ("limit=-3", "limit"),
            ("cursor=xyz", "cursor"),
            ("from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "after"),
        ] {
            let err = parse_filter(Some(query)).err().unwrap().to_string();
            assert!(err.contains(named), "{query}: {err}");
        }
    }
}
