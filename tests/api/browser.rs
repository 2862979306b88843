//! The dashboard in a real browser: headless Chromium driven through chromedriver
//! (Debian's `chromium` and `chromium-driver`, which `.ci/run` installs). Signs in
//! through the form, checks the charts' numbers against the API, opens an incident page,
//! checks that nothing was fetched from anywhere but pompier, and saves screenshots
//! under `target/screenshots/`.

use std::process::{Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use pompier::domain::{Policy, Severity, SlackUserId, Status};
use pompier::store::NewIncident;

use crate::helpers::{can_run, free_port, spawn_app, Backend, KillOnDrop, TestApp, API_TOKEN};

/// A few weeks of incidents of every severity, some resolved, one with a hostile title.
async fn seed(app: &TestApp) {
    let user: SlackUserId = "U0MGR".parse().unwrap();
    let now = pompier::now();
    let severities = [
        Severity::Sev1,
        Severity::Sev2,
        Severity::Sev3,
        Severity::Sev4,
    ];
    for n in 0..24i64 {
        let opened = now - chrono::Duration::hours(6 * n + 1);
        let title = if n == 3 {
            "<script>alert('x')</script> checkout".to_owned()
        } else {
            format!("Incident number {n}")
        };
        let i = app
            .store
            .declare(
                NewIncident::new(title, severities[n as usize % 4], user.clone(), opened),
                &[],
            )
            .await
            .unwrap();
        if n % 3 != 0 {
            for (to, minutes) in [
                (Status::Investigating, 4 + n),
                (Status::Resolved, 40 + 7 * n),
            ] {
                let at = opened + chrono::Duration::minutes(minutes);
                app.store
                    .change(
                        i.id,
                        |inc| inc.move_to(to, &user.clone().into(), None, at, &Policy::default()),
                        |_| vec![],
                    )
                    .await
                    .unwrap();
            }
        }
    }
}

/// The element `locator` finds, once it is there (within 10 s).
async fn appears(
    browser: &fantoccini::Client,
    locator: Locator<'_>,
) -> fantoccini::elements::Element {
    browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(locator)
        .await
        .unwrap()
}

/// The text of the element `locator` finds.
async fn text_of(browser: &fantoccini::Client, locator: Locator<'_>) -> String {
    browser.find(locator).await.unwrap().text().await.unwrap()
}

/// chromedriver and a headless Chromium that reaches nothing but loopback.
async fn launch() -> (KillOnDrop, fantoccini::Client) {
    let port = free_port();
    let driver = KillOnDrop(
        Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1700",
                     // Anything but pompier fails to resolve: the page must not need it.
                     "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost"]
        }),
    );
    let mut browser = None;
    for _ in 0..50 {
        // chromedriver is on loopback: plain HTTP, no TLS.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => {
                browser = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    (driver, browser.expect("chromedriver answers"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_works_in_a_real_browser() {
    if !can_run(&["chromium", "chromedriver"], "chromium chromium-driver") {
        return;
    }
    let app = spawn_app(Backend::Sqlite).await;
    seed(&app).await;
    let stats = app.api_get("/api/v1/stats").await;

    let (_driver, browser) = launch().await;
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();

    // Signed out: the form; the token once.
    browser.goto(&app.url("/dashboard")).await.unwrap();
    assert!(browser
        .current_url()
        .await
        .unwrap()
        .path()
        .starts_with("/dashboard/login"));
    std::fs::write(shots.join("login.png"), browser.screenshot().await.unwrap()).unwrap();
    browser
        .find(Locator::Id("token"))
        .await
        .unwrap()
        .send_keys(API_TOKEN)
        .await
        .unwrap();
    browser
        .find(Locator::Id("sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    appears(&browser, Locator::Id("chart-weekly")).await;
    assert_eq!(browser.current_url().await.unwrap().path(), "/dashboard");

    // The charts drew the API's numbers.
    let total = text_of(&browser, Locator::Css("#card-total .n")).await;
    assert_eq!(total, stats["total"].to_string());
    let mut drawn = 0;
    for bar in browser
        .find_all(Locator::Css("#chart-weekly rect[data-count]"))
        .await
        .unwrap()
    {
        drawn += bar
            .attr("data-count")
            .await
            .unwrap()
            .unwrap()
            .parse::<u64>()
            .unwrap();
    }
    assert_eq!(drawn, stats["total"].as_u64().unwrap());
    let resolved = browser
        .find(Locator::Css("#chart-status rect[data-status='resolved']"))
        .await
        .unwrap()
        .attr("data-count")
        .await
        .unwrap();
    assert_eq!(
        resolved.as_deref(),
        Some(&*stats["by_status"]["resolved"].to_string())
    );
    assert_eq!(
        browser
            .find_all(Locator::Css("#chart-resolve rect[data-median]"))
            .await
            .unwrap()
            .len(),
        4,
        "a bar for each severity with resolved incidents"
    );
    // A title made to run is shown.
    let recent = text_of(&browser, Locator::Id("recent")).await;
    assert!(
        recent.contains("<script>alert('x')</script> checkout"),
        "{recent}"
    );
    std::fs::write(
        shots.join("dashboard.png"),
        browser.screenshot().await.unwrap(),
    )
    .unwrap();

    // Filters: chosen in the form, kept in the address, applied to every figure.
    browser
        .find(Locator::Css("select[name='severity']"))
        .await
        .unwrap()
        .select_by_value("SEV1")
        .await
        .unwrap();
    browser
        .find(Locator::Id("apply-filters"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !browser
        .current_url()
        .await
        .unwrap()
        .as_str()
        .contains("severity=SEV1")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the filter is in the address"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    appears(&browser, Locator::Id("recent")).await;
    let sev1 = app.api_get("/api/v1/stats?severity=SEV1").await;
    let total = text_of(&browser, Locator::Css("#card-total .n")).await;
    assert_eq!(total, sev1["total"].to_string());
    let shown = text_of(&browser, Locator::Id("recent")).await;
    assert!(!shown.contains("SEV2") && shown.contains("SEV1"), "{shown}");
    let csv = browser
        .find(Locator::Id("csv-link"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert!(csv.contains("severity=SEV1"), "{csv}");

    // On a phone (390 px wide): nothing wider than the screen, the cards two by two.
    browser.set_window_size(390, 844).await.unwrap();
    browser.goto(&app.url("/dashboard")).await.unwrap();
    let fits = browser
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        fits,
        serde_json::json!(true),
        "the page scrolls sideways at 390 px"
    );
    std::fs::write(
        shots.join("dashboard-phone.png"),
        browser.screenshot().await.unwrap(),
    )
    .unwrap();
    browser.set_window_size(1280, 1700).await.unwrap();
    browser.goto(&app.url("/dashboard")).await.unwrap();

    // An incident's page.
    browser
        .find(Locator::Css("#recent a[href^='/dashboard/incidents/']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    appears(&browser, Locator::Id("timeline")).await;
    let title = text_of(&browser, Locator::Id("incident-title")).await;
    assert!(title.starts_with('#'), "{title}");
    std::fs::write(
        shots.join("incident.png"),
        browser.screenshot().await.unwrap(),
    )
    .unwrap();

    // A game day's scoreboard, as the room's big screen shows it: it ranks the teams and
    // follows the drills without a reload.
    app.slash("gameday start Q4 chaos day").await;
    let mut drills = Vec::new();
    for text in [
        "drill sev2 team:payments Replica lag",
        "drill sev1 team:search Index gone",
        "drill sev3 team:mobile Push notifications late",
    ] {
        app.slash(text).await;
        let listed = app
            .api_get("/api/v1/incidents?include_drills=true&limit=1")
            .await;
        drills.push(listed["incidents"][0]["id"].as_i64().unwrap());
    }
    for to in ["investigating", "mitigated", "resolved"] {
        app.slash(&format!("{} {to}", drills[0])).await;
    }
    app.slash(&format!("{} investigating", drills[1])).await;
    let day = app.api_get("/api/v1/gamedays").await["gamedays"][0]["id"]
        .as_i64()
        .unwrap();
    browser
        .goto(&app.url(&format!("/gameday/{day}")))
        .await
        .unwrap();
    // Read in one script: the stream may replace the board between two WebDriver calls.
    let teams = |browser: fantoccini::Client| async move {
        let names = browser
            .execute(
                "return [...document.querySelectorAll('#teams tr[data-team]')]\
                 .map(r => r.dataset.team);",
                vec![],
            )
            .await
            .unwrap();
        names
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_owned())
            .collect::<Vec<String>>()
    };
    assert_eq!(
        teams(browser.clone()).await,
        ["payments", "search", "mobile"]
    );
    browser
        .execute("window.notReloaded = true;", vec![])
        .await
        .unwrap();
    app.slash(&format!("{} resolved", drills[1])).await;
    app.slash(&format!("{} investigating", drills[2])).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let resolved = browser
            .find_all(Locator::Css("#drills td.status-resolved"))
            .await
            .unwrap()
            .len();
        if resolved == 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the board did not follow the drills"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let kept = browser
        .execute("return window.notReloaded === true;", vec![])
        .await
        .unwrap();
    assert_eq!(kept, serde_json::Value::Bool(true), "the page was reloaded");
    // Both resolved: the faster one first.
    let ranked = teams(browser.clone()).await;
    assert_eq!(ranked[2], "mobile", "{ranked:?}");
    std::fs::write(
        shots.join("gameday.png"),
        browser.screenshot().await.unwrap(),
    )
    .unwrap();

    // A Dungeons & Dragons game day: an undetected injection is a running timer and a
    // team, never what was done; a drill stops it and the ranking follows; the end
    // reveals everything. All without a reload.
    app.slash("gameday end").await;
    app.slash("gameday start Dungeon day mode:dnd").await;
    app.slash("inject team:payments FAULT-ONE checkout pods killed")
        .await;
    app.slash("inject team:search FAULT-TWO index wiped").await;
    let dnd = app.api_get("/api/v1/gamedays").await["gamedays"][0]["id"]
        .as_i64()
        .unwrap();
    browser
        .goto(&app.url(&format!("/gameday/{dnd}")))
        .await
        .unwrap();
    browser
        .execute("window.notReloaded = true;", vec![])
        .await
        .unwrap();
    let read = |browser: fantoccini::Client| async move {
        browser
            .execute(
                "return {timers: [...document.querySelectorAll('#undetected li')]\
                 .map(li => li.querySelector('.team').textContent + ' ' + \
                 li.querySelector('.timer').textContent), \
                 teams: [...document.querySelectorAll('#teams tr[data-team]')]\
                 .map(r => r.dataset.team), text: document.body.innerText};",
                vec![],
            )
            .await
            .unwrap()
    };
    let first = read(browser.clone()).await;
    assert_eq!(first["timers"].as_array().unwrap().len(), 2, "{first}");
    assert!(
        !first["text"].as_str().unwrap().contains("FAULT-"),
        "{first}"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let later = read(browser.clone()).await;
    assert_ne!(first["timers"], later["timers"], "the timers do not run");
    assert_eq!(later["teams"], serde_json::json!(["payments", "search"]));
    // search notices: its timer stops, it takes the lead.
    app.slash("drill sev2 team:search Search returns nothing")
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = read(browser.clone()).await;
        if now["timers"].as_array().unwrap().len() == 1
            && now["teams"] == serde_json::json!(["search", "payments"])
        {
            assert!(now["timers"][0].as_str().unwrap().starts_with("payments "));
            assert!(now["text"]
                .as_str()
                .unwrap()
                .contains("search declared Search returns nothing"));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the board did not follow the detection: {now}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.slash("gameday end").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = read(browser.clone()).await;
        let text = now["text"].as_str().unwrap();
        if text.contains("FAULT-ONE") && text.contains("FAULT-TWO") {
            assert!(text.contains("never detected"), "{text}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the end did not reveal the injection: {now}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let kept = browser
        .execute("return window.notReloaded === true;", vec![])
        .await
        .unwrap();
    assert_eq!(kept, serde_json::Value::Bool(true), "the page was reloaded");
    std::fs::write(
        shots.join("gameday-dnd.png"),
        browser.screenshot().await.unwrap(),
    )
    .unwrap();

    // Nothing was fetched from anywhere but pompier.
    let fetched = browser
        .execute(
            "return performance.getEntriesByType('resource').map(e => e.name)\
             .concat([location.href]);",
            vec![],
        )
        .await
        .unwrap();
    for url in fetched.as_array().unwrap() {
        assert!(
            url.as_str().unwrap().starts_with("http://127.0.0.1:"),
            "{url} left 127.0.0.1"
        );
    }
    browser.close().await.unwrap();
}

/// A manager opens an incident's page, is sent to sign in, and signs in through the
/// company's identity provider, a site of its own (`localhost` where pompier is
/// `127.0.0.1`): back on the page they asked for, with the session's `SameSite=Strict`
/// cookie sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_through_the_identity_provider_in_a_real_browser() {
    if !can_run(&["chromium", "chromedriver"], "chromium chromium-driver") {
        return;
    }
    let idp = crate::fake_oidc::FakeIdp::start_at("localhost").await;
    let env = idp.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = crate::helpers::spawn_app_with(Backend::Sqlite, &env).await;
    app.declare("sev2 Checkout errors").await;
    let (_driver, browser) = launch().await;

    browser
        .goto(&app.url("/dashboard/incidents/1"))
        .await
        .unwrap();
    appears(&browser, Locator::Id("sso"))
        .await
        .click()
        .await
        .unwrap();
    // At the provider's own page.
    appears(&browser, Locator::Id("consent"))
        .await
        .click()
        .await
        .unwrap();
    appears(&browser, Locator::Id("timeline")).await;
    let url = browser.current_url().await.unwrap();
    assert_eq!(url.path(), "/dashboard/incidents/1");
    assert_eq!(url.host_str(), Some("127.0.0.1"));
    let title = text_of(&browser, Locator::Id("incident-title")).await;
    assert!(title.contains("Checkout errors"), "{title}");
    assert_eq!(idp.tokens_issued(), 1);
    // Signed out, the page asks again.
    browser
        .find(Locator::Css("header form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .goto(&app.url("/dashboard/incidents/1"))
        .await
        .unwrap();
    appears(&browser, Locator::Id("sso")).await;
}
