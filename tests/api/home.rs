//! The app's Home tab: the open incidents a user may see (a private one to its members
//! only), the running game day, a Declare button; rebuilt at most every 10 s per user.

use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, Backend, TestApp};

async fn open_home(app: &TestApp, user: &str, event_id: &str) {
    let body = json!({"type": "event_callback", "event_id": event_id, "team_id": "T1",
                      "event": {"type": "app_home_opened", "user": user, "tab": "home",
                                "channel": "D0HOME", "event_ts": "1.0"}});
    let r = app.post_signed("/slack/events", body.to_string()).await;
    assert_eq!(r.status(), 200);
}

/// The Home tab last published for `user`, waiting a moment for it (it is published
/// after the answer).
async fn home_of(app: &TestApp, user: &str, count: usize) -> Value {
    for _ in 0..100 {
        let homes: Vec<Value> = app
            .slack
            .homes()
            .into_iter()
            .filter(|(u, _)| u == user)
            .map(|(_, v)| v)
            .collect();
        if homes.len() >= count {
            return homes.last().unwrap().clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no Home tab for {user}");
}

async fn the_home_tab_shows_what_each_user_may_see(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    app.slash_as("U0456", "C0123", "open sev2 Checkout returns 500")
        .await;
    app.slash_as("U0456", "C0123", "open private sev1 Payroll export leaked")
        .await;
    app.slash_as("U0456", "C0123", "gameday start Spring").await;
    app.run_pending_jobs().await;

    open_home(&app, "U0456", "Ev1").await;
    let member = home_of(&app, "U0456", 1).await.to_string();
    assert!(member.contains("Checkout returns 500"), "{member}");
    assert!(member.contains("Payroll export leaked"), "{member}");
    assert!(
        member.contains("open_declare") && member.contains("Spring"),
        "{member}"
    );

    open_home(&app, "U0OUT", "Ev2").await;
    let outsider = home_of(&app, "U0OUT", 1).await.to_string();
    assert!(outsider.contains("Checkout returns 500"), "{outsider}");
    assert!(!outsider.contains("Payroll"), "{outsider}");

    // Opened again at once: not rebuilt.
    open_home(&app, "U0OUT", "Ev3").await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let outsiders = app
        .slack
        .homes()
        .into_iter()
        .filter(|(u, _)| u == "U0OUT")
        .count();
    assert_eq!(outsiders, 1);

    // Its button opens the declare form.
    app.click("U0OUT", "D0HOME", "open_declare", "").await;
    assert_eq!(app.slack.views().len(), 1);
    app.stop().await;
}

crate::on_both_backends!(the_home_tab_shows_what_each_user_may_see);
