//! `/slack/*`: the signature is checked on the raw bytes before anything is parsed.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::ApiError;
use crate::app::AppState;
use crate::slack::command;
use crate::slack::commands::{self, Caller};
use crate::slack::reply::Reply;
use crate::slack::verify;

/// Slack gives up after 3 s; answer before, whatever the database does.
const REPLY_DEADLINE: Duration = Duration::from_millis(2500);

/// A request body whose Slack signature holds.
pub struct Verified(pub Bytes);

impl FromRequest<AppState> for Verified {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let headers: HeaderMap = req.headers().clone();
        let body = Bytes::from_request(req, state)
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
                tracing::warn!(reason = %e, "refused a Slack request");
                ApiError::Unauthorized(e.to_string()).into_response()
            })?;
        Ok(Verified(body))
    }
}

/// The fields of a slash command this handler reads; Slack sends more.
#[derive(Debug, Deserialize)]
struct CommandForm {
    ssl_check: Option<String>,
    text: Option<String>,
    user_id: Option<String>,
    channel_id: Option<String>,
}

/// `POST /slack/commands`.
pub async fn run_command(
    State(state): State<AppState>,
    Verified(body): Verified,
) -> Result<Response, ApiError> {
    let form: CommandForm = serde_urlencoded::from_bytes(&body)
        .map_err(|e| ApiError::BadRequest(format!("malformed slash command form: {e}")))?;
    if form.ssl_check.as_deref() == Some("1") {
        return Ok(().into_response());
    }
    let user = form
        .user_id
        .as_deref()
        .ok_or_else(|| ApiError::BadRequest("slash command without user_id".into()))?
        .parse()
        .map_err(|e| ApiError::BadRequest(format!("user_id: {e}")))?;
    // A command from a DM or an unknown kind of conversation has no incident channel.
    let channel = form.channel_id.as_deref().and_then(|c| c.parse().ok());
    let text = form.text.unwrap_or_default();
    let reply = match command::parse(&text, &state.roles) {
        Err(invalid) => Reply::ephemeral(format!("{invalid}.\n\n{}", command::USAGE)),
        Ok(invocation) => {
            let caller = Caller { user, channel };
            match tokio::time::timeout(
                REPLY_DEADLINE,
                commands::execute(&state, invocation, &caller),
            )
            .await
            {
                Ok(Ok(reply)) => reply,
                Ok(Err(e)) => {
                    tracing::error!(error = ?e, "slash command failed");
                    Reply::ephemeral(
                        "pompier could not reach its database, so the command may not have been \
                         saved. Check with `/incident status` and try again.",
                    )
                }
                Err(_) => {
                    tracing::error!("slash command missed its deadline");
                    Reply::ephemeral(
                        "pompier's database is slow to answer; the command may or may not have \
                         been saved. Check with `/incident status` in a moment.",
                    )
                }
            }
        }
    };
    Ok(Json(reply).into_response())
}
