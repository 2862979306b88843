//! Socket Mode against a fake Slack WebSocket server, on both databases: the same
//! handlers as HTTP, acknowledgements by envelope id with the reply, and an event acted
//! on once across a `disconnect` and its redelivery.

use serde_json::json;

use crate::fake_slack::{FakeSlack, APP_TOKEN};
use crate::fake_socket::{FakeSocket, Script};
use crate::helpers::{start, Backend, TestDb};

async fn a_slash_command_over_the_socket_is_answered_in_its_acknowledgement(backend: Backend) {
    let envelope = json!({"envelope_id": "E1", "type": "slash_commands", "accepts_response_payload": true,
                          "payload": {"command": "/incident", "text": "open sev2 Over the socket",
                                      "user_id": "U0456", "channel_id": "C0123", "trigger_id": "1.2.3"}});
    let socket = FakeSocket::start(vec![Script {
        envelopes: vec![envelope],
        ..Script::default()
    }])
    .await;
    let slack = FakeSlack::start().await;
    slack.set_socket(&socket.url);
    let app = start(
        TestDb::new(backend).await,
        slack,
        &[("SLACK_APP_TOKEN", APP_TOKEN)],
    )
    .await;
    let acks = socket.wait_acks(1).await;
    assert_eq!(acks[0]["envelope_id"], "E1");
    assert_eq!(acks[0]["payload"]["response_type"], "in_channel");
    assert!(acks[0]["payload"]["text"]
        .as_str()
        .unwrap()
        .contains("Over the socket"));
    assert_eq!(app.trace_count().await.0, 1);
    app.stop().await;
}

async fn an_event_is_acted_on_once_across_a_reconnection(backend: Backend) {
    let db = TestDb::new(backend).await;
    // The incident and its channel, made over HTTP first.
    let slack = FakeSlack::start().await;
    let app = start(db, slack, &[]).await;
    let id = app.declare("sev2 Socket pins").await;
    app.run_pending_jobs().await;
    let channel = app.slack.channels()[0].id.clone();
    app.slack
        .add_user_message(&channel, "1796000000.000500", "U0SAW", "the graph");
    let event = |envelope: &str| {
        json!({"envelope_id": envelope, "type": "events_api",
               "payload": {"type": "event_callback", "event_id": "EvSock1",
                           "event": {"type": "reaction_added", "user": "U0ONE", "reaction": "pushpin",
                                     "item": {"type": "message", "channel": channel, "ts": "1796000000.000500"}}}})
    };
    // The first connection delivers the event and asks to reconnect; the next one
    // delivers it again, as Slack does when it is not sure it was received.
    let socket = FakeSocket::start(vec![
        Script {
            envelopes: vec![event("E1")],
            disconnect: true,
            ..Script::default()
        },
        Script {
            envelopes: vec![event("E2")],
            ..Script::default()
        },
    ])
    .await;
    app.slack.set_socket(&socket.url);
    let app = app.restart(&[("SLACK_APP_TOKEN", APP_TOKEN)]).await;
    let acks = socket.wait_acks(2).await;
    let ids: Vec<&str> = acks
        .iter()
        .map(|a| a["envelope_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["E1", "E2"]);
    assert_eq!(socket.connections(), 2);
    app.run_pending_jobs().await;
    let incident = app.incident_json(id).await;
    let notes = incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "note")
        .count();
    assert_eq!(notes, 1, "{incident}");
    app.stop().await;
}

fn command(envelope: &str, text: &str) -> serde_json::Value {
    json!({"envelope_id": envelope, "type": "slash_commands", "accepts_response_payload": true,
           "payload": {"command": "/incident", "text": text, "user_id": "U0456",
                       "channel_id": "C0123", "trigger_id": format!("1.2.{envelope}")}})
}

async fn socket_app(
    backend: Backend,
    socket: &FakeSocket,
    slack: FakeSlack,
) -> crate::helpers::TestApp {
    slack.set_socket(&socket.url);
    start(
        TestDb::new(backend).await,
        slack,
        &[
            ("SLACK_APP_TOKEN", APP_TOKEN),
            ("POMPIER_SLACK__SOCKET_PING_SECS", "1"),
        ],
    )
    .await
}

async fn a_server_that_closes_after_hello_is_not_hammered(backend: Backend) {
    let socket = FakeSocket::start(vec![]).await;
    socket.then_always(|| Script {
        close_after_hello: true,
        ..Script::default()
    });
    let app = socket_app(backend, &socket, FakeSlack::start().await).await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    // 0.5–1 s, then 1–2 s, then 2–4 s between tries: at most four in 3 s.
    let tries = socket.connections();
    assert!((2..=4).contains(&tries), "{tries} connections in 3 s");
    app.stop().await;
}

async fn a_silent_connection_is_noticed_and_replaced(backend: Backend) {
    let socket = FakeSocket::start(vec![
        Script {
            silent: true,
            ..Script::default()
        },
        Script {
            envelopes: vec![command("E1", "help")],
            ..Script::default()
        },
    ])
    .await;
    let app = socket_app(backend, &socket, FakeSlack::start().await).await;
    // Pings every second; nothing heard for 1.5 s: replaced, and the next one serves.
    let acks = socket.wait_acks(1).await;
    assert_eq!(acks[0]["envelope_id"], "E1");
    assert_eq!(socket.connections(), 2);
    app.stop().await;
}

async fn a_slow_envelope_holds_back_no_other_acknowledgement(backend: Backend) {
    let slack = FakeSlack::start().await;
    // The form takes Slack 1.5 s to open.
    slack.fail("views.open", [crate::fake_slack::Failure::Slow(1500)]);
    let socket = FakeSocket::start(vec![Script {
        envelopes: vec![command("E1", "open"), command("E2", "help")],
        ..Script::default()
    }])
    .await;
    let app = socket_app(backend, &socket, slack).await;
    let acks = socket.wait_acks(2).await;
    let order: Vec<&str> = acks
        .iter()
        .map(|a| a["envelope_id"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["E2", "E1"], "help waited for the form");
    app.stop().await;
}

crate::on_both_backends!(
    a_slash_command_over_the_socket_is_answered_in_its_acknowledgement,
    an_event_is_acted_on_once_across_a_reconnection,
    a_server_that_closes_after_hello_is_not_hammered,
    a_silent_connection_is_noticed_and_replaced,
    a_slow_envelope_holds_back_no_other_acknowledgement,
);
