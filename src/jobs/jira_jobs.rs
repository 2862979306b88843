//! Jira issues made exactly once: the intent is recorded before the call; a retry after
//! a lost answer first looks the issue up by its label (and, Jira's search being
//! eventually consistent, gives it `jira.search_settle_secs` to show up) before making
//! another. A follow-up's owner becomes its assignee by email (Slack's `users.info`,
//! then Jira's user search), or the channel hears why not.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::json;

use super::{JobError, Run};
use crate::domain::{Followup, Incident};
use crate::jira::issue::{self, Subject};
use crate::jira::{JiraClient, JiraError};
use crate::outbox::{JiraJob, Job, Service, SlackJob};
use crate::slack::client::SlackClient;
use crate::slack::text::escape;
use crate::store::{JiraIntent, Store, StoreError};

pub struct JiraJobs {
    pub jira: JiraClient,
    pub store: Store,
    /// To find a follow-up owner's email (`users.info`), when a bot token is set.
    pub slack: Option<SlackClient>,
    pub public_url: Option<String>,
    pub incident_type: String,
    pub followup_type: String,
    pub settle: Duration,
}

impl From<JiraError> for JobError {
    fn from(e: JiraError) -> Self {
        match e {
            JiraError::RateLimited { retry_after } => JobError::Transient {
                reason: e.to_string(),
                retry_after,
            },
            JiraError::Transient(_) => JobError::transient(e.to_string()),
            JiraError::Refused(why) => JobError::Permanent(why),
        }
    }
}

impl super::Handler for JiraJobs {
    fn handle<'a>(&'a self, job: &'a Job, run: Run) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            match job {
                Job::Jira(job) => self.run(job, run).await,
                other => Err(super::not_mine(other, Service::Jira)),
            }
        })
    }
}

impl JiraJobs {
    async fn run(&self, job: &JiraJob, run: Run) -> Result<(), JobError> {
        let id = run.incident()?;
        let incident = self.store.get(id).await?.ok_or(StoreError::NotFound(id))?;
        let followup = match job {
            JiraJob::JiraRefresh => return self.refresh(&incident).await,
            JiraJob::JiraIncidentIssue => None,
            JiraJob::JiraFollowupIssue { number } => Some(
                self.store
                    .followups(id)
                    .await?
                    .into_iter()
                    .find(|f| f.number == *number)
                    .ok_or_else(|| {
                        JobError::Permanent(format!("no follow-up #{number} of #{id}"))
                    })?,
            ),
        };
        let subject = match &followup {
            None => Subject::Incident,
            Some(f) => Subject::Followup(f),
        };
        let number = followup.as_ref().map_or(0, |f| f.number);
        let label = issue::label(&incident, &subject);
        let now = run.at;
        match self.store.jira_intent(id, number).await? {
            JiraIntent::Made(_) => return Ok(()),
            JiraIntent::Tried(at) => {
                // An earlier try may have made it, its answer lost.
                if let Some(found) = self.jira.find(&label).await? {
                    self.store.jira_made(id, number, &found).await?;
                    return self.made(id).await;
                }
                let settled = super::retry::after(at, self.settle);
                if now < settled {
                    return Err(JobError::Wait {
                        reason: format!(
                            "an earlier try's answer was lost: waiting for Jira's search to \
                             show {label} before making it again"
                        ),
                        wait: (settled - now).to_std().unwrap_or_default(),
                    });
                }
            }
            JiraIntent::New => {}
        }
        let (fields, unassigned) = self.fields(&incident, &subject, followup.as_ref()).await?;
        self.store.jira_trying(id, number, now).await?;
        match self.jira.create(fields).await {
            Ok(made) => {
                self.store.jira_made(id, number, &made).await?;
                // Said once, with the issue made (not on every retry).
                if let Some(text) = unassigned {
                    self.tell(&incident, text).await?;
                }
                self.made(id).await
            }
            Err(e @ JiraError::Refused(_)) => {
                let text = format!(
                    ":warning: The Jira issue for {} could not be made: {}. Once that is \
                     fixed, an operator can run `pompier jobs retry --all-dead`.",
                    what(&incident, followup.as_ref()),
                    escape(&e.to_string())
                );
                self.tell(&incident, text).await?;
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The incident's issue, if made, takes its present title and links (the
    /// postmortem's, once drafted).
    async fn refresh(&self, incident: &Incident) -> Result<(), JobError> {
        let JiraIntent::Made(made) = self.store.jira_intent(incident.id, 0).await? else {
            // Not made yet: it will be made as the incident is then.
            return Ok(());
        };
        let fields = json!({
            "summary": issue::summary(incident, &Subject::Incident),
            "description": self.described(incident, &Subject::Incident, None),
        });
        self.jira.edit(&made.key, fields).await?;
        Ok(())
    }

    /// The issue's description: Atlassian Document Format on Cloud, text on Data Center.
    fn described(
        &self,
        incident: &Incident,
        subject: &Subject<'_>,
        owner: Option<&str>,
    ) -> serde_json::Value {
        let page = self.public_url.as_ref().map(|base| {
            format!(
                "{}/dashboard/incidents/{}",
                base.trim_end_matches('/'),
                incident.id
            )
        });
        let lines = issue::lines(incident, subject, page, owner);
        if self.jira.is_cloud() {
            issue::adf(&lines)
        } else {
            issue::plain(&lines).into()
        }
    }

    /// The summary shows the new issue's key.
    async fn made(&self, id: crate::domain::IncidentId) -> Result<(), JobError> {
        self.store
            .queue(id, &[SlackJob::UpdateSummary.into()])
            .await?;
        Ok(())
    }

    /// The issue's fields, and what to tell the channel once it is made (an owner
    /// without a Jira account).
    async fn fields(
        &self,
        incident: &Incident,
        subject: &Subject<'_>,
        followup: Option<&Followup>,
    ) -> Result<(serde_json::Value, Option<String>), JobError> {
        let owner = followup.and_then(|f| f.owner.as_ref());
        let email = match owner {
            Some(user) => self.email(user.as_str()).await?,
            None => None,
        };
        let description = self.described(
            incident,
            subject,
            email.as_deref().or(owner.map(|u| u.as_str())),
        );
        let mut fields = json!({
            "summary": issue::summary(incident, subject),
            "issuetype": {"name": if followup.is_some() { &self.followup_type } else { &self.incident_type }},
            "labels": ["pompier", issue::label(incident, subject)],
            "description": description,
        });
        let mut unassigned = None;
        if let (Some(user), Some(f)) = (owner, followup) {
            let assignee = match &email {
                Some(email) => self.jira.assignee(email).await?,
                None => None,
            };
            match assignee {
                Some(assignee) => fields["assignee"] = assignee,
                None => {
                    unassigned = Some(format!(
                        ":information_source: Follow-up #{} of #{} went to Jira unassigned: <@{user}> \
                         has no Jira account with their Slack email.",
                        f.number, incident.id
                    ));
                }
            }
        }
        Ok((fields, unassigned))
    }

    /// The Slack user's email, when Slack gives it (`users:read.email`).
    async fn email(&self, user: &str) -> Result<Option<String>, JobError> {
        let Some(slack) = &self.slack else {
            return Ok(None);
        };
        let info = slack.call_form("users.info", &[("user", user)]).await?;
        Ok(info["user"]["profile"]["email"].as_str().map(str::to_owned))
    }

    async fn tell(&self, incident: &Incident, text: String) -> Result<(), StoreError> {
        self.store
            .queue(incident.id, &[SlackJob::Post { text }.into()])
            .await
    }
}

/// Which issue, in words.
fn what(incident: &Incident, followup: Option<&Followup>) -> String {
    match followup {
        None => format!("#{}", incident.id),
        Some(f) => format!("follow-up #{} of #{}", f.number, incident.id),
    }
}
