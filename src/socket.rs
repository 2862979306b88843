//! Socket Mode: Slack's traffic over a WebSocket pompier opens itself, for teams that
//! cannot give Slack a public URL. Slash commands, interactions and events arrive as
//! envelopes, go through the same handlers as over HTTP, and are acknowledged by their
//! `envelope_id` within Slack's 3 s, the reply in the acknowledgement where Slack takes
//! one. Each envelope is handled in a task of its own, so a slow one holds back no other
//! acknowledgement. On `disconnect` the next connection is opened before the old one is
//! closed; a ping every `slack.socket_ping_secs` notices one that went silent; a dropped
//! one is reopened after a jittered backoff that grows while connections keep dying young
//! (a server that closes right after `hello` is not hammered). Events are still acted on
//! once: their ids are kept in the database.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use secrecy::SecretString;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::app::AppState;
use crate::shutdown::{is_set, until_set};
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

/// The wait before reconnecting after `failures` connections in a row that failed or
/// died young: 1 s doubling to 60 s, each wait drawn between its half and its whole so
/// that many instances do not come back at once.
fn backoff(failures: u32, draw: f64) -> Duration {
    let ceiling = Duration::from_secs(1 << failures.saturating_sub(1).min(6)).min(MAX_BACKOFF);
    ceiling.mul_f64(0.5 + 0.5 * draw.clamp(0.0, 1.0))
}

/// The longest wait between two connections.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A connection that lived this long was healthy: the next failure starts the backoff
/// over.
const HEALTHY_AFTER: Duration = Duration::from_secs(30);

/// How a connection ended.
enum Ended {
    Stopped,
    /// Slack asked for a new connection, and it is open.
    Replaced(Box<Socket>),
    /// Closed, broken, or silent past the read timeout; whether it ever carried an
    /// envelope.
    Dropped(&'static str, bool),
}

/// Runs Socket Mode until `stop`.
pub async fn run(state: AppState, app_token: SecretString, mut stop: watch::Receiver<bool>) {
    let opener = SlackClient::new(
        &state.settings.slack.api_url,
        app_token,
        Duration::from_secs(state.settings.slack.timeout_secs),
    )
    .with_metrics(state.metrics.clone());
    let ping = Duration::from_secs(state.settings.slack.socket_ping_secs);
    let mut failures: u32 = 0;
    let mut next: Option<Socket> = None;
    while !is_set(&stop) {
        let socket = match next.take() {
            Some(socket) => socket,
            None => match connect(&opener).await {
                Ok(socket) => socket,
                Err(e) => {
                    failures += 1;
                    let wait = backoff(failures, rand::random());
                    tracing::warn!(error = %e, retry_in = ?wait, "Socket Mode: cannot connect");
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = until_set(&mut stop) => return,
                    }
                    continue;
                }
            },
        };
        let opened = Instant::now();
        match serve(&state, &opener, socket, ping, &mut stop).await {
            Ended::Stopped => return,
            Ended::Replaced(socket) => {
                failures = 0;
                next = Some(*socket);
            }
            Ended::Dropped(why, carried) => {
                if carried || opened.elapsed() >= HEALTHY_AFTER {
                    failures = 0;
                }
                failures += 1;
                let wait = backoff(failures, rand::random());
                tracing::warn!(retry_in = ?wait, "Socket Mode: {why}; reconnecting");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = until_set(&mut stop) => return,
                }
            }
        }
    }
}

/// Serves one connection: envelopes handled each in a task of its own (a slow one does
/// not hold back the others' acknowledgements), a ping every `ping`, and the connection
/// given up when nothing came for one and a half times that.
async fn serve(
    state: &AppState,
    opener: &SlackClient,
    socket: Socket,
    ping: Duration,
    stop: &mut watch::Receiver<bool>,
) -> Ended {
    let (mut sink, mut stream) = socket.split();
    let (out, mut outgoing) = mpsc::channel::<Message>(64);
    // The writer lives until the last handler of this connection has acknowledged.
    tokio::spawn(async move {
        while let Some(message) = outgoing.recv().await {
            if sink.send(message).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let read_timeout = ping + ping / 2;
    let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + ping, ping);
    let mut last_heard = Instant::now();
    let mut carried = false;
    loop {
        let message = tokio::select! {
            m = stream.next() => m,
            _ = pings.tick() => {
                if last_heard.elapsed() >= read_timeout {
                    return Ended::Dropped("nothing heard past the read timeout", carried);
                }
                let _ = out.try_send(Message::Ping(Vec::new().into()));
                continue;
            }
            _ = until_set(stop) => {
                let _ = out.try_send(Message::Close(None));
                return Ended::Stopped;
            }
        };
        last_heard = Instant::now();
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(_))) | None => {
                return Ended::Dropped("the connection closed", carried)
            }
            Some(Err(_)) => return Ended::Dropped("the connection broke", carried),
            // Pings are answered by the library, pongs show the connection is alive.
            Some(Ok(_)) => continue,
        };
        let envelope: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        match envelope["type"].as_str().unwrap_or_default() {
            "hello" => tracing::info!("Socket Mode connected"),
            "disconnect" => {
                // The next connection first, then the old one closed: nothing is missed.
                match connect(opener).await {
                    Ok(next) => {
                        let _ = out.try_send(Message::Close(None));
                        return Ended::Replaced(Box::new(next));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "Socket Mode: cannot open the next connection")
                    }
                }
            }
            _ => {
                if envelope["envelope_id"].is_string() {
                    carried = true;
                    tokio::spawn(acknowledge(state.clone(), envelope, out.clone()));
                }
            }
        }
    }
}

/// Handles one envelope and acknowledges it: at once where the acknowledgement carries
/// nothing (events, buttons, shortcuts), after handling where it carries the answer
/// (a slash command's reply, a form's errors).
async fn acknowledge(state: AppState, envelope: Value, out: mpsc::Sender<Message>) {
    let id = envelope["envelope_id"].as_str().unwrap_or_default();
    let mut ack = json!({"envelope_id": id});
    let answers = match envelope["type"].as_str().unwrap_or_default() {
        "slash_commands" => true,
        "interactive" => envelope["payload"]["type"] == "view_submission",
        _ => false,
    };
    if !answers {
        if out.send(Message::text(ack.to_string())).await.is_err() {
            tracing::warn!("Socket Mode: cannot acknowledge");
        }
        dispatch(&state, &envelope).await;
        return;
    }
    if let Some(payload) = dispatch(&state, &envelope).await {
        ack["payload"] = payload;
    }
    if out.send(Message::text(ack.to_string())).await.is_err() {
        tracing::warn!("Socket Mode: cannot acknowledge");
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
            match tokio::time::timeout(
                DEADLINE,
                events::handle(&state.incidents, &state.home, payload),
            )
            .await
            {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "event not recorded"),
                Err(_) => tracing::error!("event not recorded in time"),
            }
            None
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_grows_to_a_minute_with_jitter() {
        assert_eq!(backoff(1, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(1, 0.0), Duration::from_millis(500));
        assert_eq!(backoff(3, 1.0), Duration::from_secs(4));
        assert_eq!(backoff(7, 1.0), Duration::from_secs(60));
        assert_eq!(backoff(1000, 0.0), Duration::from_secs(30));
    }
}
