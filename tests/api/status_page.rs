//! The public status page through real HTTP with no token: only incidents made public,
//! only what was written for customers; never an internal note, a private incident or a
//! drill, whatever is typed.

use reqwest::StatusCode;

use crate::helpers::{spawn_app_with, Backend, TestApp};

async fn get(app: &TestApp, path: &str) -> (StatusCode, String, String, String) {
    let r = reqwest::get(app.url(path)).await.unwrap();
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (content_type, cache) = (header("content-type"), header("cache-control"));
    (r.status(), content_type, cache, r.text().await.unwrap())
}

async fn customers_see_only_what_was_written_for_them(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("POMPIER_STATUS_PAGE__COMPONENTS", "[checkout, search]"),
            ("POMPIER_STATUS_PAGE__TITLE", "Acme <status>"),
        ],
    )
    .await;
    let (status, _, cache, html) = get(&app, "/status").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cache, "public, max-age=30");
    assert!(html.contains("All Systems Operational") && html.contains("Acme &lt;status&gt;"));
    assert!(!html.contains("<script"), "the page needs no script");

    let checkout = app.declare("sev2 Checkout returns 500").await;
    let quiet = app.declare("sev1 Internal only").await;
    app.slash(&format!("{checkout} note INTERNAL the primary is down"))
        .await;
    let refused = app.slash(&format!("{checkout} update too early")).await;
    assert!(refused["text"]
        .as_str()
        .unwrap()
        .contains("not on the status page"));
    let unknown = app
        .slash(&format!("{checkout} public component:billing Oops"))
        .await;
    assert!(
        unknown["text"]
            .as_str()
            .unwrap()
            .contains("checkout, search"),
        "{unknown}"
    );
    app.slash(&format!(
        "{checkout} public component:checkout Some payments fail &lt;b&gt;"
    ))
    .await;
    app.slash(&format!("{checkout} update A fix is rolling out."))
        .await;
    // Private incidents and drills refuse, whatever is typed.
    app.slash("open private sev1 Payroll leak").await;
    let private = app.slash("3 public component:search Payroll").await;
    assert!(
        private["text"]
            .as_str()
            .unwrap()
            .contains("never on the status page"),
        "{private}"
    );
    let drill = app.slash("drill sev1 team:blue Practice").await;
    let drill_id = drill["text"]
        .as_str()
        .unwrap()
        .split("*DRILL #")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .unwrap()
        .to_owned();
    let refused = app
        .slash(&format!("{drill_id} public component:search Practice"))
        .await;
    assert!(refused["text"]
        .as_str()
        .unwrap()
        .contains("never on the status page"));

    let (_, _, _, html) = get(&app, "/status").await;
    for shown in [
        "Checkout returns 500",
        "Some payments fail &lt;b&gt;",
        "A fix is rolling out.",
        "Partial System Outage",
        "Partial outage",
    ] {
        assert!(html.contains(shown), "{shown} not in {html}");
    }
    for hidden in ["INTERNAL", "Internal only", "Payroll", "Practice", "U0456"] {
        assert!(!html.contains(hidden), "{hidden} shown: {html}");
    }
    let (_, content_type, _, json) = get(&app, "/status.json").await;
    assert!(content_type.starts_with("application/json"));
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["status"]["indicator"], "major");
    assert_eq!(json["incidents"][0]["id"], checkout.0);
    assert_eq!(
        json["incidents"][0]["updates"][0]["message"],
        "A fix is rolling out."
    );
    assert_eq!(json["components"][0]["status"], "partial_outage");
    assert_eq!(json["components"][1]["status"], "operational");
    assert!(!json.to_string().contains("INTERNAL"));
    let _ = quiet;

    // The feed is Atom: a feed with an id, a title, an updated time and an author, an
    // entry per incident with the same, and the messages escaped.
    let (_, content_type, _, atom) = get(&app, "/status/feed.atom").await;
    assert!(
        content_type.starts_with("application/atom+xml"),
        "{content_type}"
    );
    let doc = roxmltree::Document::parse(&atom).unwrap();
    let feed = doc.root_element();
    let ns = "http://www.w3.org/2005/Atom";
    assert_eq!(feed.tag_name().namespace(), Some(ns));
    fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
        node.children().find(|c| {
            c.tag_name().name() == name
                && c.tag_name().namespace() == Some("http://www.w3.org/2005/Atom")
        })
    }
    for name in ["id", "title", "updated", "author"] {
        assert!(child(feed, name).is_some(), "feed without {name}");
    }
    let entries: Vec<_> = feed
        .children()
        .filter(|c| c.tag_name().name() == "entry")
        .collect();
    assert_eq!(entries.len(), 1);
    for name in ["id", "title", "updated"] {
        assert!(child(entries[0], name).is_some(), "entry without {name}");
    }
    let content = child(entries[0], "content").unwrap().text().unwrap();
    assert!(content.contains("Some payments fail <b>"), "{content}");
    chrono::DateTime::parse_from_rfc3339(child(feed, "updated").unwrap().text().unwrap()).unwrap();

    // Resolved, it stays a week under "Resolved".
    app.slash(&format!("{checkout} resolved")).await;
    let (_, _, _, html) = get(&app, "/status").await;
    assert!(
        html.contains("All Systems Operational") && html.contains("Resolved in the last 7 days")
    );
    app.stop().await;
}

/// The *Status page* form submitted by `user` for incident `id`.
async fn publish(app: &TestApp, user: &str, id: i64, message: &str, components: &[&str]) -> String {
    let chosen: Vec<serde_json::Value> = components
        .iter()
        .map(|c| serde_json::json!({"value": c}))
        .collect();
    let payload = serde_json::json!({
        "type": "view_submission", "trigger_id": "1.2.3", "user": {"id": user},
        "view": {"id": format!("V0PUB{}", uuid::Uuid::new_v4().simple()), "callback_id": "status_page",
                 "private_metadata": id.to_string(),
                 "state": {"values": {
                     "message": {"message": {"type": "plain_text_input", "value": message}},
                     "components": {"components": {"type": "checkboxes", "selected_options": chosen}}}}}
    });
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish();
    let r = app.post_signed("/slack/interactions", body).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.text().await.unwrap()
}

async fn the_summarys_button_publishes_then_updates(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[("POMPIER_STATUS_PAGE__COMPONENTS", "[checkout, search]")],
    )
    .await;
    let id = app.declare("sev2 Search down").await;
    app.slash("open private sev2 Payroll").await;
    let private = pompier::domain::IncidentId(id.0 + 1);
    app.run_pending_jobs().await;
    let summary = app.slack.top_level(&app.slack.channels()[0].id)[0]
        .body
        .to_string();
    assert!(summary.contains("\"status_page\""), "{summary}");
    // The button opens the form for a member, with the components to tick.
    app.click("U0456", "C0123", "status_page", &format!("{id}:public"))
        .await;
    let form = app.slack.views().pop().expect("the form").to_string();
    assert!(
        form.contains("What customers read") && form.contains("search"),
        "{form}"
    );

    // An outsider's submission changes nothing; a member's publishes, then updates.
    let said = publish(&app, "U0OUT", private.0, "Payroll is late", &[]).await;
    assert!(said.contains("No incident"), "{said}");
    assert_eq!(
        publish(&app, "U0456", id.0, "Search is slow for some", &["search"]).await,
        ""
    );
    assert_eq!(
        publish(&app, "U0456", id.0, "A fix is rolling out", &[]).await,
        ""
    );
    let (_, _, _, json) = get(&app, "/status.json").await;
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let shown = json.to_string();
    assert!(
        shown.contains("Search is slow for some") && shown.contains("A fix is rolling out"),
        "{shown}"
    );
    assert!(!shown.contains("Payroll"));
    // A private incident is refused on the form, by its member too.
    let said = publish(&app, "U0456", private.0, "Payroll is late", &[]).await;
    assert!(
        said.contains("response_action") && said.contains("private"),
        "{said}"
    );
}

crate::on_both_backends!(
    customers_see_only_what_was_written_for_them,
    the_summarys_button_publishes_then_updates,
);
