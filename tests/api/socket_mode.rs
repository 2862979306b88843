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
        disconnect: false,
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
        },
        Script {
            envelopes: vec![event("E2")],
            disconnect: false,
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

crate::on_both_backends!(
    a_slash_command_over_the_socket_is_answered_in_its_acknowledgement,
    an_event_is_acted_on_once_across_a_reconnection,
);
