//! Who is on call: PagerDuty's REST API (`GET /oncalls`, with `PAGERDUTY_API_TOKEN`), the
//! first level of an escalation policy, by email, for the teams' invitations.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::outbound::{self, cause};

pub struct OnCall {
    http: reqwest::Client,
    url: String,
    token: SecretString,
}

impl OnCall {
    pub fn new(url: &str, token: SecretString, timeout: Duration) -> Result<OnCall, String> {
        Ok(OnCall {
            http: outbound::client(timeout, None)?,
            url: url.trim_end_matches('/').to_owned(),
            token,
        })
    }

    /// The emails of who is on call now at the first level of escalation policy `policy`.
    pub async fn first_level(&self, policy: &str) -> Result<Vec<String>, String> {
        let response = self
            .http
            .get(format!("{}/oncalls", self.url))
            .header(
                "Authorization",
                format!("Token token={}", self.token.expose_secret()),
            )
            .header("Accept", "application/vnd.pagerduty+json;version=2")
            .query(&[
                ("escalation_policy_ids[]", policy),
                ("include[]", "users"),
                ("earliest", "true"),
            ])
            .send()
            .await
            .map_err(|e| format!("PagerDuty unreachable: {}", cause(e)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("PagerDuty answered HTTP {status}"));
        }
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|e| format!("PagerDuty's answer is not JSON: {}", cause(e)))?;
        let mut emails: Vec<String> = body["oncalls"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|o| o["escalation_level"] == 1)
            .filter_map(|o| o["user"]["email"].as_str().map(str::to_owned))
            .collect();
        emails.sort();
        emails.dedup();
        Ok(emails)
    }
}
