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
    assert!(r.text().await.unwrap().contains("not this pompier"));
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

crate::on_both_backends!(
    slack_messages_link_to_the_incidents_page,
    the_dashboard_wants_a_session_or_the_token,
    what_people_typed_is_shown_never_run,
    the_page_shows_the_statistics_of_the_api,
);
