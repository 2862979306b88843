//! Dungeons & Dragons game days through signed commands and real HTTP: villains inject
//! (in Slack, through the API, from the shipped LitmusChaos probes), drills detect, the
//! board times heroes from the injection and keeps what was injected secret until the
//! end, and the end posts a report and drafts its page once.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fake_confluence::{FakeConfluence, SPACE_ID, TOKEN, USER};
use crate::fake_slack::FakeSlack;
use crate::helpers::{start, Backend, TestApp, TestDb, API_TOKEN};
use pompier::tokens::Scope;

const VILLAIN: &str = "U0VILLAIN";
const SIDEKICK: &str = "U0SIDEKICK";
const HERO: &str = "U0HERO";
const SECRET: &str = "pod-delete on checkout";

async fn app(backend: Backend, confluence: Option<&FakeConfluence>) -> TestApp {
    let db = TestDb::new(backend).await;
    let slack = FakeSlack::start().await;
    let mut env = vec![];
    if let Some(c) = confluence {
        env = vec![
            ("CONFLUENCE_BASE_URL", c.url.clone()),
            ("CONFLUENCE_USER", USER.into()),
            ("CONFLUENCE_API_TOKEN", TOKEN.into()),
            ("CONFLUENCE_SPACE_ID", SPACE_ID.into()),
        ];
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    start(db, slack, &env).await
}

async fn said(app: &TestApp, user: &str, channel: &str, text: &str) -> Value {
    let (status, reply) = app.slash_as(user, channel, text).await;
    assert_eq!(status, StatusCode::OK, "{text}: {reply}");
    reply
}

fn text(reply: &Value) -> &str {
    reply["text"].as_str().unwrap_or_default()
}

/// A drill declared by the hero; its number.
async fn drill(app: &TestApp, text_: &str) -> i64 {
    let reply = said(app, HERO, "C0HEROES", &format!("drill {text_}")).await;
    text(&reply)
        .split("*DRILL #")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number in {reply}"))
}

async fn post(app: &TestApp, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
    let mut request = app.client.post(app.url(path)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let r = request.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn board(app: &TestApp, token: &str) -> Value {
    let (status, board) = app.api_get_with("/api/v1/gamedays/1", Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{board}");
    board
}

fn team<'a>(board: &'a Value, name: &str) -> &'a Value {
    board["teams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["team"] == name)
        .unwrap_or_else(|| panic!("no team {name} in {board}"))
}

fn injection(board: &Value, id: i64) -> &Value {
    board["injections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .unwrap_or_else(|| panic!("no injection {id} in {board}"))
}

async fn a_dnd_game_day_times_heroes_from_the_injection_in_secret(backend: Backend) {
    let confluence = FakeConfluence::start().await;
    let app = app(backend, Some(&confluence)).await;
    // The room where it is played: its report goes there.
    let room = app.slack.add_channel("gameday-room");
    let started = said(&app, VILLAIN, &room, "gameday start Dungeon day mode:dnd").await;
    assert_eq!(started["response_type"], "in_channel", "{started}");
    assert!(text(&started).contains("Dungeons & Dragons"), "{started}");

    // Only villains inject, name villains, relink, end.
    for command in [
        "inject team:payments break it",
        "gameday villain <@U0HERO>",
        "gameday end",
    ] {
        let refused = said(&app, HERO, "C0HEROES", command).await;
        assert_eq!(refused["response_type"], "ephemeral", "{refused}");
        assert!(text(&refused).contains("villains"), "{command}: {refused}");
    }
    said(&app, VILLAIN, &room, "gameday villain <@U0SIDEKICK>").await;
    let injected = said(&app, SIDEKICK, "C0LAIR", "inject team:search index wiped").await;
    assert_eq!(injected["response_type"], "ephemeral", "{injected}");
    assert!(text(&injected).contains("index wiped"), "{injected}");
    let search_injection = 1;

    // Through the API: a `gameday` token; a `read` one may not.
    let litmus = app.token("litmus", &[Scope::Gameday]).await;
    let reader = app.token("grafana", &[Scope::Read]).await;
    let ten_minutes_ago = (pompier::now() - chrono::Duration::minutes(10)).to_rfc3339();
    let body = json!({"team": "payments", "target": "deployment/checkout",
                      "description": SECRET, "started_at": ten_minutes_ago});
    let (status, refused) = post(
        &app,
        "/api/v1/gamedays/1/injections",
        Some(&reader),
        body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("`gameday`"));
    let too_old = json!({"team": "payments", "description": "x",
        "started_at": (pompier::now() - chrono::Duration::hours(2)).to_rfc3339()});
    let (status, _) = post(
        &app,
        "/api/v1/gamedays/current/injections",
        Some(&litmus),
        too_old,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, created) = post(&app, "/api/v1/gamedays/1/injections", Some(&litmus), body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let payments_injection = created["id"].as_i64().unwrap();
    // One that mobile never notices, ended by its key.
    let (status, _) = post(
        &app,
        &format!("/api/v1/gamedays/current/injections?token={litmus}"),
        None,
        json!({"team": "mobile", "description": "push notifications dropped", "key": "m1"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, ended) = post(
        &app,
        &format!("/api/v1/gamedays/current/injections/end?token={litmus}"),
        None,
        json!({"key": "m1"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ended}");
    assert!(ended["ended_at"].is_string(), "{ended}");
    // A token with more than `gameday` stays out of URLs.
    let (status, _) = post(
        &app,
        &format!("/api/v1/gamedays/current/injections?token={API_TOKEN}"),
        None,
        json!({"team": "mobile", "description": "y"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Heroes detect: a drill takes its team's oldest undetected injection.
    let checkout = drill(&app, "sev2 team:payments Checkout errors").await;
    let slow = drill(&app, "sev3 team:search Search is slow").await;
    let second = drill(&app, "sev3 team:payments Still odd").await;
    said(
        &app,
        HERO,
        "C0HEROES",
        &format!("{checkout} lead <@U0HERO>"),
    )
    .await;
    for to in ["investigating", "mitigated", "resolved"] {
        said(&app, HERO, "C0HEROES", &format!("{checkout} {to}")).await;
    }
    let secret_board = board(&app, &reader).await;
    assert_eq!(secret_board["mode"], "dnd");
    let detected = injection(&secret_board, payments_injection);
    assert_eq!(detected["drill_id"], checkout, "{secret_board}");
    assert_eq!(injection(&secret_board, search_injection)["drill_id"], slow);
    // Time to detect from the injection: ten minutes.
    let ttd = team(&secret_board, "payments")["time_to_detect"]["median"]
        .as_f64()
        .unwrap();
    assert!((600.0..630.0).contains(&ttd), "{ttd}");
    let mobile = team(&secret_board, "mobile");
    assert_eq!(
        (mobile["undetected"].as_i64(), mobile["score"].as_i64()),
        (Some(1), Some(0))
    );
    assert_eq!(
        team(&secret_board, "payments")["rank"],
        1,
        "ranked by score: {secret_board}"
    );
    // Secret until the end: a timer and a team, to the board and a `read` token.
    let shown = secret_board.to_string();
    for hidden in [
        SECRET,
        "index wiped",
        "deployment/checkout",
        "push notifications",
    ] {
        assert!(!shown.contains(hidden), "{hidden} shown: {shown}");
    }
    let page = app
        .client
        .get(app.url("/gameday/1"))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("class=\"timer\"") && page.contains("mobile"),
        "{page}"
    );
    assert!(!page.contains(SECRET) && !page.contains("index wiped"));
    assert!(
        page.contains("payments declared Checkout errors 10 min"),
        "{page}"
    );
    // `read` with the `gameday` scope sees it all.
    let villains = app.token("villains", &[Scope::Read, Scope::Gameday]).await;
    assert!(board(&app, &villains).await.to_string().contains(SECRET));

    // A villain relinks; a hero may not.
    let refused = said(
        &app,
        HERO,
        "C0HEROES",
        &format!("{second} link {search_injection}"),
    )
    .await;
    assert!(text(&refused).contains("villains"), "{refused}");
    let relinked = said(
        &app,
        VILLAIN,
        "C0LAIR",
        &format!("{second} link {search_injection}"),
    )
    .await;
    assert_eq!(relinked["response_type"], "ephemeral", "{relinked}");
    let after = board(&app, &reader).await;
    assert_eq!(injection(&after, search_injection)["drill_id"], second);

    // The end: a report where it started, a page once, everything revealed.
    let ended = said(&app, VILLAIN, &room, "gameday end").await;
    assert_eq!(ended["response_type"], "in_channel", "{ended}");
    app.run_pending_jobs().await;
    app.run_pending_jobs().await;
    let report = app.told(&room);
    for part in [
        "Game day report",
        SECRET,
        "never detected",
        "drill #",
        "score",
    ] {
        assert!(report.contains(part), "{part} not in the report: {report}");
    }
    let pages: Vec<_> = confluence
        .pages()
        .into_iter()
        .filter(|p| p.title == "Game day #1: Dungeon day")
        .collect();
    assert_eq!(pages.len(), 1, "{:?}", confluence.calls());
    assert!(pages[0].body.contains("Never detected") && pages[0].body.contains("pod-delete"));
    let revealed = board(&app, &reader).await;
    assert!(revealed.to_string().contains(SECRET), "{revealed}");
    assert!(revealed["report_url"].is_string(), "{revealed}");
    app.stop().await;
}

/// The probes of `docs/litmus/chaosengine.yaml`, as Litmus sends them: the URL with its
/// placeholders filled, the content type and body from the file, no other header.
fn probes(url: &str, token: &str) -> Vec<(String, String, String, String, u16)> {
    use yaml_rust2::YamlLoader;
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/litmus/chaosengine.yaml"
    ))
    .unwrap();
    let doc = &YamlLoader::load_from_str(&text).unwrap()[0];
    assert_eq!(doc["kind"].as_str(), Some("ChaosEngine"));
    doc["spec"]["experiments"][0]["spec"]["probe"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|probe| {
            assert_eq!(probe["type"].as_str(), Some("httpProbe"));
            let inputs = &probe["httpProbe/inputs"];
            let post = &inputs["method"]["post"];
            (
                probe["mode"].as_str().unwrap().to_owned(),
                inputs["url"]
                    .as_str()
                    .unwrap()
                    .replace("${POMPIER_URL}", url)
                    .replace("${POMPIER_GAMEDAY_TOKEN}", token),
                post["contentType"].as_str().unwrap().to_owned(),
                post["body"].as_str().unwrap().to_owned(),
                post["responseCode"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

async fn the_shipped_litmus_probes_start_and_end_an_injection(backend: Backend) {
    let app = app(backend, None).await;
    said(&app, VILLAIN, "C0LAIR", "gameday start Chaos mode:dnd").await;
    let token = app.token("litmus", &[Scope::Gameday]).await;
    let probes = probes(&app.url(""), &token);
    assert_eq!(
        probes.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(),
        ["SOT", "EOT"]
    );
    let plain = reqwest::Client::new();
    let send = |(_, url, content_type, body, _): &(String, String, String, String, u16)| {
        plain
            .post(url)
            .header("content-type", content_type)
            .body(body.clone())
            .send()
    };
    let start = &probes[0];
    // A retry of the start probe (its answer lost) records nothing twice.
    for _ in 0..2 {
        let r = send(start).await.unwrap();
        assert_eq!(r.status().as_u16(), start.4, "{}", r.text().await.unwrap());
    }
    let board = board(&app, API_TOKEN).await;
    let injections = board["injections"].as_array().unwrap();
    assert_eq!(injections.len(), 1, "{board}");
    assert_eq!(injections[0]["team"], "payments");
    assert!(injections[0]["ended_at"].is_null());
    let end = &probes[1];
    let r = send(end).await.unwrap();
    assert_eq!(r.status().as_u16(), end.4, "{}", r.text().await.unwrap());
    let board = self::board(&app, API_TOKEN).await;
    assert!(board["injections"][0]["ended_at"].is_string(), "{board}");
    app.stop().await;
}

crate::on_both_backends!(
    a_dnd_game_day_times_heroes_from_the_injection_in_secret,
    the_shipped_litmus_probes_start_and_end_an_injection
);
