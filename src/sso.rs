//! Single sign-on for the dashboard with OpenID Connect: the authorization code flow with
//! PKCE, through the `openidconnect` crate, which checks the ID token's signature
//! against the provider's keys, its `iss`, `aud`, `exp` and `nonce`. The provider's
//! discovery document and keys are read on the first sign-in, kept an hour, and read
//! again at once when a token is signed by a key they do not hold (the provider rotated
//! its keys). The browser keeps the sign-in's `state`, `nonce` and PKCE verifier in a
//! short-lived cookie, so a sign-in begun on one instance ends on any other.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

use crate::config::OidcSettings;

/// How long the provider's discovery document and keys are kept.
const KEEP_METADATA: Duration = Duration::from_secs(3600);
/// Every call to the provider within this.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The path the provider sends the browser back to.
pub const CALLBACK_PATH: &str = "/dashboard/sso/callback";

/// A sign-in under way, kept by the browser between the redirect and the callback.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pending {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    /// The page to return to.
    pub next: String,
}

/// Who the provider says signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Lower case.
    pub email: String,
    pub name: Option<String>,
    /// The groups claim's values, if the token has it.
    pub groups: Vec<String>,
}

/// Why a sign-in failed; said to the person and written to the audit trail. Never holds
/// a secret or a token.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error("the identity provider cannot be reached or answered wrongly: {0}")]
    Provider(String),
    #[error("the sign-in was refused: {0}")]
    Refused(String),
}

pub struct Sso {
    settings: OidcSettings,
    issuer: IssuerUrl,
    secret: Option<SecretString>,
    redirect: RedirectUrl,
    http: reqwest::Client,
    metadata: Mutex<Option<(Instant, Arc<CoreProviderMetadata>)>>,
}

impl Sso {
    /// Single sign-on with the provider of `settings`, returning to `public_url`.
    pub fn new(
        settings: &OidcSettings,
        issuer: &str,
        secret: Option<SecretString>,
        public_url: &str,
        ca_file: Option<&std::path::Path>,
    ) -> Result<Sso, String> {
        let issuer = IssuerUrl::new(issuer.to_owned()).map_err(|e| format!("oidc.issuer: {e}"))?;
        let redirect = RedirectUrl::new(format!(
            "{}{CALLBACK_PATH}",
            public_url.trim_end_matches('/')
        ))
        .map_err(|e| format!("public_url: {e}"))?;
        // No redirects: the provider's answers are read where discovery says they are.
        let http = crate::outbound::builder(CALL_TIMEOUT, ca_file)?
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        Ok(Sso {
            settings: settings.clone(),
            issuer,
            secret,
            redirect,
            http,
            metadata: Mutex::new(None),
        })
    }

    /// The provider's discovery document and keys: those kept, unless `fresh` or too old.
    async fn metadata(&self, fresh: bool) -> Result<Arc<CoreProviderMetadata>, SsoError> {
        let mut kept = self.metadata.lock().await;
        if let Some((at, metadata)) = kept.as_ref() {
            if !fresh && at.elapsed() < KEEP_METADATA {
                return Ok(metadata.clone());
            }
        }
        let metadata = CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(|e| {
                SsoError::Provider(format!("discovery: {}", crate::outbound::chain(&e)))
            })?;
        let metadata = Arc::new(metadata);
        *kept = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    fn client(
        &self,
        metadata: &CoreProviderMetadata,
    ) -> openidconnect::core::CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.settings.client_id.clone().unwrap_or_default()),
            self.secret
                .as_ref()
                .map(|s| ClientSecret::new(s.expose_secret().to_owned())),
        )
        .set_redirect_uri(self.redirect.clone())
    }

    /// Where to send the browser to sign in, and what it keeps until it comes back.
    pub async fn begin(&self, next: &str) -> Result<(String, Pending), SsoError> {
        let metadata = self.metadata(false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let client = self.client(&metadata);
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in self.settings.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        let pending = Pending {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
            next: next.to_owned(),
        };
        Ok((url.to_string(), pending))
    }

    /// The person who signed in, from the provider's `code` for sign-in `pending` (whose
    /// `state` the caller has checked): the code is exchanged with the PKCE verifier and
    /// the ID token verified.
    pub async fn finish(&self, code: &str, pending: &Pending) -> Result<Identity, SsoError> {
        let metadata = self.metadata(false).await?;
        let response = self
            .client(&metadata)
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| SsoError::Provider(format!("no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| {
                SsoError::Refused(format!(
                    "the code was not taken: {}",
                    crate::outbound::chain(&e)
                ))
            })?;
        let token = response
            .id_token()
            .ok_or_else(|| SsoError::Provider("no ID token in the answer".into()))?;
        let nonce = Nonce::new(pending.nonce.clone());
        let check = |metadata: &CoreProviderMetadata| {
            let client = self.client(metadata);
            let verifier = client.id_token_verifier();
            let claims = token.claims(&verifier, &nonce).cloned();
            claims
        };
        let claims = match check(&metadata) {
            // Signed by a key not yet known: the provider rotated its keys.
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(
                openidconnect::SignatureVerificationError::NoMatchingKey,
            )) => check(&*self.metadata(true).await?),
            other => other,
        }
        .map_err(|e| SsoError::Refused(format!("the ID token: {e}")))?;
        if claims.email_verified() == Some(false) {
            return Err(SsoError::Refused(
                "the identity provider says this email is not verified".into(),
            ));
        }
        let email = claims
            .email()
            .map(|e| e.as_str().to_owned())
            .or_else(|| {
                // Entra ID gives `preferred_username` (the UPN) when `email` is not set.
                claims
                    .preferred_username()
                    .map(|u| u.as_str().to_owned())
                    .filter(|u| u.contains('@'))
            })
            .ok_or_else(|| {
                SsoError::Refused(
                    "the ID token has no email: ask for the `email` scope (oidc.scopes)".into(),
                )
            })?
            .to_lowercase();
        let name = claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned());
        let groups = groups(&token.to_string(), &self.settings.groups_claim);
        Ok(Identity {
            email,
            name,
            groups,
        })
    }
}

/// The values of claim `claim` in a JWT whose signature was checked: a list of strings,
/// or one string.
fn groups(jwt: &str, claim: &str) -> Vec<String> {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap_or_default();
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload) else {
        return vec![];
    };
    let Ok(claims) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return vec![];
    };
    match &claims[claim] {
        serde_json::Value::Array(values) => values
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        serde_json::Value::String(one) => vec![one.clone()],
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_read_from_the_claim_named() {
        use base64::Engine;
        let jwt = |claims: serde_json::Value| {
            let body = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(serde_json::to_vec(&claims).unwrap());
            format!("e30.{body}.sig")
        };
        let token = jwt(serde_json::json!({"groups": ["sre", "payments"], "roles": "admin"}));
        assert_eq!(groups(&token, "groups"), ["sre", "payments"]);
        assert_eq!(groups(&token, "roles"), ["admin"]);
        assert!(groups(&token, "missing").is_empty());
        assert!(groups("not a jwt", "groups").is_empty());
    }
}
