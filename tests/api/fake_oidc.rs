//! A fake OpenID Connect provider on a real HTTP server, as Okta or Keycloak behave:
//! discovery, a JWKS of the keys it signs with (rotated on cue: the old key leaves the
//! set), an authorization endpoint that sends the browser straight back with a code, and
//! a token endpoint that checks the client's secret, the code (once), the redirect URI
//! and the PKCE verifier before it answers with an RS256 ID token. On cue it signs a
//! token with a wrong nonce, already expired, for another audience, or without a
//! verified email.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use openidconnect::core::{
    CoreGenderClaim, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreRsaPrivateSigningKey,
};
use openidconnect::{
    AdditionalClaims, Audience, EndUserEmail, EndUserName, IdToken, IdTokenClaims, IssuerUrl,
    JsonWebKeyId, LocalizedClaim, Nonce, PrivateSigningKey, StandardClaims, SubjectIdentifier,
};
use serde_json::json;
use sha2::Digest;

pub const CLIENT_ID: &str = "pompier-dashboard";
pub const CLIENT_SECRET: &str = "oidc-test-secret";
const KEYS: [&str; 2] = [
    include_str!("../fixtures/oidc-key-1.pem"),
    include_str!("../fixtures/oidc-key-2.pem"),
];

/// Who signs in next.
#[derive(Debug, Clone)]
pub struct Person {
    pub email: String,
    pub name: String,
    pub groups: Vec<String>,
    pub email_verified: bool,
}

impl Person {
    pub fn new(email: &str) -> Person {
        Person {
            email: email.into(),
            name: format!("Person {email}"),
            groups: vec![],
            email_verified: true,
        }
    }

    pub fn in_groups(mut self, groups: &[&str]) -> Person {
        self.groups = groups.iter().map(|g| g.to_string()).collect();
        self
    }
}

/// What the next token gets wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    WrongNonce,
    Expired,
    OtherAudience,
    /// Signed with a key not in its JWKS.
    UnknownKey,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Groups {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    groups: Vec<String>,
}

impl AdditionalClaims for Groups {}

struct Grant {
    person: Person,
    nonce: String,
    challenge: String,
    redirect_uri: String,
}

struct Inner {
    /// The key it signs with: an index into `KEYS`.
    signing: usize,
    person: Person,
    flaw: Option<Flaw>,
    grants: HashMap<String, Grant>,
    discoveries: usize,
    tokens_issued: usize,
}

#[derive(Clone)]
pub struct FakeIdp {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

fn signing_key(index: usize) -> CoreRsaPrivateSigningKey {
    CoreRsaPrivateSigningKey::from_pem(KEYS[index], Some(JsonWebKeyId::new(format!("key-{index}"))))
        .expect("a test key")
}

impl FakeIdp {
    pub async fn start() -> FakeIdp {
        FakeIdp::start_at("127.0.0.1").await
    }

    /// Listening on 127.0.0.1, named `host` in its URLs (`localhost`: a site of its own
    /// to a browser that has pompier at `127.0.0.1`).
    pub async fn start_at(host: &str) -> FakeIdp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("http://{host}:{port}");
        let idp = FakeIdp {
            url,
            inner: Arc::new(Mutex::new(Inner {
                signing: 0,
                person: Person::new("u0ann@acme.test"),
                flaw: None,
                grants: HashMap::new(),
                discoveries: 0,
                tokens_issued: 0,
            })),
        };
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(idp.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        idp
    }

    /// pompier's settings for this provider.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("POMPIER_OIDC_ISSUER", self.url.clone()),
            ("POMPIER_OIDC_CLIENT_ID", CLIENT_ID.into()),
            ("POMPIER_OIDC_CLIENT_SECRET", CLIENT_SECRET.into()),
            ("POMPIER_PUBLIC_URL", "{address}".into()),
        ]
    }

    /// The next person to sign in.
    pub fn next_person(&self, person: Person) {
        self.inner.lock().unwrap().person = person;
    }

    pub fn flaw(&self, flaw: Option<Flaw>) {
        self.inner.lock().unwrap().flaw = flaw;
    }

    /// Signs with its other key from now on; only that key is in its JWKS.
    pub fn rotate(&self) {
        let mut inner = self.inner.lock().unwrap();
        inner.signing = 1 - inner.signing;
    }

    pub fn discoveries(&self) -> usize {
        self.inner.lock().unwrap().discoveries
    }

    pub fn tokens_issued(&self) -> usize {
        self.inner.lock().unwrap().tokens_issued
    }
}

async fn discovery(State(idp): State<FakeIdp>) -> Json<serde_json::Value> {
    idp.inner.lock().unwrap().discoveries += 1;
    let url = &idp.url;
    Json(json!({
        "issuer": url,
        "authorization_endpoint": format!("{url}/authorize"),
        "token_endpoint": format!("{url}/token"),
        "jwks_uri": format!("{url}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "scopes_supported": ["openid", "email", "profile", "groups"],
    }))
}

async fn jwks(State(idp): State<FakeIdp>) -> Json<CoreJsonWebKeySet> {
    let signing = idp.inner.lock().unwrap().signing;
    Json(CoreJsonWebKeySet::new(vec![
        signing_key(signing).as_verification_key()
    ]))
}

fn refuse(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({ "error": error }))).into_response()
}

async fn authorize(
    State(idp): State<FakeIdp>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let scopes = get("scope");
    if get("client_id") != CLIENT_ID
        || get("response_type") != "code"
        || get("code_challenge_method") != "S256"
        || get("code_challenge").is_empty()
        || !scopes.split(' ').any(|s| s == "openid")
    {
        return refuse(StatusCode::BAD_REQUEST, "invalid_request");
    }
    let code = format!("code-{}", uuid::Uuid::new_v4());
    let redirect_uri = get("redirect_uri");
    let mut inner = idp.inner.lock().unwrap();
    let person = inner.person.clone();
    inner.grants.insert(
        code.clone(),
        Grant {
            person,
            nonce: get("nonce"),
            challenge: get("code_challenge"),
            redirect_uri: redirect_uri.clone(),
        },
    );
    let back = format!(
        "{redirect_uri}?{}",
        form_urlencoded::Serializer::new(String::new())
            .append_pair("code", &code)
            .append_pair("state", &get("state"))
            .finish()
    );
    // A browser gets the provider's own page and leaves it with a click, as at a real
    // provider (so its way back starts on another site); a script goes straight back.
    let browser = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if browser {
        let back = back.replace('&', "&amp;").replace('"', "&quot;");
        return axum::response::Html(format!(
            "<!doctype html><title>Acme sign-in</title><a id=\"consent\" href=\"{back}\">Continue</a>"
        ))
        .into_response();
    }
    Redirect::to(&back).into_response()
}

async fn token(
    State(idp): State<FakeIdp>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(&expected)
    {
        return refuse(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let mut inner = idp.inner.lock().unwrap();
    // A code is good once.
    let Some(grant) = inner.grants.remove(&get("code")) else {
        return refuse(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(get("code_verifier").as_bytes()));
    if get("grant_type") != "authorization_code"
        || get("redirect_uri") != grant.redirect_uri
        || challenge != grant.challenge
    {
        return refuse(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let flaw = inner.flaw;
    let now = chrono::Utc::now();
    let (issued, expires) = match flaw {
        Some(Flaw::Expired) => (
            now - chrono::Duration::hours(2),
            now - chrono::Duration::hours(1),
        ),
        _ => (now, now + chrono::Duration::minutes(5)),
    };
    let audience = match flaw {
        Some(Flaw::OtherAudience) => "another-app",
        _ => CLIENT_ID,
    };
    let nonce = match flaw {
        Some(Flaw::WrongNonce) => "not-the-nonce".to_owned(),
        _ => grant.nonce,
    };
    let person = grant.person;
    let mut name = LocalizedClaim::new();
    name.insert(None, EndUserName::new(person.name.clone()));
    let claims = IdTokenClaims::new(
        IssuerUrl::new(idp.url.clone()).unwrap(),
        vec![Audience::new(audience.into())],
        expires,
        issued,
        StandardClaims::new(SubjectIdentifier::new(format!("sub-{}", person.email)))
            .set_email(Some(EndUserEmail::new(person.email.clone())))
            .set_email_verified(Some(person.email_verified))
            .set_name(Some(name)),
        Groups {
            groups: person.groups.clone(),
        },
    )
    .set_nonce(Some(Nonce::new(nonce)));
    let key = match flaw {
        Some(Flaw::UnknownKey) => signing_key(1 - inner.signing),
        _ => signing_key(inner.signing),
    };
    let id_token = IdToken::<
        Groups,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >::new(
        claims,
        &key,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        None,
        None,
    )
    .expect("a signed token");
    inner.tokens_issued += 1;
    Json(json!({
        "access_token": format!("at-{}", uuid::Uuid::new_v4()),
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token.to_string(),
    }))
    .into_response()
}
