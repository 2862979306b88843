//! The postmortem draft, carried out against Confluence exactly once: the page is looked
//! up by its title before it is made (a retry after a lost answer finds it), its address
//! is recorded on the incident with a `postmortem` event, and the channel is told.

use std::collections::HashMap;

use super::{JobError, Run};
use crate::confluence::{page, ConfluenceClient, ConfluenceError, Page, Template};
use crate::domain::{Actor, Incident, Rejected, SlackUserId};
use futures_util::future::BoxFuture;

use crate::outbox::{ConfluenceJob, Effects, Job, Service, SlackJob};
use crate::slack::text::escape;
use crate::store::{Store, StoreError};

pub struct ConfluenceJobs {
    pub confluence: ConfluenceClient,
    pub store: Store,
    pub effects: Effects,
    pub template: Template,
    /// To show people by name.
    pub people: crate::people::People,
}

/// How long a page waits for names read from Slack.
const NAMES_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

impl From<ConfluenceError> for JobError {
    fn from(e: ConfluenceError) -> Self {
        match e {
            ConfluenceError::RateLimited { retry_after } => JobError::Transient {
                reason: e.to_string(),
                retry_after,
            },
            ConfluenceError::Transient(_) | ConfluenceError::AlreadyExists => {
                JobError::transient(e.to_string())
            }
            ConfluenceError::Refused(why) => JobError::Permanent(why),
        }
    }
}

impl super::Handler for ConfluenceJobs {
    fn handle<'a>(&'a self, job: &'a Job, run: Run) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            match job {
                Job::Confluence(job) => self.run(job, run).await,
                other => Err(super::not_mine(other, Service::Confluence)),
            }
        })
    }
}

impl ConfluenceJobs {
    pub async fn run(&self, job: &ConfluenceJob, run: Run) -> Result<(), JobError> {
        let by = match job {
            ConfluenceJob::DraftPostmortem { by } => by,
            ConfluenceJob::DraftGamedayReport { gameday } => {
                return self.gameday_report(*gameday, run).await
            }
        };
        let incident = self
            .store
            .get(run.incident()?)
            .await?
            .ok_or(StoreError::NotFound(run.incident()?))?;
        if incident.postmortem_url.is_some() {
            return Ok(());
        }
        let page = match self.draft(&incident).await {
            Ok(page) => page,
            Err(e @ ConfluenceError::Refused(_)) => {
                self.tell_channel(&incident, &e).await?;
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        };
        let by: Actor = by
            .parse()
            .map_err(|e: crate::domain::Invalid| JobError::Permanent(e.0))?;
        let recorded = self
            .store
            .change(
                incident.id,
                |i| i.record_postmortem(page.link(incident.private), &by, crate::now()),
                |c| self.effects.on_change(c),
            )
            .await;
        match recorded {
            Ok(_) | Err(StoreError::Rejected(Rejected::Unchanged(_))) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Drafts game day `id`'s report page, once, and records its address.
    async fn gameday_report(&self, id: i64, run: Run) -> Result<(), JobError> {
        let board = super::report_board(&self.store, id, &run).await?;
        if board.gameday.report_url.is_some() {
            return Ok(());
        }
        let title = crate::confluence::report::title(&board.gameday);
        let page = match self.confluence.find_page(&title).await? {
            Some(page) => page,
            None => {
                let mut ids: Vec<String> = board.injections.iter().map(|i| i.by.clone()).collect();
                ids.extend(board.drills.iter().map(|d| d.declared_by.clone()));
                let names = self.lookup(ids).await;
                let body = crate::confluence::report::body(&board, &names);
                self.create_once(&title, &body).await?
            }
        };
        self.store.set_report_url(id, &page.link(false)).await?;
        Ok(())
    }

    /// Makes page `title`; one made by an earlier attempt whose answer was lost is found.
    async fn create_once(&self, title: &str, body: &str) -> Result<Page, ConfluenceError> {
        match self.confluence.create_page(title, body).await {
            Err(ConfluenceError::AlreadyExists) => {
                self.confluence.find_page(title).await?.ok_or_else(|| {
                    ConfluenceError::Transient(format!(
                        "a page titled {title:?} exists but cannot be found yet"
                    ))
                })
            }
            other => other,
        }
    }

    /// The page of this incident: the one that exists, else a new one.
    async fn draft(&self, incident: &Incident) -> Result<Page, ConfluenceError> {
        let title = page::title(incident);
        if let Some(page) = self.confluence.find_page(&title).await? {
            return Ok(page);
        }
        let timeline = self
            .store
            .timeline(incident.id)
            .await
            .map_err(|e| ConfluenceError::Transient(e.to_string()))?;
        let joined = self
            .store
            .participants(&[incident.id])
            .await
            .map_err(|e| ConfluenceError::Transient(e.to_string()))?
            .remove(&incident.id)
            .unwrap_or_default();
        let followups = self
            .store
            .followups(incident.id)
            .await
            .map_err(|e| ConfluenceError::Transient(e.to_string()))?;
        // Owners of follow-ups are named on the page too.
        let mut people = joined.clone();
        people.extend(followups.iter().filter_map(|f| f.owner.clone()));
        let names = self.names(incident, &timeline, &people).await;
        let body = self
            .template
            .render(incident, &timeline, &joined, &followups, &names)
            .map_err(|e| ConfluenceError::Refused(e.to_string()))?;
        // Made by an earlier attempt whose answer was lost, or by someone else: found.
        self.create_once(&title, &body).await
    }

    /// The names of the people of this incident, looked up once each through Slack.
    async fn names(
        &self,
        incident: &Incident,
        timeline: &[crate::domain::Event],
        joined: &[SlackUserId],
    ) -> HashMap<String, String> {
        let mut ids: Vec<String> = vec![incident.declared_by.to_string()];
        ids.extend(joined.iter().map(|u| u.to_string()));
        ids.extend(incident.roles.values().map(|u| u.to_string()));
        for event in timeline {
            ids.push(event.actor.to_string());
            if event.kind == crate::domain::EventKind::Role {
                ids.extend(event.to.clone());
            }
            let text = event.note.as_deref().unwrap_or_default();
            ids.extend(mentioned(text).chain(mentioned(&incident.title)));
        }
        self.lookup(ids).await
    }

    /// The names of Slack users `ids` (those not found are left out).
    async fn lookup(&self, ids: Vec<String>) -> HashMap<String, String> {
        self.people
            .names(ids.iter().map(String::as_str), NAMES_DEADLINE)
            .await
    }

    /// Tells the incident's channel why no page could be made.
    async fn tell_channel(
        &self,
        incident: &Incident,
        why: &ConfluenceError,
    ) -> Result<(), StoreError> {
        let text = format!(
            ":warning: The postmortem page of #{} could not be created: {}. Once that is \
             fixed, an operator can run `pompier jobs retry --all-dead`.",
            incident.id,
            escape(&why.to_string())
        );
        self.store
            .queue(incident.id, &[SlackJob::Post { text }.into()])
            .await
    }
}

/// The user ids mentioned in `text` (`<@U123>` or `<@U123|name>`).
fn mentioned(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split("<@").skip(1).filter_map(|rest| {
        let id: String = rest
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            .collect();
        (!id.is_empty()).then_some(id)
    })
}
