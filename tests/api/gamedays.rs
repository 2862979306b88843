//! Drills and game days: labelled, not announced, out of the statistics and lists; the
//! scoreboard's JSON, page and stream.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_with, Backend, TestApp, API_TOKEN};

const ANNOUNCE: &str = "C0ANNOUNCE";

/// Declares a drill through `/incident drill …`; its number.
async fn drill(app: &TestApp, text: &str) -> i64 {
    let reply = app.slash(&format!("drill {text}")).await;
    assert_eq!(reply["response_type"], "in_channel", "{reply}");
    let said = reply["text"].as_str().unwrap();
    assert!(said.contains("*DRILL #"), "{said}");
    said.split("*DRILL #")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number in {said}"))
}

async fn a_drill_is_labelled_unannounced_and_left_out_of_stats_and_lists(backend: Backend) {
    let app = spawn_app_with(backend, &[("POMPIER_ANNOUNCE_CHANNEL", ANNOUNCE)]).await;
    let real = app.declare("sev2 Real outage").await;
    let id = drill(&app, "sev2 team:payments Replica lag").await;
    app.slash(&format!("{id} investigating")).await;
    app.run_pending_jobs().await;

    let names: Vec<String> = app
        .slack
        .channels()
        .iter()
        .map(|c| c.name.clone())
        .collect();
    assert_eq!(
        names,
        [
            format!("inc-{real}-real-outage"),
            format!("drill-{id}-replica-lag")
        ]
    );
    // Every message in the drill's channel says DRILL; the announce channel hears of
    // the real incident only.
    let channel = app.slack.channels()[1].id.clone();
    let texts: Vec<String> = app
        .slack
        .messages_in(&channel)
        .iter()
        .map(|m| m.body["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(texts.len() >= 2, "{texts:?}");
    assert!(texts.iter().all(|t| t.contains("DRILL")), "{texts:?}");
    let topic = app.slack.channels()[1].topic.clone().unwrap_or_default();
    assert!(topic.starts_with("DRILL Incident #"), "{topic}");
    let announced: Vec<Value> = app
        .slack
        .messages_in(ANNOUNCE)
        .iter()
        .map(|m| m.body.clone())
        .collect();
    assert_eq!(announced.len(), 1, "{announced:?}");
    assert!(!announced[0].to_string().contains("Replica"));

    // Out of the list, the stats and the dashboard, unless asked for.
    let listed = app.api_get("/api/v1/incidents").await;
    let ids: Vec<i64> = listed["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [real.0]);
    let all = app.api_get("/api/v1/incidents?include_drills=true").await;
    let first = &all["incidents"][0];
    assert_eq!(
        (first["id"].as_i64(), &first["drill"], &first["team"]),
        (Some(id), &Value::Bool(true), &Value::from("payments"))
    );
    assert_eq!(all["incidents"][1]["drill"], false);
    assert_eq!(app.api_get("/api/v1/stats").await["total"], 1);
    assert_eq!(app.api_get("/api/v1/stats").await["open_now"], 1);
    let with = app.api_get("/api/v1/stats?include_drills=true").await;
    assert_eq!(
        (&with["total"], &with["open_now"]),
        (&Value::from(2), &Value::from(2))
    );
    let (status, bad) = app
        .api_get_with("/api/v1/stats?include_drills=maybe", Some(API_TOKEN))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    let list = app.slash("list").await.to_string();
    assert!(
        list.contains("Real outage") && !list.contains("Replica"),
        "{list}"
    );
    let page = app.page_text("/dashboard").await;
    assert!(page.contains("Real outage") && !page.contains("Replica"));
    // One incident's JSON says it is a drill, and it still gets a postmortem.
    assert_eq!(
        app.incident_json(pompier::domain::IncidentId(id)).await["drill"],
        true
    );
    for to in ["resolved", "postmortem"] {
        app.slash(&format!("{id} {to}")).await;
    }
    assert_eq!(
        app.incident_json(pompier::domain::IncidentId(id)).await["status"],
        "postmortem"
    );
    app.stop().await;
}

/// The next `board` event of a scoreboard stream, within 10 s.
async fn next_board(stream: &mut reqwest::Response, buffer: &mut String) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if event.contains("event: board") {
                return event
                    .lines()
                    .filter_map(|l| l.strip_prefix("data: ").or(l.strip_prefix("data:")))
                    .collect::<Vec<_>>()
                    .join("\n");
            }
            continue;
        }
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .expect("no board event within 10 s")
            .unwrap()
            .expect("the stream ended");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

/// The Content-Security-Policy of page `path`.
async fn page_csp(app: &TestApp, path: &str) -> String {
    let r = app
        .client
        .get(app.url(path))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned()
}

async fn a_game_days_scoreboard_ranks_teams_and_streams_changes(backend: Backend) {
    let app = spawn_app(backend).await;
    let before = drill(&app, "team:payments Before the day").await;
    let reply = app.slash("gameday start Q4 chaos day").await;
    assert_eq!(reply["response_type"], "in_channel", "{reply}");
    assert!(reply["text"].as_str().unwrap().contains("Q4 chaos day"));
    let again = app.slash("gameday start Another").await;
    assert!(
        again["text"].as_str().unwrap().contains("running already"),
        "{again}"
    );

    let pay = drill(&app, "sev2 team:payments Replica lag").await;
    let search = drill(&app, "sev1 team:search Index &lt;gone&gt;").await;
    let loose = drill(&app, "Nobody's").await;
    for to in ["investigating", "resolved"] {
        app.slash(&format!("{pay} {to}")).await;
    }
    app.slash(&format!("{search} investigating")).await;

    let days = app.api_get("/api/v1/gamedays").await;
    assert_eq!(days["gamedays"].as_array().unwrap().len(), 1, "{days}");
    assert_eq!(days["gamedays"][0]["name"], "Q4 chaos day");
    assert_eq!(days["gamedays"][0]["ended_at"], Value::Null);
    let id = days["gamedays"][0]["id"].as_i64().unwrap();
    let board = app.api_get(&format!("/api/v1/gamedays/{id}")).await;
    let teams: Vec<(String, i64)> = board["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["team"].as_str().unwrap().to_owned(),
                t["rank"].as_i64().unwrap(),
            )
        })
        .collect();
    // payments resolved its drill; of the two that did not, search acknowledged one.
    assert_eq!(
        teams,
        [
            ("payments".to_owned(), 1),
            ("search".to_owned(), 2),
            ("unassigned".to_owned(), 3)
        ]
    );
    assert_eq!(board["teams"][0]["resolved"], 1);
    assert_eq!(board["teams"][0]["time_to_resolve"]["count"], 1);
    let drills: Vec<i64> = board["drills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        drills,
        [loose, search, pay],
        "the one before the day is not in it"
    );
    assert!(!drills.contains(&before));
    assert_eq!(board["drills"][1]["title"], "Index <gone>");

    // The page, and its stream: a drill that moves shows without a reload.
    let page = app
        .client
        .get(app.url(&format!("/gameday/{id}")))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Index &lt;gone&gt;") && html.contains("src=\"/assets/board.js\""));
    // Its script is pompier's own file: the page allows no inline script.
    assert!(!html.contains("<script>"));
    let csp = page_csp(&app, &format!("/gameday/{id}")).await;
    let scripts = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("script-src"));
    assert_eq!(scripts, Some("script-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let script = app
        .client
        .get(app.url("/assets/board.js"))
        .send()
        .await
        .unwrap();
    assert!(script.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(script.text().await.unwrap().contains("EventSource"));
    let mut stream = app
        .client
        .get(app.url(&format!("/gameday/{id}/stream")))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(stream.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut buffer = String::new();
    let first = next_board(&mut stream, &mut buffer).await;
    assert!(first.contains("data-team=\"search\""), "{first}");
    let resolved = |html: &str| html.matches("status-resolved").count();
    assert_eq!(resolved(&first), 1, "{first}");
    app.slash(&format!("{search} resolved")).await;
    let second = next_board(&mut stream, &mut buffer).await;
    assert_eq!(resolved(&second), 2, "{second}");
    drop(stream);

    let ended = app.slash("gameday end").await;
    assert!(
        ended["text"].as_str().unwrap().contains("is over"),
        "{ended}"
    );
    let after = drill(&app, "team:payments After the day").await;
    let board = app.api_get(&format!("/api/v1/gamedays/{id}")).await;
    assert!(board["ended_at"].is_string());
    assert!(!board["drills"]
        .to_string()
        .contains(&format!("\"id\":{after}")));
    assert!(app.slash("gameday end").await["text"]
        .as_str()
        .unwrap()
        .contains("No game day"));
    // Without the token, neither the JSON nor the page nor the stream.
    for path in [
        format!("/api/v1/gamedays/{id}"),
        format!("/gameday/{id}"),
        format!("/gameday/{id}/stream"),
    ] {
        let r = app.client.get(app.url(&path)).send().await.unwrap();
        // The API says 401; a page sends the browser to sign in.
        assert!(
            r.status() == StatusCode::UNAUTHORIZED || r.url().path() == "/dashboard/login",
            "{path}: {} at {}",
            r.status(),
            r.url()
        );
    }
    let (status, _) = app
        .api_get_with("/api/v1/gamedays/999", Some(API_TOKEN))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn a_replayed_gameday_start_starts_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let start = crate::helpers::command_body("U0456", "C0123", "gameday start Spring");
    let signed_at = crate::helpers::now_ts();
    let secret = crate::helpers::SIGNING_SECRET;
    let r = app
        .post_signed_as("/slack/commands", start.clone(), secret, signed_at)
        .await;
    assert!(r.text().await.unwrap().contains("Spring"));
    app.slash("gameday end").await;
    // The same signed request again, inside the replay window.
    let again = app
        .post_signed_as("/slack/commands", start, secret, signed_at)
        .await;
    let said = again.text().await.unwrap();
    assert!(said.contains("already received"), "{said}");
    let days = app.api_get("/api/v1/gamedays").await;
    assert_eq!(days["gamedays"].as_array().unwrap().len(), 1, "{days}");
    app.stop().await;
}

crate::on_both_backends!(
    a_drill_is_labelled_unannounced_and_left_out_of_stats_and_lists,
    a_game_days_scoreboard_ranks_teams_and_streams_changes,
    a_replayed_gameday_start_starts_nothing,
);
