//! The Slack side, through the durable job queue, against a fake Slack reached through
//! `SLACK_API_URL`.

use std::time::Duration;

use chrono::Utc;
use pompier::domain::IncidentId;
use serde_json::Value;

use crate::fake_slack::Failure;
use crate::helpers::{spawn_app, spawn_app_with, Backend, TestApp};

const ANNOUNCE: &str = "C0ANNOUNCE";

async fn with_announce(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[("POMPIER_ANNOUNCE_CHANNEL", ANNOUNCE)]).await
}

fn later(secs: i64) -> chrono::DateTime<Utc> {
    pompier::now() + chrono::Duration::seconds(secs)
}

async fn channel_of(app: &TestApp, id: IncidentId) -> String {
    app.store
        .get(id)
        .await
        .unwrap()
        .unwrap()
        .channel_id
        .expect("a channel")
        .to_string()
}

async fn job_of(app: &TestApp, id: IncidentId, kind: &str) -> pompier::store::JobRecord {
    let jobs = app.store.jobs_of(id).await.unwrap();
    jobs.into_iter()
        .find(|j| j.kind == kind)
        .expect("a job of that kind")
}

/// Each job of incident `id`: its kind and state, oldest first.
pub async fn job_states(app: &TestApp, id: IncidentId) -> Vec<(String, String)> {
    app.store
        .jobs_of(id)
        .await
        .unwrap()
        .into_iter()
        .map(|j| (j.kind, j.state))
        .collect()
}

async fn a_declaration_makes_exactly_the_expected_calls_once(backend: Backend) {
    let app = with_announce(backend).await;
    let id = app.declare("sev2 Checkout returns 500").await;
    assert!(
        app.slack.calls().is_empty(),
        "nothing is called on the request path"
    );
    app.run_pending_jobs().await;
    assert_eq!(
        app.slack.methods(),
        [
            "conversations.create",
            "conversations.invite",
            "conversations.setTopic",
            "chat.postMessage",
            "pins.add",
            "chat.postMessage"
        ]
    );
    let channels = app.slack.channels();
    assert_eq!(channels.len(), 1);
    assert_eq!(channels[0].name, format!("inc-{id}-checkout-returns-500"));
    assert_eq!(channels[0].members, ["U0456"]);
    assert_eq!(
        channels[0].topic.as_deref(),
        Some(&*format!("Incident #{id}: Checkout returns 500"))
    );
    let incident = app.store.get(id).await.unwrap().unwrap();
    assert_eq!(
        incident.channel_id.as_ref().unwrap().as_str(),
        channels[0].id
    );
    let summary = app.slack.messages_in(&channels[0].id);
    assert_eq!(summary.len(), 1);
    assert_eq!(incident.summary_ts.as_deref(), Some(summary[0].ts.as_str()));
    assert_eq!(
        app.slack.pins(),
        [(channels[0].id.clone(), summary[0].ts.clone())]
    );
    let summary_json = summary[0].body.to_string();
    for part in ["SEV2", "open", "<!date^", "<@U0456>"] {
        assert!(summary_json.contains(part), "{part} in {summary_json}");
    }
    let announced = app.slack.messages_in(ANNOUNCE);
    assert_eq!(announced.len(), 1);
    assert!(announced[0]
        .body
        .to_string()
        .contains(&format!("<#{}>", channels[0].id)));
    assert_eq!(
        incident.announce_ts.as_deref(),
        Some(announced[0].ts.as_str())
    );
    assert!(job_states(&app, id)
        .await
        .iter()
        .all(|(_, state)| state == "done"));
    // Nothing runs twice.
    assert_eq!(app.run_jobs_at(later(3600)).await, 0);
    assert_eq!(app.slack.calls().len(), 6);
}

async fn a_change_is_posted_announced_and_updates_the_pinned_summary(backend: Backend) {
    let app = with_announce(backend).await;
    let id = app.declare("sev3 Search slow").await;
    app.run_pending_jobs().await;
    let channel = channel_of(&app, id).await;
    let summary_ts = app
        .store
        .get(id)
        .await
        .unwrap()
        .unwrap()
        .summary_ts
        .unwrap();

    app.slash_as("U0456", &channel, "investigating looking")
        .await;
    app.slash_as("U0456", &channel, "lead <@U0777>").await;
    app.slash_as("U0456", &channel, "resolved").await;
    app.slash_as("U0456", &channel, "closed").await;
    app.run_pending_jobs().await;

    let posted: Vec<String> = app
        .slack
        .messages_in(&channel)
        .iter()
        .skip(1)
        .map(|m| m.body["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(posted.len(), 4, "{posted:?}");
    assert!(posted[0].contains("now *investigating*") && posted[0].contains("looking"));
    assert!(posted[1].contains("<@U0777> is now *lead*"));
    let mut updates = app.slack.updates();
    updates.retain(|u| u.channel == channel);
    assert_eq!(
        updates.len(),
        1,
        "the summary updates queued meanwhile are superseded by the last"
    );
    assert!(updates.iter().all(|u| u.ts == summary_ts));
    let last = updates.last().unwrap().body.to_string();
    assert!(
        last.contains("closed") && last.contains("<@U0777>"),
        "{last}"
    );
    let members = &app.slack.channels()[0].members;
    assert!(
        members.contains(&"U0777".to_string()),
        "the new lead is invited"
    );
    // One announcement, now showing the end; the three moves in its thread (a SEV3:
    // not broadcast), the new lead shown on it.
    let announced = app.slack.top_level(ANNOUNCE);
    assert_eq!(announced.len(), 1, "one announcement");
    let replies = app.slack.thread(ANNOUNCE, &announced[0].ts);
    assert_eq!(replies.len(), 3, "three status changes in its thread");
    assert!(replies.iter().all(|r| r.body["reply_broadcast"] == false));
    let now = app.slack.current(ANNOUNCE, &announced[0].ts).to_string();
    for part in ["*closed*", "Lead: <@U0777>", "resolved after"] {
        assert!(now.contains(part), "{part} in {now}");
    }
    assert!(
        app.slack.channels()[0].archived,
        "closing archives the channel"
    );
}

async fn rate_limits_are_honoured_and_the_message_is_posted_once(backend: Backend) {
    let app = spawn_app(backend).await;
    app.slack.fail(
        "chat.postMessage",
        [Failure::RateLimited(7), Failure::RateLimited(7)],
    );
    let id = app.declare("Rate limited").await;
    let start = pompier::now();
    app.run_jobs_at(start).await;
    let summary = job_of(&app, id, "post_summary").await;
    assert_eq!((summary.state.as_str(), summary.attempts), ("pending", 1));
    let wait = (summary.next_attempt_at - start).num_seconds();
    assert_eq!(wait, 7, "Retry-After is honoured");
    assert_eq!(
        app.run_jobs_at(start + chrono::Duration::seconds(6)).await,
        0,
        "not before"
    );
    app.run_jobs_at(start + chrono::Duration::seconds(8)).await;
    app.run_jobs_at(start + chrono::Duration::seconds(16)).await;
    let channel = channel_of(&app, id).await;
    assert_eq!(app.slack.messages_in(&channel).len(), 1);
    assert_eq!(app.slack.pins().len(), 1);
    let summary = job_of(&app, id, "post_summary").await;
    assert_eq!((summary.state.as_str(), summary.attempts), ("done", 3));
}

async fn server_errors_then_a_restart_complete_the_work_once(backend: Backend) {
    let app = spawn_app(backend).await;
    app.slack.fail(
        "conversations.create",
        [
            Failure::Status(500),
            Failure::Status(502),
            Failure::Status(503),
        ],
    );
    let id = app.declare("Flaky Slack").await;
    app.run_pending_jobs().await;
    assert!(app.slack.channels().is_empty());
    let app = app.restart(&[]).await;
    for minutes in 1..=10 {
        app.run_jobs_at(later(60 * minutes)).await;
    }
    assert_eq!(
        app.slack.channels().len(),
        1,
        "one channel, whatever the retries"
    );
    let channel = channel_of(&app, id).await;
    assert_eq!(app.slack.messages_in(&channel).len(), 1);
    // The setup's row went through all its steps, the channel's after four tries.
    let setup = &app.store.jobs_of(id).await.unwrap()[0];
    assert_eq!(
        (setup.state.as_str(), setup.kind.as_str()),
        ("done", "post_summary")
    );
    assert!(app.slack.count("conversations.create") == 4);
}

async fn a_taken_name_gets_a_suffix(backend: Backend) {
    let app = spawn_app(backend).await;
    app.slack.add_channel("inc-1-db-down");
    app.slack.add_channel("inc-1-db-down-1");
    let id = app.declare("DB down").await;
    assert_eq!(id, IncidentId(1));
    app.run_pending_jobs().await;
    let channel = channel_of(&app, id).await;
    let mine = app
        .slack
        .channels()
        .into_iter()
        .find(|c| c.id == channel)
        .unwrap();
    assert_eq!(mine.name, "inc-1-db-down-2");
}

async fn a_channel_made_by_a_call_that_seemed_to_fail_is_taken_not_doubled(backend: Backend) {
    let app = spawn_app(backend).await;
    app.slack.add_channel("inc-1-lost-answer-1");
    app.slack
        .fail("conversations.create", [Failure::AfterEffect(502)]);
    let id = app.declare("Lost answer").await;
    app.run_pending_jobs().await;
    assert_eq!(
        app.slack.channels().len(),
        2,
        "Slack made it, pompier heard a 502"
    );
    app.run_jobs_at(later(60)).await;
    let mine: Vec<_> = app
        .slack
        .channels()
        .into_iter()
        .filter(|c| {
            c.name.starts_with("inc-1-lost-answer") && c.creator == crate::fake_slack::BOT_USER
        })
        .collect();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(channel_of(&app, id).await, mine[0].id);
    assert_eq!(mine[0].name, "inc-1-lost-answer");
    assert_eq!(app.slack.messages_in(&mine[0].id).len(), 1);
}

async fn a_message_posted_by_a_call_that_seemed_to_fail_is_not_posted_again(backend: Backend) {
    let app = with_announce(backend).await;
    app.slack.fail(
        "chat.postMessage",
        [Failure::AfterEffect(500), Failure::AfterEffect(503)],
    );
    let id = app.declare("Lost post").await;
    app.run_pending_jobs().await;
    app.run_jobs_at(later(60)).await;
    app.run_jobs_at(later(600)).await;
    let channel = channel_of(&app, id).await;
    let summaries = app.slack.messages_in(&channel);
    assert_eq!(summaries.len(), 1, "one summary");
    assert_eq!(
        app.store
            .get(id)
            .await
            .unwrap()
            .unwrap()
            .summary_ts
            .as_deref(),
        Some(summaries[0].ts.as_str())
    );
    assert_eq!(
        app.slack.pins(),
        [(channel.clone(), summaries[0].ts.clone())]
    );
    assert_eq!(app.slack.messages_in(ANNOUNCE).len(), 1, "one announcement");
    assert!(job_states(&app, id).await.iter().all(|(_, s)| s == "done"));
    let history_reads = app.slack.count("conversations.history");
    assert_eq!(history_reads, 2, "only retries look back");
}

async fn a_long_title_of_emoji_and_punctuation_makes_a_valid_channel(backend: Backend) {
    let app = spawn_app(backend).await;
    let title =
        "🔥🚒 Paiement: l'API « checkout » renvoie 500 !!! (EU/US) — @channel <b> & co ".repeat(3);
    let title: String = title.chars().take(200).collect();
    let id = app.declare(&format!("sev1 {title}")).await;
    app.run_pending_jobs().await;
    let channels = app.slack.channels();
    assert_eq!(channels.len(), 1, "the fake refuses invalid names");
    assert!(
        channels[0].name.len() <= 80
            && channels[0]
                .name
                .starts_with(&format!("inc-{id}-paiement-l-api-checkout")),
        "{}",
        channels[0].name
    );
    assert!(
        job_states(&app, id).await.iter().all(|(_, s)| s == "done"),
        "{:?}",
        job_states(&app, id).await
    );
}

async fn hostile_titles_arrive_escaped(backend: Backend) {
    let app = with_announce(backend).await;
    let id = app
        .declare("@channel <!here> <https://evil.example|click> & <@U0BOSS>")
        .await;
    app.run_pending_jobs().await;
    let channel = channel_of(&app, id).await;
    app.slash_as(
        "U0456",
        &channel,
        "note see <!channel> <https://evil.example|here>",
    )
    .await;
    app.run_pending_jobs().await;
    let mut mrkdwn = vec![];
    for m in app.slack.messages() {
        mrkdwn.push(m.body["text"].as_str().unwrap().to_owned());
        for block in m.body["blocks"].as_array().unwrap() {
            if block["type"] != "header" {
                collect_text(block, &mut mrkdwn);
            }
        }
    }
    assert!(mrkdwn.len() > 4);
    for text in &mrkdwn {
        for forbidden in ["<!here>", "<!channel>", "<https://evil"] {
            assert!(!text.contains(forbidden), "{forbidden} in {text}");
        }
    }
    assert!(mrkdwn
        .iter()
        .any(|t| t.contains("@channel @here click (https://evil.example) &amp; <@U0BOSS>")));
}

fn collect_text(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(t)) = map.get("text") {
                out.push(t.clone());
            }
            map.values().for_each(|v| collect_text(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_text(v, out)),
        _ => {}
    }
}

async fn a_worker_killed_mid_job_is_replaced_after_its_lease(backend: Backend) {
    let app = spawn_app(backend).await;
    app.slack.fail("chat.postMessage", [Failure::Hang]);
    let id = app.declare("Killed worker").await;
    let worker = app.worker.clone();
    let running = tokio::spawn(async move { worker.drain(pompier::now()).await });
    app.slack.hanging.notified().await;
    running.abort();
    let _ = running.await;
    assert_eq!(job_of(&app, id, "post_summary").await.state, "pending");
    assert_eq!(
        app.run_jobs_at(later(5)).await,
        0,
        "the lease still holds the job and those after it"
    );
    app.run_jobs_at(later(31)).await;
    let channel = channel_of(&app, id).await;
    assert_eq!(app.slack.messages_in(&channel).len(), 1, "posted once");
    assert_eq!(app.slack.pins().len(), 1);
    let job = job_of(&app, id, "post_summary").await;
    assert_eq!((job.state.as_str(), job.attempts), ("done", 2));
}

async fn one_failing_call_does_not_stop_the_others(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, reply) = app.slash_as("U0BAD", "C0123", "open Invite fails").await;
    assert_eq!(reply["response_type"], "in_channel");
    let id = IncidentId(1);
    app.run_pending_jobs().await;
    let channel = channel_of(&app, id).await;
    assert_eq!(
        app.slack.messages_in(&channel).len(),
        1,
        "summary posted although the invite failed"
    );
    assert!(job_states(&app, id).await.iter().all(|(_, s)| s == "done"));
}

async fn a_permanent_refusal_is_dead_holds_back_what_needs_it_and_can_be_retried(backend: Backend) {
    let app = spawn_app(backend).await;
    app.slack.fail(
        "conversations.create",
        [Failure::Error("restricted_action")],
    );
    let id = app.declare("Forbidden").await;
    app.run_pending_jobs().await;
    let jobs = app.store.jobs_of(id).await.unwrap();
    assert_eq!((jobs[0].state.as_str(), jobs[0].attempts), ("dead", 1));
    assert!(jobs[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("restricted_action"));
    let dead = [
        ("service", "slack"),
        ("kind", "create_channel"),
        ("state", "dead"),
    ];
    assert_eq!(app.metric("pompier_jobs", &dead).await, 1.0);
    // What needs the channel waits, and so does a later change: nothing fails for it.
    app.slash(&format!("{id} note still here")).await;
    app.run_jobs_at(later(3600)).await;
    let states = job_states(&app, id).await;
    assert!(states[1..].iter().all(|(_, s)| s == "queued"), "{states:?}");
    assert_eq!(app.slack.count("conversations.create"), 1);
    // The operator looks, fixes the cause and sends the dead job back: all runs, in order.
    let listed = crate::process::cli(&app.db, &["jobs", "list", "--dead"]);
    assert!(
        listed.contains("create_channel") && listed.contains("restricted_action"),
        "{listed}"
    );
    let said = crate::process::cli(&app.db, &["jobs", "retry", "--all-dead"]);
    assert!(said.contains("1 dead job(s) sent back"), "{said}");
    app.run_pending_jobs().await;
    assert!(
        job_states(&app, id).await.iter().all(|(_, s)| s == "done"),
        "{:?}",
        job_states(&app, id).await
    );
    assert_eq!(
        app.slack.methods(),
        [
            "conversations.create",
            "conversations.create",
            "conversations.invite",
            "conversations.setTopic",
            "chat.postMessage",
            "pins.add",
            "chat.postMessage",
            "chat.update"
        ]
    );
    let channel = channel_of(&app, id).await;
    let texts: Vec<String> = app
        .slack
        .messages_in(&channel)
        .iter()
        .map(|m| m.body["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(texts[1].contains("still here"), "{texts:?}");
    // The server's own counters saw the runs of its worker.
    let runs = |outcome| [("service", "slack"), ("outcome", outcome)];
    assert_eq!(
        app.metric("pompier_job_runs_total", &runs("done")).await,
        6.0
    );
    assert_eq!(
        app.metric("pompier_job_runs_total", &runs("dead")).await,
        1.0
    );
}

async fn a_declarations_setup_is_one_row_and_a_dead_step_leaves_the_rest_going(backend: Backend) {
    let app = spawn_app(backend).await;
    app.slack.fail(
        "conversations.setTopic",
        [Failure::Error("restricted_action")],
    );
    let id = app.declare("Topic refused").await;
    // Channel, members, topic and summary: one row, at its first step.
    assert_eq!(
        job_states(&app, id).await,
        [("create_channel".to_owned(), "pending".to_owned())]
    );
    app.slash(&format!("{id} note after the setup")).await;
    app.run_pending_jobs().await;
    // The refused topic is dead alone; the summary went on before the note, in a row of
    // its own, and the note's jobs after it.
    assert_eq!(
        job_states(&app, id).await,
        [
            ("set_topic", "dead"),
            ("post_event", "done"),
            ("update_summary", "done"),
            ("post_summary", "done"),
        ]
        .map(|(k, s)| (k.to_owned(), s.to_owned()))
    );
    let channel = channel_of(&app, id).await;
    let texts = |app: &crate::helpers::TestApp| -> Vec<String> {
        app.slack
            .messages_in(&channel)
            .iter()
            .map(|m| m.body.to_string())
            .collect()
    };
    let posted = texts(&app);
    assert_eq!(posted.len(), 2, "{posted:?}");
    assert!(posted[0].contains("Topic refused") && !posted[0].contains("after the setup"));
    assert!(posted[1].contains("after the setup"));
    // Sent back, the dead step runs once more, alone: the topic, nothing posted again.
    let said = crate::process::cli(&app.db, &["jobs", "retry", "--all-dead"]);
    assert!(said.contains("1 dead job(s) sent back"), "{said}");
    app.run_pending_jobs().await;
    assert!(job_states(&app, id).await.iter().all(|(_, s)| s == "done"));
    assert_eq!(app.slack.count("conversations.setTopic"), 2);
    assert_eq!(app.slack.count("conversations.create"), 1);
    assert_eq!(texts(&app), posted);
}

async fn a_long_slack_outage_loses_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    // Down for minutes: every call fails until it comes back.
    for method in ["conversations.create", "chat.postMessage"] {
        app.slack.fail(method, (0..8).map(|_| Failure::Status(503)));
    }
    let id = app.declare("Slack is down too").await;
    app.slash(&format!("{id} investigating")).await;
    for minutes in 0..=120 {
        app.run_jobs_at(later(60 * minutes)).await;
    }
    let states = job_states(&app, id).await;
    assert!(states.iter().all(|(_, s)| s == "done"), "{states:?}");
    assert_eq!(app.slack.channels().len(), 1);
    assert_eq!(app.slack.pins().len(), 1);
}

async fn a_job_failing_for_now_dies_only_past_the_retry_horizon(backend: Backend) {
    let app = spawn_app_with(backend, &[("POMPIER_JOBS__RETRY_HORIZON_SECS", "600")]).await;
    app.slack.fail(
        "conversations.create",
        (0..100).map(|_| Failure::Status(500)),
    );
    let id = app.declare("Never reachable").await;
    for minutes in 0..9 {
        app.run_jobs_at(later(60 * minutes)).await;
    }
    assert_eq!(job_of(&app, id, "create_channel").await.state, "pending");
    for minutes in 9..20 {
        app.run_jobs_at(later(60 * minutes)).await;
    }
    let job = job_of(&app, id, "create_channel").await;
    assert_eq!(job.state, "dead");
    let error = job.last_error.as_deref().unwrap();
    assert!(
        error.contains("500") && error.contains("retry_horizon"),
        "{error}"
    );
    let dead = [
        ("service", "slack"),
        ("kind", "create_channel"),
        ("state", "dead"),
    ];
    assert_eq!(app.metric("pompier_jobs", &dead).await, 1.0);
}

async fn without_a_bot_token_jobs_wait_until_one_is_set(backend: Backend) {
    let app = spawn_app_with(backend, &[("SLACK_BOT_TOKEN", "")]).await;
    let slack = [("service", "slack")];
    assert_eq!(app.metric("pompier_service_configured", &slack).await, 0.0);
    let reply = app.slash("open No token yet").await;
    assert!(
        reply["text"]
            .as_str()
            .unwrap()
            .contains("SLACK_BOT_TOKEN is not set"),
        "{reply}"
    );
    let id = IncidentId(1);
    assert_eq!(
        app.run_pending_jobs().await,
        0,
        "nothing runs without a token"
    );
    assert_eq!(
        job_states(&app, id).await[0],
        ("create_channel".to_string(), "pending".to_string())
    );
    let app = app.restart(&[]).await;
    app.run_pending_jobs().await;
    assert_eq!(app.slack.channels().len(), 1);
    assert!(job_states(&app, id).await.iter().all(|(_, s)| s == "done"));
}

async fn the_background_workers_run_jobs_without_being_asked(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("POMPIER_JOBS__ENABLED", "true"),
            ("POMPIER_JOBS__POLL_INTERVAL_MS", "50"),
        ],
    )
    .await;
    let id = app.declare("Background").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.slack.pins().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the workers never ran: {:?}",
            job_states(&app, id).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.stop().await;
}

async fn finished_jobs_are_deleted_after_their_retention(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.declare("Old news").await;
    app.slash(&format!("{id} investigating")).await;
    app.run_pending_jobs().await;
    // The setup's row, and the change's post and summary update.
    let done = app.store.jobs_of(id).await.unwrap();
    assert_eq!(done.len(), 3);
    assert!(done.iter().all(|j| j.state == "done"));
    let before = app.metrics().await;
    // Kept for a week by default: a restart's purge leaves them.
    let app = app.restart(&[("POMPIER_JOBS__ENABLED", "true")]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.store.jobs_of(id).await.unwrap().len(), 3);
    let app = app
        .restart(&[
            ("POMPIER_JOBS__ENABLED", "true"),
            ("POMPIER_JOBS__KEEP_DONE_DAYS", "0"),
        ])
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !app.store.jobs_of(id).await.unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline, "never purged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The queue's gauges count unfinished jobs only: the same before and after.
    // (Series come in no set order.)
    let gauges = |m: &str| -> Vec<String> {
        let mut lines: Vec<String> = m
            .lines()
            .filter(|l| l.starts_with("pompier_jobs{"))
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(gauges(&before), gauges(&app.metrics().await));
    app.stop().await;
}

crate::on_both_backends!(
    finished_jobs_are_deleted_after_their_retention,
    a_declaration_makes_exactly_the_expected_calls_once,
    a_change_is_posted_announced_and_updates_the_pinned_summary,
    rate_limits_are_honoured_and_the_message_is_posted_once,
    server_errors_then_a_restart_complete_the_work_once,
    a_taken_name_gets_a_suffix,
    a_long_title_of_emoji_and_punctuation_makes_a_valid_channel,
    a_channel_made_by_a_call_that_seemed_to_fail_is_taken_not_doubled,
    a_message_posted_by_a_call_that_seemed_to_fail_is_not_posted_again,
    hostile_titles_arrive_escaped,
    a_worker_killed_mid_job_is_replaced_after_its_lease,
    one_failing_call_does_not_stop_the_others,
    a_permanent_refusal_is_dead_holds_back_what_needs_it_and_can_be_retried,
    a_declarations_setup_is_one_row_and_a_dead_step_leaves_the_rest_going,
    a_long_slack_outage_loses_nothing,
    a_job_failing_for_now_dies_only_past_the_retry_horizon,
    without_a_bot_token_jobs_wait_until_one_is_set,
    the_background_workers_run_jobs_without_being_asked,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_run_each_job_once() {
    if crate::helpers::skip(Backend::Postgres) {
        return;
    }
    let app = spawn_app(Backend::Postgres).await;
    let other = crate::helpers::settings(&app.db, &app.slack.url, &[]);
    let other_store = pompier::open_store(&other).await.unwrap();
    let other_worker = pompier::App::new(other_store, other).unwrap().worker;
    for i in 0..20 {
        app.declare(&format!("Incident {i}")).await;
    }
    let now = pompier::now();
    let mine = app.worker.clone();
    let (a, b) = tokio::join!(mine.drain(now), other_worker.drain(now));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        a + b,
        20 * 4,
        "create, invite, topic, summary per incident, with {a} + {b}"
    );
    assert!(a > 0 && b > 0, "both instances worked: {a} + {b}");
    assert_eq!(app.slack.channels().len(), 20);
    assert_eq!(app.slack.messages().len(), 20);
    assert_eq!(app.slack.pins().len(), 20);
    for i in 1..=20 {
        for job in app.store.jobs_of(IncidentId(i)).await.unwrap() {
            assert_eq!((job.state.as_str(), job.attempts), ("done", 1), "{job:?}");
        }
    }
}
