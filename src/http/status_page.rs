//! The public status page: `GET /status` (HTML, no script), `/status.json` and
//! `/status/feed.atom`, with no token and `Cache-Control: public, max-age=30`, so a CDN
//! or the browser absorbs a crowd of customers pressing reload. What it shows is decided
//! in `domain::status_page`: only what was written for customers.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use minijinja::context;

use super::dashboard::render;
use super::ApiError;
use crate::app::AppState;
use crate::confluence::page::escape_xml as xml;
use crate::domain::status_page::{impact_words, status_page, PublicIncident, StatusPage};
use crate::slack::text::plain;

const CACHE: &str = "public, max-age=30";

async fn load(state: &AppState) -> Result<StatusPage, ApiError> {
    let now = crate::now();
    let incidents = state.store.public_incidents(now).await?;
    let mut page = status_page(&incidents, &state.settings.status_page.components, now);
    // Slack's markup reads as plain text here.
    for incident in page.incidents.iter_mut().chain(page.resolved.iter_mut()) {
        incident.title = plain(&incident.title);
        for update in &mut incident.updates {
            update.message = plain(&update.message);
        }
    }
    Ok(page)
}

fn cached(content_type: &'static str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, CACHE),
        ],
        body,
    )
        .into_response()
}

fn at(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

fn shown(i: &PublicIncident) -> minijinja::Value {
    context! {
        id => i.id.0,
        title => i.title,
        impact => impact_words(i.impact),
        status => i.status,
        started_at => at(i.started_at),
        resolved_at => i.resolved_at.map(at),
        components => i.components.join(", "),
        updates => i.updates.iter().map(|u| context! { at => at(u.at), message => u.message }).collect::<Vec<_>>(),
    }
}

/// `GET /status`.
pub async fn page(State(state): State<AppState>) -> Result<Response, ApiError> {
    let page = load(&state).await?;
    let components: Vec<minijinja::Value> = page
        .components
        .iter()
        .map(|c| {
            context! {
                name => c.name,
                status => c.status,
                words => match c.status {
                    "operational" => "Operational",
                    "degraded_performance" => "Degraded performance",
                    "partial_outage" => "Partial outage",
                    _ => "Major outage",
                },
            }
        })
        .collect();
    let html = render(
        "status.html",
        context! {
            title => state.settings.status_page.title,
            indicator => page.status.indicator,
            description => page.status.description,
            components,
            incidents => page.incidents.iter().map(shown).collect::<Vec<_>>(),
            resolved => page.resolved.iter().map(shown).collect::<Vec<_>>(),
            updated_at => page.updated_at.map(at),
        },
    )?;
    Ok(cached("text/html; charset=utf-8", html.0))
}

/// `GET /status.json`.
pub async fn json(State(state): State<AppState>) -> Result<Response, ApiError> {
    let page = load(&state).await?;
    let body = serde_json::to_string(&page)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("status.json: {e}")))?;
    Ok(cached("application/json", body))
}

/// `GET /status/feed.atom`: an entry per public incident, its customer-facing updates
/// in its content, newest first (RFC 4287).
pub async fn atom(State(state): State<AppState>) -> Result<Response, ApiError> {
    let page = load(&state).await?;
    let base = state
        .settings
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", state.settings.listen));
    let base = base.trim_end_matches('/');
    let title = xml(&state.settings.status_page.title);
    let updated = page.updated_at.unwrap_or(DateTime::UNIX_EPOCH).to_rfc3339();
    let mut feed = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <feed xmlns=\"http://www.w3.org/2005/Atom\">\
         <id>{base}/status</id><title>{title}</title><updated>{updated}</updated>\
         <author><name>{title}</name></author>\
         <link rel=\"alternate\" type=\"text/html\" href=\"{base}/status\"/>\
         <link rel=\"self\" type=\"application/atom+xml\" href=\"{base}/status/feed.atom\"/>"
    );
    for i in page.incidents.iter().chain(&page.resolved) {
        let updated = i
            .updates
            .first()
            .map(|u| u.at)
            .into_iter()
            .chain(i.resolved_at)
            .max()
            .unwrap_or(i.started_at);
        let content: Vec<String> = i
            .updates
            .iter()
            .map(|u| format!("{} UTC: {}", at(u.at), u.message))
            .collect();
        feed += &format!(
            "<entry><id>{base}/status#incident-{}</id><title>{} ({})</title>\
             <updated>{}</updated><published>{}</published>\
             <link rel=\"alternate\" type=\"text/html\" href=\"{base}/status\"/>\
             <content type=\"text\">{}</content></entry>",
            i.id.0,
            xml(&i.title),
            i.status,
            updated.to_rfc3339(),
            i.started_at.to_rfc3339(),
            xml(&content.join("\n")),
        );
    }
    feed += "</feed>\n";
    Ok(cached("application/atom+xml; charset=utf-8", feed))
}
