//! `/dashboard` over HTTP: who gets in, what the page says, and that what people typed
//! is shown, never run.

use reqwest::header::{LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::StatusCode;

use crate::helpers::{spawn_app, Backend, TestApp, API_TOKEN};

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

async fn login(app: &TestApp, client: &reqwest::Client, token: &str) -> reqwest::Response {
    client
        .post(app.url("/dashboard/login"))
        .header("origin", app.address.clone())
        .form(&[("token", token), ("next", "/dashboard?days=7")])
        .send()
        .await
        .unwrap()
}

async fn the_dashboard_wants_a_session_or_the_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.declare("sev2 Visible").await;
    let client = no_redirects();
    for path in ["/dashboard", &format!("/dashboard/incidents/{id}")] {
        let r = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(r.headers()[LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/dashboard/login?next="));
        let r = client
            .get(app.url(path))
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert!(r.text().await.unwrap().contains("Visible"));
    }
    // A wrong token: refused, no detail, no cookie.
    let r = login(&app, &client, "wrong").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().get(SET_COOKIE).is_none());
    let said = r.text().await.unwrap();
    assert!(said.contains("not this pompier"), "{said}");
    // The right one: a signed, HttpOnly, SameSite cookie, and back where one was going.
    let r = login(&app, &client, API_TOKEN).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/dashboard?days=7");
    let cookie = r.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    assert!(
        !session.contains(API_TOKEN),
        "the cookie does not carry the token"
    );
    let r = client
        .get(app.url("/dashboard"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // A forged one does not get in.
    let forged = format!("{}0", session);
    let r = client
        .get(app.url("/dashboard"))
        .header("cookie", forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // Logging out ends it.
    let r = client
        .post(app.url("/dashboard/logout"))
        .header("origin", app.address.clone())
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert!(r.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    // The form is no way to guess quickly: a few tries a minute, then 429 whatever.
    let mut statuses = vec![];
    for _ in 0..5 {
        statuses.push(login(&app, &client, "guess").await.status());
    }
    statuses.push(login(&app, &client, API_TOKEN).await.status());
    assert_eq!(
        statuses.last(),
        Some(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // Redirects stay on the dashboard.
    let r = client
        .get(app.url("/dashboard/login?next=https://evil.example/"))
        .send()
        .await
        .unwrap();
    let page = r.text().await.unwrap();
    assert!(!page.contains("evil.example"), "{page}");
}

async fn what_people_typed_is_shown_never_run(backend: Backend) {
    let app = spawn_app(backend).await;
    // Typed in Slack: <script>alert(1)</script> & co
    let id = app
        .declare("sev1 &lt;script&gt;alert(1)&lt;/script&gt; &amp; co")
        .await;
    let channel = "C0XSS";
    app.store
        .set_channel(id, &channel.parse().unwrap())
        .await
        .unwrap();
    app.slash_as("U0456", channel, "note &lt;img src=x onerror=alert(2)&gt;")
        .await;
    for path in ["/dashboard", &format!("/dashboard/incidents/{id}")] {
        let page = app.page_text(path).await;
        assert!(!page.contains("<script>alert"), "{path}");
        assert!(!page.contains("<img src=x"), "{path}");
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; &amp; co"),
            "{path}: {page}"
        );
    }
}

async fn the_page_shows_the_statistics_of_the_api(backend: Backend) {
    let app = spawn_app(backend).await;
    for text in ["sev1 One", "sev2 Two", "sev2 Three", "sev4 Four"] {
        app.declare(text).await;
    }
    app.slash("1 investigating").await;
    app.slash("1 resolved").await;
    let stats = app.api_get("/api/v1/stats").await;
    let page = app.page_text("/dashboard").await;
    let counted: u64 = page
        .split("data-count=\"")
        .skip(1)
        .zip(page.split("data-week=\"").skip(1))
        .map(|(n, _)| n.split('"').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(counted, stats["total"].as_u64().unwrap());
    assert!(
        page.contains("data-severity=\"SEV2\" data-count=\"2\""),
        "{page}"
    );
    assert!(page.contains("data-status=\"resolved\" data-count=\"1\""));
    assert!(page.contains(&format!(
        "<div class=\"n\">{}</div><div class=\"what\">open now",
        stats["open_now"]
    )));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "nothing from elsewhere"
    );
}

async fn slack_messages_link_to_the_incidents_page(backend: Backend) {
    let app = crate::helpers::spawn_app_with(
        backend,
        &[
            ("POMPIER_PUBLIC_URL", "https://pompier.example.com"),
            ("POMPIER_ANNOUNCE_CHANNEL", "C0ANNOUNCE"),
        ],
    )
    .await;
    let id = app.declare("sev2 Linked").await;
    app.run_pending_jobs().await;
    let link = format!("<https://pompier.example.com/dashboard/incidents/{id}|");
    let channel = app.slack.channels()[0].id.clone();
    let summary = app.slack.messages_in(&channel)[0].body.to_string();
    assert!(summary.contains(&link), "{summary}");
    let announced = app.slack.messages_in("C0ANNOUNCE")[0].body.to_string();
    assert!(announced.contains(&link), "{announced}");
}

/// 2026-11-16 00:00 UTC.
fn t(secs: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_794_787_200 + secs, 0).unwrap()
}

/// An incident of `team`, opened at `t(opened)`, resolved `resolved` seconds later.
async fn seeded(app: &TestApp, title: &str, sev: &str, team: &str, opened: i64, resolved: i64) {
    use pompier::domain::{Policy, SlackUserId, Status};
    let by: SlackUserId = "U0MGR".parse().unwrap();
    let mut new = pompier::store::NewIncident::new(
        title.trim_start_matches("private ").into(),
        sev.parse().unwrap(),
        by.clone(),
        t(opened),
    );
    new.team = Some(team.parse().unwrap());
    new.private = title.starts_with("private ");
    let i = app.store.declare(new, &[]).await.unwrap();
    app.store
        .change(
            i.id,
            |inc| {
                inc.move_to(
                    Status::Resolved,
                    &by.clone().into(),
                    None,
                    t(opened + resolved),
                    &Policy::default(),
                )
            },
            |_| vec![],
        )
        .await
        .unwrap();
}

async fn the_dashboard_filters_compares_exports_and_explains(backend: Backend) {
    let app = spawn_app(backend).await;
    seeded(&app, "Checkout down", "SEV1", "payments", 0, 1000).await;
    seeded(&app, "Search slow", "SEV2", "search", 100, 2000).await;
    seeded(
        &app,
        "private Payroll checkout leak",
        "SEV2",
        "payments",
        200,
        500,
    )
    .await;
    // The previous week: one payments incident, resolved in 2000 s.
    seeded(&app, "Old checkout", "SEV1", "payments", -3 * 86400, 2000).await;
    let week = "from=2026-11-16&to=2026-11-22";

    let page = app
        .page_text(&format!("/dashboard?{week}&team=payments"))
        .await
        .replace("&#x2f;", "/");
    assert!(
        page.contains("Checkout down") && !page.contains("Search slow"),
        "{page}"
    );
    assert!(!page.contains("Payroll"), "a private title is its members'");
    assert!(
        page.contains("<option value=\"payments\" selected>"),
        "the filter stays chosen"
    );
    // Two payments incidents this week against one before; resolve medians 500 and
    // 1000 s → 750 s against 2000 s.
    assert!(
        page.contains("<span class=\"change worse\">+100%</span>"),
        "{page}"
    );
    assert!(
        page.contains("<span class=\"change better\">−63%</span>"),
        "{page}"
    );
    assert!(page.contains("id=\"definitions\"") && page.contains("declared → investigating"));
    // Ranges carry the filter; the export link carries range and filter.
    assert!(
        page.contains("href=\"/dashboard?days=7&amp;team=payments\""),
        "{page}"
    );
    let csv = page
        .split("id=\"csv-link\"")
        .next()
        .and_then(|before| before.rsplit("href=\"").next())
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    assert!(
        csv.starts_with("/dashboard/incidents.csv?") && csv.contains("team=payments"),
        "{csv}"
    );

    // Text in the title: never a private incident's.
    let page = app
        .page_text(&format!("/dashboard?{week}&q=CHECKOUT"))
        .await;
    assert!(page.contains("Checkout down") && !page.contains("Search slow"));
    assert!(
        page.contains(">1</div><div class=\"what\">declared in range"),
        "{page}"
    );
    let page = app
        .page_text(&format!("/dashboard?{week}&severity=SEV2"))
        .await;
    assert!(page.contains("Search slow") && !page.contains("Checkout down"));
    // Per team: each team counted, linked to its own view.
    let page = app.page_text(&format!("/dashboard?{week}")).await;
    let page = page.replace("&#x2f;", "/");
    assert!(
        page.contains("&amp;team=search\">search</a></td><td>1</td>"),
        "{page}"
    );

    // The export works with a signed-in session, with the filters.
    let client = no_redirects();
    let r = login(&app, &client, API_TOKEN).await;
    let cookie = r.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let r = client
        .get(app.url(&csv))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.text().await.unwrap();
    assert!(body.starts_with("id,title,"), "{body}");
    assert!(
        body.contains("Checkout down") && !body.contains("Search slow"),
        "{body}"
    );
    assert_eq!(body.lines().count(), 1 + 2, "{body}");

    // Browsers get pages, not JSON: a bad filter, a missing incident.
    for (path, status, says) in [
        (
            format!("/dashboard?{week}&team=Not%20a%20team!"),
            StatusCode::BAD_REQUEST,
            "team",
        ),
        (
            "/dashboard/incidents/999".to_owned(),
            StatusCode::NOT_FOUND,
            "#999 does not exist",
        ),
    ] {
        let r = client
            .get(app.url(&path))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{path}");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let page = r.text().await.unwrap();
        assert!(
            page.contains("<!doctype html>") && page.contains(says),
            "{page}"
        );
    }
    // A wrong token on the sign-in form: the form again, one line.
    let r = login(&app, &client, "wrong").await;
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = r.text().await.unwrap();
    assert!(
        page.contains("id=\"login-error\"") && page.contains("<form"),
        "{page}"
    );
}

/// The session cookie `login` set.
fn session_of(r: &reqwest::Response) -> String {
    let set = r.headers()[SET_COOKIE].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

async fn opens(app: &TestApp, client: &reqwest::Client, session: &str) -> bool {
    let r = client
        .get(app.url("/dashboard"))
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    r.status() == StatusCode::OK
}

async fn sessions_live_on_the_server_and_end_there(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = no_redirects();
    // Two sign-ins at once: two sessions, each its own; successes use up no tries.
    let mut sessions = vec![];
    for _ in 0..7 {
        let r = login(&app, &client, API_TOKEN).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        sessions.push(session_of(&r));
    }
    assert_ne!(sessions[0], sessions[1]);
    assert!(opens(&app, &client, &sessions[0]).await);
    // Ending one ends that one alone, for good.
    let r = client
        .post(app.url("/dashboard/logout"))
        .header("origin", app.address.clone())
        .header("cookie", &sessions[0])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        !opens(&app, &client, &sessions[0]).await,
        "the old cookie after logout"
    );
    assert!(opens(&app, &client, &sessions[1]).await);
    // A post from another site ends nothing and signs no one in.
    let r = client
        .post(app.url("/dashboard/logout"))
        .header("origin", "https://evil.example")
        .header("cookie", &sessions[1])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(opens(&app, &client, &sessions[1]).await);
    let r = client
        .post(app.url("/dashboard/login"))
        .header("origin", "https://evil.example")
        .form(&[("token", API_TOKEN), ("next", "/dashboard")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().get(SET_COOKIE).is_none());
    // Idle too long: ended.
    crate::queue::execute(
        &app.db,
        "UPDATE sessions SET seen_at = '2020-01-01T00:00:00Z'",
    )
    .await;
    assert!(!opens(&app, &client, &sessions[1]).await, "idle");
    // A token's session ends with the token.
    let reader = app.token("reader", &[pompier::tokens::Scope::Read]).await;
    let r = login(&app, &client, &reader).await;
    let theirs = session_of(&r);
    assert!(opens(&app, &client, &theirs).await);
    crate::process::cli(&app.db, &["tokens", "revoke", "reader"]);
    assert!(!opens(&app, &client, &theirs).await, "revoked");
    // Sign-in returns to the page that asked, a game day board included.
    let r = client
        .post(app.url("/dashboard/login"))
        .header("origin", app.address.clone())
        .form(&[("token", API_TOKEN), ("next", "/gameday/3")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[LOCATION], "/gameday/3");
    // Every page says what it may load and that it is not to be framed.
    for path in ["/dashboard/login", "/status", "/healthz"] {
        let r = client.get(app.url(path)).send().await.unwrap();
        let h = r.headers();
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'"),
            "{path}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "same-origin", "{path}");
    }
}

crate::on_both_backends!(
    sessions_live_on_the_server_and_end_there,
    the_dashboard_filters_compares_exports_and_explains,
    slack_messages_link_to_the_incidents_page,
    the_dashboard_wants_a_session_or_the_token,
    what_people_typed_is_shown_never_run,
    the_page_shows_the_statistics_of_the_api,
);
