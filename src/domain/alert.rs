//! Alerts from monitoring: a group of alerts under one dedup key, cleaned of what an
//! untrusted sender may put in it, and the rules that make an incident of it (severity,
//! title, routes). Pure: the payloads are parsed at the edge, stored by the store.

use std::collections::BTreeMap;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::incident::{clean_text, MAX_TITLE_CHARS};
use super::Severity;

/// Longest dedup key kept as it is; a longer one is kept as its SHA-256.
pub const MAX_KEY_CHARS: usize = 512;
/// Longest label or annotation value kept; longer ones are cut.
pub const MAX_VALUE_CHARS: usize = 1024;
/// Alerts named in one timeline entry; the rest are counted.
const NAMED: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertStatus {
    Firing,
    Resolved,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<AlertStatus> {
        match s {
            "firing" => Some(AlertStatus::Firing),
            "resolved" => Some(AlertStatus::Resolved),
            _ => None,
        }
    }
}

/// One alert of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// The sender's id of the alert (Alertmanager's `fingerprint`), else one made of its
    /// labels.
    pub fingerprint: String,
    pub status: AlertStatus,
    /// What it is called: its `alertname` label, else its summary.
    pub name: String,
}

/// What monitoring sent about one dedup key, cleaned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertGroup {
    /// `alertmanager`, `grafana`, or the generic payload's `source`: an actor name.
    pub source: String,
    pub dedup_key: String,
    pub status: AlertStatus,
    /// The sender's own title and severity, when it gave them.
    pub title: Option<String>,
    pub severity: Option<Severity>,
    /// Labels and annotations common to the group.
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// Where to see it (Alertmanager's `generatorURL`, the generic `url`).
    pub url: Option<String>,
    pub alerts: Vec<Alert>,
}

/// A dedup key as it is kept: itself, or its SHA-256 when longer than `MAX_KEY_CHARS`.
pub fn dedup_key(raw: &str) -> String {
    if raw.chars().count() <= MAX_KEY_CHARS && clean_text(raw, MAX_KEY_CHARS) == raw {
        raw.to_owned()
    } else {
        format!("sha256:{}", hex::encode(Sha256::digest(raw.as_bytes())))
    }
}

/// A fingerprint made of an alert's labels, for senders that give none.
pub fn fingerprint_of(labels: &BTreeMap<String, String>) -> String {
    let mut hash = Sha256::new();
    for (k, v) in labels {
        hash.update(k.as_bytes());
        hash.update([0]);
        hash.update(v.as_bytes());
        hash.update([0]);
    }
    hex::encode(&hash.finalize()[..8])
}

impl AlertGroup {
    /// What a repeat has in common with the post before it: the group's status and each
    /// alert's. Equal signatures: nothing new to tell.
    pub fn signature(&self) -> String {
        let mut alerts: Vec<(&str, &str)> = self
            .alerts
            .iter()
            .map(|a| (a.fingerprint.as_str(), a.status.as_str()))
            .collect();
        alerts.sort_unstable();
        let mut hash = Sha256::new();
        hash.update(self.status.as_str());
        for (fingerprint, status) in alerts {
            hash.update([0]);
            hash.update(fingerprint);
            hash.update([1]);
            hash.update(status);
        }
        hex::encode(&hash.finalize()[..16])
    }

    /// The incident's title: the sender's, else the `summary` annotation, else the
    /// `alertname` label, else the first alert's name.
    pub fn title(&self) -> String {
        [
            self.title.as_deref(),
            self.annotations.get("summary").map(String::as_str),
            self.labels.get("alertname").map(String::as_str),
            self.alerts.first().map(|a| a.name.as_str()),
        ]
        .into_iter()
        .flatten()
        .map(|t| clean_text(t, MAX_TITLE_CHARS))
        .find(|t| !t.is_empty())
        .unwrap_or_else(|| format!("Alert from {}", self.source))
    }

    /// The timeline's words for this post: what fires and what is resolved.
    pub fn describe(&self) -> String {
        let named = |status: AlertStatus| -> (usize, String) {
            let names: Vec<&str> = self
                .alerts
                .iter()
                .filter(|a| a.status == status)
                .map(|a| a.name.as_str())
                .collect();
            let mut list = names
                .iter()
                .take(NAMED)
                .copied()
                .collect::<Vec<_>>()
                .join(", ");
            if names.len() > NAMED {
                list.push_str(&format!(" and {} more", names.len() - NAMED));
            }
            (names.len(), list)
        };
        let (firing, firing_names) = named(AlertStatus::Firing);
        let (resolved, resolved_names) = named(AlertStatus::Resolved);
        let mut said = match self.status {
            AlertStatus::Firing => format!("{} is firing", self.title()),
            AlertStatus::Resolved => format!("{} is resolved", self.title()),
        };
        if firing > 0 {
            said.push_str(&format!(" — firing ({firing}): {firing_names}"));
        }
        if resolved > 0 {
            said.push_str(&format!(" — resolved ({resolved}): {resolved_names}"));
        }
        said
    }
}

/// Where an alert goes: label matchers (all must hold) and what they decide.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Label name → value the group's labels must have.
    #[serde(rename = "match", default)]
    pub matchers: BTreeMap<String, String>,
    pub severity: Option<Severity>,
    /// `false`: posted to the triage channel with a *Declare* button instead.
    #[serde(default = "yes")]
    pub declare: bool,
    /// The team its incidents are declared for (its people are invited).
    #[serde(default)]
    pub team: Option<super::Team>,
}

fn yes() -> bool {
    true
}

impl Route {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matchers.iter().all(|(k, v)| labels.get(k) == Some(v))
    }
}

/// How alerts become incidents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// `severity` label values (lowercase) → severity.
    pub severity_labels: BTreeMap<String, Severity>,
    pub default_severity: Severity,
    /// The first that matches decides.
    pub routes: Vec<Route>,
}

/// What the rules decided for a new group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub severity: Severity,
    pub declare: bool,
    pub team: Option<super::Team>,
}

impl Rules {
    pub fn decide(&self, group: &AlertGroup) -> Decision {
        let route = self.routes.iter().find(|r| r.matches(&group.labels));
        let from_label = group.labels.get("severity").and_then(|value| {
            self.severity_labels
                .get(&value.to_lowercase())
                .copied()
                .or_else(|| value.parse().ok())
        });
        Decision {
            severity: group
                .severity
                .or(route.and_then(|r| r.severity))
                .or(from_label)
                .unwrap_or(self.default_severity),
            declare: route.is_none_or(|r| r.declare),
            team: route.and_then(|r| r.team.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(labels: &[(&str, &str)]) -> AlertGroup {
        AlertGroup {
            source: "alertmanager".into(),
            dedup_key: "{}:{alertname=\"HighLatency\"}".into(),
            status: AlertStatus::Firing,
            title: None,
            severity: None,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            annotations: BTreeMap::new(),
            url: None,
            alerts: vec![Alert {
                fingerprint: "a1".into(),
                status: AlertStatus::Firing,
                name: "HighLatency".into(),
            }],
        }
    }

    fn rules(routes: Vec<Route>) -> Rules {
        Rules {
            severity_labels: [
                ("critical".to_string(), Severity::Sev1),
                ("warning".to_string(), Severity::Sev3),
            ]
            .into(),
            default_severity: Severity::Sev3,
            routes,
        }
    }

    #[test]
    fn severity_comes_from_the_payload_then_a_route_then_the_label_then_the_default() {
        let mut g = group(&[("severity", "Critical")]);
        assert_eq!(rules(vec![]).decide(&g).severity, Severity::Sev1);
        g.labels.insert("severity".into(), "sev2".into());
        assert_eq!(rules(vec![]).decide(&g).severity, Severity::Sev2);
        g.labels.insert("severity".into(), "page-me".into());
        assert_eq!(rules(vec![]).decide(&g).severity, Severity::Sev3);
        let route = Route {
            matchers: [("team".to_string(), "pay".to_string())].into(),
            severity: Some(Severity::Sev4),
            declare: false,
            team: Some("payments".parse().unwrap()),
        };
        g.labels.insert("team".into(), "pay".into());
        let d = rules(vec![route.clone()]).decide(&g);
        assert_eq!((d.severity, d.declare), (Severity::Sev4, false));
        assert_eq!(d.team, Some("payments".parse().unwrap()));
        g.severity = Some(Severity::Sev1);
        assert_eq!(rules(vec![route]).decide(&g).severity, Severity::Sev1);
        g.labels.remove("team");
        assert!(rules(vec![]).decide(&g).declare);
    }

    #[test]
    fn the_title_is_the_senders_then_the_summary_then_the_alert_name_cleaned() {
        let mut g = group(&[("alertname", "HighLatency")]);
        assert_eq!(g.title(), "HighLatency");
        g.annotations
            .insert("summary".into(), "p99 \u{202e}over\u{7} 2s".into());
        assert_eq!(g.title(), "p99 over 2s");
        g.title = Some("x".repeat(MAX_TITLE_CHARS + 50));
        assert_eq!(g.title().chars().count(), MAX_TITLE_CHARS);
        g.title = Some("\u{1}\u{2}".into());
        assert_eq!(g.title(), "p99 over 2s");
        let mut bare = group(&[]);
        bare.alerts.clear();
        assert_eq!(bare.title(), "Alert from alertmanager");
    }

    #[test]
    fn a_repeat_has_the_same_signature_and_a_change_another() {
        let g = group(&[]);
        let mut same = g.clone();
        same.alerts.push(Alert {
            fingerprint: "b2".into(),
            status: AlertStatus::Firing,
            name: "Other".into(),
        });
        let mut reordered = same.clone();
        reordered.alerts.reverse();
        assert_eq!(same.signature(), reordered.signature());
        assert_ne!(g.signature(), same.signature());
        let mut resolved = same.clone();
        resolved.alerts[1].status = AlertStatus::Resolved;
        assert_ne!(same.signature(), resolved.signature());
    }

    #[test]
    fn long_or_unclean_keys_are_kept_as_their_hash() {
        assert_eq!(dedup_key("{}:{a=\"b\"}"), "{}:{a=\"b\"}");
        let long = dedup_key(&"k".repeat(MAX_KEY_CHARS + 1));
        assert!(long.starts_with("sha256:") && long.len() == 71);
        assert!(dedup_key("a\u{0}b").starts_with("sha256:"));
    }

    #[test]
    fn the_description_names_a_few_alerts_and_counts_the_rest() {
        let mut g = group(&[("alertname", "Disk")]);
        g.alerts = (0..8)
            .map(|i| Alert {
                fingerprint: format!("f{i}"),
                status: if i < 7 {
                    AlertStatus::Firing
                } else {
                    AlertStatus::Resolved
                },
                name: format!("disk{i}"),
            })
            .collect();
        assert_eq!(
            g.describe(),
            "Disk is firing — firing (7): disk0, disk1, disk2, disk3, disk4 and 2 more \
             — resolved (1): disk7"
        );
    }
}
