//! Pages carried out against a pager (PagerDuty or Opsgenie), one job a page action: a
//! trigger goes to its team's routing, an acknowledge or resolve to every page of the
//! incident that needs it, each recorded once the pager took it. A retry after a lost
//! answer sends the action again, which pagers fold into the open alert of its key:
//! never twice in effect. A refusal is told in the incident's channel.

use futures_util::future::BoxFuture;

use super::{JobError, Run};
use crate::domain::paging::{page_key, page_summary, PageAction, PageState};
use crate::domain::{Incident, Team};
use crate::outbox::{Job, PageJob, Service, SlackJob};
use crate::paging::{Outgoing, Pager, PagerError};
use crate::slack::text::escape;
use crate::store::{Store, StoreError};

pub struct PagingJobs {
    pub service: Service,
    pub pager: Pager,
    pub store: Store,
    pub public_url: Option<String>,
}

impl From<PagerError> for JobError {
    fn from(e: PagerError) -> Self {
        match e {
            PagerError::RateLimited { retry_after, .. } => JobError::Transient {
                reason: e.to_string(),
                retry_after: Some(retry_after),
            },
            PagerError::Transient(why) => JobError::transient(why),
            PagerError::Refused(why) => JobError::Permanent(why),
        }
    }
}

impl super::Handler for PagingJobs {
    fn handle<'a>(&'a self, job: &'a Job, run: Run) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            match job {
                Job::Paging(paging) if paging.service() == self.service => {
                    self.run(paging.page(), run).await
                }
                other => Err(super::not_mine(other, self.service)),
            }
        })
    }
}

impl PagingJobs {
    async fn run(&self, job: &PageJob, run: Run) -> Result<(), JobError> {
        let id = run.incident()?;
        let incident = self.store.get(id).await?.ok_or(StoreError::NotFound(id))?;
        let pages: Vec<_> = self
            .store
            .pages_of(id)
            .await?
            .into_iter()
            .filter(|p| p.service == self.service.as_str())
            .collect();
        let state_of = |team: Option<&Team>| {
            pages
                .iter()
                .find(|p| p.team.as_ref() == team)
                .map(|p| p.state)
        };
        // A trigger pages its team; the other actions go to every page that needs them.
        let teams: Vec<Option<Team>> = match job.action {
            PageAction::Trigger => vec![job.team.clone()],
            action => pages
                .iter()
                .filter(|p| p.state.needs(action))
                .map(|p| p.team.clone())
                .collect(),
        };
        let told = !teams.is_empty();
        for team in teams {
            let page = self.outgoing(&incident, team, job.message.clone());
            if let Err(e) = self.pager.send(job.action, &page).await {
                if let PagerError::Refused(why) = &e {
                    self.tell_channel(&incident, why).await?;
                }
                return Err(e.into());
            }
            let state = PageState::after(state_of(page.team.as_ref()), job.action);
            self.store
                .record_page(
                    id,
                    self.service.as_str(),
                    page.team.as_ref(),
                    state,
                    crate::now(),
                )
                .await?;
        }
        if told {
            // The pinned summary lists who was paged, and how it stands.
            self.store
                .queue(id, &[SlackJob::UpdateSummary.into()])
                .await?;
        }
        Ok(())
    }

    /// What the page of `incident` to `team` says, as the incident is now.
    fn outgoing(
        &self,
        incident: &Incident,
        team: Option<Team>,
        message: Option<String>,
    ) -> Outgoing {
        let mut links = vec![];
        // The channel may not exist yet: a page does not wait for Slack.
        if let Some(channel) = &incident.channel_id {
            links.push((
                format!("https://slack.com/app_redirect?channel={channel}"),
                "Slack channel".to_owned(),
            ));
        }
        if let Some(base) = &self.public_url {
            links.push((
                format!(
                    "{}/dashboard/incidents/{}",
                    base.trim_end_matches('/'),
                    incident.id
                ),
                format!("Incident #{}", incident.id),
            ));
        }
        let lead = incident
            .roles
            .iter()
            .find(|(role, _)| role.as_str() == "lead")
            .map_or_else(|| "nobody yet".to_owned(), |(_, user)| user.to_string());
        Outgoing {
            key: page_key(incident.id, team.as_ref()),
            summary: page_summary(incident),
            severity: incident.severity,
            links,
            details: vec![
                ("incident", incident.id.to_string()),
                ("severity", incident.severity.to_string()),
                ("status", incident.status.to_string()),
                ("lead", lead),
            ],
            message,
            team,
        }
    }

    async fn tell_channel(&self, incident: &Incident, why: &str) -> Result<(), StoreError> {
        let text = format!(
            ":warning: Paging through {} failed for #{}: {}. Once that is fixed, an operator \
             can run `pompier jobs retry --all-dead`.",
            self.service.as_str(),
            incident.id,
            escape(why)
        );
        self.store
            .queue(incident.id, &[SlackJob::Post { text }.into()])
            .await
    }
}
