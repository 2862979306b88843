//! A fake Socket Mode server: a real WebSocket server on port 0. Each connection gets
//! `hello`, then its script of envelopes, then `disconnect` if the script says so; every
//! acknowledgement received is kept.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

#[derive(Default)]
pub struct Script {
    pub envelopes: Vec<Value>,
    pub disconnect: bool,
    /// Closes the connection right after `hello`, as a misbehaving server may.
    pub close_after_hello: bool,
    /// Goes silent after `hello`: reads nothing (so answers no ping) and sends nothing,
    /// the connection held open, as a dead peer behind a NAT looks.
    pub silent: bool,
}

#[derive(Default)]
struct Inner {
    scripts: VecDeque<Script>,
    acks: Vec<Value>,
    connections: usize,
}

#[derive(Clone)]
pub struct FakeSocket {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeSocket {
    pub async fn start(scripts: Vec<Script>) -> FakeSocket {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = FakeSocket {
            url: format!("ws://{}/", listener.local_addr().unwrap()),
            inner: Arc::new(Mutex::new(Inner {
                scripts: scripts.into(),
                ..Inner::default()
            })),
        };
        let inner = fake.inner.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let inner = inner.clone();
                tokio::spawn(async move {
                    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                        return;
                    };
                    let script = {
                        let mut i = inner.lock().unwrap();
                        i.connections += 1;
                        i.scripts.pop_front()
                    };
                    let _ = ws
                        .send(Message::text(json!({"type": "hello"}).to_string()))
                        .await;
                    if let Some(Script {
                        close_after_hello: true,
                        ..
                    }) = script
                    {
                        let _ = ws.close(None).await;
                        return;
                    }
                    if let Some(Script { silent: true, .. }) = script {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        drop(ws);
                        return;
                    }
                    if let Some(script) = script {
                        for envelope in script.envelopes {
                            let _ = ws.send(Message::text(envelope.to_string())).await;
                        }
                        if script.disconnect {
                            // Slack lets the old connection live a little while.
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            let _ = ws
                                .send(Message::text(
                                    json!({"type": "disconnect", "reason": "refresh_requested"})
                                        .to_string(),
                                ))
                                .await;
                        }
                    }
                    while let Some(Ok(message)) = ws.next().await {
                        if let Message::Text(text) = message {
                            if let Ok(ack) = serde_json::from_str::<Value>(&text) {
                                inner.lock().unwrap().acks.push(ack);
                            }
                        }
                    }
                });
            }
        });
        fake
    }

    /// Gives every later connection `script` (made anew for each).
    pub fn then_always(&self, script: impl Fn() -> Script) {
        let mut inner = self.inner.lock().unwrap();
        for _ in 0..10_000 {
            inner.scripts.push_back(script());
        }
    }

    pub fn acks(&self) -> Vec<Value> {
        self.inner.lock().unwrap().acks.clone()
    }

    pub fn connections(&self) -> usize {
        self.inner.lock().unwrap().connections
    }

    /// Waits until `n` acknowledgements came, within 10 s.
    pub async fn wait_acks(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let acks = self.acks();
            if acks.len() >= n {
                return acks;
            }
            assert!(
                Instant::now() < deadline,
                "only {} acknowledgements: {acks:?}, {} connections",
                acks.len(),
                self.connections()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
