//! The audit trail: every administrative act with who, when and from where, read by the
//! operator through `GET /api/v1/audit` and `pompier audit`. On both databases.

use pompier::tokens::Scope;
use reqwest::StatusCode;

use crate::helpers::{spawn_app_with, Backend, API_TOKEN};

async fn each_act_is_recorded_and_read_by_the_operator_alone(backend: Backend) {
    let app = spawn_app_with(backend, &[("POMPIER_PERMISSIONS__GAMEDAY", "[U0VILLAIN]")]).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // A failed and a good sign-in.
    for token in ["wrong", API_TOKEN] {
        client
            .post(app.url("/dashboard/login"))
            .header("origin", app.address.clone())
            .form(&[("token", token), ("next", "/dashboard")])
            .send()
            .await
            .unwrap();
    }
    // A token made and revoked through the CLI, then used.
    let out = crate::process::cli(&app.db, &["tokens", "create", "ci", "--scope", "read"]);
    let token = out.lines().last().unwrap().trim().to_owned();
    crate::process::cli(&app.db, &["tokens", "revoke", "ci"]);
    let (status, _) = app.api_get_with("/api/v1/incidents", Some(&token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // An export, a refusal, villains named.
    let (status, _) = app
        .api_get_with("/api/v1/incidents.csv?severity=SEV1", Some(API_TOKEN))
        .await;
    assert_eq!(status, StatusCode::OK);
    app.slash_as("U0BOB", "C0123", "gameday start Q1").await;
    app.slash_as("U0VILLAIN", "C0123", "gameday start Q1 mode:dnd")
        .await;
    app.slash_as("U0VILLAIN", "C0123", "gameday villain <@U0VILLAIN>")
        .await;

    let (status, body) = app.api_get_with("/api/v1/audit", Some(API_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let acts: Vec<(String, String)> = body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("unknown", "sign_in_failed"),
        ("admin", "sign_in"),
        ("cli", "token_created"),
        ("cli", "token_revoked"),
        ("token:ci", "revoked_token_used"),
        ("admin", "csv_export"),
        ("U0BOB", "permission_refused"),
        ("U0VILLAIN", "villains_named"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(acts, expected);
    let first = &body["entries"][0];
    assert_eq!(first["origin"], "127.0.0.1", "{first}");
    assert!(
        !body.to_string().contains(&token),
        "a token never reaches the trail"
    );
    // Scoped tokens may not read it; the CLI prints it.
    let reader = app.token("reader", &[Scope::Read]).await;
    let (status, _) = app.api_get_with("/api/v1/audit", Some(&reader)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let out = crate::process::cli(&app.db, &["audit", "--since", "2020-01-01"]);
    assert!(
        out.contains("revoked_token_used") && out.contains("villains_named"),
        "{out}"
    );
}

crate::on_both_backends!(each_act_is_recorded_and_read_by_the_operator_alone);
