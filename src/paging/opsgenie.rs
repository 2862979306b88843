//! Opsgenie's Alert API v2: create an alert under its alias, acknowledge and close it by
//! alias (`identifierType=alias`: without it the alias is taken for an alert id and the
//! 202 hides the failure). `GenieKey` auth; EU accounts set `paging.opsgenie_url`.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use super::{exchange, Outgoing, PagerError};
use crate::domain::paging::{cut, opsgenie_priority, PageAction};
use crate::metrics::Metrics;

pub struct Opsgenie {
    pub http: reqwest::Client,
    pub url: String,
    pub key: SecretString,
    /// Each team's Opsgenie team, by our team name.
    pub teams: std::collections::BTreeMap<crate::domain::Team, String>,
    pub metrics: Option<Arc<Metrics>>,
}

impl Opsgenie {
    pub async fn send(&self, action: PageAction, page: &Outgoing) -> Result<(), PagerError> {
        let (method, url, body) = match action {
            PageAction::Trigger => ("create", self.url(&[])?, self.alert(page)),
            PageAction::Acknowledge => (
                "acknowledge",
                self.url(&[&page.key, "acknowledge"])?,
                json!({"source": "pompier"}),
            ),
            PageAction::Resolve => (
                "close",
                self.url(&[&page.key, "close"])?,
                json!({"source": "pompier"}),
            ),
            PageAction::Update => (
                "update_message",
                self.url(&[&page.key, "message"])?,
                json!({"message": cut(&page.summary, 130)}),
            ),
        };
        let method_of = if action == PageAction::Update {
            reqwest::Method::PUT
        } else {
            reqwest::Method::POST
        };
        let request = self
            .http
            .request(method_of, url)
            .header(
                reqwest::header::AUTHORIZATION,
                format!("GenieKey {}", self.key.expose_secret()),
            )
            .json(&body);
        exchange("opsgenie", method, self.metrics.as_ref(), request)
            .await
            .map(drop)
    }

    /// Whether Opsgenie takes the key: a list of one alert. A key without read rights
    /// (403) still pages.
    pub async fn check(&self) -> Result<String, String> {
        let mut url = self.url(&[]).map_err(|e| e.to_string())?;
        url.set_query(Some("limit=1"));
        let request = self.http.get(url).header(
            reqwest::header::AUTHORIZATION,
            format!("GenieKey {}", self.key.expose_secret()),
        );
        match exchange("opsgenie", "check", self.metrics.as_ref(), request).await {
            Ok(_) => Ok("the API key is accepted".into()),
            Err(PagerError::Refused(why)) if why.contains("HTTP 403") => {
                Ok("the API key is accepted (it may not read alerts; it may create them)".into())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// `/v2/alerts[/ALIAS/ACTION?identifierType=alias]`, the alias encoded.
    fn url(&self, tail: &[&str]) -> Result<reqwest::Url, PagerError> {
        let mut url = reqwest::Url::parse(&format!("{}/v2/alerts", self.url.trim_end_matches('/')))
            .map_err(|e| PagerError::Refused(format!("paging.opsgenie_url: {e}")))?;
        if !tail.is_empty() {
            url.path_segments_mut()
                .map_err(|()| PagerError::Refused("paging.opsgenie_url: not a base".into()))?
                .extend(tail);
            url.set_query(Some("identifierType=alias"));
        }
        Ok(url)
    }

    /// The alert Opsgenie creates.
    fn alert(&self, page: &Outgoing) -> Value {
        let mut description: Vec<String> = page
            .links
            .iter()
            .map(|(href, text)| format!("{text}: {href}"))
            .collect();
        if let Some(message) = &page.message {
            description.insert(0, message.clone());
        }
        let details: serde_json::Map<String, Value> = page
            .details
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(v.as_str())))
            .collect();
        let mut alert = json!({
            "message": cut(&page.summary, 130),
            "alias": page.key,
            "description": description.join("\n"),
            "priority": opsgenie_priority(page.severity),
            "source": "pompier",
            "tags": ["pompier", page.severity.as_str()],
            "details": details,
        });
        if let Some(team) = page.team.as_ref().and_then(|t| self.teams.get(t)) {
            alert["responders"] = json!([{"type": "team", "name": team}]);
        }
        alert
    }
}
