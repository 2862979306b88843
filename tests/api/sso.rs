//! Single sign-on through a fake OpenID provider on a real HTTP server: the whole
//! authorization code flow with PKCE, every way a sign-in must fail, a key rotation, the
//! roles `[auth]` gives, and a private incident shown to its members only.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;

use crate::fake_oidc::{FakeIdp, Flaw, Person};
use crate::helpers::{spawn_app_with, Backend, TestApp};

/// A browser that follows no redirect by itself, so each step is seen.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `name=value` of the cookie `name` a response sets, if any.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

fn location(response: &reqwest::Response) -> String {
    response.headers()[LOCATION].to_str().unwrap().to_owned()
}

/// What came back to pompier from the provider.
struct Back {
    status: StatusCode,
    /// `pompier_session=…`, when a session opened.
    session: Option<String>,
    /// Whether the sign-in under way was ended.
    pending_cleared: bool,
    body: String,
}

/// Begins a sign-in at pompier: where the provider is, and the pending cookie.
async fn begin(app: &TestApp, next: &str) -> (String, String) {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("next", next)
        .finish();
    let response = browser()
        .get(app.url(&format!("/dashboard/sso?{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let pending = set_cookie(&response, "pompier_sso").expect("a pending sign-in cookie");
    (location(&response), pending)
}

/// Signs in at the provider: the address it sends the browser back to.
async fn at_provider(url: &str) -> String {
    let response = browser().get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{url}");
    location(&response)
}

/// Back at pompier with `callback`, carrying `pending`.
async fn back(callback: &str, pending: Option<&str>) -> Back {
    let mut request = browser().get(callback);
    if let Some(pending) = pending {
        request = request.header(COOKIE, pending);
    }
    let response = request.send().await.unwrap();
    let pending_cleared = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .any(|v| v.to_str().unwrap().starts_with("pompier_sso=;"));
    Back {
        status: response.status(),
        session: set_cookie(&response, "pompier_session"),
        pending_cleared,
        body: response.text().await.unwrap(),
    }
}

/// The whole sign-in of the provider's next person.
async fn sign_in(app: &TestApp, next: &str) -> Back {
    let (idp, pending) = begin(app, next).await;
    let callback = at_provider(&idp).await;
    back(&callback, Some(&pending)).await
}

async fn get_with(app: &TestApp, path: &str, session: &str) -> reqwest::Response {
    browser()
        .get(app.url(path))
        .header(COOKIE, session)
        .send()
        .await
        .unwrap()
}

async fn app_with(backend: Backend, idp: &FakeIdp, extra: &[(&str, &str)]) -> TestApp {
    let mut env = idp.env();
    env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_app_with(backend, &env).await
}

async fn a_person_signs_in_through_the_provider_and_lands_where_they_asked(backend: Backend) {
    let idp = FakeIdp::start().await;
    let app = app_with(backend, &idp, &[]).await;
    let id = app.declare("sev2 Checkout errors").await;

    // The sign-in page offers the provider.
    let page = app
        .client
        .get(app.url("/dashboard/login?next=/gameday/1"))
        .send()
        .await
        .unwrap();
    let page = page.text().await.unwrap().replace("&#x2f;", "/");
    assert!(page.contains("Sign in with single sign-on"), "{page}");
    assert!(
        page.contains("/dashboard/sso?next=%2Fgameday%2F1"),
        "{page}"
    );

    // Off to the provider with PKCE, a state and a nonce.
    let next = format!("/dashboard/incidents/{id}");
    let (idp_url, pending) = begin(&app, &next).await;
    assert!(
        idp_url.starts_with(&format!("{}/authorize?", idp.url)),
        "{idp_url}"
    );
    for part in [
        "code_challenge=",
        "code_challenge_method=S256",
        "state=",
        "nonce=",
        "scope=openid",
    ] {
        assert!(idp_url.contains(part), "{part} in {idp_url}");
    }
    let callback = at_provider(&idp_url).await;
    assert!(
        callback.starts_with(&format!("{}/dashboard/sso/callback?", app.address)),
        "{callback}"
    );
    let signed = back(&callback, Some(&pending)).await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.body);
    assert!(signed.pending_cleared, "the sign-in under way ends");
    // A page that moves on to where they asked (a redirect would lose the Strict cookie).
    let body = signed.body.replace("&#x2f;", "/");
    assert!(
        body.contains(&format!("http-equiv=\"refresh\" content=\"0; url={next}\""))
            && body.contains("Person u0ann@acme.test"),
        "{}",
        signed.body
    );
    let session = signed.session.expect("a session");
    let page = get_with(&app, &next, &session).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Checkout errors"));
    assert_eq!(idp.tokens_issued(), 1);

    // Audited with who and from where.
    let trail = app.audit_trail().await;
    assert!(
        trail.contains(&(
            "sso:u0ann@acme.test".into(),
            "sign_in".into(),
            "dashboard via sso as viewer".into()
        )),
        "{trail:?}"
    );

    // Sign-out ends it.
    let out = browser()
        .post(app.url("/dashboard/logout"))
        .header(COOKIE, &session)
        .header("origin", app.address.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let after = get_with(&app, "/dashboard", &session).await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER, "the session is over");
}

async fn every_bad_sign_in_opens_no_session(backend: Backend) {
    let idp = FakeIdp::start().await;
    let app = app_with(backend, &idp, &[]).await;
    let refused = |back: &Back, why: &str| {
        assert!(
            back.status.is_client_error(),
            "{why}: {} {}",
            back.status,
            back.body
        );
        assert!(back.session.is_none(), "{why}: no session");
        assert!(back.body.contains("Not signed in"), "{why}: {}", back.body);
    };

    // A state that is not the browser's (a forged callback, or login CSRF).
    let (idp_url, pending) = begin(&app, "/dashboard").await;
    let callback = at_provider(&idp_url).await;
    let state = form_urlencoded::parse(callback.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let forged = callback.replace(&format!("state={state}"), "state=forged");
    let b = back(&forged, Some(&pending)).await;
    refused(&b, "bad state");
    assert!(b.body.contains("state does not match"), "{}", b.body);
    // No pending sign-in in this browser at all.
    refused(&back(&callback, None).await, "no pending cookie");
    assert_eq!(idp.tokens_issued(), 0, "neither reached the token endpoint");
    // The right one works once; the same code again does not.
    assert!(back(&callback, Some(&pending)).await.session.is_some());
    refused(&back(&callback, Some(&pending)).await, "a code used twice");

    // Tokens the provider gets wrong.
    for (flaw, said) in [
        (Flaw::WrongNonce, "nonce"),
        (Flaw::Expired, "Expired"),
        (Flaw::OtherAudience, "audiences"),
        (Flaw::UnknownKey, "Signature"),
    ] {
        idp.flaw(Some(flaw));
        let b = sign_in(&app, "/dashboard").await;
        refused(&b, said);
        assert!(b.body.contains(said), "{flaw:?}: {}", b.body);
    }
    idp.flaw(None);
    let mut unverified = Person::new("u0ann@acme.test");
    unverified.email_verified = false;
    idp.next_person(unverified);
    let b = sign_in(&app, "/dashboard").await;
    refused(&b, "unverified email");
    assert!(b.body.contains("not verified"), "{}", b.body);

    // The provider says no.
    let denied = format!(
        "{}/dashboard/sso/callback?error=access_denied&state=x",
        app.address
    );
    let b = back(&denied, Some(&pending)).await;
    refused(&b, "access_denied");
    assert!(b.body.contains("access_denied"), "{}", b.body);

    let failures = app
        .audit_trail()
        .await
        .into_iter()
        .filter(|(_, action, _)| action == "sign_in_failed")
        .count();
    assert_eq!(failures, 9, "each failure is audited");
    // No secret or token in what the person is shown.
    assert!(!b.body.contains(crate::fake_oidc::CLIENT_SECRET));
}

async fn a_rotated_key_is_read_again_once(backend: Backend) {
    let idp = FakeIdp::start().await;
    let app = app_with(backend, &idp, &[]).await;
    assert!(sign_in(&app, "/dashboard").await.session.is_some());
    assert!(sign_in(&app, "/dashboard").await.session.is_some());
    assert_eq!(idp.discoveries(), 1, "discovery and keys are kept");
    idp.rotate();
    let b = sign_in(&app, "/dashboard").await;
    assert!(
        b.session.is_some(),
        "a token signed by the new key: {}",
        b.body
    );
    assert_eq!(idp.discoveries(), 2, "read again once, on the unknown key");
    assert!(sign_in(&app, "/dashboard").await.session.is_some());
    assert_eq!(idp.discoveries(), 2);
}

async fn roles_decide_the_export_and_the_audit_trail(backend: Backend) {
    let idp = FakeIdp::start().await;
    let app = app_with(
        backend,
        &idp,
        &[
            ("POMPIER_AUTH__VIEWERS", "[\"@acme.test\"]"),
            ("POMPIER_AUTH__RESPONDERS", "[\"sre\"]"),
            ("POMPIER_AUTH__ADMINS", "[\"u0boss@acme.test\"]"),
        ],
    )
    .await;
    app.declare("sev2 Checkout errors").await;

    idp.next_person(Person::new("u0view@acme.test"));
    let viewer = sign_in(&app, "/dashboard").await.session.unwrap();
    let board = get_with(&app, "/dashboard", &viewer)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        board.contains("Checkout errors") && !board.contains("Export CSV"),
        "{board}"
    );
    let csv = get_with(&app, "/dashboard/incidents.csv", &viewer).await;
    assert_eq!(csv.status(), StatusCode::FORBIDDEN);
    let said = csv.text().await.unwrap();
    assert!(said.contains("auth.responders"), "{said}");
    assert_eq!(
        get_with(&app, "/dashboard/audit", &viewer).await.status(),
        StatusCode::FORBIDDEN
    );

    idp.next_person(Person::new("u0carl@acme.test").in_groups(&["sre", "payments"]));
    let responder = sign_in(&app, "/dashboard").await.session.unwrap();
    let csv = get_with(&app, "/dashboard/incidents.csv", &responder).await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.text().await.unwrap().contains("Checkout errors"));
    assert_eq!(
        get_with(&app, "/dashboard/audit", &responder)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );

    idp.next_person(Person::new("U0Boss@Acme.test"));
    let admin = sign_in(&app, "/dashboard").await.session.unwrap();
    let board = get_with(&app, "/dashboard", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(board.contains("Export CSV") && board.contains("/dashboard/audit"));
    let trail = get_with(&app, "/dashboard/audit", &admin).await;
    assert_eq!(trail.status(), StatusCode::OK);
    let trail = trail.text().await.unwrap();
    for seen in [
        "sso:u0carl@acme.test",
        "csv_export",
        "permission_refused",
        "dashboard via sso as admin",
    ] {
        assert!(trail.contains(seen), "{seen} in {trail}");
    }

    // Someone of another company is not let in.
    idp.next_person(Person::new("eve@evil.test"));
    let b = sign_in(&app, "/dashboard").await;
    assert_eq!(b.status, StatusCode::FORBIDDEN);
    assert!(
        b.session.is_none() && b.body.contains("auth.viewers"),
        "{}",
        b.body
    );
}

async fn a_private_incident_shows_to_its_members_only(backend: Backend) {
    const SECRET: &str = "Payroll export leaked";
    let idp = FakeIdp::start().await;
    let app = app_with(
        backend,
        &idp,
        &[("POMPIER_AUTH__RESPONDERS", "[\"@acme.test\"]")],
    )
    .await;
    // U0456 declares it; the fake Slack knows u0456@acme.test as U0456.
    app.slash_as("U0456", "C0GENERAL", &format!("open private sev1 {SECRET}"))
        .await;
    let page = "/dashboard/incidents/1";

    idp.next_person(Person::new("u0456@acme.test"));
    let member = sign_in(&app, "/dashboard").await.session.unwrap();
    for path in [page, "/dashboard"] {
        let seen = get_with(&app, path, &member).await.text().await.unwrap();
        assert!(seen.contains(SECRET), "a member sees it on {path}");
    }

    // A responder who is not a member, and someone Slack does not know.
    idp.next_person(Person::new("u0carl@acme.test"));
    let other = sign_in(&app, "/dashboard").await.session.unwrap();
    idp.next_person(Person::new("ghost@acme.test"));
    let unknown = sign_in(&app, "/dashboard").await.session.unwrap();
    for session in [&other, &unknown] {
        for path in [page, "/dashboard"] {
            let seen = get_with(&app, path, session).await;
            assert_eq!(seen.status(), StatusCode::OK);
            assert!(!seen.text().await.unwrap().contains("Payroll"), "{path}");
        }
    }
    // Joining its channel makes them a member, as in Slack.
    app.store
        .add_participant(
            pompier::domain::IncidentId(1),
            &"U0CARL".parse().unwrap(),
            pompier::now(),
        )
        .await
        .unwrap();
    let seen = get_with(&app, page, &other).await.text().await.unwrap();
    assert!(seen.contains(SECRET));
}

async fn viewers_alone_may_be_held_to_the_provider(backend: Backend) {
    let idp = FakeIdp::start().await;
    let app = app_with(backend, &idp, &[("POMPIER_AUTH__TOKEN_LOGIN", "false")]).await;
    let form = app
        .client
        .get(app.url("/dashboard/login"))
        .send()
        .await
        .unwrap();
    let form = form.text().await.unwrap();
    assert!(
        form.contains("id=\"sso\"") && !form.contains("id=\"token\""),
        "{form}"
    );
    let posted = browser()
        .post(app.url("/dashboard/login"))
        .header("origin", app.address.clone())
        .form(&[("token", crate::helpers::API_TOKEN), ("next", "/dashboard")])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&posted, "pompier_session").is_none());
}

async fn a_provider_that_cannot_be_reached_is_said(backend: Backend) {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = spawn_app_with(
        backend,
        &[
            ("POMPIER_OIDC_ISSUER", issuer.as_str()),
            ("POMPIER_OIDC_CLIENT_ID", "pompier"),
            ("POMPIER_PUBLIC_URL", "{address}"),
        ],
    )
    .await;
    let response = browser()
        .get(app.url("/dashboard/sso?next=/dashboard"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let page = response.text().await.unwrap();
    assert!(page.contains("cannot be reached"), "{page}");
    // The token form is still there for whoever holds one.
    assert!(page.contains("id=\"token\""));
}

crate::on_both_backends!(
    a_person_signs_in_through_the_provider_and_lands_where_they_asked,
    every_bad_sign_in_opens_no_session,
    a_rotated_key_is_read_again_once,
    roles_decide_the_export_and_the_audit_trail,
    a_private_incident_shows_to_its_members_only,
    viewers_alone_may_be_held_to_the_provider,
    a_provider_that_cannot_be_reached_is_said
);

#[test]
fn single_sign_on_settings_are_checked() {
    use pompier::config::Settings;
    let load = |pairs: &[(&str, &str)]| {
        let mut env = vec![("DATABASE_URL".to_owned(), "sqlite://x.db".to_owned())];
        env.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Settings::load(None, env)
    };
    let error = |pairs: &[(&str, &str)]| load(pairs).unwrap_err().to_string();
    let issuer = ("POMPIER_OIDC_ISSUER", "https://acme.okta.com");
    let id = ("POMPIER_OIDC_CLIENT_ID", "0oa1");
    let public = ("POMPIER_PUBLIC_URL", "https://pompier.acme.com");
    assert!(error(&[issuer, public]).contains("POMPIER_OIDC_CLIENT_ID"));
    assert!(error(&[issuer, id]).contains("POMPIER_PUBLIC_URL"));
    assert!(
        error(&[("POMPIER_OIDC_ISSUER", "http://acme.okta.com"), id, public]).contains("https")
    );
    let fine = load(&[issuer, id, public, ("POMPIER_OIDC_CLIENT_SECRET", "s3cret")]).unwrap();
    assert!(
        !format!("{:?}", fine.secrets).contains("s3cret"),
        "the secret is redacted"
    );
    assert_eq!(
        fine.auth.of("anyone@acme.com", &[]),
        Some(pompier::domain::roles::Role::Viewer)
    );
}
