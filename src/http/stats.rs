//! `/api/v1/stats` and `/api/v1/incidents.csv`: what managers read.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use futures_util::stream;

use super::api::{parse_filter, parse_slice, parse_time, Authorized};
use super::ApiError;
use crate::app::AppState;
use crate::domain::followup;
use crate::domain::stats::Stats;
use crate::domain::{Incident, Status};
use crate::slack::text::plain;
use crate::store::{Filter, Store};

/// What a manager asked for: `from`/`to` (RFC 3339), by default the last 30 days, and
/// whether drills count (`include_drills`, by default not).
#[derive(Debug, Clone)]
pub struct Range {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Which incidents of the range (severity, status, team, class, title, drills).
    pub filter: Filter,
}

pub fn parse_range(query: Option<&str>) -> Result<Range, ApiError> {
    let (mut from, mut to, mut filter) = (None, None, Filter::default());
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if parse_slice(&key, &value, &mut filter)? {
            continue;
        }
        match key.as_ref() {
            "from" => from = Some(parse_time("from", &value)?),
            "to" => to = Some(parse_time("to", &value)?),
            _ => {}
        }
    }
    let to = to.unwrap_or_else(crate::now);
    let from = from.unwrap_or(to - Duration::days(30));
    crate::domain::stats::check_range(from, to).map_err(ApiError::BadRequest)?;
    Ok(Range { from, to, filter })
}

/// The statistics of `range`; from the daily rollups when it holds more than
/// `exact_up_to` incidents (`stats.exact_up_to`).
pub async fn compute(store: &Store, range: &Range, exact_up_to: u64) -> Result<Stats, ApiError> {
    let Range { from, to, filter } = range;
    let (tally, open_now, followups) = tokio::try_join!(
        store.tally(*from, *to, filter, exact_up_to),
        store.open_now(filter),
        store.open_followups()
    )?;
    let mut stats = tally.stats(*from, *to, open_now);
    stats.followups = Some(followup::open_at(&followups, crate::now()));
    Ok(stats)
}

pub async fn stats(
    _: Authorized,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Stats>, ApiError> {
    Ok(Json(
        compute(
            &state.store,
            &parse_range(query.as_deref())?,
            state.settings.stats.exact_up_to,
        )
        .await?,
    ))
}

const CSV_HEADER: [&str; 26] = [
    "id",
    "title",
    "severity",
    "status",
    "channel_id",
    "declared_by",
    "lead",
    "comms",
    "opened_at",
    "investigating_at",
    "mitigated_at",
    "resolved_at",
    "postmortem_at",
    "closed_at",
    "time_to_acknowledge_s",
    "time_to_mitigate_s",
    "time_to_resolve_s",
    "time_to_close_s",
    "postmortem_url",
    "roles",
    "drill",
    "private",
    "jira",
    "declared_by_name",
    "lead_name",
    "comms_name",
];

/// A cell a spreadsheet shows as typed: one that starts like a formula gets a `'`.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// One incident's row; `jira`: its Jira issue's key, if it has one; `names`: people's
/// Slack names by id.
fn csv_row(
    i: &Incident,
    jira: Option<&String>,
    names: &std::collections::HashMap<String, String>,
) -> Vec<String> {
    let m = &i.milestones;
    let time = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
    let secs = |s: Status| {
        m.time_to(s)
            .and_then(|d| d.num_microseconds())
            .map(|us| format!("{}", us as f64 / 1e6))
            .unwrap_or_default()
    };
    // A private incident's people and links are its members'.
    let open = !i.private;
    let role = |name: &str| {
        i.roles
            .iter()
            .filter(|_| open)
            .find(|(r, _)| r.as_str() == name)
            .map(|(_, u)| u.to_string())
            .unwrap_or_default()
    };
    let name = |id: &str| match names.get(id).filter(|_| open) {
        Some(name) => cell(name),
        None => String::new(),
    };
    vec![
        i.id.to_string(),
        cell(&plain(i.shown_title())),
        i.severity.to_string(),
        i.status.to_string(),
        i.channel_id
            .as_ref()
            .filter(|_| open)
            .map(|c| c.to_string())
            .unwrap_or_default(),
        if open {
            cell(&i.declared_by.to_string())
        } else {
            String::new()
        },
        role("lead"),
        role("comms"),
        time(m.opened_at),
        time(m.investigating_at),
        time(m.mitigated_at),
        time(m.resolved_at),
        time(m.postmortem_at),
        time(m.closed_at),
        secs(Status::Investigating),
        secs(Status::Mitigated),
        secs(Status::Resolved),
        secs(Status::Closed),
        i.postmortem_url
            .clone()
            .filter(|_| open)
            .unwrap_or_default(),
        i.roles
            .iter()
            .filter(|_| open)
            .map(|(r, u)| format!("{r}={u}"))
            .collect::<Vec<_>>()
            .join(" "),
        i.drill.is_some().to_string(),
        i.private.to_string(),
        jira.filter(|_| open).cloned().unwrap_or_default(),
        name(&i.declared_by.to_string()),
        name(&role("lead")),
        name(&role("comms")),
    ]
}

fn csv_chunk(rows: impl IntoIterator<Item = Vec<String>>) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer.write_record(row)?;
    }
    writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))
}

/// `GET /api/v1/incidents.csv`: the list's filters, every page of it, streamed a page
/// at a time as the database gives it.
pub async fn incidents_csv(
    who: Authorized,
    State(state): State<AppState>,
    axum::Extension(super::client::ClientIp(client)): axum::Extension<super::client::ClientIp>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let said = query.as_deref().unwrap_or_default();
    let origin = client.to_string();
    state
        .store
        .audit(&who.holder.audit_name(), "csv_export", said, &origin)
        .await;
    export(&state, query.as_deref()).await
}

/// How long each page of the export waits for names read from Slack.
const NAMES_DEADLINE: std::time::Duration = std::time::Duration::from_millis(1000);

/// The CSV of the incidents `query` filters, streamed.
pub async fn export(state: &AppState, query: Option<&str>) -> Result<Response, ApiError> {
    let mut filter = parse_filter(query)?;
    filter.limit = 500;
    let header = csv_chunk([CSV_HEADER.map(str::to_owned).to_vec()])
        .map_err(|e| ApiError::Internal(e.into()))?;
    // The first page is read before answering, so a database error is a clean 5xx.
    let first = state.store.list(&filter).await?;
    let pages = stream::unfold(
        (state.clone(), filter, Some(first), Some(header)),
        |(state, mut filter, page, header)| async move {
            let store = state.store.clone();
            if let Some(header) = header {
                return Some((Ok(header), (state, filter, page, None)));
            }
            let page = match page {
                Some(page) => page,
                None if filter.after.is_some() => match store.list(&filter).await {
                    Ok(page) => page,
                    Err(e) => {
                        tracing::error!(error = %e, "CSV export cut short");
                        return Some((
                            Err(std::io::Error::other(e.to_string())),
                            (
                                state,
                                Filter {
                                    after: None,
                                    ..filter
                                },
                                None,
                                None,
                            ),
                        ));
                    }
                },
                None => return None,
            };
            let ids: Vec<_> = page.incidents.iter().map(|i| i.id).collect();
            let people: Vec<String> = page
                .incidents
                .iter()
                .flat_map(|i| {
                    let mut them = vec![i.declared_by.to_string()];
                    them.extend(i.roles.values().map(|u| u.to_string()));
                    them
                })
                .collect();
            let names = state
                .people
                .names(people.iter().map(String::as_str), NAMES_DEADLINE)
                .await;
            let chunk = match store.jira_keys(&ids).await {
                Ok(keys) => csv_chunk(
                    page.incidents
                        .iter()
                        .map(|i| csv_row(i, keys.get(&i.id), &names)),
                )
                .map_err(|e| std::io::Error::other(e.to_string())),
                Err(e) => {
                    tracing::error!(error = %e, "CSV export cut short");
                    Err(std::io::Error::other(e.to_string()))
                }
            };
            filter.after = page.next;
            let done = filter.after.is_none();
            if done && page.incidents.is_empty() {
                return None;
            }
            Some((chunk, (state, filter, None, None)))
        },
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"incidents.csv\"",
            ),
        ],
        Body::from_stream(pages),
    )
        .into_response())
}
