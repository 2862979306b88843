//! Game days: their JSON (`/api/v1/gamedays`, `/api/v1/gamedays/{id}`) and the live
//! scoreboard (`/gameday/{id}`), a page for the big screen in the room that updates
//! itself through Server-Sent Events (`/gameday/{id}/stream`).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::Html;
use axum::Json;
use futures_util::stream::{self, Stream};
use minijinja::{context, Value};
use serde_json::json;

use super::api::Authorized;
use super::charts;
use super::dashboard::{at, render, Viewer};
use super::ApiError;
use crate::app::AppState;
use crate::domain::gameday::{scoreboard, Scoreboard};
use crate::domain::stats::Summary;
use crate::slack::text::plain;
use crate::store::Store;
use crate::streams::Refused;

/// How often a scoreboard stream looks for changes.
const POLL: Duration = Duration::from_secs(1);
/// A stream ends after this long (the browser opens a new one at once), so no stream
/// outlives a deploy by much or holds a connection forever.
const STREAM_LIFETIME: Duration = Duration::from_secs(600);

fn parse_id(id: &str) -> Result<i64, ApiError> {
    id.trim_start_matches('#')
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::BadRequest(format!("`{id}` is not a game day number")))
}

async fn load(store: &Store, id: i64) -> Result<Scoreboard, ApiError> {
    let (day, drills) = store
        .gameday(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("game day {id} does not exist")))?;
    let mut board = scoreboard(day, &drills);
    for drill in &mut board.drills {
        drill.title = plain(&drill.title);
    }
    Ok(board)
}

/// `GET /api/v1/gamedays`: newest first.
pub async fn list(
    _: Authorized,
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(json!({ "gamedays": state.store.gamedays().await? })))
}

/// `GET /api/v1/gamedays/{id}`: the scoreboard as JSON.
pub async fn one(
    _: Authorized,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Scoreboard>, ApiError> {
    Ok(Json(load(&state.store, parse_id(&id)?).await?))
}

/// What the board's template shows.
fn board_context(board: &Scoreboard) -> Value {
    let median = |s: &Summary| s.median.map(charts::duration).unwrap_or_else(|| "—".into());
    let teams: Vec<Value> = board
        .teams
        .iter()
        .map(|t| {
            context! {
                rank => t.rank,
                team => t.team.as_str(),
                drills => t.drills,
                resolved => t.resolved,
                acknowledge => median(&t.times.time_to_acknowledge),
                mitigate => median(&t.times.time_to_mitigate),
                resolve => median(&t.times.time_to_resolve),
            }
        })
        .collect();
    let drills: Vec<Value> = board
        .drills
        .iter()
        .map(|d| {
            let resolve = match (d.opened_at, d.resolved_at) {
                (Some(o), Some(r)) => charts::duration((r - o).num_seconds() as f64),
                _ => "—".into(),
            };
            context! {
                id => d.id.0,
                team => d.team.as_str(),
                title => d.title,
                severity => d.severity.as_str(),
                colour => charts::colour(d.severity.as_str()),
                status => d.status.as_str(),
                opened_at => d.opened_at.map(at),
                resolve,
            }
        })
        .collect();
    let day = &board.gameday;
    context! {
        id => day.id,
        name => day.name,
        running => day.ended_at.is_none(),
        started_at => at(day.started_at),
        ended_at => day.ended_at.map(at),
        running_drills => board.drills.iter().filter(|d| d.status.is_active()).count(),
        teams,
        drills,
    }
}

/// `GET /gameday/{id}`: the scoreboard page.
pub async fn page(
    _: Viewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Html<String>, ApiError> {
    let board = load(&state.store, parse_id(&id)?).await?;
    let ctx = board_context(&board);
    render("gameday.html", context! { signed_in => true, ..ctx })
}

/// `GET /gameday/{id}/stream`: the board's HTML each time it changes (event `board`),
/// looked for every second, for at most ten minutes.
pub async fn stream(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let id = parse_id(&id)?;
    let first = load(&state.store, id).await?;
    let pass = state
        .streams
        .open(&viewer.session)
        .map_err(|refused| match refused {
            Refused::Session(n) => ApiError::TooMany(format!(
                "this session has {n} live boards open already (http.max_streams_per_session)"
            )),
            Refused::All(n) => ApiError::Unavailable(format!(
                "{n} live boards are open already (http.max_streams); reload later"
            )),
        })?;
    let store = state.store.clone();
    let until = tokio::time::Instant::now() + STREAM_LIFETIME;
    let html = board_html(&first)?;
    let events = stream::unfold(
        (store, Some(html), String::new(), pass),
        move |(store, pending, last, mut pass)| async move {
            if let Some(html) = pending {
                let event = Event::default().event("board").data(&html);
                return Some((Ok(event), (store, None, html, pass)));
            }
            loop {
                if tokio::time::Instant::now() + POLL > until || pass.is_ended() {
                    return None;
                }
                tokio::select! {
                    _ = tokio::time::sleep(POLL) => {}
                    // Logged out, or pompier stops.
                    _ = pass.ended() => return None,
                }
                // A database hiccup skips a beat; the board stays as it was.
                let Ok(board) = load(&store, id).await else {
                    continue;
                };
                let Ok(html) = board_html(&board) else {
                    continue;
                };
                if html != last {
                    let event = Event::default().event("board").data(&html);
                    return Some((Ok(event), (store, None, html, pass)));
                }
            }
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

fn board_html(board: &Scoreboard) -> Result<String, ApiError> {
    render("gameday_board.html", board_context(board)).map(|html| html.0)
}
