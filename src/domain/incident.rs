use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{
    Actor, ChannelId, IncidentId, Invalid, Policy, Refused, RoleName, Severity, SlackUserId,
    Status, Transition,
};

/// Longest title, in characters: room for a channel name and a Slack header.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest note, in characters: fits one Slack section block.
pub const MAX_NOTE_CHARS: usize = 2900;

/// Times at which an incident reached each status (`opened_at` … `closed_at`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Milestones {
    pub opened_at: Option<DateTime<Utc>>,
    pub investigating_at: Option<DateTime<Utc>>,
    pub mitigated_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub postmortem_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl Milestones {
    pub fn opened(at: DateTime<Utc>) -> Self {
        Milestones {
            opened_at: Some(at),
            ..Default::default()
        }
    }

    pub fn get(&self, status: Status) -> Option<DateTime<Utc>> {
        *self.slot(status)
    }

    fn slot(&self, status: Status) -> &Option<DateTime<Utc>> {
        match status {
            Status::Open => &self.opened_at,
            Status::Investigating => &self.investigating_at,
            Status::Mitigated => &self.mitigated_at,
            Status::Resolved => &self.resolved_at,
            Status::Postmortem => &self.postmortem_at,
            Status::Closed => &self.closed_at,
        }
    }

    fn slot_mut(&mut self, status: Status) -> &mut Option<DateTime<Utc>> {
        match status {
            Status::Open => &mut self.opened_at,
            Status::Investigating => &mut self.investigating_at,
            Status::Mitigated => &mut self.mitigated_at,
            Status::Resolved => &mut self.resolved_at,
            Status::Postmortem => &mut self.postmortem_at,
            Status::Closed => &mut self.closed_at,
        }
    }

    /// How long after opening `status` was reached: time to acknowledge
    /// (investigating), mitigate, resolve.
    pub fn time_to(&self, status: Status) -> Option<chrono::Duration> {
        Some(self.get(status)? - self.opened_at?)
    }

    /// The milestones after `transition` happened at `at`.
    pub fn after(&self, transition: &Transition, at: DateTime<Utc>) -> Milestones {
        let mut next = self.clone();
        for status in &transition.clear {
            *next.slot_mut(*status) = None;
        }
        for status in &transition.stamp {
            next.slot_mut(*status).get_or_insert(at);
        }
        next
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    pub id: IncidentId,
    pub title: String,
    pub severity: Severity,
    pub status: Status,
    pub channel_id: Option<ChannelId>,
    pub declared_by: Actor,
    pub roles: BTreeMap<RoleName, SlackUserId>,
    pub milestones: Milestones,
    pub postmortem_url: Option<String>,
    /// The `ts` of the pinned summary message in the incident's channel, once posted.
    pub summary_ts: Option<String>,
    /// The `ts` of its one announcement in the announce channel, once posted.
    pub announce_ts: Option<String>,
    /// Bumped by every stored change; writers compare-and-set on it.
    pub version: i64,
    /// Set when the incident is a drill: declared to train, out of the statistics.
    pub drill: Option<super::Drill>,
    /// Its failure class, from the team's list, once someone sets it.
    pub failure_class: Option<String>,
    /// A private incident: its channel is private and its title is for its members.
    pub private: bool,
    /// Its timeline's rhythm, for the update cadence.
    pub updates: super::cadence::Updates,
    /// The team it is declared for (a drill's too), if any.
    pub team: Option<super::Team>,
    /// What is happening, in a few lines (`/incident summary`), once someone says.
    pub summary: Option<String>,
    /// Who is affected and how (`/incident impact`), once someone says.
    pub impact: Option<String>,
    /// When it was made public on the status page (`/incident public`), if it was.
    pub public_at: Option<DateTime<Utc>>,
    /// The status page's components it affects.
    pub components: Vec<String>,
}

/// What `/incident title|summary|impact` and the *Edit* form change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Title,
    Summary,
    Impact,
}

impl Field {
    pub const ALL: [Field; 3] = [Field::Title, Field::Summary, Field::Impact];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Summary => "summary",
            Field::Impact => "impact",
        }
    }

    pub fn parse(s: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// The text, checked as a title (one line, bounded) or a note (a few lines).
    pub fn parse_text(self, text: &str) -> Result<String, Invalid> {
        match self {
            Field::Title => Incident::parse_title(text),
            Field::Summary | Field::Impact => bounded_text(text, self.as_str(), MAX_NOTE_CHARS),
        }
    }
}

/// What shows instead of a private incident's title.
pub const PRIVATE_TITLE: &str = "Private incident";

impl Incident {
    /// `DRILL ` for a drill, else nothing: what every message and page puts first.
    pub fn label(&self) -> &'static str {
        if self.drill.is_some() {
            "DRILL "
        } else {
            ""
        }
    }

    /// The title where people other than its members look (the dashboard, exports,
    /// scoreboards): a private incident's is hidden.
    pub fn shown_title(&self) -> &str {
        if self.private {
            PRIVATE_TITLE
        } else {
            &self.title
        }
    }

    /// Whether conversation `from` is the incident's own channel.
    pub fn is_its_channel(&self, from: Option<&ChannelId>) -> bool {
        from.is_some() && from == self.channel_id.as_ref()
    }

    /// Whether `actor`, asking from conversation `from`, is one of its members: for a
    /// public incident anyone; for a private one its declarer, its role holders and the
    /// members of its private channel (`joined` it, or asking from inside it).
    pub fn admits(&self, actor: &Actor, from: Option<&ChannelId>, joined: bool) -> bool {
        if !self.private || *actor == self.declared_by || joined {
            return true;
        }
        let in_its_channel = self.is_its_channel(from);
        let holds_a_role = actor
            .slack_user()
            .is_some_and(|user| self.roles.values().any(|holder| holder == user));
        in_its_channel || holds_a_role
    }

    /// What its channel's name starts with: `inc`, or `drill` for a drill.
    pub fn channel_prefix(&self) -> &'static str {
        if self.drill.is_some() {
            "drill"
        } else {
            "inc"
        }
    }
}

/// A change decided on an incident: its state afterwards and the event that records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub after: Incident,
    pub event: Event,
}

impl Change {
    /// The severity before, when the change raised it (made it worse).
    pub fn raised_from(&self) -> Option<Severity> {
        if self.event.kind != EventKind::Severity {
            return None;
        }
        self.event
            .from
            .as_deref()
            .and_then(|f| f.parse::<Severity>().ok())
            .filter(|before| self.after.severity < *before)
    }
}

/// Why a change was not made; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("{0}")]
    Refused(#[from] Refused),
    #[error("it is already {0}")]
    Unchanged(String),
    /// A closed incident's channel is archived: it takes no more changes.
    #[error("it is closed; a closed incident takes no more notes, severity or role changes")]
    Closed,
    /// The request names something this pompier is not set up for.
    #[error("{0}")]
    NotSetUp(String),
    /// `[permissions]` does not let the person asking do it.
    #[error("{0}")]
    Forbidden(#[from] super::permissions::Forbidden),
}

impl Incident {
    /// A trimmed, non-empty title of at most `MAX_TITLE_CHARS` characters.
    pub fn parse_title(text: &str) -> Result<String, Invalid> {
        bounded_text(text, "title", MAX_TITLE_CHARS)
    }

    pub fn parse_note(text: &str) -> Result<String, Invalid> {
        bounded_text(text, "note", MAX_NOTE_CHARS)
    }

    fn event(&self, kind: EventKind, actor: &Actor, at: DateTime<Utc>) -> Event {
        Event {
            at,
            kind,
            actor: actor.clone(),
            from: None,
            to: None,
            role: None,
            note: None,
        }
    }

    /// The incident moved to `to` by `actor` at `at`, as the lifecycle allows.
    pub fn move_to(
        &self,
        to: Status,
        actor: &Actor,
        note: Option<String>,
        at: DateTime<Utc>,
        policy: &Policy,
    ) -> Result<Change, Rejected> {
        let transition = self.status.transition(to, self.severity, policy)?;
        let mut after = self.clone();
        after.status = to;
        after.milestones = self.milestones.after(&transition, at);
        let event = Event {
            from: Some(self.status.to_string()),
            to: Some(to.to_string()),
            note,
            ..self.event(EventKind::Status, actor, at)
        };
        Ok(Change { after, event })
    }

    pub fn set_severity(
        &self,
        severity: Severity,
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> Result<Change, Rejected> {
        self.still_open()?;
        if severity == self.severity {
            return Err(Rejected::Unchanged(severity.to_string()));
        }
        let after = Incident {
            severity,
            ..self.clone()
        };
        let event = Event {
            from: Some(self.severity.to_string()),
            to: Some(severity.to_string()),
            ..self.event(EventKind::Severity, actor, at)
        };
        Ok(Change { after, event })
    }

    pub fn assign(
        &self,
        role: &RoleName,
        user: &SlackUserId,
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> Result<Change, Rejected> {
        self.still_open()?;
        let previous = self.roles.get(role);
        if previous == Some(user) {
            return Err(Rejected::Unchanged(format!("{user}'s role {role}")));
        }
        let mut after = self.clone();
        after.roles.insert(role.clone(), user.clone());
        let event = Event {
            from: previous.map(|u| u.to_string()),
            to: Some(user.to_string()),
            role: Some(role.clone()),
            ..self.event(EventKind::Role, actor, at)
        };
        Ok(Change { after, event })
    }

    pub fn add_note(
        &self,
        note: String,
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> Result<Change, Rejected> {
        self.still_open()?;
        Ok(Change {
            after: self.clone(),
            event: Event {
                note: Some(note),
                ..self.event(EventKind::Note, actor, at)
            },
        })
    }

    /// `field` set to `text` (already checked by `Field::parse_text`) by `actor`: an
    /// `edit` event with the field in `note`, the old text in `from`, the new in `to`.
    pub fn edit(
        &self,
        field: Field,
        text: String,
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> Result<Change, Rejected> {
        self.still_open()?;
        let mut after = self.clone();
        let slot = match field {
            Field::Title => &mut after.title,
            Field::Summary => after.summary.get_or_insert_with(String::new),
            Field::Impact => after.impact.get_or_insert_with(String::new),
        };
        if *slot == text {
            return Err(Rejected::Unchanged(format!("the {}", field.as_str())));
        }
        let before = std::mem::replace(slot, text.clone());
        let event = Event {
            from: Some(before).filter(|b| !b.is_empty()),
            to: Some(text),
            note: Some(field.as_str().to_owned()),
            ..self.event(EventKind::Edit, actor, at)
        };
        Ok(Change { after, event })
    }

    /// Made public on the status page by `actor`, affecting `components` (added to those
    /// it affects), with a customer-facing `message`. A private incident or a drill is
    /// never public.
    pub fn make_public(
        &self,
        components: &[String],
        message: String,
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> Result<Change, Rejected> {
        self.still_open()?;
        if self.private {
            return Err(Rejected::NotSetUp(
                "a private incident is never on the status page".into(),
            ));
        }
        if self.drill.is_some() {
            return Err(Rejected::NotSetUp(
                "a drill is never on the status page".into(),
            ));
        }
        let mut after = self.clone();
        after.public_at.get_or_insert(at);
        for component in components {
            if !after.components.contains(component) {
                after.components.push(component.clone());
            }
        }
        Ok(Change {
            event: Event {
                to: Some(after.components.join(",")),
                note: Some(message),
                ..self.event(EventKind::Public, actor, at)
            },
            after,
        })
    }

    /// A customer-facing update on the status page, by `actor`; the incident must be
    /// public.
    pub fn public_update(
        &self,
        message: String,
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> Result<Change, Rejected> {
        self.still_open()?;
        if self.public_at.is_none() {
            return Err(Rejected::NotSetUp(
                "it is not on the status page: `/incident public [component:NAME] MESSAGE` first"
                    .into(),
            ));
        }
        Ok(Change {
            after: self.clone(),
            event: Event {
                note: Some(message),
                ..self.event(EventKind::Public, actor, at)
            },
        })
    }

    /// `team` paged by hand by `actor`, with `message` if any.
    pub fn page(
        &self,
        team: &super::Team,
        message: Option<String>,
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> Result<Change, Rejected> {
        self.still_open()?;
        Ok(Change {
            after: self.clone(),
            event: Event {
                to: Some(team.to_string()),
                note: message,
                ..self.event(EventKind::Page, actor, at)
            },
        })
    }

    /// Records what monitoring said of the incident's alerts (`note`, already worded).
    /// Unlike a note it is taken on a closed incident's way out too: the alert happened.
    pub fn record_alert(&self, note: String, actor: &Actor, at: DateTime<Utc>) -> Change {
        Change {
            after: self.clone(),
            event: Event {
                note: Some(note),
                ..self.event(EventKind::Alert, actor, at)
            },
        }
    }

    /// Records the postmortem page drafted for the incident, moved to `postmortem` by
    /// `by`.
    pub fn record_postmortem(
        &self,
        url: String,
        by: &Actor,
        at: DateTime<Utc>,
    ) -> Result<Change, Rejected> {
        if self.postmortem_url.as_ref() == Some(&url) {
            return Err(Rejected::Unchanged("recorded".into()));
        }
        let mut after = self.clone();
        after.postmortem_url = Some(url.clone());
        let event = Event {
            to: Some(url),
            ..self.event(EventKind::Postmortem, by, at)
        };
        Ok(Change { after, event })
    }

    /// Refuses changes other than moves once closed: its channel is archived.
    fn still_open(&self) -> Result<(), Rejected> {
        if self.status == Status::Closed {
            Err(Rejected::Closed)
        } else {
            Ok(())
        }
    }
}

/// The bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069): they make
/// text read in another order than it is stored (a "Trojan Source" title).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Text from a sender that cannot be asked again (monitoring): newlines and tabs become
/// spaces, other control and bidirectional characters go, and what is left is trimmed
/// and cut to `max` characters. (People's text is refused instead: `parse_title`.)
pub fn clean_text(text: &str, max: usize) -> String {
    let kept: String = text
        .chars()
        .filter_map(|c| match c {
            '\n' | '\t' | '\r' => Some(' '),
            c if c.is_control() || is_bidi_control(c) => None,
            c => Some(c),
        })
        .collect();
    kept.trim()
        .chars()
        .take(max)
        .collect::<String>()
        .trim_end()
        .to_owned()
}

fn bounded_text(text: &str, what: &str, max: usize) -> Result<String, Invalid> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Invalid(format!("the {what} is empty")));
    }
    if let Some(c) = text
        .chars()
        .find(|c| (c.is_control() && *c != '\n' && *c != '\t') || is_bidi_control(*c))
    {
        return Err(Invalid(format!(
            "the {what} holds a control character (U+{:04X}); only newlines and tabs are allowed",
            u32::from(c)
        )));
    }
    let chars = text.chars().count();
    if chars > max {
        return Err(Invalid(format!(
            "the {what} has {chars} characters; at most {max} are allowed"
        )));
    }
    Ok(text.to_owned())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Declared,
    Status,
    Severity,
    Role,
    Note,
    Postmortem,
    /// Monitoring told of the alerts behind the incident: new ones firing, resolved.
    Alert,
    /// A team paged by hand (`to`: the team; `note`: the message, if any).
    Page,
    /// A title, summary or impact changed (`note`: which; `from`, `to`: the texts).
    Edit,
    /// A follow-up done or open again from outside (`to`: `done` or `open`; `note`:
    /// which), as Jira said.
    Followup,
    /// A customer-facing message on the status page (`note`), the first making the
    /// incident public (`to`: the components it affects, comma-separated).
    Public,
}

impl EventKind {
    pub const ALL: [EventKind; 11] = [
        EventKind::Declared,
        EventKind::Status,
        EventKind::Severity,
        EventKind::Role,
        EventKind::Note,
        EventKind::Postmortem,
        EventKind::Alert,
        EventKind::Page,
        EventKind::Followup,
        EventKind::Edit,
        EventKind::Public,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Declared => "declared",
            EventKind::Status => "status",
            EventKind::Severity => "severity",
            EventKind::Role => "role",
            EventKind::Note => "note",
            EventKind::Postmortem => "postmortem",
            EventKind::Alert => "alert",
            EventKind::Page => "page",
            EventKind::Followup => "followup",
            EventKind::Edit => "edit",
            EventKind::Public => "public",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One entry of an incident's append-only timeline.
///
/// `from`/`to` hold what changed: statuses for `declared` and `status`, severities for
/// `severity`, user ids for `role` (with `role` naming the role), the page's address for
/// `postmortem`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub kind: EventKind,
    pub actor: Actor,
    pub from: Option<String>,
    pub to: Option<String>,
    pub role: Option<RoleName>,
    pub note: Option<String>,
}

impl Event {
    /// The text said with the event, under its headline: a note, what monitoring said,
    /// or an edit's new text.
    pub fn said(&self) -> Option<&str> {
        match self.kind {
            EventKind::Edit => self.to.as_deref(),
            _ => self.note.as_deref(),
        }
    }

    /// The field an `edit` changed (`title`, `summary`, `impact`).
    pub fn field(&self) -> Option<&str> {
        match self.kind {
            EventKind::Edit => self.note.as_deref(),
            _ => None,
        }
    }
}

/// An open SEV2 incident #7, "Checkout returns 500", declared by U1 at 0: for tests.
#[cfg(test)]
pub fn example() -> Incident {
    Incident {
        id: IncidentId(7),
        title: "Checkout returns 500".into(),
        severity: Severity::Sev2,
        status: Status::Open,
        channel_id: None,
        declared_by: "U1".parse().unwrap(),
        roles: BTreeMap::new(),
        milestones: Milestones::opened(DateTime::from_timestamp(0, 0).unwrap()),
        postmortem_url: None,
        summary_ts: None,
        announce_ts: None,
        version: 0,
        drill: None,
        failure_class: None,
        private: false,
        updates: Default::default(),
        team: None,
        summary: None,
        impact: None,
        public_at: None,
        components: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incident() -> Incident {
        example()
    }

    #[test]
    fn a_move_records_who_when_from_to_and_the_note() {
        let at = DateTime::from_timestamp(60, 0).unwrap();
        let actor: SlackUserId = "U2".parse().unwrap();
        let change = incident()
            .move_to(
                Status::Mitigated,
                &actor.clone().into(),
                Some("rolled back".into()),
                at,
                &Policy::default(),
            )
            .unwrap();
        assert_eq!(change.after.status, Status::Mitigated);
        assert_eq!(change.after.milestones.investigating_at, Some(at));
        assert_eq!(change.event.kind, EventKind::Status);
        assert_eq!(change.event.actor, actor);
        assert_eq!(change.event.from.as_deref(), Some("open"));
        assert_eq!(change.event.to.as_deref(), Some("mitigated"));
        assert_eq!(change.event.note.as_deref(), Some("rolled back"));
    }

    #[test]
    fn changes_to_the_same_value_are_rejected() {
        let at = DateTime::from_timestamp(60, 0).unwrap();
        let u: SlackUserId = "U2".parse().unwrap();
        let lead: RoleName = "lead".parse().unwrap();
        assert!(incident()
            .set_severity(Severity::Sev2, &u.clone().into(), at)
            .is_err());
        let change = incident().assign(&lead, &u, &u.clone().into(), at).unwrap();
        assert_eq!(change.event.role, Some(lead.clone()));
        assert!(change
            .after
            .assign(&lead, &u, &u.clone().into(), at)
            .is_err());
    }

    #[test]
    fn titles_and_notes_are_trimmed_and_bounded() {
        assert_eq!(Incident::parse_title("  db down ").unwrap(), "db down");
        assert!(Incident::parse_title("   ").is_err());
        assert!(Incident::parse_title(&"🔥".repeat(MAX_TITLE_CHARS)).is_ok());
        assert!(Incident::parse_title(&"x".repeat(MAX_TITLE_CHARS + 1)).is_err());
        assert!(Incident::parse_note(&"x".repeat(MAX_NOTE_CHARS + 1)).is_err());
        assert_eq!(
            Incident::parse_note("line one\n\tline two").unwrap(),
            "line one\n\tline two"
        );
        for bad in [
            "a\0b",
            "bell\u{7}",
            "esc\u{1b}[31m",
            "del\u{7f}",
            "c1\u{85}x",
            "rlo\u{202E}gnp.exe",
            "isolate\u{2066}x\u{2069}",
        ] {
            let err = Incident::parse_note(bad).unwrap_err().to_string();
            assert!(err.contains("control character"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn a_closed_incident_takes_no_more_notes_severity_or_roles() {
        let at = DateTime::from_timestamp(60, 0).unwrap();
        let u: SlackUserId = "U2".parse().unwrap();
        let closed = Incident {
            status: Status::Closed,
            ..incident()
        };
        assert_eq!(
            closed.add_note("x".into(), &u.clone().into(), at),
            Err(Rejected::Closed)
        );
        assert_eq!(
            closed.set_severity(Severity::Sev1, &u.clone().into(), at),
            Err(Rejected::Closed)
        );
        assert_eq!(
            closed.assign(&"lead".parse().unwrap(), &u, &u.clone().into(), at),
            Err(Rejected::Closed)
        );
    }

    #[test]
    fn milestones_follow_the_transition_and_keep_earlier_stamps() {
        let t0 = DateTime::from_timestamp(1_000, 0).unwrap();
        let t1 = DateTime::from_timestamp(2_000, 0).unwrap();
        let t2 = DateTime::from_timestamp(3_000, 0).unwrap();
        let p = Policy::default();
        let sev = Severity::Sev2;

        let m = Milestones::opened(t0);
        let m = m.after(
            &Status::Open
                .transition(Status::Investigating, sev, &p)
                .unwrap(),
            t1,
        );
        assert_eq!(m.investigating_at, Some(t1));
        let m = m.after(
            &Status::Investigating
                .transition(Status::Resolved, sev, &p)
                .unwrap(),
            t2,
        );
        assert_eq!((m.mitigated_at, m.resolved_at), (Some(t2), Some(t2)));
        let m = m.after(
            &Status::Resolved
                .transition(Status::Investigating, sev, &p)
                .unwrap(),
            t2,
        );
        assert_eq!(m.opened_at, Some(t0));
        assert_eq!(
            m.investigating_at,
            Some(t1),
            "time to acknowledge keeps the first ack"
        );
        assert_eq!((m.mitigated_at, m.resolved_at), (None, None));
    }
}
