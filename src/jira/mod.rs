//! Jira's REST API: Cloud's v3 (Basic `JIRA_USER:JIRA_API_TOKEN`, descriptions in
//! Atlassian Document Format, search at `/search/jql`) or Data Center's v2 (the token
//! as a Bearer personal access token, plain-text descriptions, `/search`). One client
//! with timeouts; the token never reaches an error or a log.

pub mod issue;

use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::outbound::{self, cause};
use crate::store::JiraIssue;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JiraError {
    #[error("Jira asks to slow down (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    #[error("Jira unreachable or failing: {0}")]
    Transient(String),
    #[error("{0}")]
    Refused(String),
}

enum Auth {
    Basic { user: String, token: SecretString },
    Bearer(SecretString),
}

pub struct JiraClient {
    http: reqwest::Client,
    base: String,
    auth: Auth,
    pub project: String,
    metrics: Option<Arc<Metrics>>,
}

/// The client the settings configure, if Jira is; `Err` names what is missing.
pub fn client(settings: &Settings) -> Result<Option<JiraClient>, String> {
    let j = &settings.jira;
    let Some(base) = &j.base_url else {
        return Ok(None);
    };
    let token = settings
        .secrets
        .jira_api_token
        .clone()
        .ok_or("JIRA_API_TOKEN is not set")?;
    let project = j
        .project_key
        .clone()
        .ok_or("jira.project_key (POMPIER_JIRA__PROJECT_KEY) is not set")?;
    let http = outbound::client(
        Duration::from_secs(j.timeout_secs),
        settings.ca_file.as_deref(),
    )?;
    Ok(Some(JiraClient {
        http,
        base: base.trim_end_matches('/').to_owned(),
        auth: match &j.user {
            Some(user) => Auth::Basic {
                user: user.clone(),
                token,
            },
            None => Auth::Bearer(token),
        },
        project,
        metrics: None,
    }))
}

impl JiraClient {
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> JiraClient {
        self.metrics = Some(metrics);
        self
    }

    /// Cloud (REST v3, Atlassian Document Format) or Data Center (REST v2).
    pub fn is_cloud(&self) -> bool {
        matches!(self.auth, Auth::Basic { .. })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let version = if self.is_cloud() { 3 } else { 2 };
        let url = format!("{}/rest/api/{version}{path}", self.base);
        let request = self.http.request(method, url);
        match &self.auth {
            Auth::Basic { user, token } => request.basic_auth(user, Some(token.expose_secret())),
            Auth::Bearer(token) => request.bearer_auth(token.expose_secret()),
        }
    }

    /// The address people open for issue `key`.
    pub fn browse(&self, key: &str) -> String {
        format!("{}/browse/{key}", self.base)
    }

    /// Makes an issue with `fields` (the project is added).
    pub async fn create(&self, mut fields: Value) -> Result<JiraIssue, JiraError> {
        fields["project"] = json!({"key": self.project});
        let request = self
            .request(reqwest::Method::POST, "/issue")
            .json(&json!({"fields": fields}));
        let made = self.send("create_issue", request).await?;
        let key = made["key"]
            .as_str()
            .ok_or_else(|| JiraError::Transient("Jira's answer has no issue key".into()))?;
        Ok(JiraIssue {
            key: key.to_owned(),
            url: self.browse(key),
        })
    }

    /// Issue `key` takes `fields`.
    pub async fn edit(&self, key: &str, fields: Value) -> Result<(), JiraError> {
        let request = self
            .request(reqwest::Method::PUT, &format!("/issue/{key}"))
            .json(&json!({ "fields": fields }));
        self.send("edit_issue", request).await.map(drop)
    }

    /// The issue of the project labelled `label`, if Jira's search shows one.
    pub async fn find(&self, label: &str) -> Result<Option<JiraIssue>, JiraError> {
        let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        let body = json!({
            "jql": format!("project = {} AND labels = {}", quote(&self.project), quote(label)),
            "fields": ["status"],
            "maxResults": 2,
        });
        // Cloud removed `/search` (410): its search is `/search/jql`.
        let path = if self.is_cloud() {
            "/search/jql"
        } else {
            "/search"
        };
        let request = self.request(reqwest::Method::POST, path).json(&body);
        let found = self.send("search", request).await?;
        Ok(found["issues"][0]["key"].as_str().map(|key| JiraIssue {
            key: key.to_owned(),
            url: self.browse(key),
        }))
    }

    /// The assignee field for the Jira user with `email`, if there is one: Cloud's
    /// `accountId`, Data Center's `name`.
    pub async fn assignee(&self, email: &str) -> Result<Option<Value>, JiraError> {
        let (param, id) = if self.is_cloud() {
            ("query", "accountId")
        } else {
            ("username", "name")
        };
        let request = self
            .request(reqwest::Method::GET, "/user/search")
            .query(&[(param, email)]);
        let users = self.send("user_search", request).await?;
        Ok(users
            .as_array()
            .into_iter()
            .flatten()
            .find(|u| {
                u["emailAddress"]
                    .as_str()
                    .is_none_or(|e| e.eq_ignore_ascii_case(email))
            })
            .and_then(|u| u[id].as_str())
            .map(|v| json!({ id: v })))
    }

    /// Whether the project can be read with these settings, in words.
    pub async fn check(&self) -> Result<String, String> {
        let request = self.request(reqwest::Method::GET, &format!("/project/{}", self.project));
        self.send("check", request)
            .await
            .map(|p| {
                format!(
                    "project {} ({}) can be read",
                    self.project,
                    p["name"].as_str().unwrap_or("?")
                )
            })
            .map_err(|e| e.to_string())
    }

    async fn send(
        &self,
        method: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<Value, JiraError> {
        let start = Instant::now();
        let result = self.exchange(request).await;
        if let Some(metrics) = &self.metrics {
            let error = result.as_ref().err().map(|e| match e {
                JiraError::RateLimited { .. } => "rate_limited",
                JiraError::Transient(_) => "transient",
                JiraError::Refused(_) => "refused",
            });
            metrics.call("jira", method, start.elapsed(), error);
        }
        result
    }

    async fn exchange(&self, request: reqwest::RequestBuilder) -> Result<Value, JiraError> {
        let response = request
            .send()
            .await
            .map_err(|e| JiraError::Transient(cause(e)))?;
        let status = response.status();
        let verdict = outbound::status(status, response.headers());
        let body: Value = response.json().await.unwrap_or(Value::Null);
        match verdict {
            outbound::Status::Success => Ok(body),
            outbound::Status::RateLimited(retry_after) => {
                Err(JiraError::RateLimited { retry_after })
            }
            outbound::Status::Transient(why) => Err(JiraError::Transient(why)),
            outbound::Status::Refused => Err(JiraError::Refused(refusal(status, &body))),
        }
    }
}

/// Whether `header` (`X-Hub-Signature: sha256=HEX`) is the HMAC-SHA256 of `body` with
/// `secret`, compared in constant time.
pub fn signed(secret: &SecretString, body: &[u8], header: Option<&str>) -> bool {
    use hmac::{Hmac, Mac};
    let Some(hex_digest) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(digest) = hex::decode(hex_digest) else {
        return false;
    };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(&digest).is_ok()
}

/// A Jira user's name as an actor's (`jira:Ana_Smith`): letters, digits, `-`, `_`, `.`.
pub fn actor_name(user: &Value) -> String {
    let said = ["displayName", "name", "accountId"]
        .iter()
        .find_map(|k| user[*k].as_str().filter(|s| !s.trim().is_empty()))
        .unwrap_or("webhook");
    let name: String = said
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    name
}

/// What a refusal means, in words: Jira's `errorMessages` and field `errors`.
fn refusal(status: reqwest::StatusCode, body: &Value) -> String {
    let mut said: Vec<String> = body["errorMessages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str().map(str::to_owned))
        .collect();
    if let Some(errors) = body["errors"].as_object() {
        said.extend(
            errors
                .iter()
                .map(|(field, why)| format!("{field}: {}", why.as_str().unwrap_or_default())),
        );
    }
    let hint = match status.as_u16() {
        401 => " (check JIRA_USER and JIRA_API_TOKEN)",
        403 => " (the account may not create issues in this project)",
        404 => " (check JIRA_BASE_URL and jira.project_key)",
        _ => "",
    };
    format!("Jira refused: HTTP {status} {}{hint}", said.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_signatures_match_the_reference_vectors() {
        let secret = SecretString::from("pompier-test-secret");
        let body = br#"{"webhookEvent":"jira:issue_updated","issue":{"key":"OPS-12","fields":{"status":{"name":"Done","statusCategory":{"key":"done"}}}}}"#;
        let good = "sha256=bc2f2b502d47cf4cefc137139304d6ef1a3c882cfd5f3df1248a0bbf1809171a";
        assert!(signed(&secret, body, Some(good)));
        assert!(!signed(&secret, b"{}", Some(good)));
        assert!(!signed(&secret, body, None));
        assert!(!signed(&secret, body, Some("bc2f2b50")));
        assert!(!signed(&secret, body, Some("sha256=zz")));
        let github = SecretString::from("It's a Secret to Everybody");
        assert!(signed(
            &github,
            b"Hello, World!",
            Some("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
        ));
    }

    #[test]
    fn a_jira_user_becomes_an_actor_name() {
        assert_eq!(
            actor_name(&json!({"displayName": "Ana Smith"})),
            "Ana_Smith"
        );
        assert_eq!(actor_name(&json!({"accountId": "5b10a"})), "5b10a");
        assert_eq!(actor_name(&json!(null)), "webhook");
        let actor: crate::domain::Actor =
            format!("jira:{}", actor_name(&json!({"displayName": "Zoë <x>"})))
                .parse()
                .unwrap();
        assert_eq!(actor.to_string(), "jira:Zo___x_");
    }
}
