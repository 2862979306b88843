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
