//! Each job, carried out against Slack. What Slack made (channel id, summary `ts`) is
//! recorded at once, so a retried job continues where it stopped instead of making a
//! second channel or message.

use serde_json::json;

use super::{JobError, Run};
use crate::domain::cadence::Nudge;
use crate::domain::{ChannelId, Incident};
use futures_util::future::BoxFuture;

use crate::outbox::{Job, Service, SlackJob};
use crate::slack::client::{SlackClient, SlackError};
use crate::slack::names::{channel_name, truncate};
use crate::slack::text::escape;
use crate::slack::{blocks, reply};
use crate::store::{Store, StoreError};

/// Longest topic Slack accepts.
const MAX_TOPIC: usize = 250;
/// Names tried after `name_taken` before giving up.
const NAME_TRIES: u32 = 20;
/// Users a `conversations.invite` names at most (Slack's docs say 100 and 1,000).
const INVITE_BATCH: usize = 100;
/// Pages of `conversations.list` searched for a channel this bot made.
const LIST_PAGES: usize = 20;

/// The `event_type` of the metadata pompier puts on its messages.
const METADATA_EVENT: &str = "pompier_job";

/// What the Slack jobs need.
pub struct SlackJobs {
    pub slack: SlackClient,
    /// Who is on call, when `PAGERDUTY_API_TOKEN` is set.
    pub oncall: Option<crate::paging::oncall::OnCall>,
    /// User groups' members, read at most once every ten minutes.
    pub groups: std::sync::Arc<crate::slack::groups::UserGroups>,
    pub store: Store,
    pub announce_channel: Option<ChannelId>,
    /// `alerts.triage_channel`: where alert groups routed with `declare = false` wait.
    pub triage_channel: Option<String>,
    /// `POMPIER_PUBLIC_URL`: messages link to the incident's page.
    pub public_url: Option<String>,
    /// Which moves the summary's buttons offer.
    pub policy: crate::domain::Policy,
}

impl super::Handler for SlackJobs {
    fn handle<'a>(&'a self, job: &'a Job, run: Run) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            match job {
                Job::Slack(job) => self.run(job, run).await,
                other => Err(super::not_mine(other, Service::Slack)),
            }
        })
    }
}

impl SlackJobs {
    /// Runs `job` against Slack, worded from the incident as it is now.
    pub async fn run(&self, job: &SlackJob, run: Run) -> Result<(), JobError> {
        // Jobs of no incident.
        match job {
            SlackJob::PostTriage { group } => return self.post_triage(*group, run).await,
            SlackJob::GamedayReport { gameday } => return self.gameday_report(*gameday, run).await,
            _ => {}
        }
        let incident = self
            .store
            .get(run.incident()?)
            .await?
            .ok_or(StoreError::NotFound(run.incident()?))?;
        match job {
            SlackJob::CreateChannel => self.create_channel(incident, run.attempt).await,
            SlackJob::Invite { users } => self.invite(&incident, users).await,
            SlackJob::SetTopic => {
                let channel = channel(&incident)?;
                self.slack
                    .call(
                        "conversations.setTopic",
                        &json!({"channel": channel, "topic": topic(&incident)}),
                    )
                    .await?;
                Ok(())
            }
            SlackJob::PostSummary => self.post_summary(&incident, run).await,
            SlackJob::RenameChannel => self.rename_channel(&incident, run).await,
            SlackJob::InvitePeople { people } => self.invite_people(&incident, people, run).await,
            SlackJob::TellTeam { channel } => {
                let text = reply::told_team(&incident);
                self.post_text(run, channel, &text).await
            }
            SlackJob::UpdateSummary => {
                if let Some(ts) = &incident.summary_ts {
                    let channel = channel(&incident)?;
                    self.slack
                        .call(
                            "chat.update",
                            &json!({"channel": channel, "ts": ts,
                                    "text": blocks::summary_text(&incident),
                                    "blocks": self.summary(&incident).await?}),
                        )
                        .await?;
                }
                // No summary yet: the pending PostSummary will show the present state.
                Ok(())
            }
            SlackJob::PostEvent { event } => {
                let text = reply::told(&incident, event);
                self.post_text(run, channel(&incident)?.as_str(), &text)
                    .await
            }
            SlackJob::Post { text } => {
                self.post_text(run, channel(&incident)?.as_str(), text)
                    .await
            }
            SlackJob::Nudge { reminder } => {
                let text = reply::nudge(&incident, reminder);
                self.post_text(run, channel(&incident)?.as_str(), &text)
                    .await
            }
            SlackJob::AnnounceDeclared => self.announce_declared(&incident, run).await,
            SlackJob::AnnounceEvent { event } => self.announce_event(&incident, event, run).await,
            SlackJob::RefreshAnnouncement => self.refresh_announcement(&incident).await,
            SlackJob::TellRole { user, role } => self.tell_role(&incident, user, role, run).await,
            SlackJob::TellDeclarer { channel, user } => {
                self.tell_declarer(&incident, channel, user).await
            }
            SlackJob::Announce { text } => self.announce(run, text).await,
            // Taken above, before an incident is read: it has none.
            SlackJob::PostTriage { .. } | SlackJob::GamedayReport { .. } => Ok(()),
            SlackJob::CaptureMessage { channel, ts, by } => {
                self.capture(&incident, channel, ts, by).await
            }
            SlackJob::ArchiveChannel => {
                let channel = channel(&incident)?;
                match self
                    .slack
                    .call("conversations.archive", &json!({"channel": channel}))
                    .await
                {
                    Err(e) if e.code() == Some("already_archived") => Ok(()),
                    other => other.map(|_| ()).map_err(Into::into),
                }
            }
        }
    }

    /// A pinned message, into the timeline as a note: its author, its text (as typed),
    /// its link, its own time. Recorded, not posted again.
    async fn capture(
        &self,
        incident: &Incident,
        channel: &str,
        ts: &str,
        by: &str,
    ) -> Result<(), JobError> {
        // `conversations.replies` finds a message by its ts, in a thread or not.
        let found = self
            .slack
            .call_form(
                "conversations.replies",
                &[
                    ("channel", channel),
                    ("ts", ts),
                    ("limit", "1"),
                    ("inclusive", "true"),
                ],
            )
            .await?;
        let Some(message) = found["messages"]
            .as_array()
            .and_then(|m| m.iter().find(|m| m["ts"] == ts))
        else {
            return Err(JobError::Permanent(format!(
                "message {ts} is not in {channel}"
            )));
        };
        let link = self
            .slack
            .call_form(
                "chat.getPermalink",
                &[("channel", channel), ("message_ts", ts)],
            )
            .await?;
        let mut note = crate::slack::text::decode(message["text"].as_str().unwrap_or_default());
        if let Some(link) = link["permalink"].as_str() {
            note.push('\n');
            note.push_str(link);
        }
        let note = truncate(note.trim(), crate::domain::incident::MAX_NOTE_CHARS);
        let author: crate::domain::Actor = message["user"]
            .as_str()
            .unwrap_or(by)
            .parse()
            .map_err(|e: crate::domain::Invalid| JobError::Permanent(e.0))?;
        let at = crate::slack::text::ts_time(ts).unwrap_or_else(crate::now);
        match self
            .store
            .change(
                incident.id,
                |i| i.add_note(note.clone(), &author, at),
                |_| vec![],
            )
            .await
        {
            Ok(_) | Err(StoreError::Rejected(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn summary(&self, incident: &Incident) -> Result<Vec<serde_json::Value>, JobError> {
        // When the next update is due, as of this summary (a note moves it too).
        let next_update = match self.policy.cadence.due(incident, None) {
            Some((due, Nudge::Update { .. })) => Some(due),
            _ => None,
        };
        let (alerts, pages, issues) = tokio::try_join!(
            self.store.alerts_of(incident.id),
            self.store.pages_of(incident.id),
            self.store.jira_issues(incident.id)
        )?;
        let jira = issues.iter().find(|(n, _)| *n == 0).map(|(_, i)| i);
        Ok(blocks::summary(
            incident,
            self.public_url.as_deref(),
            &self.policy,
            next_update,
            &blocks::Linked {
                alerts: &alerts,
                pages: &pages,
                jira,
            },
        ))
    }

    /// Posts alert group `group` in the triage channel with a *Declare* button.
    async fn post_triage(&self, group: i64, run: Run) -> Result<(), JobError> {
        let channel = self
            .triage_channel
            .as_deref()
            .ok_or_else(|| JobError::Permanent("alerts.triage_channel is not set".into()))?;
        let (alert, _, severity) = self
            .store
            .alert_group(group)
            .await?
            .ok_or_else(|| JobError::Permanent(format!("no alert group {group}")))?;
        let text = blocks::triage_text(&alert, severity);
        let message = json!({"channel": channel, "text": truncate(&text, 4000),
                             "blocks": blocks::triage(&alert, severity, group)});
        self.post(run, message).await.map(|_| ())
    }

    /// Posts game day `id`'s report in the channel where it was started.
    async fn gameday_report(&self, id: i64, run: Run) -> Result<(), JobError> {
        let board = super::report_board(&self.store, id, &run).await?;
        let Some(channel) = board.gameday.channel_id.clone() else {
            return Ok(());
        };
        let text = crate::slack::report::gameday_report(&board);
        self.post_text(run, &channel, &text).await
    }

    /// Posts the incident's one announcement and records its `ts` (a retry finds the
    /// message an earlier attempt posted).
    async fn announce_declared(&self, incident: &Incident, run: Run) -> Result<(), JobError> {
        let Some(announce) = &self.announce_channel else {
            return Ok(());
        };
        if incident.announce_ts.is_some() {
            return Ok(());
        }
        let (text, blocks) =
            blocks::announcement(incident, &self.policy, self.public_url.as_deref());
        let message = json!({"channel": announce, "text": text, "blocks": blocks});
        let ts = self.post(run, message).await?;
        self.store.set_announce_ts(incident.id, &ts).await?;
        Ok(())
    }

    /// The announcement edited to show the incident as it is now.
    async fn refresh_announcement(&self, incident: &Incident) -> Result<(), JobError> {
        let (Some(announce), Some(ts)) = (&self.announce_channel, &incident.announce_ts) else {
            return Ok(());
        };
        let (text, blocks) =
            blocks::announcement(incident, &self.policy, self.public_url.as_deref());
        self.slack
            .call(
                "chat.update",
                &json!({"channel": announce, "ts": ts, "text": text, "blocks": blocks}),
            )
            .await?;
        Ok(())
    }

    /// The announcement brought up to date and `event` told in its thread; a SEV1 or
    /// SEV2 reaching `resolved` is shown in the channel too. An incident announced
    /// before announcements were kept in place gets a message of its own, as then.
    async fn announce_event(
        &self,
        incident: &Incident,
        event: &crate::domain::Event,
        run: Run,
    ) -> Result<(), JobError> {
        let Some(announce) = &self.announce_channel else {
            return Ok(());
        };
        let Some(parent) = &incident.announce_ts else {
            return self
                .post_text(run, announce.as_str(), &reply::announced(incident, event))
                .await;
        };
        self.refresh_announcement(incident).await?;
        let text = reply::told(incident, event);
        let broadcast = event.kind == crate::domain::EventKind::Status
            && event.to.as_deref() == Some(crate::domain::Status::Resolved.as_str())
            && incident.severity <= crate::domain::Severity::Sev2;
        let message = json!({"channel": announce, "thread_ts": parent,
                             "reply_broadcast": broadcast,
                             "text": truncate(&text, 4000), "blocks": blocks::message(&text)});
        self.post(run, message).await.map(|_| ())
    }

    /// Tells `user`, seeing it alone in `channel`, where the incident they declared is.
    /// Slack refusing (they left, the bot is not in that channel) ends it: it is a
    /// courtesy, and the channel is in their sidebar anyway.
    async fn tell_declarer(
        &self,
        incident: &Incident,
        channel: &str,
        user: &str,
    ) -> Result<(), JobError> {
        let text = reply::declared_where(incident);
        let asked = json!({"channel": channel, "user": user, "text": text,
                           "blocks": blocks::message(&text)});
        match self.slack.call("chat.postEphemeral", &asked).await {
            Err(SlackError::Refused { code, .. }) => {
                tracing::info!(%code, "cannot tell the declarer where the channel is");
                Ok(())
            }
            other => other.map(|_| ()).map_err(Into::into),
        }
    }

    /// Tells `user`, in a direct message, that they hold `role` and what it expects.
    async fn tell_role(
        &self,
        incident: &Incident,
        user: &str,
        role: &str,
        run: Run,
    ) -> Result<(), JobError> {
        // Still theirs: a role passed on before this ran is told to its new holder.
        if incident
            .roles
            .iter()
            .all(|(r, u)| r.as_str() != role || u.as_str() != user)
        {
            return Ok(());
        }
        let Some(duty) = self.policy.duties.get(role) else {
            return Ok(());
        };
        let opened = self
            .slack
            .call("conversations.open", &json!({"users": user}))
            .await?;
        let dm = opened["channel"]["id"]
            .as_str()
            .ok_or_else(|| JobError::Permanent("conversations.open returned no channel".into()))?
            .to_owned();
        let text = reply::role_duty(incident, role, duty);
        self.post_text(run, &dm, &text).await
    }

    async fn announce(&self, run: Run, text: &str) -> Result<(), JobError> {
        match &self.announce_channel {
            Some(announce) => self.post_text(run, announce.as_str(), text).await,
            None => Ok(()),
        }
    }

    async fn post_text(&self, run: Run, channel: &str, text: &str) -> Result<(), JobError> {
        let message = json!({"channel": channel, "text": truncate(text, 4000), "blocks": blocks::message(text)});
        self.post(run, message).await.map(|_| ())
    }

    /// Posts `message` once: each message carries its job's id (and step) as metadata,
    /// and a retry first looks in the channel for a message an earlier attempt posted
    /// (one whose answer was lost to a timeout or a 5xx) and takes its `ts` instead of
    /// posting again.
    async fn post(&self, run: Run, mut message: serde_json::Value) -> Result<String, JobError> {
        let channel = message["channel"].as_str().unwrap_or_default().to_owned();
        if run.attempt > 1 {
            let thread = message["thread_ts"].as_str();
            if let Some(ts) = self.posted_by(&channel, thread, run).await {
                return Ok(ts);
            }
        }
        message["metadata"] = json!({"event_type": METADATA_EVENT,
                                     "event_payload": {"job": run.job_id, "step": run.step}});
        let response = self.slack.call("chat.postMessage", &message).await?;
        response["ts"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| JobError::Permanent("chat.postMessage returned no ts".into()))
    }

    /// The `ts` of the recent message in `channel` (in `thread` when given) posted for
    /// `run`'s job and step, if Slack lets this bot read the channel's history (scope
    /// `channels:history`, `im:history` for a direct message).
    async fn posted_by(&self, channel: &str, thread: Option<&str>, run: Run) -> Option<String> {
        let mut asked = vec![
            ("channel", channel),
            ("limit", "100"),
            ("include_all_metadata", "true"),
        ];
        // A reply is not in the channel's history: it is in its thread's.
        let method = match thread {
            Some(ts) => {
                asked.push(("ts", ts));
                "conversations.replies"
            }
            None => "conversations.history",
        };
        let history = self.slack.call_form(method, &asked).await;
        let history = match history {
            Ok(history) => history,
            Err(e) => {
                tracing::warn!(%channel, error = %e, "cannot read the channel to avoid a double post");
                return None;
            }
        };
        history["messages"].as_array()?.iter().find_map(|m| {
            let posted = &m["metadata"]["event_payload"];
            // A message posted before steps carries no step: the job's only one, 0.
            let ours = m["metadata"]["event_type"] == METADATA_EVENT
                && posted["job"].as_i64() == Some(run.job_id)
                && posted["step"].as_u64().unwrap_or(0) == u64::from(run.step);
            ours.then(|| m["ts"].as_str().map(str::to_owned)).flatten()
        })
    }

    async fn create_channel(&self, incident: Incident, attempt: u32) -> Result<(), JobError> {
        if incident.channel_id.is_none() {
            let mut created = None;
            for suffix in 0..NAME_TRIES {
                let name = name_of(&incident, suffix);
                match self
                    .slack
                    .call(
                        "conversations.create",
                        &json!({"name": name, "is_private": incident.private}),
                    )
                    .await
                {
                    Ok(response) => {
                        created = response["channel"]["id"].as_str().map(str::to_owned);
                        break;
                    }
                    Err(e) if e.code() == Some("name_taken") => {
                        // A retry after an answer that never came (a timeout, a 5xx): the
                        // channel may be the one this job made. Take it rather than make
                        // a second.
                        if attempt > 1 {
                            if let Some(id) = self.own_channel(&name).await? {
                                created = Some(id);
                                break;
                            }
                        }
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            let id: ChannelId = created
                .ok_or_else(|| {
                    JobError::Permanent(format!("{NAME_TRIES} channel names were taken"))
                })?
                .parse()
                .map_err(|e| JobError::Permanent(format!("conversations.create: {e}")))?;
            // Recorded before anything else, so a retry never creates a second channel.
            self.store.set_channel(incident.id, &id).await?;
        }
        Ok(())
    }

    /// The members of `people` (user ids, and user groups read through
    /// `usergroups.users.list`, each at most once every ten minutes), invited a
    /// hundred at a time with `force`, so one that cannot be invited holds back no other;
    /// they are named in the channel. Those invited are the incident's participants.
    async fn invite_people(
        &self,
        incident: &Incident,
        people: &[String],
        run: Run,
    ) -> Result<(), JobError> {
        let channel = channel(incident)?;
        let mut users: Vec<String> = vec![];
        let mut missed: Vec<(String, String)> = vec![];
        for who in people {
            let found = if let Some(policy) = who.strip_prefix(crate::config::ONCALL_PREFIX) {
                match self.on_call(policy).await? {
                    Ok(found) => found,
                    Err(why) => {
                        missed.push((format!("the on-call of {policy}"), why));
                        vec![]
                    }
                }
            } else if who.starts_with('S') {
                self.group_members(who).await?
            } else {
                vec![who.clone()]
            };
            for user in found {
                if !users.contains(&user) {
                    users.push(user);
                }
            }
        }
        for batch in users.chunks(INVITE_BATCH) {
            let asked = json!({"channel": channel, "users": batch.join(","), "force": true});
            match self.slack.call("conversations.invite", &asked).await {
                Ok(_) => {}
                Err(SlackError::Refused { code, errors, .. }) => {
                    // Per user, when Slack says; else the whole batch failed alike.
                    if errors.is_empty() && code != "already_in_channel" {
                        missed.extend(batch.iter().map(|u| (u.clone(), code.clone())));
                    }
                    missed.extend(
                        errors.into_iter().filter(|(user, error)| {
                            !user.is_empty() && error != "already_in_channel"
                        }),
                    );
                }
                Err(e) => return Err(e.into()),
            }
        }
        let at = crate::now();
        for user in &users {
            if missed.iter().any(|(u, _)| u == user) {
                continue;
            }
            if let Ok(user) = user.parse() {
                self.store.add_participant(incident.id, &user, at).await?;
            }
        }
        if missed.is_empty() {
            return Ok(());
        }
        let named: Vec<String> = missed
            .iter()
            .map(|(who, why)| {
                let who = if who.starts_with('U') || who.starts_with('W') {
                    format!("<@{who}>")
                } else {
                    escape(who)
                };
                format!("{who} ({})", escape(why))
            })
            .collect();
        let text = format!(":warning: Could not invite {}.", named.join(", "));
        self.post_text(run, channel.as_str(), &text).await
    }

    /// The Slack users on call at the first level of PagerDuty escalation policy
    /// `policy` (by email, `users.lookupByEmail`); `Ok(Err(why))` when they cannot be
    /// found: the invitation goes on without them.
    async fn on_call(&self, policy: &str) -> Result<Result<Vec<String>, String>, JobError> {
        let Some(oncall) = &self.oncall else {
            return Ok(Err("PAGERDUTY_API_TOKEN is not set".into()));
        };
        let emails = match oncall.first_level(policy).await {
            Ok(emails) if emails.is_empty() => return Ok(Err("nobody is on call".into())),
            Ok(emails) => emails,
            Err(why) => return Ok(Err(why)),
        };
        let mut users = vec![];
        for email in emails {
            match self
                .slack
                .call_form("users.lookupByEmail", &[("email", &email)])
                .await
            {
                Ok(found) => users.extend(found["user"]["id"].as_str().map(str::to_owned)),
                Err(e @ SlackError::Refused { .. }) => {
                    return Ok(Err(format!("{email} has no Slack account ({e})")));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Ok(users))
    }

    /// The users of user group `group`.
    async fn group_members(&self, group: &str) -> Result<Vec<String>, JobError> {
        Ok(self.groups.of(group).await?)
    }

    /// The channel takes the incident's present title (`inc-42-new-slug`, a suffix when
    /// taken) and topic; a refused rename keeps the old name and says so in the channel.
    async fn rename_channel(&self, incident: &Incident, run: Run) -> Result<(), JobError> {
        let channel = channel(incident)?;
        let mut why = format!("{NAME_TRIES} channel names were taken");
        for suffix in 0..NAME_TRIES {
            let name = name_of(incident, suffix);
            match self
                .slack
                .call(
                    "conversations.rename",
                    &json!({"channel": channel, "name": name}),
                )
                .await
            {
                Ok(_) => {
                    self.slack
                        .call(
                            "conversations.setTopic",
                            &json!({"channel": channel, "topic": topic(incident)}),
                        )
                        .await?;
                    return Ok(());
                }
                Err(e) if e.code() == Some("name_taken") => continue,
                Err(e @ crate::slack::client::SlackError::Refused { .. }) => {
                    why = e.to_string();
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let text = format!(
            ":warning: This channel keeps its name: it could not be renamed after the new \
             title ({}).",
            escape(&why)
        );
        self.post_text(run, channel.as_str(), &text).await
    }

    /// The unarchived public channel named `name` that this bot created, if any.
    async fn own_channel(&self, name: &str) -> Result<Option<String>, JobError> {
        let me = self.slack.call("auth.test", &json!({})).await?;
        let me = me["user_id"].as_str().unwrap_or_default().to_owned();
        let mut cursor = String::new();
        for _ in 0..LIST_PAGES {
            let page = self
                .slack
                .call_form(
                    "conversations.list",
                    &[
                        ("types", "public_channel,private_channel"),
                        ("exclude_archived", "true"),
                        ("limit", "1000"),
                        ("cursor", &cursor),
                    ],
                )
                .await?;
            let found = page["channels"].as_array().into_iter().flatten().find(|c| {
                c["name"].as_str() == Some(name) && c["creator"].as_str() == Some(me.as_str())
            });
            if let Some(channel) = found {
                return Ok(channel["id"].as_str().map(str::to_owned));
            }
            cursor = page["response_metadata"]["next_cursor"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if cursor.is_empty() {
                break;
            }
        }
        Ok(None)
    }

    /// Invites each user on their own, so one who cannot be invited does not keep the
    /// others out; such a refusal is logged, not retried. No `users`: the declarer and
    /// the role holders.
    async fn invite(&self, incident: &Incident, users: &[String]) -> Result<(), JobError> {
        let channel = channel(incident)?;
        let mut users = users.to_vec();
        if users.is_empty() {
            // A token or an integration declared it: nobody of its own to invite.
            if let Some(user) = incident.declared_by.slack_user() {
                users.push(user.to_string());
            }
            for user in incident.roles.values() {
                if !users.contains(&user.to_string()) {
                    users.push(user.to_string());
                }
            }
        }
        for user in &users {
            match self
                .slack
                .call(
                    "conversations.invite",
                    &json!({"channel": channel, "users": user}),
                )
                .await
            {
                Ok(_) => {}
                Err(e) if e.code() == Some("already_in_channel") => {}
                Err(e @ SlackError::Refused { .. }) => {
                    tracing::warn!(incident = %incident.id, %user, error = %e, "cannot invite user");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    async fn post_summary(&self, incident: &Incident, run: Run) -> Result<(), JobError> {
        let channel = channel(incident)?;
        let ts = match &incident.summary_ts {
            Some(ts) => ts.clone(),
            None => {
                let message = json!({"channel": channel, "text": blocks::summary_text(incident),
                                     "blocks": self.summary(incident).await?});
                let ts = self.post(run, message).await?;
                // Recorded before pinning, so a retry pins this message and posts no other.
                self.store.set_summary_ts(incident.id, &ts).await?;
                ts
            }
        };
        match self
            .slack
            .call("pins.add", &json!({"channel": channel, "timestamp": ts}))
            .await
        {
            Err(e) if e.code() == Some("already_pinned") => Ok(()),
            other => other.map(|_| ()).map_err(Into::into),
        }
    }
}

/// The incident's channel. Jobs run after the one that creates it, and wait while that
/// one is dead, so a missing channel is a state no retry repairs.
fn channel(incident: &Incident) -> Result<&ChannelId, JobError> {
    incident
        .channel_id
        .as_ref()
        .ok_or_else(|| JobError::Permanent(format!("incident #{} has no channel", incident.id)))
}

/// `Incident #42: title`, escaped (a topic is mrkdwn too), within Slack's 250 characters.
fn topic(incident: &Incident) -> String {
    let mut max = MAX_TOPIC;
    loop {
        let topic = escape(&truncate(
            &format!(
                "{}Incident #{}: {}",
                incident.label(),
                incident.id,
                incident.title
            ),
            max,
        ));
        if topic.chars().count() <= MAX_TOPIC || max == 0 {
            return topic;
        }
        max -= 10.min(max);
    }
}

/// The channel name of `incident` as it is titled now, with `suffix` when the plain one
/// is taken.
fn name_of(incident: &Incident, suffix: u32) -> String {
    channel_name(
        incident.channel_prefix(),
        incident.id.0,
        &incident.title,
        suffix,
    )
}
