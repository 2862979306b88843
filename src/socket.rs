//! Socket Mode: Slack's traffic over a WebSocket pompier opens itself, for teams that
//! cannot give Slack a public URL. Slash commands, interactions and events arrive as
//! envelopes, go through the same handlers as over HTTP, and are acknowledged by their
//! `envelope_id` within Slack's 3 s, the reply in the acknowledgement where Slack takes
//! one. On `disconnect` the next connection is opened before the old one is closed; a
//! dropped one is reopened with backoff. Events are still acted on once: their ids are
//! kept in the database.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use secrecy::SecretString;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::app::AppState;
use crate::jobs::worker::until_set;
use crate::slack::client::SlackClient;
use crate::slack::{commands, events, interactions};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long handling an envelope may take: Slack wants its acknowledgement within 3 s.
const DEADLINE: Duration = Duration::from_millis(2500);

/// Opens a connection: `apps.connections.open` with the app token, then the WebSocket.
async fn connect(opener: &SlackClient) -> Result<Socket, String> {
    let opened = opener
        .call("apps.connections.open", &json!({}))
        .await
        .map_err(|e| e.to_string())?;
    let url = opened["url"]
        .as_str()
        .ok_or("apps.connections.open gave no url")?;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_tungstenite::Connector::Rustls(Arc::new(tls));
    let (socket, _) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async_tls_with_config(url, None, false, Some(connector)),
    )
    .await
    .map_err(|_| "the WebSocket did not open within 10 s".to_owned())?
    .map_err(|e| e.to_string())?;
    Ok(socket)
}

/// Runs Socket Mode until `stop`.
pub async fn run(state: AppState, app_token: SecretString, mut stop: watch::Receiver<bool>) {
    let opener = SlackClient::new(
        &state.settings.slack.api_url,
        app_token,
        Duration::from_secs(state.settings.slack.timeout_secs),
    )
    .with_metrics(state.metrics.clone());
    let mut backoff = Duration::from_secs(1);
    let mut socket: Option<Socket> = None;
    loop {
        let mut current = match socket.take() {
            Some(s) => s,
            None => match connect(&opener).await {
                Ok(s) => {
                    backoff = Duration::from_secs(1);
                    s
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "Socket Mode: cannot connect");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = until_set(&mut stop) => return,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                    continue;
                }
            },
        };
        let message = tokio::select! {
            m = current.next() => m,
            _ = until_set(&mut stop) => {
                let _ = current.close(None).await;
                return;
            }
        };
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                tracing::warn!("Socket Mode: the connection dropped; reconnecting");
                continue;
            }
            Some(Ok(_)) => {
                socket = Some(current);
                continue;
            }
        };
        let envelope: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        match envelope["type"].as_str().unwrap_or_default() {
            "hello" => tracing::info!("Socket Mode connected"),
            "disconnect" => {
                // The next connection first, then the old one closed: nothing is missed.
                match connect(&opener).await {
                    Ok(next) => {
                        let _ = current.close(None).await;
                        socket = Some(next);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "Socket Mode: cannot open the next connection");
                        socket = Some(current);
                    }
                }
                continue;
            }
            _ => {
                if let Some(id) = envelope["envelope_id"].as_str() {
                    let reply = dispatch(&state, &envelope).await;
                    let mut ack = json!({"envelope_id": id});
                    if let Some(payload) = reply {
                        ack["payload"] = payload;
                    }
                    if let Err(e) = current.send(Message::text(ack.to_string())).await {
                        tracing::warn!(error = %e, "Socket Mode: cannot acknowledge");
                        continue;
                    }
                }
            }
        }
        socket = Some(current);
    }
}

/// One envelope through the handlers HTTP uses; the acknowledgement's payload, if any.
async fn dispatch(state: &AppState, envelope: &Value) -> Option<Value> {
    let payload = &envelope["payload"];
    let slack = state.slack.as_ref();
    match envelope["type"].as_str().unwrap_or_default() {
        "slash_commands" => {
            let fields: commands::CommandFields =
                serde_json::from_value(payload.clone()).unwrap_or_default();
            // Socket Mode envelopes are acknowledged once by their id; no signature.
            let delivery = envelope["envelope_id"]
                .as_str()
                .map(|id| format!("envelope:{id}"));
            match commands::answer(
                &state.incidents,
                slack,
                &state.metrics,
                fields,
                delivery,
                DEADLINE,
            )
            .await
            {
                Ok(reply) => reply.map(|r| json!(r)),
                Err(why) => Some(json!({"response_type": "ephemeral", "text": why})),
            }
        }
        "interactive" => {
            let handled = tokio::time::timeout(
                DEADLINE,
                interactions::handle(&state.incidents, slack, payload),
            )
            .await;
            match handled {
                Ok(Ok((answer, follow))) => {
                    if let Some(follow) = follow {
                        tokio::spawn(interactions::follow_up(follow));
                    }
                    match answer {
                        interactions::Answer::Json(body) => Some(body),
                        interactions::Answer::Empty => None,
                    }
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "interaction failed");
                    None
                }
                Err(_) => None,
            }
        }
        "events_api" => {
            match tokio::time::timeout(DEADLINE, events::handle(&state.incidents, payload)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "event not recorded"),
                Err(_) => tracing::error!("event not recorded in time"),
            }
            None
        }
        _ => None,
    }
}
