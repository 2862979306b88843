//! `pompier check`, and the same look at start: does every configured outside service
//! answer with these settings?

use std::time::Duration;

use crate::config::Settings;
use crate::slack::client::SlackClient;

/// One service's verdict.
pub struct Verdict {
    pub service: &'static str,
    /// `None`: not configured. `Some(Ok(what))`: works. `Some(Err(why))`: does not.
    pub outcome: Option<Result<String, String>>,
}

/// Every user group the teams and `[invite]` name, read through Slack, and every
/// escalation policy the teams name, read through PagerDuty.
pub async fn user_groups(settings: &Settings) -> Verdict {
    let mut verdict = groups(settings).await;
    let policies: Vec<&str> = settings
        .teams
        .values()
        .filter_map(|t| t.pagerduty_escalation_policy.as_deref())
        .collect();
    if policies.is_empty() {
        return verdict;
    }
    let said = match &settings.secrets.pagerduty_api_token {
        None => Err("teams name escalation policies but PAGERDUTY_API_TOKEN is not set".to_owned()),
        Some(token) => 'read: {
            let oncall = match crate::paging::oncall::OnCall::new(
                &settings.paging.pagerduty_api_url,
                token.clone(),
                Duration::from_secs(settings.paging.timeout_secs),
            ) {
                Ok(oncall) => oncall,
                Err(why) => break 'read Err(why),
            };
            let mut read = vec![];
            let mut failed = vec![];
            for policy in policies {
                match oncall.first_level(policy).await {
                    Ok(emails) => read.push(format!("{policy} ({} on call)", emails.len())),
                    Err(why) => failed.push(format!("{policy}: {why}")),
                }
            }
            if failed.is_empty() {
                Ok(format!("escalation policies read: {}", read.join(", ")))
            } else {
                Err(format!(
                    "escalation policies that cannot be read: {}",
                    failed.join("; ")
                ))
            }
        }
    };
    verdict.outcome = Some(match (verdict.outcome, said) {
        (None | Some(Ok(_)), Err(why)) | (Some(Err(why)), Ok(_)) => Err(why),
        (Some(Err(a)), Err(b)) => Err(format!("{a}; {b}")),
        (Some(Ok(a)), Ok(b)) => Ok(format!("{a}; {b}")),
        (None, Ok(b)) => Ok(b),
    });
    verdict
}

async fn groups(settings: &Settings) -> Verdict {
    let mut groups: Vec<&str> = settings
        .teams
        .values()
        .filter_map(|t| t.slack_usergroup.as_deref())
        .chain(settings.invite.values().flatten().map(String::as_str))
        .filter(|g| g.starts_with('S'))
        .collect();
    groups.sort();
    groups.dedup();
    let outcome = match (&settings.secrets.slack_bot_token, groups.is_empty()) {
        (_, true) | (None, _) => None,
        (Some(token), false) => {
            let client = SlackClient::new(
                &settings.slack.api_url,
                token.clone(),
                Duration::from_secs(settings.slack.timeout_secs),
            );
            let mut read = vec![];
            let mut failed = vec![];
            for group in groups {
                match client
                    .call_form("usergroups.users.list", &[("usergroup", group)])
                    .await
                {
                    Ok(answer) => read.push(format!(
                        "{group} ({} users)",
                        answer["users"].as_array().map_or(0, Vec::len)
                    )),
                    Err(e) => failed.push(format!("{group}: {e}")),
                }
            }
            Some(if failed.is_empty() {
                Ok(format!("user groups read: {}", read.join(", ")))
            } else {
                Err(format!(
                    "user groups that cannot be read: {}",
                    failed.join("; ")
                ))
            })
        }
    };
    Verdict {
        service: "teams",
        outcome,
    }
}

pub async fn slack(settings: &Settings) -> Verdict {
    let outcome = match &settings.secrets.slack_bot_token {
        None => None,
        Some(token) => {
            let client = SlackClient::new(
                &settings.slack.api_url,
                token.clone(),
                Duration::from_secs(settings.slack.timeout_secs),
            );
            Some(
                client
                    .call("auth.test", &serde_json::json!({}))
                    .await
                    .map(|me| {
                        format!(
                            "bot {} in workspace {}",
                            me["user"].as_str().unwrap_or("?"),
                            me["team"].as_str().unwrap_or("?")
                        )
                    })
                    .map_err(|e| e.to_string()),
            )
        }
    };
    Verdict {
        service: "slack",
        outcome,
    }
}

pub async fn confluence(settings: &Settings) -> Verdict {
    let outcome = match crate::confluence::client(settings) {
        Ok(None) => None,
        Err(missing) => Some(Err(missing)),
        Ok(Some(client)) => Some(
            client
                .check()
                .await
                .map(|name| format!("space {name:?} can be read"))
                .map_err(|e| e.to_string()),
        ),
    };
    Verdict {
        service: "confluence",
        outcome,
    }
}

pub async fn jira(settings: &Settings) -> Verdict {
    let outcome = match crate::jira::client(settings) {
        Ok(None) => None,
        Err(missing) => Some(Err(missing)),
        Ok(Some(client)) => Some(client.check().await),
    };
    Verdict {
        service: "jira",
        outcome,
    }
}

/// A pager's verdict (PagerDuty or Opsgenie).
pub async fn pager(settings: &Settings, service: crate::outbox::Service) -> Verdict {
    let metrics = std::sync::Arc::new(crate::metrics::Metrics::new(&[]));
    let outcome = match crate::paging::pager(settings, service, &metrics) {
        Ok(None) => None,
        Err(e) => Some(Err(format!("{e:#}"))),
        Ok(Some(pager)) => Some(pager.check().await),
    };
    Verdict {
        service: service.as_str(),
        outcome,
    }
}

/// Every outside service's verdict, in the order `pompier check` prints them: a new
/// service adds its check here.
pub async fn services(settings: &Settings) -> Vec<Verdict> {
    use crate::outbox::Service;
    vec![
        slack(settings).await,
        user_groups(settings).await,
        confluence(settings).await,
        pager(settings, Service::PagerDuty).await,
        pager(settings, Service::Opsgenie).await,
        jira(settings).await,
    ]
}

/// At start: says in the log, before the first incident, when Confluence's settings
/// do not work.
pub async fn at_start(settings: &Settings) {
    if let Some(Err(why)) = confluence(settings).await.outcome {
        tracing::error!("Confluence does not work with these settings: {why}; postmortem pages will fail (`pompier check` tells more)");
    }
}
