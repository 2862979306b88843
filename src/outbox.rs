//! The outbox: what a change asks of outside services, as jobs written in the same
//! transaction as the change. Pure: which jobs, not how they run (that is `jobs`).
//!
//! A job carries facts (the event it tells, the users it invites), not text: it is worded
//! when it runs, from the incident as it is then, so a job that waited through an outage
//! shows the present title and links.

use serde::{Deserialize, Serialize};

use crate::domain::paging::PageAction;
use crate::domain::{Change, Event, EventKind, Severity, Status, Team};

/// The outside service a job calls. Each service keeps its own order per incident, so a
/// Confluence retry never holds back a Slack post, nor the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Slack,
    Confluence,
    PagerDuty,
    Opsgenie,
    Jira,
}

impl Service {
    pub const ALL: [Service; 5] = [
        Service::Slack,
        Service::Confluence,
        Service::PagerDuty,
        Service::Opsgenie,
        Service::Jira,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Service::Slack => "slack",
            Service::Confluence => "confluence",
            Service::PagerDuty => "pagerduty",
            Service::Opsgenie => "opsgenie",
            Service::Jira => "jira",
        }
    }

    pub fn parse(s: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// What a nudge asks an incident's channel for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "for", rename_all = "snake_case")]
pub enum Reminder {
    /// No update for `every_minutes`: `lead` (a user id), if any, is asked.
    Update {
        lead: Option<String>,
        every_minutes: i64,
    },
    /// The postmortem has waited `waiting_days`.
    Postmortem { waiting_days: i64 },
}

impl From<&crate::domain::cadence::Nudge> for Reminder {
    fn from(nudge: &crate::domain::cadence::Nudge) -> Reminder {
        use crate::domain::cadence::Nudge;
        match nudge {
            Nudge::Update { lead, every } => Reminder::Update {
                lead: lead.as_ref().map(|u| u.to_string()),
                every_minutes: every.num_minutes(),
            },
            Nudge::Postmortem { waiting } => Reminder::Postmortem {
                waiting_days: waiting.num_days(),
            },
        }
    }
}

/// One piece of outside work for an incident, for the service it calls. Stored as JSON
/// (`{"kind": …}`, the same whichever service: kinds are unique across services); the
/// jobs of one incident and one service run in the order they were written. A new
/// outside service adds its own enum here and one variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Job {
    Slack(SlackJob),
    Confluence(ConfluenceJob),
    Paging(PagingJob),
    Jira(JiraJob),
}

/// Work against Jira: an issue made once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JiraJob {
    /// The incident's own issue.
    JiraIncidentIssue,
    /// The issue of follow-up `number`.
    JiraFollowupIssue { number: i64 },
    /// The incident's issue, if made, takes the incident's title and links as they are
    /// then.
    JiraRefresh,
}

/// Work against Slack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SlackJob {
    /// Create the incident's channel and record its id. The jobs after it need it: while
    /// it is dead they wait.
    CreateChannel,
    /// Invite `users`; when empty, the declarer and the role holders as they are then.
    Invite {
        #[serde(default)]
        users: Vec<String>,
    },
    SetTopic,
    /// Post the summary message, record its `ts`, pin it.
    PostSummary,
    /// Bring the pinned summary up to date with the incident as it is now. A later one
    /// supersedes one still waiting.
    UpdateSummary,
    /// Tell `event` in the incident's channel.
    PostEvent {
        event: Event,
    },
    /// Announce the new incident in the announce channel: one message, its `ts`
    /// recorded, edited in place as the incident changes.
    AnnounceDeclared,
    /// Bring the announcement up to date and tell `event` (a status, severity or title
    /// change) in its thread; a SEV1 or SEV2 resolved is also shown in the channel.
    AnnounceEvent {
        event: Event,
    },
    /// Bring the announcement up to date (a new lead, a new impact). A later one
    /// supersedes one still waiting.
    RefreshAnnouncement,
    /// Tell `user`, seeing it alone in `channel` (where they opened the declare form),
    /// where the incident's channel is.
    TellDeclarer {
        channel: String,
        user: String,
    },
    /// Tell `user`, in a direct message, that they hold `role` of the incident and what
    /// it expects (`lifecycle.role_duties`).
    TellRole {
        user: String,
        role: String,
    },
    ArchiveChannel,
    /// Add the message `ts` of `channel` (pinned with 📌 by `by`) to the timeline: its
    /// author, text, link and own time.
    CaptureMessage {
        channel: String,
        ts: String,
        by: String,
    },
    /// Post `text` (mrkdwn, already escaped) in the incident's channel.
    Post {
        text: String,
    },
    /// Ask the incident's channel for news (worded when it runs).
    Nudge {
        reminder: Reminder,
    },
    /// Post `text` in the announce channel (pompier 0.1).
    Announce {
        text: String,
    },
    /// Rename the incident's channel after its title as it is then.
    RenameChannel,
    /// Invite `people` (user ids `U…`, user group ids `S…` read when it runs) into the
    /// incident's channel; those who cannot be are named there.
    InvitePeople {
        people: Vec<String>,
    },
    /// Tell the team's `channel` of its new incident.
    TellTeam {
        channel: String,
    },
    /// Post alert group `group` in the triage channel with a *Declare* button (a job of
    /// no incident).
    PostTriage {
        group: i64,
    },
    /// Post game day `gameday`'s report where it was started (a job of no incident).
    GamedayReport {
        gameday: i64,
    },
}

/// Work against Confluence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConfluenceJob {
    /// Draft the incident's postmortem page in Confluence (moved to `postmortem` by
    /// `by`), record its address, and say it in the channel.
    DraftPostmortem { by: String },
    /// Draft game day `gameday`'s report as a page, once, and record its address (a job
    /// of no incident).
    DraftGamedayReport { gameday: i64 },
}

/// Work against a pager: the same page, told to PagerDuty or to Opsgenie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PagingJob {
    Pagerduty(PageJob),
    Opsgenie(PageJob),
}

/// `action` on the incident's page to `team` (the default routing when `None`); an
/// acknowledge or resolve of no team goes to every page of the incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageJob {
    pub action: PageAction,
    #[serde(default)]
    pub team: Option<Team>,
    /// Said with a page by hand.
    #[serde(default)]
    pub message: Option<String>,
}

impl PagingJob {
    pub fn new(service: Service, page: PageJob) -> Option<PagingJob> {
        match service {
            Service::PagerDuty => Some(PagingJob::Pagerduty(page)),
            Service::Opsgenie => Some(PagingJob::Opsgenie(page)),
            Service::Slack | Service::Confluence | Service::Jira => None,
        }
    }

    pub fn page(&self) -> &PageJob {
        match self {
            PagingJob::Pagerduty(page) | PagingJob::Opsgenie(page) => page,
        }
    }

    pub fn service(&self) -> Service {
        match self {
            PagingJob::Pagerduty(_) => Service::PagerDuty,
            PagingJob::Opsgenie(_) => Service::Opsgenie,
        }
    }
}

impl From<SlackJob> for Job {
    fn from(job: SlackJob) -> Job {
        Job::Slack(job)
    }
}

impl From<ConfluenceJob> for Job {
    fn from(job: ConfluenceJob) -> Job {
        Job::Confluence(job)
    }
}

impl SlackJob {
    pub fn kind(&self) -> &'static str {
        match self {
            SlackJob::CreateChannel => "create_channel",
            SlackJob::Invite { .. } => "invite",
            SlackJob::SetTopic => "set_topic",
            SlackJob::PostSummary => "post_summary",
            SlackJob::UpdateSummary => "update_summary",
            SlackJob::PostEvent { .. } => "post_event",
            SlackJob::AnnounceDeclared => "announce_declared",
            SlackJob::AnnounceEvent { .. } => "announce_event",
            SlackJob::RefreshAnnouncement => "refresh_announcement",
            SlackJob::TellRole { .. } => "tell_role",
            SlackJob::TellDeclarer { .. } => "tell_declarer",
            SlackJob::ArchiveChannel => "archive_channel",
            SlackJob::CaptureMessage { .. } => "capture_message",
            SlackJob::Post { .. } => "post",
            SlackJob::Nudge { .. } => "nudge",
            SlackJob::Announce { .. } => "announce",
            SlackJob::PostTriage { .. } => "post_triage",
            SlackJob::RenameChannel => "rename_channel",
            SlackJob::InvitePeople { .. } => "invite_people",
            SlackJob::TellTeam { .. } => "tell_team",
            SlackJob::GamedayReport { .. } => "gameday_report",
        }
    }
}

impl Job {
    pub fn kind(&self) -> &'static str {
        match self {
            Job::Slack(job) => job.kind(),
            Job::Confluence(ConfluenceJob::DraftPostmortem { .. }) => "draft_postmortem",
            Job::Confluence(ConfluenceJob::DraftGamedayReport { .. }) => "draft_gameday_report",
            Job::Paging(PagingJob::Pagerduty(_)) => "pagerduty",
            Job::Paging(PagingJob::Opsgenie(_)) => "opsgenie",
            Job::Jira(JiraJob::JiraIncidentIssue) => "jira_incident_issue",
            Job::Jira(JiraJob::JiraFollowupIssue { .. }) => "jira_followup_issue",
            Job::Jira(JiraJob::JiraRefresh) => "jira_refresh",
        }
    }

    pub fn service(&self) -> Service {
        match self {
            Job::Slack(_) => Service::Slack,
            Job::Confluence(_) => Service::Confluence,
            Job::Paging(job) => job.service(),
            Job::Jira(_) => Service::Jira,
        }
    }

    /// Whether the jobs queued after it cannot run while it is dead (they need what it
    /// makes): they then wait for an operator's retry instead of failing one by one.
    pub fn holds_back_the_rest(&self) -> bool {
        matches!(self, Job::Slack(SlackJob::CreateChannel))
    }

    /// Whether a later job of its kind makes it pointless (it shows the state as it is
    /// when it runs): queuing one marks those still waiting done.
    pub fn superseded_by_later(&self) -> bool {
        matches!(
            self,
            Job::Slack(SlackJob::UpdateSummary | SlackJob::RefreshAnnouncement)
        )
    }

    /// Its rank among the jobs of incidents of one severity, lowest first (the claim
    /// orders by `10 × severity + rank`, so a SEV1's work goes before a SEV4's): 0 is what
    /// responders wait for (the page, the channel, its members, topic and first summary),
    /// 1 what the channel is told after, 2 announcements, reports and drafts.
    pub fn rank(&self) -> i32 {
        match self {
            Job::Paging(_)
            | Job::Slack(
                SlackJob::CreateChannel
                | SlackJob::Invite { .. }
                | SlackJob::InvitePeople { .. }
                | SlackJob::SetTopic
                | SlackJob::PostSummary
                | SlackJob::TellDeclarer { .. },
            ) => 0,
            Job::Slack(
                SlackJob::UpdateSummary
                | SlackJob::PostEvent { .. }
                | SlackJob::Post { .. }
                | SlackJob::Nudge { .. }
                | SlackJob::RenameChannel
                | SlackJob::TellRole { .. }
                | SlackJob::CaptureMessage { .. }
                | SlackJob::TellTeam { .. },
            ) => 1,
            Job::Slack(
                SlackJob::AnnounceDeclared
                | SlackJob::AnnounceEvent { .. }
                | SlackJob::RefreshAnnouncement
                | SlackJob::Announce { .. }
                | SlackJob::PostTriage { .. }
                | SlackJob::GamedayReport { .. }
                | SlackJob::ArchiveChannel,
            )
            | Job::Confluence(_)
            | Job::Jira(_) => 2,
        }
    }

    /// Its place in the claim order for an incident of `severity`, lowest first:
    /// `10 × the severity's number + rank`, as `insert_job!` computes it in SQL.
    pub fn priority(&self, severity: Severity) -> i32 {
        severity_priority(severity) + self.rank()
    }

    pub fn to_payload(&self) -> String {
        serde_json::to_string(self).expect("a job serializes")
    }
}

/// Jobs stored in one row and run in turn. A declaration queues its setup (channel,
/// members, topic, summary) as one row, not one row per step: the row advances past each
/// step as it finishes (`Store::finish_job`), so it keeps its place in the claim order and
/// the incident's later jobs still wait behind all of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Steps {
    /// The place of the first of `steps` in the chain as queued: with the row's id, what
    /// tells one step's Slack message from another's.
    pub at: u32,
    pub steps: Vec<Job>,
}

impl Steps {
    /// A row's payload: a job alone as its own JSON (`{"kind": …}`), steps as
    /// `{"at": …, "steps": […]}`, which a version before steps cannot read (it hands
    /// the row back rather than run only its first step).
    pub fn to_payload(&self) -> String {
        Steps::payload_of(self.at, &self.steps)
    }

    /// The payload of `steps` from place `at`, as `to_payload` writes it.
    pub fn payload_of(at: u32, steps: &[Job]) -> String {
        #[derive(Serialize)]
        struct Borrowed<'a> {
            at: u32,
            steps: &'a [Job],
        }
        match steps {
            [job] if at == 0 => job.to_payload(),
            _ => serde_json::to_string(&Borrowed { at, steps }).expect("steps serialize"),
        }
    }

    /// A row's payload read back; `None` when this version cannot read it.
    pub fn from_payload(payload: &str) -> Option<Steps> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Steps(Steps),
            One(Job),
        }
        match serde_json::from_str(payload).ok()? {
            Stored::Steps(steps) if !steps.steps.is_empty() => Some(steps),
            Stored::Steps(_) => None,
            Stored::One(job) => Some(Steps {
                at: 0,
                steps: vec![job],
            }),
        }
    }
}

/// `jobs` as rows, in order: consecutive jobs of one service and one rank share a row
/// (`Steps`), but a job a later one supersedes stays alone, for that one to mark done.
pub fn chained(jobs: &[Job]) -> Vec<&[Job]> {
    let alone = |job: &Job| job.superseded_by_later();
    jobs.chunk_by(|a, b| {
        a.service() == b.service() && a.rank() == b.rank() && !alone(a) && !alone(b)
    })
    .collect()
}

/// The part of a job's priority its incident's severity gives: 10 for a SEV1, 40 for a
/// SEV4 (`Job::priority` adds the job's rank).
pub fn severity_priority(severity: Severity) -> i32 {
    10 * (severity as i32 + 1)
}

/// Which jobs each change queues.
#[derive(Debug, Clone, Default)]
pub struct Effects {
    /// Whether an announce channel is configured (`POMPIER_ANNOUNCE_CHANNEL`).
    pub announce: bool,
    /// Archive the incident's channel when the incident is closed.
    pub archive_on_close: bool,
    /// Whether Confluence is configured to draft postmortem pages.
    pub postmortem_pages: bool,
    pub paging: Paging,
    /// When Jira is configured: incidents at this severity or worse get an issue.
    pub jira: Option<Severity>,
    pub invites: Invites,
    /// Roles whose new holder is told what the role expects (`lifecycle.role_duties`).
    pub duties: Vec<String>,
}

/// Who is pulled into an incident's channel (`[teams.NAME]`, `[invite]`).
#[derive(Debug, Clone, Default)]
pub struct Invites {
    /// Each team's people (user and user group ids) and channel.
    pub teams: std::collections::BTreeMap<Team, TeamPeople>,
    /// Who joins every public incident of a severity.
    pub by_severity: std::collections::BTreeMap<Severity, Vec<String>>,
}

#[derive(Debug, Clone, Default)]
pub struct TeamPeople {
    pub people: Vec<String>,
    pub channel: Option<String>,
}

impl Invites {
    /// Whether `team` is configured.
    pub fn knows(&self, team: &Team) -> bool {
        self.teams.contains_key(team)
    }

    /// A new incident: its team's people (and channel told, unless private), and its
    /// severity's people unless private.
    fn on_declare(&self, severity: Severity, private: bool, team: Option<&Team>) -> Vec<Job> {
        let mut jobs = vec![];
        let mut people = vec![];
        if let Some(team) = team.and_then(|t| self.teams.get(t)) {
            people.extend(team.people.iter().cloned());
            if let (Some(channel), false) = (&team.channel, private) {
                jobs.push(
                    SlackJob::TellTeam {
                        channel: channel.clone(),
                    }
                    .into(),
                );
            }
        }
        if !private {
            people.extend(
                self.by_severity
                    .get(&severity)
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
        }
        people.dedup();
        if !people.is_empty() {
            jobs.insert(0, SlackJob::InvitePeople { people }.into());
        }
        jobs
    }

    /// A raise: that severity's people join a public incident.
    fn on_raise(&self, change: &Change) -> Vec<Job> {
        match self.by_severity.get(&change.after.severity) {
            Some(people) if !change.after.private && !people.is_empty() => {
                vec![SlackJob::InvitePeople {
                    people: people.clone(),
                }
                .into()]
            }
            _ => vec![],
        }
    }
}

/// Who is paged, and when (`[paging]`).
#[derive(Debug, Clone)]
pub struct Paging {
    /// The configured pagers: none, nobody is paged.
    pub services: Vec<Service>,
    /// Incidents at this severity or worse page.
    pub min_severity: Severity,
    /// Whether drills page too.
    pub drills: bool,
    /// The teams that may be paged by hand, and through which pagers.
    pub teams: std::collections::BTreeMap<Team, Vec<Service>>,
}

impl Default for Paging {
    fn default() -> Paging {
        Paging {
            services: vec![],
            min_severity: Severity::Sev2,
            drills: false,
            teams: Default::default(),
        }
    }
}

impl Paging {
    /// `action` on the pages of `team` (the default routing when `None`), through each
    /// pager that serves it.
    fn jobs(&self, action: PageAction, team: Option<&Team>, message: Option<&str>) -> Vec<Job> {
        let services = match team {
            None => self.services.as_slice(),
            Some(team) => self.teams.get(team).map_or(&[][..], Vec::as_slice),
        };
        services
            .iter()
            .filter_map(|service| {
                let page = PageJob {
                    action,
                    team: team.cloned(),
                    message: message.map(str::to_owned),
                };
                PagingJob::new(*service, page).map(Job::Paging)
            })
            .collect()
    }

    fn pages(&self, severity: Severity, drill: bool) -> bool {
        severity <= self.min_severity && (!drill || self.drills)
    }

    /// A new incident at the paging severity or worse is paged.
    pub fn on_declare(&self, severity: Severity, drill: bool) -> Vec<Job> {
        if self.pages(severity, drill) {
            self.jobs(PageAction::Trigger, None, None)
        } else {
            vec![]
        }
    }

    /// A raise to the paging severity or worse pages (again: the pager updates the open
    /// alert's severity); `investigating` acknowledges, `resolved` resolves, a reopen
    /// pages again; a page by hand pages its team. Acknowledge and resolve are queued
    /// for every incident that may have been paged (by hand too): the job finds what was.
    pub fn on_change(&self, change: &Change) -> Vec<Job> {
        let event = &change.event;
        let after = &change.after;
        let drill = after.drill.is_some();
        if drill && !self.drills {
            return vec![];
        }
        let from = event.from.as_deref();
        match event.kind {
            EventKind::Severity => {
                if change.raised_from().is_some() && self.pages(after.severity, drill) {
                    self.jobs(PageAction::Trigger, None, None)
                } else {
                    vec![]
                }
            }
            EventKind::Status => match after.status {
                Status::Investigating if from == Some(Status::Resolved.as_str()) => {
                    if self.pages(after.severity, drill) {
                        self.jobs(PageAction::Trigger, None, None)
                    } else {
                        vec![]
                    }
                }
                Status::Investigating => self.all(PageAction::Acknowledge),
                Status::Resolved => self.all(PageAction::Resolve),
                _ => vec![],
            },
            // A new title: open pages show it.
            EventKind::Edit if event.field() == Some("title") => self.all(PageAction::Update),
            EventKind::Page => match event.to.as_deref().map(str::parse::<Team>) {
                Some(Ok(team)) => {
                    self.jobs(PageAction::Trigger, Some(&team), event.note.as_deref())
                }
                _ => vec![],
            },
            _ => vec![],
        }
    }

    /// `action` on every page of the incident, through every pager.
    fn all(&self, action: PageAction) -> Vec<Job> {
        let mut services = self.services.clone();
        for more in self.teams.values().flatten() {
            if !services.contains(more) {
                services.push(*more);
            }
        }
        Paging {
            services,
            ..Paging::default()
        }
        .jobs(action, None, None)
    }

    /// Whether `team` may be paged by hand.
    pub fn knows(&self, team: &Team) -> bool {
        self.teams.get(team).is_some_and(|s| !s.is_empty())
    }
}

/// Said in the channel when an incident reaches `postmortem` and no page can be drafted.
pub const NO_CONFLUENCE: &str = ":memo: No postmortem page was drafted: Confluence is not \
     configured on this pompier (CONFLUENCE_BASE_URL, CONFLUENCE_API_TOKEN and the space).";

/// Whether `event` changes what the announcement shows besides status, severity and
/// title: the lead, the impact.
fn shown_on_the_announcement(event: &Event) -> bool {
    (event.kind == EventKind::Role && event.role.as_ref().map(|r| r.as_str()) == Some("lead"))
        || event.field() == Some("impact")
}

impl Effects {
    /// A new incident: its channel, people in, topic, pinned summary, announcement, in
    /// that order, all queued at once so later changes' jobs come after them.
    /// `quiet`: a drill or a private incident, which is not announced.
    pub fn on_declare(
        &self,
        severity: Severity,
        drill: bool,
        private: bool,
        team: Option<&Team>,
    ) -> Vec<Job> {
        let quiet = drill || private;
        let mut jobs = vec![
            SlackJob::CreateChannel.into(),
            SlackJob::Invite { users: vec![] }.into(),
            SlackJob::SetTopic.into(),
            SlackJob::PostSummary.into(),
        ];
        if !drill {
            jobs.extend(self.invites.on_declare(severity, private, team));
        }
        // Drills and private incidents are not announced: the room playing knows of a
        // drill, and a private incident is for its members.
        if self.announce && !quiet {
            jobs.push(SlackJob::AnnounceDeclared.into());
        }
        jobs.extend(self.paging.on_declare(severity, drill));
        if self.jira.is_some_and(|min| severity <= min) && !drill {
            jobs.push(Job::Jira(JiraJob::JiraIncidentIssue));
        }
        jobs
    }

    /// A new follow-up: its Jira issue, when Jira is configured.
    pub fn on_followup(&self, number: i64) -> Vec<Job> {
        match self.jira {
            Some(_) => vec![Job::Jira(JiraJob::JiraFollowupIssue { number })],
            None => vec![],
        }
    }

    /// A stored change: told in the incident's channel, the pinned summary brought up to
    /// date, status and severity changes announced, the channel archived on close.
    pub fn on_change(&self, change: &Change) -> Vec<Job> {
        let event = &change.event;
        let mut jobs = vec![];
        if let (EventKind::Role, Some(user)) = (event.kind, &event.to) {
            jobs.push(
                SlackJob::Invite {
                    users: vec![user.clone()],
                }
                .into(),
            );
            let role = event.role.as_ref().map(|r| r.as_str());
            if let Some(role) = role.filter(|r| self.duties.iter().any(|d| d == r)) {
                jobs.push(
                    SlackJob::TellRole {
                        user: user.clone(),
                        role: role.to_owned(),
                    }
                    .into(),
                );
            }
        }
        jobs.push(
            SlackJob::PostEvent {
                event: event.clone(),
            }
            .into(),
        );
        // A note too: the summary says when the next update is due.
        jobs.push(SlackJob::UpdateSummary.into());
        if self.announce && change.after.drill.is_none() && !change.after.private {
            if matches!(event.kind, EventKind::Status | EventKind::Severity)
                || event.field() == Some("title")
            {
                jobs.push(
                    SlackJob::AnnounceEvent {
                        event: event.clone(),
                    }
                    .into(),
                );
            } else if shown_on_the_announcement(event) {
                jobs.push(SlackJob::RefreshAnnouncement.into());
            }
        }
        if self.archive_on_close && change.after.status == Status::Closed {
            jobs.push(SlackJob::ArchiveChannel.into());
        }
        if event.kind == EventKind::Status && change.after.status == Status::Postmortem {
            jobs.push(if self.postmortem_pages {
                ConfluenceJob::DraftPostmortem {
                    by: event.actor.to_string(),
                }
                .into()
            } else {
                SlackJob::Post {
                    text: NO_CONFLUENCE.into(),
                }
                .into()
            });
        }
        let raised_from = change.raised_from();
        if raised_from.is_some() && change.after.drill.is_none() {
            jobs.extend(self.invites.on_raise(change));
        }
        let retitled = event.kind == EventKind::Edit && event.field() == Some("title");
        if retitled {
            jobs.push(SlackJob::RenameChannel.into());
        }
        // The Jira issue shows the new title, or links the postmortem just drafted.
        if self.jira.is_some() && (retitled || event.kind == EventKind::Postmortem) {
            jobs.push(Job::Jira(JiraJob::JiraRefresh));
        }
        jobs.extend(self.paging.on_change(change));
        // Raised to Jira's severity: the incident gets its issue (once: the job finds one
        // made before).
        if let (Some(before), Some(min)) = (raised_from, self.jira) {
            if before > min && change.after.severity <= min && change.after.drill.is_none() {
                jobs.push(Job::Jira(JiraJob::JiraIncidentIssue));
            }
        }
        jobs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Incident, IncidentId, Milestones, Policy, Severity};
    use chrono::DateTime;

    fn incident(status: Status) -> Incident {
        Incident {
            id: IncidentId(3),
            title: "db".into(),
            severity: Severity::Sev4,
            status,
            channel_id: Some("C9".parse().unwrap()),
            roles: [("lead".parse().unwrap(), "U2".parse().unwrap())].into(),
            milestones: Milestones::opened(DateTime::from_timestamp(0, 0).unwrap()),
            ..crate::domain::incident::example()
        }
    }

    fn kinds(jobs: &[Job]) -> Vec<&'static str> {
        jobs.iter().map(Job::kind).collect()
    }

    #[test]
    fn a_declaration_queues_its_whole_setup_in_order() {
        let e = Effects {
            announce: true,
            archive_on_close: true,
            postmortem_pages: true,
            ..Effects::default()
        };
        assert_eq!(
            kinds(&e.on_declare(Severity::Sev3, false, false, None)),
            [
                "create_channel",
                "invite",
                "set_topic",
                "post_summary",
                "announce_declared"
            ]
        );
        assert_eq!(
            Effects::default()
                .on_declare(Severity::Sev3, false, false, None)
                .len(),
            4
        );
    }

    #[test]
    fn closing_archives_and_notes_are_not_announced() {
        let e = Effects {
            announce: true,
            archive_on_close: true,
            postmortem_pages: true,
            ..Effects::default()
        };
        let u = "U1".parse().unwrap();
        let at = DateTime::from_timestamp(9, 0).unwrap();
        let close = incident(Status::Resolved)
            .move_to(Status::Closed, &u, None, at, &Policy::default())
            .unwrap();
        assert_eq!(
            kinds(&e.on_change(&close)),
            [
                "post_event",
                "update_summary",
                "announce_event",
                "archive_channel"
            ]
        );
        let note = incident(Status::Open)
            .add_note("hi".into(), &u, at)
            .unwrap();
        // Not announced; the summary is refreshed (its next update is due later now).
        assert_eq!(kinds(&e.on_change(&note)), ["post_event", "update_summary"]);
        assert_eq!(
            kinds(&Effects::default().on_change(&close)),
            ["post_event", "update_summary"]
        );
    }

    #[test]
    fn the_postmortem_is_drafted_in_confluence_or_the_channel_told_why_not() {
        let u = "U1".parse().unwrap();
        let at = DateTime::from_timestamp(9, 0).unwrap();
        let to_postmortem = incident(Status::Resolved)
            .move_to(Status::Postmortem, &u, None, at, &Policy::default())
            .unwrap();
        let with = Effects {
            postmortem_pages: true,
            ..Effects::default()
        }
        .on_change(&to_postmortem);
        assert_eq!(
            with.last(),
            Some(&ConfluenceJob::DraftPostmortem { by: "U1".into() }.into())
        );
        assert_eq!(with.last().unwrap().service(), Service::Confluence);
        let without = Effects::default().on_change(&to_postmortem);
        assert_eq!(
            without.last(),
            Some(
                &SlackJob::Post {
                    text: NO_CONFLUENCE.into()
                }
                .into()
            )
        );
    }

    #[test]
    fn jobs_round_trip_through_their_payload_and_old_payloads_still_read() {
        let u = "U1".parse().unwrap();
        let at = DateTime::from_timestamp(9, 0).unwrap();
        let change = incident(Status::Open)
            .move_to(
                Status::Investigating,
                &u,
                Some("a <b> & c".into()),
                at,
                &Policy::default(),
            )
            .unwrap();
        let all = Effects {
            announce: true,
            archive_on_close: true,
            postmortem_pages: true,
            ..Effects::default()
        };
        for job in all
            .on_change(&change)
            .into_iter()
            .chain(Effects::default().on_declare(Severity::Sev3, false, false, None))
        {
            let back: Job = serde_json::from_str(&job.to_payload()).unwrap();
            assert_eq!(back, job);
            assert!(job.to_payload().contains(job.kind()));
        }
        let old: Job = serde_json::from_str(r#"{"kind":"post","text":"hi"}"#).unwrap();
        assert_eq!(old, SlackJob::Post { text: "hi".into() }.into());
        // Kinds are unique across services: a payload is read back by its kind alone.
        for job in [
            Job::from(SlackJob::GamedayReport { gameday: 1 }),
            ConfluenceJob::DraftGamedayReport { gameday: 1 }.into(),
        ] {
            assert_eq!(serde_json::from_str::<Job>(&job.to_payload()).unwrap(), job);
        }
        let draft: Job = serde_json::from_str(r#"{"kind":"draft_postmortem","by":"U1"}"#).unwrap();
        assert_eq!(draft.service(), Service::Confluence);
        assert!(serde_json::from_str::<Job>(r#"{"kind":"page_out"}"#).is_err());
        let page: Job =
            serde_json::from_str(r#"{"kind":"opsgenie","action":"trigger","team":"payments"}"#)
                .unwrap();
        assert_eq!(page.service(), Service::Opsgenie);
        assert_eq!(
            serde_json::from_str::<Job>(&page.to_payload()).unwrap(),
            page
        );
    }

    #[test]
    fn a_declarations_setup_is_one_row_and_steps_read_back() {
        let effects = Effects {
            announce: true,
            paging: paging(),
            ..Effects::default()
        };
        let jobs = effects.on_declare(Severity::Sev1, false, false, None);
        let rows = chained(&jobs);
        let kinds: Vec<Vec<&str>> = rows
            .iter()
            .map(|steps| steps.iter().map(Job::kind).collect())
            .collect();
        // One row per service and rank, in the order queued.
        assert_eq!(
            kinds[..2],
            [
                vec!["create_channel", "invite", "set_topic", "post_summary"],
                vec!["announce_declared"],
            ]
        );
        assert!(!pages(&jobs).is_empty());
        for row in &rows[2..] {
            assert!(row.iter().all(|j| matches!(j, Job::Paging(_))));
            assert!(row.iter().all(|j| j.service() == row[0].service()));
        }
        assert_eq!(rows.iter().map(|r| r.len()).sum::<usize>(), jobs.len());
        // A job a later one supersedes stays alone.
        let post = |text: &str| Job::from(SlackJob::Post { text: text.into() });
        let refresh = [
            post("a"),
            post("b"),
            SlackJob::UpdateSummary.into(),
            SlackJob::UpdateSummary.into(),
        ];
        assert_eq!(
            chained(&refresh)
                .iter()
                .map(|r| r.len())
                .collect::<Vec<_>>(),
            [2, 1, 1]
        );
        // Steps round-trip from any place; a job alone keeps its own payload.
        let setup = rows[0];
        for at in [0, 2] {
            let payload = Steps::payload_of(at, setup);
            let back = Steps::from_payload(&payload).unwrap();
            assert_eq!((back.at, back.steps.as_slice()), (at, setup));
        }
        let alone = Steps::payload_of(0, &setup[..1]);
        assert_eq!(alone, setup[0].to_payload());
        assert_eq!(Steps::from_payload(&alone).unwrap().steps, &setup[..1]);
        // What this version cannot run is not read as a part of it.
        for unreadable in [
            r#"{"at":0,"steps":[]}"#,
            r#"{"at":1,"steps":[{"kind":"teleport"}]}"#,
            "{",
        ] {
            assert_eq!(Steps::from_payload(unreadable), None, "{unreadable}");
        }
    }

    fn paging() -> Paging {
        Paging {
            services: vec![Service::PagerDuty, Service::Opsgenie],
            teams: [("payments".parse().unwrap(), vec![Service::PagerDuty])].into(),
            ..Paging::default()
        }
    }

    /// (service, action, team) of the paging jobs among `jobs`.
    fn pages(jobs: &[Job]) -> Vec<(&'static str, PageAction, Option<String>)> {
        jobs.iter()
            .filter_map(|j| match j {
                Job::Paging(p) => Some((
                    p.service().as_str(),
                    p.page().action,
                    p.page().team.as_ref().map(|t| t.to_string()),
                )),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn paging_follows_severity_status_and_pages_by_hand() {
        use PageAction::*;
        let p = paging();
        assert_eq!(pages(&p.on_declare(Severity::Sev3, false)), []);
        assert_eq!(
            pages(&p.on_declare(Severity::Sev2, false)),
            [("pagerduty", Trigger, None), ("opsgenie", Trigger, None)]
        );
        assert_eq!(pages(&p.on_declare(Severity::Sev1, true)), []);
        let drills = Paging {
            drills: true,
            ..paging()
        };
        assert_eq!(drills.on_declare(Severity::Sev1, true).len(), 2);
        assert!(Paging::default()
            .on_declare(Severity::Sev1, false)
            .is_empty());

        let u = "U1".parse().unwrap();
        let at = DateTime::from_timestamp(9, 0).unwrap();
        let policy = Policy::default();
        let mut i = incident(Status::Open);
        i.severity = Severity::Sev4;
        let raise = |i: &Incident, to| i.set_severity(to, &u, at).unwrap();
        assert_eq!(pages(&p.on_change(&raise(&i, Severity::Sev3))), []);
        assert_eq!(pages(&p.on_change(&raise(&i, Severity::Sev2))).len(), 2);
        i.severity = Severity::Sev1;
        assert_eq!(pages(&p.on_change(&raise(&i, Severity::Sev2))), []);
        let ack = i
            .move_to(Status::Investigating, &u, None, at, &policy)
            .unwrap();
        assert_eq!(
            pages(&p.on_change(&ack)),
            [
                ("pagerduty", Acknowledge, None),
                ("opsgenie", Acknowledge, None)
            ]
        );
        let resolved = ack
            .after
            .move_to(Status::Resolved, &u, None, at, &policy)
            .unwrap();
        assert_eq!(pages(&p.on_change(&resolved))[0].1, Resolve);
        let reopen = resolved
            .after
            .move_to(Status::Investigating, &u, None, at, &policy)
            .unwrap();
        assert_eq!(pages(&p.on_change(&reopen))[0].1, Trigger);
        let by_hand = i
            .page(&"payments".parse().unwrap(), Some("help".into()), &u, at)
            .unwrap();
        assert_eq!(
            pages(&p.on_change(&by_hand)),
            [("pagerduty", Trigger, Some("payments".into()))]
        );
        assert!(p.knows(&"payments".parse().unwrap()));
        assert!(!p.knows(&"billing".parse().unwrap()));
    }
}
