//! PagerDuty's Events API v2: one `POST` per action to `paging.pagerduty_url`; the
//! routing key in the body authorises (the default one, or the team's).

use std::collections::BTreeMap;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use super::{exchange, Outgoing, PagerError};
use crate::domain::paging::{pagerduty_severity, PageAction};
use crate::domain::Team;
use crate::metrics::Metrics;

pub struct PagerDuty {
    pub http: reqwest::Client,
    pub url: String,
    /// `PAGERDUTY_ROUTING_KEY`, if set.
    pub routing_key: Option<SecretString>,
    /// Each team's own routing key.
    pub teams: BTreeMap<Team, SecretString>,
    pub metrics: Option<Arc<Metrics>>,
}

impl PagerDuty {
    /// The routing key a page to `team` goes to.
    fn key_for(&self, team: Option<&Team>) -> Result<&SecretString, PagerError> {
        let key = match team {
            Some(team) => self.teams.get(team),
            None => self.routing_key.as_ref(),
        };
        key.ok_or_else(|| {
            PagerError::Refused(match team {
                Some(team) => {
                    format!("team {team} has no paging.teams.{team}.pagerduty_routing_key")
                }
                None => "PAGERDUTY_ROUTING_KEY is not set".into(),
            })
        })
    }

    pub async fn send(&self, action: PageAction, page: &Outgoing) -> Result<(), PagerError> {
        let key = self.key_for(page.team.as_ref())?;
        // An update is a trigger: PagerDuty folds it into the open alert of its key.
        let sent = match action {
            PageAction::Update => PageAction::Trigger,
            other => other,
        };
        let body = event(key.expose_secret(), sent, page);
        let method = match action {
            PageAction::Trigger => "trigger",
            PageAction::Update => "update",
            PageAction::Acknowledge => "acknowledge",
            PageAction::Resolve => "resolve",
        };
        let request = self.http.post(&self.url).json(&body);
        exchange("pagerduty", method, self.metrics.as_ref(), request)
            .await
            .map(drop)
    }
}

impl PagerDuty {
    /// Whether PagerDuty takes an event with each routing key: a resolve of a key no
    /// alert has, which changes nothing. (PagerDuty does not say whether a well-formed
    /// key belongs to a service; a malformed one is refused.)
    pub async fn check(&self) -> Result<String, String> {
        let mut keys: Vec<(String, &SecretString)> = vec![];
        if let Some(key) = &self.routing_key {
            keys.push(("PAGERDUTY_ROUTING_KEY".into(), key));
        }
        for (team, key) in &self.teams {
            keys.push((format!("team {team}'s key"), key));
        }
        for (name, key) in &keys {
            let body = json!({
                "routing_key": key.expose_secret(),
                "event_action": "resolve",
                "dedup_key": "pompier-check",
            });
            let request = self.http.post(&self.url).json(&body);
            exchange("pagerduty", "check", self.metrics.as_ref(), request)
                .await
                .map_err(|e| format!("{name}: {e}"))?;
        }
        let names: Vec<&str> = keys.iter().map(|(n, _)| n.as_str()).collect();
        Ok(format!("events accepted with {}", names.join(", ")))
    }
}

/// The event PagerDuty receives.
fn event(routing_key: &str, action: PageAction, page: &Outgoing) -> Value {
    let mut event = json!({
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": page.key,
    });
    if action == PageAction::Trigger {
        let mut details: serde_json::Map<String, Value> = page
            .details
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(v.as_str())))
            .collect();
        if let Some(message) = &page.message {
            details.insert("message".into(), message.as_str().into());
        }
        event["payload"] = json!({
            "summary": crate::domain::paging::cut(&page.summary, 1024),
            "source": "pompier",
            "severity": pagerduty_severity(page.severity),
            "class": "incident",
            "group": page.team.as_ref().map(Team::as_str),
            "custom_details": details,
        });
        event["client"] = "pompier".into();
        event["links"] = page
            .links
            .iter()
            .map(|(href, text)| json!({"href": href, "text": text}))
            .collect();
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Severity;

    #[test]
    fn a_trigger_carries_the_page_and_an_acknowledge_only_its_key() {
        let page = Outgoing {
            key: "pompier-42".into(),
            summary: "[SEV1] #42 Checkout".into(),
            severity: Severity::Sev1,
            links: vec![("https://x/42".into(), "Incident #42".into())],
            details: vec![("status", "open".into())],
            message: None,
            team: None,
        };
        let trigger = event("k", PageAction::Trigger, &page);
        assert_eq!(trigger["event_action"], "trigger");
        assert_eq!(trigger["payload"]["severity"], "critical");
        assert_eq!(trigger["payload"]["source"], "pompier");
        assert_eq!(trigger["payload"]["custom_details"]["status"], "open");
        assert_eq!(trigger["links"][0]["href"], "https://x/42");
        let ack = event("k", PageAction::Acknowledge, &page);
        assert_eq!(
            ack,
            json!({"routing_key": "k", "event_action": "acknowledge", "dedup_key": "pompier-42"})
        );
    }
}
