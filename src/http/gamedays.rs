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

use super::api::{holder, Authorized};
use super::charts;
use super::dashboard::{at, render, Viewer};
use super::ApiError;
use crate::app::AppState;
use crate::domain::gameday::report::{duration, stories};
use crate::domain::gameday::{Mode, Scoreboard};
use crate::domain::stats::Summary;
use crate::slack::text::plain;
use crate::store::Store;
use crate::streams::Refused;
use crate::tokens::Scope;

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

/// Game day `id`'s board; `reveal`: with what was injected (it is anyway once the game
/// day ended).
async fn load(store: &Store, id: i64, reveal: bool) -> Result<Scoreboard, ApiError> {
    let mut board = store
        .scoreboard(id, reveal, crate::now())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("game day {id} does not exist")))?;
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

/// `GET /api/v1/gamedays/{id}`: the scoreboard as JSON; injections' descriptions and
/// targets only with the `gameday` scope until the game day ends.
pub async fn one(
    _: Authorized,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<Json<Scoreboard>, ApiError> {
    let reveal = holder(&headers, &state, Scope::Gameday).await.is_ok();
    Ok(Json(load(&state.store, parse_id(&id)?, reveal).await?))
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
                detect => median(&t.time_to_detect),
                undetected => t.undetected,
                score => t.score.map(|s| s.to_string()).unwrap_or_else(|| "—".into()),
            }
        })
        .collect();
    let day = &board.gameday;
    let undetected: Vec<Value> = board
        .injections
        .iter()
        .filter(|i| i.drill_id.is_none() && day.ended_at.is_none())
        .map(|i| {
            let until = day.ended_at;
            context! {
                id => i.id,
                team => i.team.as_str(),
                since => i.started_at.to_rfc3339(),
                until => until.map(|u| u.to_rfc3339()),
                description => i.description.as_deref().map(plain),
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
    // Once it ended, every injection's story, revealed.
    let revealed: Vec<Value> = if day.ended_at.is_some() {
        stories(board)
            .iter()
            .map(|story| {
                let i = story.injection;
                context! {
                    id => i.id,
                    team => i.team.as_str(),
                    description => i.description.as_deref().map(plain),
                    target => i.target.as_deref().map(plain),
                    detected => story.detected_after.map(duration),
                    drill => story.drill.map(|d| d.id.0),
                }
            })
            .collect()
    } else {
        vec![]
    };
    context! {
        id => day.id,
        dnd => day.mode == Mode::Dnd,
        revealed,
        report_url => day.report_url,
        injections => board.injections.len(),
        undetected,
        feed => feed(board),
        name => day.name,
        running => day.ended_at.is_none(),
        started_at => at(day.started_at),
        ended_at => day.ended_at.map(at),
        running_drills => board.drills.iter().filter(|d| d.status.is_active()).count(),
        teams,
        drills,
    }
}

/// What happened, newest first: detections, resolutions, injections that ended unseen.
fn feed(board: &Scoreboard) -> Vec<Value> {
    let mut lines: Vec<(chrono::DateTime<chrono::Utc>, String)> = vec![];
    for story in stories(board) {
        let i = story.injection;
        match (story.drill, story.detected_after) {
            (Some(drill), Some(after)) => {
                lines.push((
                    i.detected_at.unwrap_or(i.started_at),
                    format!(
                        "{} declared {} {} after the injection",
                        i.team,
                        drill.title,
                        duration(after)
                    ),
                ));
                if let (Some(at), Some(after)) = (drill.resolved_at, story.resolved_after) {
                    lines.push((
                        at,
                        format!(
                            "{} resolved #{} {} after the injection",
                            i.team,
                            drill.id,
                            duration(after)
                        ),
                    ));
                }
            }
            _ => {
                if let Some(ended) = i.ended_at {
                    lines.push((
                        ended,
                        format!("an injection for {} ended undetected", i.team),
                    ));
                }
            }
        }
    }
    lines.sort_by_key(|line| std::cmp::Reverse(line.0));
    lines
        .into_iter()
        .map(|(at_, text)| context! { at => at(at_), text })
        .collect()
}

/// `GET /gameday/{id}`: the scoreboard page.
pub async fn page(
    _: Viewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Html<String>, ApiError> {
    let board = load(&state.store, parse_id(&id)?, false).await?;
    let ctx = board_context(&board);
    render("gameday.html", context! { signed_in => true, ..ctx })
}

/// `GET /gameday/{id}/stream`: the board's HTML each time it changes (event `board`),
/// read once a second for all its viewers together, for at most ten minutes.
pub async fn stream(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let id = parse_id(&id)?;
    // A board watched already is joined without reading it; one nobody watches is read
    // by the first viewer while those arriving meanwhile wait to join.
    let feed = match state.boards.joined(id) {
        Some(feed) => feed,
        None => {
            let first = state.boards.first(id).await;
            let feed = match state.boards.joined(id) {
                Some(feed) => Ok(feed),
                None => start_feed(&state, id).await,
            };
            state.boards.started(id, first);
            feed?
        }
    };
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
    let until = tokio::time::Instant::now() + STREAM_LIFETIME;
    let events = stream::unfold(
        (feed, pass, true),
        move |(mut feed, mut pass, first)| async move {
            if !first {
                tokio::select! {
                    changed = feed.changed() => changed.ok()?,
                    _ = tokio::time::sleep_until(until) => return None,
                    // Logged out, or pompier stops.
                    _ = pass.ended() => return None,
                }
            }
            if pass.is_ended() {
                return None;
            }
            let html = feed.borrow_and_update().clone();
            let event = Event::default().event("board").data(&*html);
            Some((Ok(event), (feed, pass, false)))
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// Reads board `id` and starts its feed.
async fn start_feed(
    state: &AppState,
    id: i64,
) -> Result<tokio::sync::watch::Receiver<std::sync::Arc<str>>, ApiError> {
    state.metrics.board_polled();
    let first = load(&state.store, id, false).await?;
    let store = state.store.clone();
    let read = move || {
        let store = store.clone();
        async move { board_html(&load(&store, id, false).await.ok()?).ok() }
    };
    Ok(state
        .boards
        .watch(id, board_html(&first)?, read, &state.metrics))
}

fn board_html(board: &Scoreboard) -> Result<String, ApiError> {
    render("gameday_board.html", board_context(board)).map(|html| html.0)
}
