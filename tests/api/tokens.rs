//! Scoped API tokens through the real binary's `pompier tokens` and real HTTP: shown
//! once, kept as a hash, refused at once when revoked, 403 naming a missing scope, and a
//! private incident seen as the dashboard shows it.

use reqwest::StatusCode;

use std::time::{Duration, Instant};

use crate::helpers::{spawn_app_with, Backend, TestApp};
use crate::process::cli;
use crate::queue::execute;

async fn get(app: &TestApp, path: &str, token: &str) -> (StatusCode, serde_json::Value) {
    app.api_get_with(path, Some(token)).await
}

fn refused(app: &TestApp, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pompier"))
        .args(args)
        .env_clear()
        .env("DATABASE_URL", &app.db.url)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn scoped_tokens_read_what_they_may_until_revoked(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    app.slash_as(
        "U0456",
        "C0GENERAL",
        "open private sev1 Payroll export leaked",
    )
    .await;
    let reader = cli(&app.db, &["tokens", "create", "grafana", "--scope", "read"])
        .trim()
        .to_owned();
    let alerts = cli(&app.db, &["tokens", "create", "am", "--scope", "alerts"])
        .trim()
        .to_owned();
    assert!(reader.starts_with("pmp_") && reader.len() == 68, "{reader}");
    assert!(refused(&app, &["tokens", "create", "grafana", "--scope", "read"]).contains("exists"));
    assert!(refused(&app, &["tokens", "create", "x", "--scope", "root"]).contains("not a scope"));

    // A read token reads, and sees a private incident as the dashboard shows it.
    let (status, list) = get(&app, "/api/v1/incidents", &reader).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let (_, one) = get(&app, "/api/v1/incidents/1", &reader).await;
    assert_eq!(one["title"], "Private incident #1");
    assert_eq!(
        (&one["declared_by"], &one["severity"]),
        (&"".into(), &"SEV1".into())
    );
    assert!(!format!("{list}{one}").contains("Payroll"));
    // The operator's token reads it whole.
    assert_eq!(
        app.incident_json(pompier::domain::IncidentId(1)).await["title"],
        "Payroll export leaked"
    );
    // Without the scope: 403 naming it; unknown: 401.
    let (status, body) = get(&app, "/api/v1/stats", &alerts).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body["error"].as_str().unwrap().contains("`read`"), "{body}");
    let (status, _) = get(&app, "/api/v1/stats", "pmp_nope").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The dashboard signs in any token with `read`, and no other.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (token, expected) in [
        (&reader, StatusCode::SEE_OTHER),
        (&alerts, StatusCode::UNAUTHORIZED),
    ] {
        let r = client
            .post(app.url("/dashboard/login"))
            .header("origin", app.address.clone())
            .form(&[("token", token.as_str()), ("next", "/dashboard")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), expected);
    }

    // Listed without the token, with its last use; revoked, refused at once.
    let listed = cli(&app.db, &["tokens", "list"]);
    assert!(
        listed.contains("grafana") && listed.contains("alerts"),
        "{listed}"
    );
    assert!(!listed.contains(&reader[4..]), "the token itself is listed");
    let grafana = listed.lines().find(|l| l.starts_with("grafana")).unwrap();
    assert!(!grafana.contains(" - "), "no last use: {grafana}");
    cli(&app.db, &["tokens", "revoke", "grafana"]);
    refused_within(&app, &reader, StatusCode::UNAUTHORIZED).await;
    assert!(refused(&app, &["tokens", "revoke", "grafana"]).contains("no valid token"));
    app.stop().await;
}

crate::on_both_backends!(scoped_tokens_read_what_they_may_until_revoked);

/// `token` gets `expected` on the API within a second (a revocation reaches every
/// instance's token cache through PostgreSQL's `NOTIFY`, in milliseconds); the time taken.
async fn refused_within(app: &TestApp, token: &str, expected: StatusCode) -> Duration {
    let start = Instant::now();
    loop {
        let (status, _) = get(app, "/api/v1/incidents", token).await;
        if status == expected {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "still {status} after a second, not {expected}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn cache_live(app: &TestApp, live: bool) {
    let start = Instant::now();
    while app.metric("pompier_token_cache_live", &[]).await != f64::from(u8::from(live)) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "cache live: {live}?"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// On PostgreSQL a token seen before is answered from memory, and only while that memory
/// can hear revocations: a lost listener forgets everything, a revocation arrives at once.
#[tokio::test]
async fn the_token_cache_forgets_what_it_may_have_missed() {
    let app = spawn_app_with(Backend::Postgres, &[]).await;
    let token = cli(&app.db, &["tokens", "create", "grafana", "--scope", "read"])
        .trim()
        .to_owned();
    cache_live(&app, true).await;
    let (status, _) = get(&app, "/api/v1/incidents", &token).await;
    assert_eq!(status, StatusCode::OK);
    // A change behind pompier's back (no NOTIFY) is not seen: the token is in memory.
    execute(&app.db, "UPDATE api_tokens SET scopes = 'alerts'").await;
    let (status, _) = get(&app, "/api/v1/incidents", &token).await;
    assert_eq!(status, StatusCode::OK, "answered from the cache");

    // The listener's connection is cut: whatever it may have missed is forgotten.
    execute(
        &app.db,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .await;
    let start = Instant::now();
    loop {
        let (status, _) = get(&app, "/api/v1/incidents", &token).await;
        if status == StatusCode::FORBIDDEN {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "still {status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // It comes back, and a revocation reaches it at once.
    cache_live(&app, true).await;
    let (status, _) = get(&app, "/api/v1/incidents", &token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    cli(&app.db, &["tokens", "revoke", "grafana"]);
    let took = refused_within(&app, &token, StatusCode::UNAUTHORIZED).await;
    eprintln!("the revocation took {took:?} to reach the server");
    app.stop().await;
}
