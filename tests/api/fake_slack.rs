//! A fake Slack Web API: a real HTTP server on port 0 that keeps channels, messages and
//! pins, checks what real Slack checks (token, channel names, Block Kit limits), and
//! fails on cue (5xx, 429 with Retry-After, `ok:false`, a hang).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::Notify;

pub const BOT_TOKEN: &str = "xoxb-test-token";
pub const APP_TOKEN: &str = "xapp-test-token";

#[derive(Debug, Clone)]
pub enum Failure {
    Status(u16),
    RateLimited(u64),
    Error(&'static str),
    /// Answers nothing for a long time (a worker killed meanwhile never hears back).
    Hang,
    /// Does what was asked, then answers with this HTTP status (the caller cannot know
    /// it worked).
    AfterEffect(u16),
    /// Answers normally after this many milliseconds.
    Slow(u64),
}

/// The bot's own user id, as `auth.test` tells it.
pub const BOT_USER: &str = "U0BOT";

#[derive(Debug, Clone)]
pub struct Channel {
    pub id: String,
    pub name: String,
    pub creator: String,
    pub topic: Option<String>,
    pub members: Vec<String>,
    pub archived: bool,
    /// A private channel: `conversations.list` shows it only when asked for
    /// `private_channel` among its `types` (real Slack lists public ones by default).
    pub private: bool,
}

#[derive(Debug, Clone)]
pub struct Message {
    pub channel: String,
    pub ts: String,
    pub body: Value,
}

#[derive(Default)]
struct Slack {
    calls: Vec<(String, Value)>,
    channels: Vec<Channel>,
    messages: Vec<Message>,
    updates: Vec<Message>,
    pins: Vec<(String, String)>,
    views: Vec<Value>,
    /// Where `apps.connections.open` sends Socket Mode.
    socket_url: Option<String>,
    /// What reached a `response_url` (`{url}/respond`).
    responses: Vec<Value>,
    failures: HashMap<String, VecDeque<Failure>>,
    counter: u64,
    /// User groups: id → its users.
    groups: HashMap<String, Vec<String>>,
    /// Home tabs published: (user, view).
    homes: Vec<(String, Value)>,
    /// `chat.postEphemeral` messages.
    ephemerals: Vec<Message>,
    /// Slack's rate tiers, when enforced (`enforce_tiers`).
    tiers: Option<Arc<crate::bench_fake::Tiers>>,
    /// Calls refused with a 429 for going past a tier.
    over_tier: usize,
}

#[derive(Clone)]
pub struct FakeSlack {
    pub url: String,
    state: Arc<Mutex<Slack>>,
    /// Fires when a call starts to hang.
    pub hanging: Arc<Notify>,
}

fn ok(extra: Value) -> Response {
    let mut body = json!({"ok": true});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    Json(body).into_response()
}

fn refuse(code: &str) -> Response {
    Json(json!({"ok": false, "error": code})).into_response()
}

fn valid_channel_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 80
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Block Kit's limits, as Slack enforces them.
fn valid_blocks(blocks: &Value) -> bool {
    let Some(blocks) = blocks.as_array() else {
        return true;
    };
    let text_len = |v: &Value| v["text"].as_str().map_or(0, |t| t.chars().count());
    blocks.len() <= 50
        && blocks.iter().all(|b| match b["type"].as_str() {
            Some("header") => text_len(&b["text"]) <= 150,
            Some("section") => {
                text_len(&b["text"]) <= 3000
                    && b["fields"]
                        .as_array()
                        .is_none_or(|f| f.len() <= 10 && f.iter().all(|f| text_len(f) <= 2000))
            }
            _ => true,
        })
}

async fn api(
    State(fake): State<FakeSlack>,
    Path(method): Path<String>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> Response {
    // JSON for write methods, a form for read methods, as Slack takes them.
    let body: Value =
        if headers.get("content-type").and_then(|v| v.to_str().ok()) == Some("application/json") {
            serde_json::from_slice(&raw).unwrap_or(Value::Null)
        } else {
            Value::Object(
                form_urlencoded::parse(&raw)
                    .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                    .collect(),
            )
        };
    let failure = {
        let mut s = fake.state.lock().unwrap();
        s.calls.push((method.clone(), body.clone()));
        match s.tiers.as_ref().and_then(|t| t.past(&method, &body)) {
            Some(wait) => {
                s.over_tier += 1;
                Some(Failure::RateLimited(wait))
            }
            None => s.failures.get_mut(&method).and_then(VecDeque::pop_front),
        }
    };
    let token = if method == "apps.connections.open" {
        APP_TOKEN
    } else {
        BOT_TOKEN
    };
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(&format!("Bearer {token}"))
    {
        return refuse("invalid_auth");
    }
    match failure {
        Some(Failure::Status(code)) => {
            return (StatusCode::from_u16(code).unwrap(), "upstream failure").into_response()
        }
        Some(Failure::RateLimited(secs)) => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", secs.to_string())],
                Json(json!({"ok": false, "error": "ratelimited"})),
            )
                .into_response()
        }
        Some(Failure::Error(code)) => return refuse(code),
        Some(Failure::Hang) => {
            fake.hanging.notify_one();
            tokio::time::sleep(Duration::from_secs(600)).await;
            return (StatusCode::GATEWAY_TIMEOUT, "hung").into_response();
        }
        Some(Failure::Slow(ms)) => tokio::time::sleep(Duration::from_millis(ms)).await,
        Some(Failure::AfterEffect(code)) => {
            let _done = answer(&fake, &method, body);
            return (StatusCode::from_u16(code).unwrap(), "failed after the fact").into_response();
        }
        None => {}
    }
    answer(&fake, &method, body)
}

async fn respond(State(fake): State<FakeSlack>, Json(body): Json<Value>) -> Response {
    fake.state.lock().unwrap().responses.push(body);
    StatusCode::OK.into_response()
}

fn answer(fake: &FakeSlack, method: &str, body: Value) -> Response {
    let mut s = fake.state.lock().unwrap();
    s.counter += 1;
    let n = s.counter;
    let channel = body["channel"].as_str().unwrap_or_default().to_owned();
    let known = s.channels.iter().any(|c| c.id == channel);
    match method {
        "auth.test" => ok(json!({"user_id": BOT_USER, "user": "pompier", "team": "Acme"})),
        "conversations.replies" => {
            // The message and, when it starts a thread, its replies.
            let ts = body["ts"].as_str().unwrap_or_default();
            let found: Vec<Value> = s
                .messages
                .iter()
                .filter(|m| m.channel == channel && (m.ts == ts || m.body["thread_ts"] == ts))
                .map(|m| {
                    json!({"ts": m.ts, "text": m.body["text"], "user": m.body["user"],
                                "metadata": m.body["metadata"]})
                })
                .collect();
            if !known && found.is_empty() {
                return refuse("channel_not_found");
            }
            ok(json!({"messages": found}))
        }
        "chat.getPermalink" => {
            let ts = body["message_ts"].as_str().unwrap_or_default();
            ok(
                json!({"permalink": format!("https://acme.slack.com/archives/{channel}/p{}", ts.replace('.', ""))}),
            )
        }
        "apps.connections.open" => match &s.socket_url {
            Some(url) => ok(json!({"url": url})),
            None => refuse("not_allowed_token_type"),
        },
        "views.publish" => {
            let user = body["user_id"].as_str().unwrap_or_default().to_owned();
            if user.is_empty() {
                return refuse("invalid_arguments");
            }
            if body["view"]["type"] != "home" {
                return refuse("invalid_arguments");
            }
            s.homes.push((user, body["view"].clone()));
            ok(json!({"view": {"id": format!("V{n:08}")}}))
        }
        "views.open" => {
            if body["trigger_id"].as_str().unwrap_or_default().is_empty() {
                return refuse("invalid_trigger_id");
            }
            s.views.push(body["view"].clone());
            ok(json!({"view": {"id": format!("V{n:08}")}}))
        }
        "users.info" => {
            let user = body["user"].as_str().unwrap_or_default().to_owned();
            ok(json!({"user": {"id": user, "name": user.to_lowercase(),
                               "profile": {"real_name": format!("Real {user}"),
                                           "email": format!("{}@acme.test", user.to_lowercase())}}}))
        }
        "conversations.list" => {
            let types = body["types"]
                .as_str()
                .unwrap_or("public_channel")
                .to_owned();
            let wanted = |c: &&Channel| {
                types.split(',').any(|t| {
                    t == if c.private {
                        "private_channel"
                    } else {
                        "public_channel"
                    }
                })
            };
            let channels: Vec<Value> = s
                .channels
                .iter()
                .filter(|c| !c.archived)
                .filter(wanted)
                .map(|c| json!({"id": c.id, "name": c.name, "creator": c.creator}))
                .collect();
            ok(json!({"channels": channels, "response_metadata": {"next_cursor": ""}}))
        }
        "conversations.history" => {
            if !known && !channel.starts_with("C0ANN") && !channel.starts_with('D') {
                return refuse("channel_not_found");
            }
            // A thread's replies are not in the channel's history, unless broadcast.
            let messages: Vec<Value> = s
                .messages
                .iter()
                .rev()
                .filter(|m| {
                    m.channel == channel
                        && (m.body["thread_ts"].is_null() || m.body["reply_broadcast"] == true)
                })
                .map(
                    |m| json!({"ts": m.ts, "text": m.body["text"], "metadata": m.body["metadata"]}),
                )
                .collect();
            ok(json!({"messages": messages}))
        }
        "conversations.create" => {
            let name = body["name"].as_str().unwrap_or_default().to_owned();
            if !valid_channel_name(&name) {
                return refuse("invalid_name_specials");
            }
            if s.channels.iter().any(|c| c.name == name) {
                return refuse("name_taken");
            }
            let id = format!("C{n:08}");
            s.channels.push(Channel {
                id: id.clone(),
                name: name.clone(),
                creator: BOT_USER.into(),
                topic: None,
                members: vec![],
                archived: false,
                private: body["is_private"] == true || body["is_private"] == "true",
            });
            ok(json!({"channel": {"id": id, "name": name}}))
        }
        "conversations.invite" => {
            // Comma-separated users; a deactivated one (`BAD` in its id) or a member
            // already fails. With several users Slack answers a top-level error and one
            // per user; with `force` it invites the valid ones anyway.
            let users: Vec<String> = body["users"]
                .as_str()
                .unwrap_or_default()
                .split(',')
                .map(str::to_owned)
                .collect();
            let force = body["force"] == true || body["force"] == "true";
            let Some(c) = s.channels.iter_mut().find(|c| c.id == channel) else {
                return refuse("channel_not_found");
            };
            let mut errors = vec![];
            let mut valid = vec![];
            for user in &users {
                if user.contains("BAD") {
                    errors.push(json!({"user": user, "ok": false, "error": "user_not_found"}));
                } else if c.members.contains(user) {
                    errors.push(json!({"user": user, "ok": false, "error": "already_in_channel"}));
                } else {
                    valid.push(user.clone());
                }
            }
            if errors.is_empty() || force {
                c.members.extend(valid);
            }
            match (errors.len(), users.len()) {
                (0, _) => ok(json!({"channel": {"id": channel}})),
                (_, 1) => refuse(errors[0]["error"].as_str().unwrap()),
                _ => (
                    StatusCode::OK,
                    Json(json!({"ok": false, "error": errors[0]["error"], "errors": errors})),
                )
                    .into_response(),
            }
        }
        "users.lookupByEmail" => {
            // Users are U0NAME with the email u0name@acme.test.
            let email = body["email"].as_str().unwrap_or_default();
            match email.strip_suffix("@acme.test") {
                Some(name) if !name.is_empty() && !name.contains("ghost") => {
                    ok(json!({"user": {"id": name.to_uppercase()}}))
                }
                _ => refuse("users_not_found"),
            }
        }
        "usergroups.users.list" => {
            let group = body["usergroup"].as_str().unwrap_or_default();
            match s.groups.get(group) {
                Some(users) => ok(json!({"users": users})),
                None => refuse("no_such_subteam"),
            }
        }
        "conversations.setTopic" => {
            let topic = body["topic"].as_str().unwrap_or_default().to_owned();
            if topic.chars().count() > 250 {
                return refuse("too_long");
            }
            let Some(c) = s.channels.iter_mut().find(|c| c.id == channel) else {
                return refuse("channel_not_found");
            };
            c.topic = Some(topic);
            ok(json!({}))
        }
        "conversations.rename" => {
            let name = body["name"].as_str().unwrap_or_default().to_owned();
            if !valid_channel_name(&name) {
                return refuse("invalid_name_specials");
            }
            if s.channels.iter().any(|c| c.name == name && c.id != channel) {
                return refuse("name_taken");
            }
            let Some(c) = s.channels.iter_mut().find(|c| c.id == channel) else {
                return refuse("channel_not_found");
            };
            if c.archived {
                return refuse("is_archived");
            }
            c.name = name.clone();
            ok(json!({"channel": {"id": channel, "name": name}}))
        }
        "conversations.archive" => {
            let Some(c) = s.channels.iter_mut().find(|c| c.id == channel) else {
                return refuse("channel_not_found");
            };
            if c.archived {
                return refuse("already_archived");
            }
            c.archived = true;
            ok(json!({}))
        }
        "chat.postEphemeral" => {
            // Seen by `user` alone, who must be in the channel (real Slack refuses
            // otherwise): a channel this fake did not make is one the test's users type
            // in. Kept apart from the channel's messages.
            let user = body["user"].as_str().unwrap_or_default();
            let outside = s
                .channels
                .iter()
                .any(|c| c.id == channel && !c.members.iter().any(|m| m == user));
            if user.is_empty() || outside {
                return refuse("user_not_in_channel");
            }
            s.ephemerals.push(Message {
                channel: channel.clone(),
                ts: format!("1700000000.{n:06}"),
                body,
            });
            ok(json!({"message_ts": format!("1700000000.{n:06}")}))
        }
        "conversations.open" => {
            // A direct message with one user: `D` and the user's id.
            let users = body["users"].as_str().unwrap_or_default();
            if users.is_empty() || users.contains(',') {
                return refuse("invalid_arguments");
            }
            ok(json!({"channel": {"id": format!("D{users}")}}))
        }
        "chat.postMessage" | "chat.update" => {
            // `D…`: a direct message opened with `conversations.open`; `C0ANN…`: the
            // announce channel, which the bot posts in without joining.
            if !known && !channel.starts_with("C0ANN") && !channel.starts_with('D') {
                return refuse("channel_not_found");
            }
            if let Some(parent) = body["thread_ts"].as_str() {
                if !s
                    .messages
                    .iter()
                    .any(|m| m.channel == channel && m.ts == parent)
                {
                    return refuse("thread_not_found");
                }
            }
            if !valid_blocks(&body["blocks"]) {
                return refuse("invalid_blocks");
            }
            if method == "chat.update" {
                let ts = body["ts"].as_str().unwrap_or_default().to_owned();
                if !s
                    .messages
                    .iter()
                    .any(|m| m.channel == channel && m.ts == ts)
                {
                    return refuse("message_not_found");
                }
                s.updates.push(Message {
                    channel: channel.clone(),
                    ts: ts.clone(),
                    body,
                });
                return ok(json!({"channel": channel, "ts": ts}));
            }
            let ts = format!("1700000000.{n:06}");
            s.messages.push(Message {
                channel: channel.clone(),
                ts: ts.clone(),
                body,
            });
            ok(json!({"channel": channel, "ts": ts}))
        }
        "pins.add" => {
            let ts = body["timestamp"].as_str().unwrap_or_default().to_owned();
            if s.pins.contains(&(channel.clone(), ts.clone())) {
                return refuse("already_pinned");
            }
            s.pins.push((channel, ts));
            ok(json!({}))
        }
        _ => refuse("unknown_method"),
    }
}

impl FakeSlack {
    pub async fn start() -> FakeSlack {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = FakeSlack {
            url: format!("http://{}/api", listener.local_addr().unwrap()),
            state: Arc::default(),
            hanging: Arc::new(Notify::new()),
        };
        let app = Router::new()
            .route("/api/{method}", post(api))
            .route("/respond", post(respond))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        fake
    }

    /// Enforces Slack's rate tiers from now on, as Slack does: a call past its method's
    /// calls a minute gets a 429 with `Retry-After`.
    pub fn enforce_tiers(&self) {
        self.state.lock().unwrap().tiers = Some(Arc::default());
    }

    /// How many calls went past their tier (and got a 429).
    pub fn over_tier(&self) -> usize {
        self.state.lock().unwrap().over_tier
    }

    /// The next calls of `method` fail as listed, in order.
    pub fn fail(&self, method: &str, failures: impl IntoIterator<Item = Failure>) {
        self.state
            .lock()
            .unwrap()
            .failures
            .entry(method.into())
            .or_default()
            .extend(failures);
    }

    /// Every call received, in order: method and body.
    pub fn calls(&self) -> Vec<(String, Value)> {
        self.state.lock().unwrap().calls.clone()
    }

    pub fn methods(&self) -> Vec<String> {
        self.calls().into_iter().map(|(m, _)| m).collect()
    }

    /// How many calls of `method` were received.
    pub fn count(&self, method: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|(m, _)| m == method)
            .count()
    }

    pub fn channels(&self) -> Vec<Channel> {
        self.state.lock().unwrap().channels.clone()
    }

    /// What `chat.postEphemeral` showed, in order.
    pub fn ephemerals(&self) -> Vec<Message> {
        self.state.lock().unwrap().ephemerals.clone()
    }

    /// The messages of `channel` that are not replies in a thread.
    pub fn top_level(&self, channel: &str) -> Vec<Message> {
        let mut all = self.messages_in(channel);
        all.retain(|m| m.body["thread_ts"].is_null());
        all
    }

    /// The replies in the thread of message `ts` of `channel`, in order.
    pub fn thread(&self, channel: &str, ts: &str) -> Vec<Message> {
        let mut all = self.messages_in(channel);
        all.retain(|m| m.body["thread_ts"] == ts);
        all
    }

    /// Message `ts` of `channel` as it reads now: its last edit, or as posted.
    pub fn current(&self, channel: &str, ts: &str) -> Value {
        let s = self.state.lock().unwrap();
        let edited = s.updates.iter().rev();
        let posted = s.messages.iter();
        edited
            .chain(posted)
            .find(|m| m.channel == channel && m.ts == ts)
            .map(|m| m.body.clone())
            .unwrap_or(Value::Null)
    }

    pub fn messages_in(&self, channel: &str) -> Vec<Message> {
        self.state
            .lock()
            .unwrap()
            .messages
            .iter()
            .filter(|m| m.channel == channel)
            .cloned()
            .collect()
    }

    pub fn messages(&self) -> Vec<Message> {
        self.state.lock().unwrap().messages.clone()
    }

    pub fn updates(&self) -> Vec<Message> {
        self.state.lock().unwrap().updates.clone()
    }

    pub fn pins(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().pins.clone()
    }

    /// A message someone wrote in `channel`.
    pub fn add_user_message(&self, channel: &str, ts: &str, user: &str, text: &str) {
        self.state.lock().unwrap().messages.push(Message {
            channel: channel.into(),
            ts: ts.into(),
            body: json!({"text": text, "user": user}),
        });
    }

    /// Socket Mode connections go to `url`.
    pub fn set_socket(&self, url: &str) {
        self.state.lock().unwrap().socket_url = Some(url.into());
    }

    /// The modals opened, in order.
    pub fn views(&self) -> Vec<Value> {
        self.state.lock().unwrap().views.clone()
    }

    /// What was posted to the `response_url` `{url}/respond`.
    pub fn responses(&self) -> Vec<Value> {
        self.state.lock().unwrap().responses.clone()
    }

    /// A `response_url` that lands here.
    pub fn response_url(&self) -> String {
        format!("{}/respond", self.url.trim_end_matches("/api"))
    }

    /// A channel someone else already made.
    /// A public channel made by someone else (the bot is in it); its id.
    /// The Home tabs published, in order: (user, view).
    pub fn homes(&self) -> Vec<(String, Value)> {
        self.state.lock().unwrap().homes.clone()
    }

    /// A user group with these users.
    pub fn add_group(&self, id: &str, users: &[&str]) {
        let mut s = self.state.lock().unwrap();
        s.groups
            .insert(id.into(), users.iter().map(|u| u.to_string()).collect());
    }

    /// The members of channel `id`.
    pub fn members(&self, id: &str) -> Vec<String> {
        let s = self.state.lock().unwrap();
        s.channels
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.members.clone())
            .unwrap_or_default()
    }

    pub fn add_channel(&self, name: &str) -> String {
        let mut s = self.state.lock().unwrap();
        s.counter += 1;
        let id = format!("C9{:07}", s.counter);
        s.channels.push(Channel {
            id: id.clone(),
            name: name.into(),
            creator: "U0SOMEONE".into(),
            topic: None,
            members: vec![],
            archived: false,
            private: false,
        });
        id
    }
}
