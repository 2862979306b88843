//! The incidents service: every use case (declare, move, change severity, assign, note,
//! show, list), taking domain inputs and returning domain outcomes. The slash command,
//! the modal, buttons, events, drills and API writes all come through here; the edges
//! only parse and word.
//!
//! Access is decided here and nowhere else: a use case on one incident takes a [`Member`],
//! which only [`Incidents::as_member`] and [`Incidents::find`] make, after the incident's
//! rule (`Incident::admits`) let the caller in. Anyone it does not let in is told what
//! they would be told of an incident that does not exist.

mod gamedays;

use std::sync::Arc;

use tokio::sync::Notify;

pub use gamedays::{GamedayRef, Refused as GamedayRefused};

use crate::domain::permissions::{Act, Forbidden, Permissions, Who};
use crate::domain::{
    Actor, Change, ChannelId, Followup, Gameday, Incident, IncidentId, Policy, Rejected, RoleName,
    Severity, SlackUserId, Status, Team,
};
use crate::outbox::{Effects, SlackJob};
use crate::store::{Claim, Filter, NewIncident, Page, Store, StoreError, KEY_KEPT};

/// A change someone asks for on one incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Move {
        to: Status,
        note: Option<String>,
    },
    Severity(Severity),
    Assign {
        role: RoleName,
        user: SlackUserId,
    },
    Note(String),
    /// What monitoring said of the incident's alerts (worded already).
    Alert(String),
    /// Correct the title, summary or impact (the text checked already).
    Edit {
        field: crate::domain::incident::Field,
        text: String,
    },
    /// Page `team` by hand, with `message` if any.
    Page {
        team: Team,
        message: Option<String>,
    },
    /// Put it on the status page, affecting `components` (names as typed), with a
    /// customer-facing `message` (a default one when `None`).
    Public {
        components: Vec<String>,
        message: Option<String>,
    },
    /// A customer-facing update on the status page.
    PublicUpdate(String),
}

/// What became of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Changed(Box<Change>),
    /// Nothing changed: refused by the lifecycle, already so, or closed.
    Rejected(IncidentId, Rejected),
    NotFound(IncidentId),
}

/// What a declaration under an idempotency key came to.
#[derive(Debug)]
pub enum Keyed {
    Declared(Box<Incident>),
    /// The key declared this incident before, with the same body.
    Answered(IncidentId),
    /// A request with the key is still declaring.
    Running,
    /// The key came with another body.
    OtherBody,
}

/// A key whose request declared nothing for this long is taken for abandoned (its
/// process died) and may be used again.
const KEY_ABANDONED: chrono::Duration = chrono::Duration::minutes(1);

/// An incident as shown to someone, with the moves it allows next.
#[derive(Debug, Clone)]
pub struct Shown {
    pub incident: Incident,
    pub allowed_next: Vec<Status>,
}

/// Who asks, and from where.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    /// The Slack conversation the request came from, if it came from one.
    pub channel: Option<ChannelId>,
    /// The operator (`POMPIER_API_TOKEN`): a member of every incident.
    pub operator: bool,
}

impl Caller {
    /// A Slack user, asking from `channel`.
    pub fn slack(user: &SlackUserId, channel: Option<ChannelId>) -> Caller {
        Caller {
            actor: Actor::Slack(user.clone()),
            channel,
            operator: false,
        }
    }
}

/// An incident its caller is a member of (see the module's comment), as it was when
/// access was granted; every use case on one incident takes one.
#[derive(Debug, Clone)]
pub struct Member {
    incident: Incident,
    actor: Actor,
}

impl Member {
    pub fn id(&self) -> IncidentId {
        self.incident.id
    }

    pub fn incident(&self) -> &Incident {
        &self.incident
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// Whether a reply about it may be shared in conversation `channel`: a private
    /// incident's only in its own channel, so replies elsewhere stay ephemeral.
    pub fn may_share_in(&self, channel: Option<&ChannelId>) -> bool {
        !self.incident.private || self.incident.is_its_channel(channel)
    }
}

/// The incident a request is about, as its caller may know it.
#[derive(Debug)]
pub enum Found {
    Member(Box<Member>),
    /// No such incident, or one the caller is not let in: told alike.
    NotFound(IncidentId),
    /// None named, and the request did not come from an incident's channel.
    NotNamed,
}

/// Reads a Slack user group's members (its implementation caches them).
pub trait Groups: Send + Sync {
    fn members<'a>(
        &'a self,
        group: &'a str,
    ) -> futures_util::future::BoxFuture<'a, Result<Vec<String>, String>>;
}

#[derive(Clone)]
pub struct Incidents {
    store: Store,
    policy: Arc<Policy>,
    /// Who may do what (`[permissions]`), and where user groups are read.
    permissions: Arc<Permissions>,
    groups: Option<Arc<dyn Groups>>,
    roles: Arc<Vec<RoleName>>,
    effects: Arc<Effects>,
    /// Wakes this process's job workers when a change queued jobs.
    jobs_queued: Arc<Notify>,
}

impl Incidents {
    pub fn new(
        store: Store,
        policy: Policy,
        roles: Vec<RoleName>,
        effects: Effects,
        jobs_queued: Arc<Notify>,
    ) -> Incidents {
        Incidents {
            store,
            policy: Arc::new(policy),
            permissions: Arc::default(),
            groups: None,
            roles: Arc::new(roles),
            effects: Arc::new(effects),
            jobs_queued,
        }
    }

    /// Who may do what, with user groups read through `groups` (none: a user group
    /// lets nobody in).
    pub fn with_permissions(
        mut self,
        permissions: Permissions,
        groups: Option<Arc<dyn Groups>>,
    ) -> Incidents {
        self.permissions = Arc::new(permissions);
        self.groups = groups;
        self
    }

    /// The configured user groups `user` is in (one that cannot be read counts as not).
    async fn groups_of(&self, user: &str) -> Vec<String> {
        let mut theirs = vec![];
        let Some(groups) = &self.groups else {
            return theirs;
        };
        for group in self.permissions.groups() {
            match groups.members(group).await {
                Ok(members) if members.iter().any(|m| m == user) => theirs.push(group.to_owned()),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(%group, error = %e, "cannot read a user group: its members are refused")
                }
            }
        }
        theirs
    }

    /// Whether `actor` may do `act` (on `incident`): people in Slack by `[permissions]`;
    /// tokens, alerts and pompier itself by their scopes, checked at the edge.
    async fn permitted(
        &self,
        act: Act,
        actor: &Actor,
        incident: Option<&Incident>,
    ) -> Result<(), Forbidden> {
        let Some(user) = actor.slack_user() else {
            return Ok(());
        };
        let groups = self.groups_of(user.as_str()).await;
        let who = Who {
            user: user.as_str(),
            groups: &groups,
        };
        let allowed = self.permissions.check(act, &who, incident);
        if let Err(why) = &allowed {
            self.refused(user.as_str(), why).await;
        }
        allowed
    }

    /// A permission refusal, into the audit trail.
    async fn refused(&self, user: &str, why: &Forbidden) {
        let said = format!("{} ({})", why.what, why.setting);
        self.store
            .audit(user, "permission_refused", &said, "slack")
            .await;
    }

    /// The role names this team accepts: `lead`, `comms` and the configured ones.
    pub fn roles(&self) -> &[RoleName] {
        &self.roles
    }

    pub async fn declare(
        &self,
        title: String,
        severity: Option<Severity>,
        by: &SlackUserId,
    ) -> Result<Incident, StoreError> {
        let new = NewIncident::new(
            title,
            severity.unwrap_or(Severity::DEFAULT),
            by.clone(),
            crate::now(),
        );
        self.declare_new(new).await
    }

    /// Declares `new` (with its delivery key and first events, if any); a delivery
    /// already acted on is `StoreError::Duplicate`.
    pub async fn declare_new(&self, new: NewIncident) -> Result<Incident, StoreError> {
        // A drill is practice: any severity.
        if new.severity == Severity::Sev1 && new.drill.is_none() {
            self.permitted(Act::DeclareSev1, &new.declared_by, None)
                .await
                .map_err(|why| StoreError::Rejected(Rejected::Forbidden(why)))?;
        }
        let mut jobs = self.effects.on_declare(
            new.severity,
            new.drill.is_some(),
            new.private,
            new.team.as_ref(),
        );
        if let (Some(channel), Actor::Slack(user)) = (&new.tell_in, &new.declared_by) {
            // Right after the channel is made: the declarer is waiting for it.
            let tell = crate::outbox::SlackJob::TellDeclarer {
                channel: channel.clone(),
                user: user.to_string(),
            };
            jobs.insert(1, tell.into());
        }
        let incident = self.store.declare(new, &jobs).await?;
        self.jobs_queued.notify_waiters();
        if let Err(e) = self.detect(&incident).await {
            // The drill stands; a villain can link it by hand.
            tracing::warn!(error = %e, incident = %incident.id, "cannot link the drill to its injection");
        }
        Ok(incident)
    }

    /// Declares `new` under idempotency key `key` (with its holder) for a request whose
    /// body hashes to `body_hash`: the same key within `KEY_KEPT` answers the incident it
    /// declared and declares nothing.
    pub async fn declare_keyed(
        &self,
        mut new: NewIncident,
        key: String,
        body_hash: &str,
    ) -> Result<Keyed, StoreError> {
        let now = crate::now();
        let claim = self
            .store
            .claim_key(&key, body_hash, now, now - KEY_ABANDONED, now - KEY_KEPT)
            .await?;
        match claim {
            Claim::Fresh => {}
            Claim::Answered {
                incident,
                same_body: true,
            } => return Ok(Keyed::Answered(incident)),
            Claim::Running { same_body: true } => return Ok(Keyed::Running),
            Claim::Answered { .. } | Claim::Running { .. } => return Ok(Keyed::OtherBody),
        }
        new.answers = Some(key.clone());
        match self.declare_new(new).await {
            Ok(incident) => Ok(Keyed::Declared(Box::new(incident))),
            Err(e) => {
                // Free the key, so the client's retry may declare.
                if let Err(release) = self.store.release_key(&key).await {
                    tracing::warn!(error = %release, "cannot release an idempotency key");
                }
                Err(e)
            }
        }
    }

    /// Wakes this process's job workers: jobs were queued outside a change.
    pub fn queued(&self) {
        self.jobs_queued.notify_waiters();
    }

    /// Declares an incident for alert group `group`, waiting in the triage channel, by
    /// `by` (who pressed *Declare*): `Ok(Err(id))` when it was declared already, as `id`.
    pub async fn declare_from_triage(
        &self,
        group: i64,
        by: &SlackUserId,
    ) -> Result<Option<Result<Incident, IncidentId>>, StoreError> {
        for _ in 0..2 {
            let Some((alert, incident, severity)) = self.store.alert_group(group).await? else {
                return Ok(None);
            };
            if let Some(id) = incident {
                return Ok(Some(Err(id)));
            }
            let mut new = NewIncident::new(alert.title, severity, by.clone(), crate::now());
            new.from_triage = Some(group);
            match self.declare_new(new).await {
                // Someone pressed it at the same time: theirs stands.
                Err(StoreError::Duplicate(_)) => continue,
                other => return other.map(|i| Some(Ok(i))),
            }
        }
        Err(StoreError::Contended(IncidentId(0)))
    }

    /// Incident `id`, if it exists and `caller` is one of its members.
    pub async fn as_member(
        &self,
        id: IncidentId,
        caller: &Caller,
    ) -> Result<Option<Member>, StoreError> {
        let Some(incident) = self.store.get(id).await? else {
            return Ok(None);
        };
        let admitted = caller.operator
            || incident.admits(&caller.actor, caller.channel.as_ref(), false)
            || self.joined_channel(&incident, &caller.actor).await?;
        Ok(admitted.then(|| Member {
            incident,
            actor: caller.actor.clone(),
        }))
    }

    /// Which of `incidents` `caller` is a member of (see [`Incidents::as_member`]), read
    /// at once: for a list of them.
    pub async fn members_among(
        &self,
        incidents: &[&Incident],
        caller: &Caller,
    ) -> Result<std::collections::HashSet<IncidentId>, StoreError> {
        let private: Vec<IncidentId> = incidents
            .iter()
            .filter(|i| i.private)
            .map(|i| i.id)
            .collect();
        let joined = match (caller.actor.slack_user(), private.is_empty()) {
            (Some(_), false) => self.store.participants(&private).await?,
            _ => Default::default(),
        };
        Ok(incidents
            .iter()
            .filter(|i| {
                let in_channel = caller.actor.slack_user().is_some_and(|user| {
                    joined
                        .get(&i.id)
                        .is_some_and(|people| people.contains(user))
                });
                caller.operator || i.admits(&caller.actor, caller.channel.as_ref(), in_channel)
            })
            .map(|i| i.id)
            .collect())
    }

    /// Whether `actor` joined the channel of `incident`.
    async fn joined_channel(&self, incident: &Incident, actor: &Actor) -> Result<bool, StoreError> {
        let Some(user) = actor.slack_user() else {
            return Ok(false);
        };
        Ok(self
            .store
            .participants(&[incident.id])
            .await?
            .get(&incident.id)
            .is_some_and(|people| people.contains(user)))
    }

    /// The incident named by number, else the one whose channel the caller asks from.
    pub async fn find(
        &self,
        named: Option<IncidentId>,
        caller: &Caller,
    ) -> Result<Found, StoreError> {
        let id = match (named, &caller.channel) {
            (Some(id), _) => id,
            (None, Some(channel)) => match self.store.find_by_channel(channel).await? {
                Some(id) => id,
                None => return Ok(Found::NotNamed),
            },
            (None, None) => return Ok(Found::NotNamed),
        };
        Ok(match self.as_member(id, caller).await? {
            Some(member) => Found::Member(Box::new(member)),
            None => Found::NotFound(id),
        })
    }

    /// Applies `request` by the member to its incident, exactly once however many ask at
    /// the same time.
    pub async fn apply(&self, member: &Member, request: &Request) -> Result<Outcome, StoreError> {
        self.apply_once(member, request, None).await
    }

    /// `apply`, once per delivery key `once`: a second request with the key changes
    /// nothing and fails with `StoreError::Duplicate`.
    pub async fn apply_once(
        &self,
        member: &Member,
        request: &Request,
        once: Option<&str>,
    ) -> Result<Outcome, StoreError> {
        let id = member.id();
        let actor = &member.actor;
        let at = crate::now();
        let policy = &self.policy;
        // The asker's groups, read before: a change is decided without waiting.
        let user = actor.slack_user().map(|u| u.as_str().to_owned());
        let groups = match (
            &user,
            matches!(request, Request::Move { .. } | Request::Severity(_)),
        ) {
            (Some(user), true) => self.groups_of(user).await,
            _ => vec![],
        };
        let allowed = |act: Act, i: &Incident| match &user {
            Some(user) => {
                let who = Who {
                    user,
                    groups: &groups,
                };
                self.permissions
                    .check(act, &who, Some(i))
                    .map_err(Rejected::Forbidden)
            }
            None => Ok(()),
        };
        let decide = |i: &Incident| {
            let mut change = match request {
                Request::Move { to, note } => {
                    allowed(
                        Act::Move {
                            from: i.status,
                            to: *to,
                        },
                        i,
                    )?;
                    i.move_to(*to, actor, note.clone(), at, policy)
                }
                Request::Severity(severity) => {
                    if *severity == Severity::Sev1
                        && i.severity != Severity::Sev1
                        && i.drill.is_none()
                    {
                        allowed(Act::DeclareSev1, i)?;
                    }
                    i.set_severity(*severity, actor, at)
                }
                Request::Assign { role, user } => i.assign(role, user, actor, at),
                Request::Note(text) => i.add_note(text.clone(), actor, at),
                Request::Alert(text) => return Ok(i.record_alert(text.clone(), actor, at)),
                Request::Edit { field, text } => i.edit(*field, text.clone(), actor, at),
                Request::Page { team, message } => {
                    if !self.effects.paging.knows(team) {
                        return Err(Rejected::NotSetUp(self.unknown_team(team)));
                    }
                    i.page(team, message.clone(), actor, at)
                }
                Request::Public {
                    components,
                    message,
                } => {
                    let components = components
                        .iter()
                        .map(|c| policy.component(c))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| Rejected::NotSetUp(e.0))?;
                    let message = message
                        .clone()
                        .unwrap_or_else(|| crate::domain::status_page::first_message(&components));
                    i.make_public(&components, message, actor, at)
                }
                Request::PublicUpdate(message) => i.public_update(message.clone(), actor, at),
            }?;
            // Every change by people is news: counted against the cadence of the
            // incident as it was.
            change.after.updates = policy.cadence.count(i, at);
            Ok(change)
        };
        match self
            .store
            .change_once(id, once, decide, |c| self.effects.on_change(c))
            .await
        {
            Ok(change) => {
                self.jobs_queued.notify_waiters();
                Ok(Outcome::Changed(Box::new(change)))
            }
            Err(StoreError::Rejected(why)) => {
                if let (Rejected::Forbidden(forbidden), Some(user)) = (&why, &user) {
                    self.refused(user, forbidden).await;
                }
                Ok(Outcome::Rejected(id, why))
            }
            Err(StoreError::NotFound(id)) => Ok(Outcome::NotFound(id)),
            Err(e) => Err(e),
        }
    }

    /// Invites `who` (configured teams' people, users) into the member's incident's
    /// channel; `Ok(Err(why))` when a team is unknown (nothing is queued).
    pub async fn invite(
        &self,
        member: &Member,
        who: &[crate::domain::gameday::Invitee],
    ) -> Result<Result<(), String>, StoreError> {
        use crate::domain::gameday::Invitee;
        let mut people = vec![];
        for invitee in who {
            match invitee {
                Invitee::User(user) => people.push(user.to_string()),
                Invitee::Team(team) => {
                    if let Err(why) = self.check_team(team) {
                        return Ok(Err(why));
                    }
                    people.extend(self.effects.invites.teams[team].people.iter().cloned());
                }
            }
        }
        if member.incident().status == Status::Closed {
            return Ok(Err(Rejected::Closed.to_string()));
        }
        self.store
            .queue(member.id(), &[SlackJob::InvitePeople { people }.into()])
            .await?;
        self.jobs_queued.notify_waiters();
        Ok(Ok(()))
    }

    /// The configured teams, by name.
    pub fn teams(&self) -> Vec<Team> {
        self.effects.invites.teams.keys().cloned().collect()
    }

    /// Whether `team` may be an incident's: one of those configured (`[teams.NAME]`),
    /// or any name when none is (a label, inviting nobody). `Err` lists the teams.
    pub fn check_team(&self, team: &Team) -> Result<(), String> {
        let invites = &self.effects.invites;
        if invites.knows(team) || invites.teams.is_empty() {
            return Ok(());
        }
        let known: Vec<&str> = invites.teams.keys().map(Team::as_str).collect();
        Err(format!(
            "unknown team `{team}`: the teams are {}",
            known.join(", ")
        ))
    }

    /// Why `team` cannot be paged, and which can.
    fn unknown_team(&self, team: &Team) -> String {
        let teams: Vec<&str> = self
            .effects
            .paging
            .teams
            .iter()
            .filter(|(name, _)| self.effects.paging.knows(name))
            .map(|(name, _)| name.as_str())
            .collect();
        if teams.is_empty() {
            format!("team {team} cannot be paged: no team is set up for paging (paging.teams)")
        } else {
            format!(
                "team {team} cannot be paged: the teams set up for paging are {}",
                teams.join(", ")
            )
        }
    }

    /// The member's incident as it is now, with the moves it allows.
    pub async fn show(&self, member: &Member) -> Result<Option<Shown>, StoreError> {
        Ok(self.store.get(member.id()).await?.map(|incident| Shown {
            allowed_next: incident
                .status
                .allowed_next(incident.severity, &self.policy),
            incident,
        }))
    }

    /// A 📌 on message `ts` of `channel` by `by` (Slack's event `event_id`): when the
    /// channel is an incident's, the message goes to its timeline, once however many
    /// pin it and however often Slack delivers the event. Whether it was taken.
    pub async fn pinned(
        &self,
        channel: &ChannelId,
        ts: &str,
        by: &SlackUserId,
        event_id: &str,
    ) -> Result<bool, StoreError> {
        let Some(id) = self.store.find_by_channel(channel).await? else {
            return Ok(false);
        };
        let keys = [format!("event:{event_id}"), format!("pin:{channel}:{ts}")];
        let job = crate::outbox::SlackJob::CaptureMessage {
            channel: channel.to_string(),
            ts: ts.to_owned(),
            by: by.to_string(),
        };
        let queued = self.store.queue_once(id, &keys, &[job.into()]).await?;
        if queued {
            self.jobs_queued.notify_waiters();
        }
        Ok(queued)
    }

    /// `user` joined `channel`: a participant of its incident, if it is one's.
    pub async fn joined(&self, channel: &ChannelId, user: &SlackUserId) -> Result<(), StoreError> {
        if let Some(id) = self.store.find_by_channel(channel).await? {
            self.store.add_participant(id, user, crate::now()).await?;
        }
        Ok(())
    }

    /// Records a delivery key (a request's signature); false when it was seen before.
    pub async fn first_delivery(&self, key: &str) -> Result<bool, StoreError> {
        self.store.first_time(key, crate::now()).await
    }

    /// `incidents` less the private ones `caller` is not a member of.
    pub async fn visible_to(
        &self,
        incidents: Vec<Incident>,
        caller: &Caller,
    ) -> Result<Vec<Incident>, StoreError> {
        let private: Vec<IncidentId> = incidents
            .iter()
            .filter(|i| i.private)
            .map(|i| i.id)
            .collect();
        let joined = match caller.actor.slack_user() {
            Some(_) if !private.is_empty() => self.store.participants(&private).await?,
            _ => Default::default(),
        };
        Ok(incidents
            .into_iter()
            .filter(|i| {
                let joined = caller.actor.slack_user().is_some_and(|user| {
                    joined
                        .get(&i.id)
                        .is_some_and(|people| people.contains(user))
                });
                caller.operator || i.admits(&caller.actor, caller.channel.as_ref(), joined)
            })
            .collect())
    }

    /// Nudges, once each whatever the number of instances, the incidents whose update
    /// (or postmortem) is overdue at `now`; how many it nudged.
    pub async fn sweep(&self, now: chrono::DateTime<chrono::Utc>) -> Result<usize, StoreError> {
        let mut sent = 0;
        for (id, nudged_at) in self.store.nudge_candidates().await? {
            let Some(incident) = self.store.get(id).await? else {
                continue;
            };
            let Some((due, nudge)) = self.policy.cadence.due(&incident, nudged_at) else {
                continue;
            };
            if due > now {
                continue;
            }
            let job = crate::outbox::SlackJob::Nudge {
                reminder: (&nudge).into(),
            };
            if self.store.nudge(id, nudged_at, now, &[job.into()]).await? {
                sent += 1;
            }
        }
        if sent > 0 {
            self.jobs_queued.notify_waiters();
        }
        Ok(sent)
    }

    /// The team's lifecycle rules and failure classes.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Sets the failure class of the member's incident (one of the policy's) and brings its
    /// pinned summary up to date.
    pub async fn classify(&self, member: &Member, class: &str) -> Result<(), StoreError> {
        self.store
            .set_failure_class(member.id(), class, &[SlackJob::UpdateSummary.into()])
            .await?;
        self.jobs_queued.notify_waiters();
        Ok(())
    }

    /// Adds a follow-up to the member's incident.
    pub async fn add_followup(
        &self,
        member: &Member,
        text: &str,
        owner: Option<&SlackUserId>,
    ) -> Result<Followup, StoreError> {
        let followup = self
            .store
            .add_followup(member.id(), text, owner, &member.actor, crate::now(), |n| {
                self.effects.on_followup(n)
            })
            .await?;
        self.jobs_queued.notify_waiters();
        Ok(followup)
    }

    /// The follow-ups of the member's incident.
    pub async fn followups(&self, member: &Member) -> Result<Vec<Followup>, StoreError> {
        self.store.followups(member.id()).await
    }

    /// Follow-up `number` of the member's incident done; `None` when it has no such
    /// follow-up.
    pub async fn finish_followup(
        &self,
        member: &Member,
        number: i64,
    ) -> Result<Option<Followup>, StoreError> {
        self.store
            .finish_followup(member.id(), number, &member.actor, crate::now())
            .await
    }

    /// Jira says issue `key` is done (or not): when it is a follow-up's, the follow-up
    /// follows, with a `followup` event told in the channel. Whether anything changed.
    pub async fn followup_from_jira(
        &self,
        key: &str,
        done: bool,
        by: &Actor,
    ) -> Result<bool, StoreError> {
        let Some((id, number)) = self.store.followup_of_issue(key).await? else {
            return Ok(false);
        };
        let at = crate::now();
        let note = format!("follow-up #{number} ({key})");
        let Some(_) = self
            .store
            .set_followup_done(id, number, done, by, at, &note)
            .await?
        else {
            return Ok(false);
        };
        let event = crate::domain::Event {
            at,
            kind: crate::domain::EventKind::Followup,
            actor: by.clone(),
            from: None,
            to: Some(if done { "done" } else { "open" }.into()),
            role: None,
            note: Some(note),
        };
        self.store
            .queue(id, &[SlackJob::PostEvent { event }.into()])
            .await?;
        self.jobs_queued.notify_waiters();
        Ok(true)
    }

    /// What `user`'s Home tab shows: the incidents not yet resolved that they may see,
    /// newest first (at most `listed`), and the running game day.
    pub async fn home(
        &self,
        user: &SlackUserId,
        listed: usize,
    ) -> Result<(Vec<Incident>, Option<Gameday>), StoreError> {
        // Some may be private: read more than are shown.
        let page = self.active((listed * 3) as u32).await?;
        let mut shown = self
            .visible_to(page.incidents, &Caller::slack(user, None))
            .await?;
        shown.truncate(listed);
        let running = self
            .store
            .gamedays()
            .await?
            .into_iter()
            .find(|g| g.ended_at.is_none());
        Ok((shown, running))
    }

    /// Incidents still being fought, newest first, at most `limit`.
    pub async fn active(&self, limit: u32) -> Result<Page, StoreError> {
        self.store
            .list(&Filter {
                statuses: Status::ALL.into_iter().filter(|s| s.is_active()).collect(),
                limit,
                ..Filter::default()
            })
            .await
    }
}
