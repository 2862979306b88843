//! `/slack/*`: the signature is checked on the raw bytes before anything is parsed.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http_body_util::BodyExt;
use secrecy::ExposeSecret;
use serde::Deserialize;
use tokio::sync::OwnedSemaphorePermit;

use super::{ApiError, MAX_BODY_BYTES};
use crate::app::AppState;
use crate::slack::commands;
use crate::slack::interactions;
use crate::slack::verify;

/// Slack gives up after 3 s; answer before, whatever the database does.
const REPLY_DEADLINE: Duration = Duration::from_millis(2500);

/// Refused signatures logged so far this minute.
static REFUSALS: LogGate = LogGate::new(10);

/// Lets through at most `per_minute` log lines a minute.
struct LogGate {
    per_minute: u64,
    window: std::sync::Mutex<Option<(std::time::Instant, u64)>>,
}

impl LogGate {
    const fn new(per_minute: u64) -> LogGate {
        LogGate {
            per_minute,
            window: std::sync::Mutex::new(None),
        }
    }

    /// `Some(how many were left out before)` when this line may be logged.
    fn allow(&self, now: std::time::Instant) -> Option<u64> {
        let mut window = self.window.lock().ok()?;
        let (start, seen) = window.get_or_insert((now, 0));
        if now.duration_since(*start) >= Duration::from_secs(60) {
            let left_out = seen.saturating_sub(self.per_minute);
            *window = Some((now, 1));
            return Some(left_out);
        }
        *seen += 1;
        (*seen <= self.per_minute).then_some(0)
    }
}

/// A request body whose Slack signature holds.
pub struct Verified(pub Bytes, pub String);

impl FromRequest<AppState> for Verified {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let headers: HeaderMap = req.headers().clone();
        // Held against the budget of unverified bodies until this request is answered.
        let (body, _held) = read_body(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let secret = state
            .settings
            .secrets
            .slack_signing_secret
            .as_ref()
            .ok_or(verify::VerifyError::NoSecret);
        secret
            .and_then(|secret| {
                verify::verify(
                    secret.expose_secret().as_bytes(),
                    header("x-slack-request-timestamp"),
                    header("x-slack-signature"),
                    &body,
                    chrono::Utc::now().timestamp(),
                )
            })
            .map_err(|e| {
                // An unsigned client must not be able to flood the log: a few lines a
                // minute, then a count of the ones left out.
                if let Some(left_out) = REFUSALS.allow(std::time::Instant::now()) {
                    tracing::warn!(reason = %e, left_out, "refused a Slack request");
                }
                ApiError::Unauthorized(e.to_string()).into_response()
            })?;
        let signature = header("x-slack-signature").unwrap_or_default().to_owned();
        Ok(Verified(body, signature))
    }
}

/// Reads the body, at most `MAX_BODY_BYTES`, taking a KiB of the shared budget of
/// unverified bodies for each KiB received: a flood of large unsigned bodies waits for
/// the budget (within the request timeout) instead of taking memory.
async fn read_body(
    req: Request,
    state: &AppState,
) -> Result<(Bytes, Option<OwnedSemaphorePermit>), ApiError> {
    let mut body = req.into_body();
    let mut bytes = Vec::new();
    let mut held: Option<OwnedSemaphorePermit> = None;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::BadRequest(format!("cannot read the body: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if bytes.len() + data.len() > MAX_BODY_BYTES {
            return Err(ApiError::TooLarge(format!(
                "the body is larger than {MAX_BODY_BYTES} bytes"
            )));
        }
        bytes.extend_from_slice(&data);
        let need = bytes.len().div_ceil(1024) as u32;
        let have = held.as_ref().map_or(0, |p| p.num_permits() as u32);
        if need > have {
            let more = state
                .unverified_bodies
                .clone()
                .acquire_many_owned(need - have)
                .await
                .expect("never closed");
            match &mut held {
                Some(permit) => permit.merge(more),
                None => held = Some(more),
            }
        }
    }
    Ok((Bytes::from(bytes), held))
}

/// `POST /slack/commands`.
pub async fn run_command(
    State(state): State<AppState>,
    Verified(body, signature): Verified,
) -> Result<Response, ApiError> {
    let fields: commands::CommandFields = serde_urlencoded::from_bytes(&body)
        .map_err(|e| ApiError::BadRequest(format!("malformed slash command form: {e}")))?;
    if fields.ssl_check.as_deref() == Some("1") {
        return Ok(().into_response());
    }
    // A replayed declaration or note is refused by its signature (kept in the database,
    // with the declaration itself, so every instance knows it).
    let delivery = Some(format!("sig:{signature}"));
    let reply = commands::answer(
        &state.incidents,
        state.slack.as_ref(),
        &state.metrics,
        fields,
        delivery,
        REPLY_DEADLINE,
    )
    .await
    .map_err(ApiError::BadRequest)?;
    Ok(match reply {
        Some(reply) => Json(reply).into_response(),
        // A modal opened: nothing to say in the channel.
        None => StatusCode::OK.into_response(),
    })
}

#[derive(Debug, Deserialize)]
struct InteractionForm {
    payload: String,
}

/// `POST /slack/interactions`: shortcuts, modal submissions, buttons.
pub async fn interaction(
    State(state): State<AppState>,
    // Interactions are kept to once by what they carry (a view id), and moves are
    // idempotent: no signature record.
    Verified(body, _): Verified,
) -> Result<Response, ApiError> {
    let form: InteractionForm = serde_urlencoded::from_bytes(&body)
        .map_err(|e| ApiError::BadRequest(format!("malformed interaction form: {e}")))?;
    let payload: serde_json::Value = serde_json::from_str(&form.payload)
        .map_err(|e| ApiError::BadRequest(format!("malformed interaction payload: {e}")))?;
    let handled = tokio::time::timeout(
        REPLY_DEADLINE,
        interactions::handle(&state.incidents, state.slack.as_ref(), &payload),
    )
    .await;
    let (answer, follow) = match handled {
        Ok(Ok(done)) => done,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "interaction failed");
            return Err(ApiError::Unavailable(
                "pompier could not reach its database".into(),
            ));
        }
        Err(_) => {
            tracing::error!("interaction missed its deadline");
            return Err(ApiError::Unavailable(
                "pompier's database is slow to answer".into(),
            ));
        }
    };
    if let Some(follow) = follow {
        tokio::spawn(interactions::follow_up(follow));
    }
    Ok(match answer {
        interactions::Answer::Empty => StatusCode::OK.into_response(),
        interactions::Answer::Json(body) => Json(body).into_response(),
    })
}

/// `POST /slack/events`: answered once the event is durably recorded (a retried one is
/// recognised by its id), well within Slack's 3 s; the work it asks for runs as a job.
pub async fn event(
    State(state): State<AppState>,
    // Events are kept to once by their event id (Slack's retries included), not by
    // their signature.
    Verified(body, _): Verified,
) -> Result<Response, ApiError> {
    let body: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("malformed event: {e}")))?;
    match tokio::time::timeout(
        REPLY_DEADLINE,
        crate::slack::events::handle(&state.incidents, &state.home, &body),
    )
    .await
    {
        Ok(Ok(Some(answer))) => Ok(Json(answer).into_response()),
        Ok(Ok(None)) => Ok(StatusCode::OK.into_response()),
        // Slack retries what is not acknowledged; the event id keeps it to once.
        Ok(Err(e)) => {
            tracing::error!(error = %e, "event not recorded");
            Err(ApiError::Unavailable(
                "pompier could not record the event".into(),
            ))
        }
        Err(_) => Err(ApiError::Unavailable(
            "pompier's database is slow to answer".into(),
        )),
    }
}
