//! An incident storm within Slack's rate tiers: COUNT incidents declared through the API
//! over SECS seconds, alternating between instances (on one PostgreSQL), every third one
//! moved to investigating two seconds later, the last one a SEV1, the others SEV4s;
//! against a fake Slack that enforces the tiers. Waits until every incident has its
//! channel, its pinned summary, and that summary as the incident is, then prints the
//! 429s, when the last effect landed against the tiers' theoretical minimum, and how long
//! the SEV1 declared last waited for its channel.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::fake_slack::{tier, Calls, Logged};

struct Declared {
    id: i64,
    at: Instant,
    status: &'static str,
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: Value,
) -> Result<Value, String> {
    let response = client
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let status = response.status();
    let json: Value = response.json().await.map_err(|e| format!("{url}: {e}"))?;
    if !status.is_success() {
        return Err(format!("{url}: {status} {json}"));
    }
    Ok(json)
}

/// The incident a channel name (`inc-42-region-outage-7`) was made for.
fn incident_of(name: &str) -> Option<i64> {
    name.strip_prefix("inc-")?.split('-').next()?.parse().ok()
}

/// The earliest the storm's Slack work could have ended: not before the last incident
/// was declared, nor before each method's calls fit in its tier, a full tier at once
/// from the storm's start and a full tier a minute after (Slack's sliding minute).
/// Per-channel limits are left out: they follow the channels' own times.
fn tier_minimum(log: &[Logged], last_declared: Duration) -> Duration {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for call in log
        .iter()
        .filter(|c| !c.limited && c.method != "chat.postMessage")
    {
        *counts.entry(call.method.as_str()).or_default() += 1;
    }
    counts
        .iter()
        .filter_map(|(method, n)| Some(Duration::from_secs(60 * ((n - 1) / tier(method)?) as u64)))
        .fold(last_declared, Duration::max)
}

pub async fn run(urls: &[String], token: &str, count: usize, secs: u64, calls: &Calls) {
    let client = reqwest::Client::new();
    let start = Instant::now();
    let mut declared: Vec<Declared> = vec![];
    let mut moves = tokio::task::JoinSet::new();
    for i in 0..count {
        let due =
            start + Duration::from_secs_f64(secs as f64 * i as f64 / (count.max(2) - 1) as f64);
        tokio::time::sleep_until(due.into()).await;
        let severity = if i + 1 == count { "SEV1" } else { "SEV4" };
        let url = &urls[i % urls.len()];
        let body = json!({"title": format!("Region outage {i}"), "severity": severity});
        let incident = match post(&client, &format!("{url}/api/v1/incidents"), token, body).await {
            Ok(incident) => incident,
            Err(e) => {
                eprintln!("declaration failed: {e}");
                std::process::exit(1);
            }
        };
        let id = incident["id"].as_i64().expect("an incident id");
        let moved = i % 3 == 1 && i + 1 < count;
        if moved {
            let (client, url, token) = (
                client.clone(),
                urls[(i + 1) % urls.len()].clone(),
                token.to_owned(),
            );
            moves.spawn(async move {
                tokio::time::sleep(Duration::from_secs(2)).await;
                let body = json!({"status": "investigating"});
                post(
                    &client,
                    &format!("{url}/api/v1/incidents/{id}/status"),
                    &token,
                    body,
                )
                .await
            });
        }
        declared.push(Declared {
            id,
            at: Instant::now(),
            status: if moved { "investigating" } else { "open" },
        });
    }
    while let Some(moved) = moves.join_next().await {
        if let Err(e) = moved.expect("a move") {
            eprintln!("a move failed: {e}");
            std::process::exit(1);
        }
    }
    // Bounded: 15 minutes at most.
    let deadline = start + Duration::from_secs(900);
    let (channels, pinned, current, log) = loop {
        let log = calls.log.lock().expect("log").clone();
        let made: HashMap<i64, (String, Instant)> = log
            .iter()
            .filter_map(|c| {
                let id = incident_of(c.text.as_deref()?)?;
                Some((id, (c.made.clone()?, c.at)))
            })
            .collect();
        let mut pinned = 0;
        let mut current = 0;
        for incident in &declared {
            let Some((channel, _)) = made.get(&incident.id) else {
                continue;
            };
            let in_channel = |c: &&Logged| !c.limited && c.channel.as_deref() == Some(channel);
            if log
                .iter()
                .filter(in_channel)
                .any(|c| c.method == "pins.add")
            {
                pinned += 1;
            }
            let summary = log
                .iter()
                .filter(in_channel)
                .filter(|c| c.method == "chat.postMessage" || c.method == "chat.update")
                .filter_map(|c| c.text.as_deref())
                .rfind(|t| t.contains(&format!("Incident #{} ", incident.id)));
            if summary.is_some_and(|t| t.ends_with(&format!(", {})", incident.status))) {
                current += 1;
            }
        }
        let done =
            made.len() == declared.len() && pinned == declared.len() && current == declared.len();
        if done || Instant::now() > deadline {
            break (made, pinned, current, log);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let last = declared.last().expect("declared");
    let sev1 = channels.get(&last.id).map_or("none".into(), |(_, at)| {
        format!("{:.1}s", at.duration_since(last.at).as_secs_f64())
    });
    let last_effect = log
        .iter()
        .filter(|c| !c.limited)
        .map(|c| c.at)
        .max()
        .unwrap_or(start);
    println!(
        "storm declared={} over={secs}s instances={} channels={}/{n} pinned={pinned}/{n} current={current}/{n} calls={} 429s={} last_effect={:.1}s tier_minimum={:.1}s sev1_channel={sev1}",
        declared.len(),
        urls.len(),
        channels.len(),
        log.len(),
        log.iter().filter(|c| c.limited).count(),
        last_effect.duration_since(start).as_secs_f64(),
        tier_minimum(&log, last.at.duration_since(start)).as_secs_f64(),
        n = declared.len(),
    );
}
