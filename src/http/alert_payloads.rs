//! The payloads monitoring posts, read into one alert group: Alertmanager's webhook
//! (version 4), Grafana's webhook contact point (the same shape, version 1, a few fields
//! more) and pompier's generic alert. Every label and annotation is untrusted text:
//! control and bidirectional characters go, long values are cut, links must be http(s).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::domain::alert::{
    dedup_key, fingerprint_of, Alert, AlertGroup, AlertStatus, MAX_VALUE_CHARS,
};
use crate::domain::incident::clean_text;
use crate::domain::Severity;

type Labels = BTreeMap<String, String>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Notification {
    version: String,
    group_key: String,
    status: String,
    #[serde(default)]
    common_labels: Labels,
    #[serde(default)]
    common_annotations: Labels,
    #[serde(rename = "externalURL", default)]
    external_url: Option<String>,
    alerts: Vec<NotifiedAlert>,
    /// Grafana's: tells its posts from Alertmanager's.
    #[serde(default)]
    org_id: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NotifiedAlert {
    status: String,
    #[serde(default)]
    labels: Labels,
    #[serde(default)]
    annotations: Labels,
    #[serde(rename = "generatorURL", default)]
    generator_url: Option<String>,
    #[serde(default)]
    fingerprint: Option<String>,
}

#[derive(Deserialize)]
struct Generic {
    source: String,
    dedup_key: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    labels: Labels,
    #[serde(default)]
    url: Option<String>,
}

fn status(s: &str) -> Result<AlertStatus, String> {
    AlertStatus::parse(s).ok_or_else(|| {
        format!(
            "`status` is `firing` or `resolved`, not `{}`",
            clean_text(s, 40)
        )
    })
}

fn cleaned(map: Labels) -> Labels {
    map.into_iter()
        .map(|(k, v)| (clean_text(&k, 200), clean_text(&v, MAX_VALUE_CHARS)))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// An http(s) link, else nothing: a `javascript:` link never reaches a page.
fn link(url: Option<String>) -> Option<String> {
    url.map(|u| clean_text(&u, 2000))
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
}

fn json<'a, T: Deserialize<'a>>(body: &'a [u8], what: &str) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("not {what}: {e}"))
}

/// An Alertmanager (or Grafana) webhook post.
pub fn alertmanager(body: &[u8]) -> Result<AlertGroup, String> {
    let n: Notification = json(body, "an Alertmanager webhook payload (version 4)")?;
    if !matches!(n.version.as_str(), "4" | "1") {
        return Err(format!(
            "`version` {} is not one this receiver reads (Alertmanager's 4, Grafana's 1)",
            clean_text(&n.version, 20)
        ));
    }
    if n.group_key.is_empty() {
        return Err("`groupKey` is empty".into());
    }
    let group_status = status(&n.status)?;
    let mut url = None;
    let mut alerts = Vec::with_capacity(n.alerts.len());
    for a in n.alerts {
        let labels = cleaned(a.labels);
        let annotations = cleaned(a.annotations);
        url = url.or_else(|| link(a.generator_url));
        alerts.push(Alert {
            fingerprint: a
                .fingerprint
                .map(|f| clean_text(&f, 64))
                .filter(|f| !f.is_empty())
                .unwrap_or_else(|| fingerprint_of(&labels)),
            status: status(&a.status)?,
            name: labels
                .get("alertname")
                .or_else(|| annotations.get("summary"))
                .cloned()
                .unwrap_or_else(|| "alert".into()),
        });
    }
    let mut labels = cleaned(n.common_labels);
    if labels.is_empty() && alerts.len() == 1 {
        // A group of one says its labels on the alert only (Grafana).
        labels.insert("alertname".into(), alerts[0].name.clone());
    }
    Ok(AlertGroup {
        source: if n.org_id.is_some() {
            "grafana"
        } else {
            "alertmanager"
        }
        .into(),
        dedup_key: dedup_key(&n.group_key),
        status: group_status,
        title: None,
        severity: None,
        labels,
        annotations: cleaned(n.common_annotations),
        url: url.or_else(|| link(n.external_url)),
        alerts,
    })
}

/// A generic alert (`POST /api/v1/alerts`).
pub fn generic(body: &[u8]) -> Result<AlertGroup, String> {
    let g: Generic = json(body, "an alert (`source`, `dedup_key`, `status`, `title`…)")?;
    let source = crate::domain::actor::name(&g.source.to_lowercase())
        .map_err(|e| format!("`source`: {e}"))?;
    if g.dedup_key.trim().is_empty() {
        return Err("`dedup_key` is empty".into());
    }
    let status = status(g.status.as_deref().unwrap_or("firing"))?;
    let mut labels = cleaned(g.labels);
    // A severity that is not one of ours is a label value, mapped like Alertmanager's.
    let severity = match g.severity {
        Some(s) => match s.parse::<Severity>() {
            Ok(severity) => Some(severity),
            Err(_) => {
                labels
                    .entry("severity".into())
                    .or_insert_with(|| clean_text(&s, 40));
                None
            }
        },
        None => None,
    };
    let title = g.title.map(|t| clean_text(&t, MAX_VALUE_CHARS));
    let name = title
        .clone()
        .or_else(|| labels.get("alertname").cloned())
        .unwrap_or_else(|| "alert".into());
    Ok(AlertGroup {
        source,
        dedup_key: dedup_key(&g.dedup_key),
        status,
        title,
        severity,
        labels,
        annotations: Labels::new(),
        url: link(g.url),
        alerts: vec![Alert {
            fingerprint: "generic".into(),
            status,
            name,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Alertmanager's documented example (prometheus.io, webhook_config).
    const ALERTMANAGER: &str = r#"{
      "version": "4",
      "groupKey": "{}:{alertname=\"HighLatency\"}",
      "truncatedAlerts": 0,
      "status": "firing",
      "receiver": "pompier",
      "groupLabels": {"alertname": "HighLatency"},
      "commonLabels": {"alertname": "HighLatency", "severity": "critical", "team": "payments"},
      "commonAnnotations": {"summary": "Checkout p99 over 2s"},
      "externalURL": "http://alertmanager:9093",
      "alerts": [{
        "status": "firing",
        "labels": {"alertname": "HighLatency", "instance": "api-1", "severity": "critical"},
        "annotations": {"summary": "Checkout p99 over 2s"},
        "startsAt": "2026-12-05T10:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=latency",
        "fingerprint": "c0ffee01"
      }]
    }"#;

    #[test]
    fn alertmanagers_example_reads_as_one_group() {
        let g = alertmanager(ALERTMANAGER.as_bytes()).unwrap();
        assert_eq!(g.source, "alertmanager");
        assert_eq!(g.dedup_key, "{}:{alertname=\"HighLatency\"}");
        assert_eq!(g.title(), "Checkout p99 over 2s");
        assert_eq!(g.labels["severity"], "critical");
        assert_eq!(
            g.url.as_deref(),
            Some("http://prometheus:9090/graph?g0.expr=latency")
        );
        assert_eq!(g.alerts[0].fingerprint, "c0ffee01");
    }

    #[test]
    fn what_is_not_a_payload_says_why() {
        for (body, says) in [
            (r#"{"version":"4"}"#, "groupKey"),
            (
                r#"{"version":"9","groupKey":"k","status":"firing","alerts":[]}"#,
                "version",
            ),
            (
                r#"{"version":"4","groupKey":"k","status":"burning","alerts":[]}"#,
                "status",
            ),
            ("[]", "Alertmanager"),
        ] {
            let err = alertmanager(body.as_bytes()).unwrap_err();
            assert!(err.contains(says), "{body}: {err}");
        }
        for (body, says) in [
            (r#"{"dedup_key":"k"}"#, "source"),
            (r#"{"source":"data dog","dedup_key":"k"}"#, "source"),
            (r#"{"source":"dd","dedup_key":" "}"#, "dedup_key"),
        ] {
            let err = generic(body.as_bytes()).unwrap_err();
            assert!(err.contains(says), "{body}: {err}");
        }
    }

    #[test]
    fn untrusted_text_is_cleaned_and_bad_links_dropped() {
        let body = r#"{"source":"Datadog","dedup_key":"k","title":"disk\u202e full\u0000",
                       "severity":"critical","url":"javascript:alert(1)",
                       "labels":{"host":"\u0007db-1"}}"#;
        let g = generic(body.as_bytes()).unwrap();
        assert_eq!(g.source, "datadog");
        assert_eq!(g.title(), "disk full");
        assert_eq!(g.url, None);
        assert_eq!(g.labels["host"], "db-1");
        assert_eq!(g.labels["severity"], "critical");
        assert_eq!(g.severity, None);
        let g = generic(br#"{"source":"x","dedup_key":"k","severity":"sev2"}"#).unwrap();
        assert_eq!(g.severity, Some(Severity::Sev2));
    }
}
