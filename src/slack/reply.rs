//! Words for Slack: replies to slash commands (JSON) and the messages jobs post. User
//! text is escaped for mrkdwn; every message names the incident as people know it
//! (number, title, channel) and shows times in each reader's own zone.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::text::{escape, mention};
use crate::domain::gameday::{Injection, Mode};
use crate::domain::{
    lifecycle, Actor, Event, EventKind, Followup, Gameday, Incident, IncidentId, SlackUserId,
    Status,
};
use crate::incidents::{GamedayRefused, Outcome, Shown};
use crate::outbox::Reminder;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reply {
    pub response_type: &'static str,
    pub text: String,
}

impl Reply {
    /// Seen only by the user who typed the command.
    pub fn ephemeral(text: impl Into<String>) -> Reply {
        Reply {
            response_type: "ephemeral",
            text: text.into(),
        }
    }

    /// Shared in the channel, with the command that caused it.
    pub fn in_channel(text: impl Into<String>) -> Reply {
        Reply {
            response_type: "in_channel",
            text: text.into(),
        }
    }
}

/// Slack's date token: each reader sees the time in their own zone.
pub fn local_time(at: DateTime<Utc>) -> String {
    format!(
        "<!date^{}^{{date_short_pretty}} {{time}}|{}>",
        at.timestamp(),
        at.format("%Y-%m-%d %H:%M UTC")
    )
}

/// `*#42 Checkout returns 500*`.
pub fn name(incident: &Incident) -> String {
    format!(
        "*{}#{} {}*",
        incident.label(),
        incident.id,
        escape(&incident.title)
    )
}

/// The name, then ` in #channel` once the incident has one.
fn name_and_channel(incident: &Incident) -> String {
    match &incident.channel_id {
        Some(channel) => format!("{} in <#{channel}>", name(incident)),
        None => name(incident),
    }
}

fn headline(incident: &Incident) -> String {
    format!(
        "{} ({}, {})",
        name(incident),
        incident.severity,
        incident.status
    )
}

/// `text` with its first letter upper case.
pub fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A refusal or a parse error: one line, and where to look for more.
pub fn error(why: impl std::fmt::Display) -> Reply {
    Reply::ephemeral(format!(":warning: {why}. See `/incident help`."))
}

pub fn declared(incident: &Incident, bot_token_set: bool) -> Reply {
    let mut text = format!(
        ":rotating_light: {} declared by {}. Its channel is on the way.\n\
         Next: `/incident {} investigating` once someone is on it.",
        headline(incident),
        incident.declared_by.mention(),
        incident.id
    );
    if !bot_token_set {
        text.push_str(
            "\n:warning: SLACK_BOT_TOKEN is not set on this pompier: the incident's channel \
             will be created once it is.",
        );
    }
    if incident.private {
        // Said to the declarer alone: the channel the command came from is not the
        // incident's, and its title is for the members of its private channel.
        text.push_str(
            "\n:lock: A private incident: its channel is private and it is not announced.",
        );
        return Reply::ephemeral(text);
    }
    Reply::in_channel(text)
}

/// One follow-up, as a line: `2. Add an alert (@owner) ✓ done`.
fn followup_line(f: &Followup) -> String {
    let mut line = format!("{}. {}", f.number, escape(&f.text));
    if let Some(owner) = &f.owner {
        line.push_str(&format!(" (owner {})", mention(owner)));
    }
    if f.done_at.is_some() {
        line.push_str(" :white_check_mark: done");
    }
    line
}

/// A follow-up added: said in the channel, so the team sees it.
pub fn followup_added(id: IncidentId, f: &Followup) -> Reply {
    Reply::in_channel(format!(
        ":clipboard: Follow-up of incident #{id} added by {}:\n{}\nMark it done with `/incident done {}`.",
        f.created_by.mention(),
        followup_line(f),
        f.number
    ))
}

/// A nudge for news, said in the incident's channel.
pub fn nudge(incident: &Incident, reminder: &Reminder) -> String {
    match reminder {
        Reminder::Update {
            lead,
            every_minutes,
        } => {
            let due = format!(
                ":hourglass: {} has had no news for {} (updates are due every {} at {})",
                name(incident),
                minutes(*every_minutes),
                minutes(*every_minutes),
                incident.severity,
            );
            match lead.as_deref().and_then(|u| u.parse::<SlackUserId>().ok()) {
                Some(lead) => format!(
                    "{due}. {}, time for an update: `/incident note …` or a move.",
                    mention(&lead)
                ),
                None => format!(
                    "{due}, and nobody leads it. Someone take the lead (`/incident lead @me` \
                     or *Take the lead* on the summary), then post an update: \
                     `/incident note …` or a move."
                ),
            }
        }
        Reminder::Postmortem { waiting_days } => format!(
            ":memo: The postmortem of {} has waited {waiting_days} day{}: write it up, then \
             `/incident closed`.",
            name(incident),
            if *waiting_days == 1 { "" } else { "s" }
        ),
    }
}

fn minutes(m: i64) -> String {
    if m % 60 == 0 {
        format!("{} h", m / 60)
    } else {
        format!("{m} min")
    }
}

/// A failure class set.
pub fn classified(id: IncidentId, class: &str, by: &Actor) -> Reply {
    Reply::in_channel(format!(
        ":label: The failure class of incident #{id} is now *{}*, set by {}.",
        escape(class),
        by.mention()
    ))
}

/// A follow-up marked done.
pub fn followup_done(id: IncidentId, f: &Followup) -> Reply {
    Reply::in_channel(format!(
        ":white_check_mark: Follow-up {} of incident #{id} is done: {}",
        f.number,
        escape(&f.text)
    ))
}

/// The follow-ups of an incident.
pub fn followups(id: IncidentId, all: &[Followup]) -> Reply {
    if all.is_empty() {
        return Reply::ephemeral(format!(
            "Incident #{id} has no follow-up yet: `/incident followup TEXT [@owner]`"
        ));
    }
    let open = all.iter().filter(|f| f.done_at.is_none()).count();
    let lines: Vec<String> = all.iter().map(followup_line).collect();
    Reply::ephemeral(format!(
        "*Follow-ups of incident #{id}* ({open} open):\n{}",
        lines.join("\n")
    ))
}

/// A game day started, or why not.
pub fn gameday_started(started: Result<Gameday, GamedayRefused>, by: &SlackUserId) -> Reply {
    match started {
        Ok(day) if day.mode == Mode::Dnd => Reply::in_channel(format!(
            ":dragon: Game day *{}* started by {}, Dungeons & Dragons style: villains inject \
             faults, heroes find them. Declare what you notice with `/incident drill [sevN] \
             team:NAME TITLE`; you are timed from the fault, not from the declaration. Its \
             scoreboard: `/gameday/{}` on pompier's dashboard. {} names more villains with \
             `/incident gameday villain @user` and ends it with `/incident gameday end`.",
            escape(&day.name),
            mention(by),
            day.id,
            mention(by),
        )),
        Ok(day) => Reply::in_channel(format!(
            ":video_game: Game day *{}* started by {}. Drills declared now belong to it: \
             `/incident drill [sevN] team:NAME TITLE`. Its scoreboard: `/gameday/{}` on \
             pompier's dashboard. End it with `/incident gameday end`.",
            escape(&day.name),
            mention(by),
            day.id
        )),
        Err(refused) => gameday_refused(&refused),
    }
}

/// A game day ended, or why not.
pub fn gameday_ended(ended: Result<Gameday, GamedayRefused>) -> Reply {
    match ended {
        Ok(day) => Reply::in_channel(format!(
            ":checkered_flag: Game day *{}* is over. Its scoreboard stays at `/gameday/{}`; \
             its report follows here.",
            escape(&day.name),
            day.id
        )),
        Err(refused) => gameday_refused(&refused),
    }
}

/// The game day's villains now.
pub fn villains(villains: Result<Vec<String>, GamedayRefused>) -> Reply {
    match villains {
        Ok(villains) => Reply::ephemeral(format!(
            ":smiling_imp: The villains of this game day: {}.",
            people(&villains)
        )),
        Err(refused) => gameday_refused(&refused),
    }
}

/// An injection recorded, for the villain alone.
pub fn injected(injected: Result<Injection, GamedayRefused>) -> Reply {
    match injected {
        Ok(i) => Reply::ephemeral(format!(
            ":test_tube: Injection {} for *{}* recorded at {} UTC: {}. Heroes see only a timer \
             until the game day ends; end it with `POST /api/v1/injections/{}/end`.",
            i.id,
            i.team,
            i.started_at.format("%H:%M:%S"),
            escape(i.description.as_deref().unwrap_or_default()),
            i.id
        )),
        Err(refused) => gameday_refused(&refused),
    }
}

/// A drill linked to an injection by a villain.
pub fn linked(linked: Result<Injection, GamedayRefused>) -> Reply {
    match linked {
        Ok(i) => Reply::ephemeral(format!(
            "Done: injection {} is detected by drill #{}.",
            i.id,
            i.drill_id.map(|d| d.0).unwrap_or_default()
        )),
        Err(refused) => gameday_refused(&refused),
    }
}

fn people(users: &[String]) -> String {
    users
        .iter()
        .map(|u| format!("<@{u}>"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a game day request was refused, for the one who asked.
pub fn gameday_refused(refused: &GamedayRefused) -> Reply {
    error(match refused {
        GamedayRefused::NoneRunning => "No game day is running".to_owned(),
        GamedayRefused::Running(day) => format!(
            "Game day *{}* is running already: end it with `/incident gameday end` first",
            escape(&day.name)
        ),
        GamedayRefused::NotDnd(day) => format!(
            "Game day *{}* is not a Dungeons & Dragons one: injections belong to game days \
             started with `mode:dnd`",
            escape(&day.name)
        ),
        GamedayRefused::NotVillain(villains) => format!(
            "Only this game day's villains may do that: {}",
            people(villains)
        ),
        GamedayRefused::NoInjection(which) => {
            format!("This game day has no injection {}", escape(which))
        }
        GamedayRefused::NotADrill(id) => {
            format!("Incident #{id} is not a drill of the running game day")
        }
        GamedayRefused::StartedAt => "An injection starts now, or less than an hour ago".to_owned(),
        GamedayRefused::Forbidden(why) => capitalised(&why.to_string()),
    })
}

/// What a change request came to, for the one who asked. The incident's channel hears
/// of a change from the bot's own post, so this reply is for the caller alone.
pub fn outcome(outcome: &Outcome) -> Reply {
    match outcome {
        Outcome::Changed(change) => Reply::ephemeral(format!(
            ":white_check_mark: Done. {}",
            told(&change.after, &change.event)
        )),
        Outcome::Rejected(id, why) => error(format!("Incident #{id} was not changed: {why}")),
        Outcome::NotFound(id) => not_found(*id),
    }
}

/// `/incident postmortem` again: where the page is, for the channel.
pub fn postmortem_link(incident: &Incident) -> Reply {
    match &incident.postmortem_url {
        Some(url) => Reply::in_channel(format!(
            ":memo: The postmortem of {}: <{}|open it in Confluence>.",
            name(incident),
            escape(url)
        )),
        None => Reply::ephemeral(format!(
            "{} is in postmortem; its page is not drafted yet (or Confluence is not \
             configured).",
            name(incident)
        )),
    }
}

/// The same signed request again (a replay): nothing done twice.
pub fn replayed() -> Reply {
    Reply::ephemeral("This exact command was already received; it is not done twice.")
}

/// Said alike of an incident that does not exist and of a private one the caller is not
/// a member of, so numbers cannot be probed.
pub fn not_found(id: crate::domain::IncidentId) -> Reply {
    Reply::ephemeral(format!(
        ":warning: No incident #{id}. `/incident list` shows the open ones."
    ))
}

pub fn not_an_incident_channel() -> Reply {
    error(
        "This channel is not an incident's channel: name the incident by its number, \
         e.g. `/incident 42 resolved`",
    )
}

/// `event` told in the incident's own channel.
pub fn told(incident: &Incident, event: &Event) -> String {
    let who = event.actor.mention();
    let name = name(incident);
    let from = event.from.as_deref().unwrap_or("?");
    let mut text = match event.kind {
        EventKind::Status => format!(
            ":arrow_forward: {name} is now *{}* (was {from}), moved by {who}.",
            event.to.as_deref().unwrap_or("?"),
        ),
        EventKind::Severity => format!(
            ":warning: {name} is now *{}* (was {from}), changed by {who}.",
            event.to.as_deref().unwrap_or("?"),
        ),
        EventKind::Role => format!(
            "{} is now *{}* of {name}{}, assigned by {who}.",
            event.to.as_deref().map(mention).unwrap_or_default(),
            event.role.as_ref().map(|r| r.as_str()).unwrap_or("?"),
            event
                .from
                .as_deref()
                .map(|was| format!(" (taking over from {})", mention(was)))
                .unwrap_or_default(),
        ),
        EventKind::Note => format!("{who} added a note to {name}:"),
        EventKind::Alert => format!(":rotating_light: {who} on {name}:"),
        EventKind::Followup => format!(
            ":ballot_box_with_check: {who} marked a follow-up of {name} *{}*:",
            event.to.as_deref().unwrap_or("?")
        ),
        EventKind::Edit => format!(
            ":pencil2: {who} changed the {} of {name}:",
            event.field().unwrap_or("?")
        ),
        EventKind::Public => {
            format!(":globe_with_meridians: {who} told customers of {name} on the status page:")
        }
        EventKind::Page => format!(
            ":pager: {who} paged team *{}* for {name}.",
            escape(event.to.as_deref().unwrap_or("?"))
        ),
        EventKind::Postmortem => format!(
            ":memo: The postmortem of {name} is drafted: <{}|open it in Confluence>.",
            escape(event.to.as_deref().unwrap_or_default())
        ),
        EventKind::Declared => headline(incident),
    };
    if let Some(note) = event.said() {
        text.push_str(&format!("\n>{}", escape(note).replace('\n', "\n>")));
    }
    text
}

/// A team's channel hears of its new incident.
pub fn told_team(incident: &Incident) -> String {
    let channel = incident
        .channel_id
        .as_ref()
        .map(|c| format!(" in <#{c}>"))
        .unwrap_or_default();
    let team = incident.team.as_ref().map_or_else(String::new, |t| {
        format!(" for team *{}*", escape(t.as_str()))
    });
    format!(
        ":rotating_light: {} ({}) is declared{team}{channel}.",
        name(incident),
        incident.severity
    )
}

/// `event` announced in the announce channel, with a link to the incident's channel.
pub fn announced(incident: &Incident, event: &Event) -> String {
    let text = told(incident, event);
    match &incident.channel_id {
        Some(channel) => {
            let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
            let mut out = format!("{first} <#{channel}>");
            if !rest.is_empty() {
                out.push('\n');
                out.push_str(rest);
            }
            out
        }
        None => text,
    }
}

/// Told to whoever declared from the form, where they opened it.
pub fn declared_where(incident: &Incident) -> String {
    format!(
        ":rotating_light: {} ({}) is declared.",
        name_and_channel(incident),
        incident.severity
    )
}

/// Told to the new holder of `role`: the incident, its channel, what the role expects.
pub fn role_duty(incident: &Incident, role: &str, duty: &str) -> String {
    format!(
        ":wave: You are the *{}* of {} ({}).\n{}",
        escape(role),
        name_and_channel(incident),
        incident.severity,
        escape(duty)
    )
}

/// The whole state of one incident, for the user who asked.
pub fn shown(shown: &Shown) -> Reply {
    let incident = &shown.incident;
    let mut lines = vec![headline(incident)];
    lines.push(format!("Declared by {}", incident.declared_by.mention()));
    if let Some(channel) = &incident.channel_id {
        lines.push(format!("Channel: <#{channel}>"));
    }
    for (role, user) in &incident.roles {
        lines.push(format!("{role}: {}", mention(user)));
    }
    for status in Status::ALL {
        if let Some(at) = incident.milestones.get(status) {
            lines.push(format!("{status}: {}", local_time(at)));
        }
    }
    if let Some(url) = &incident.postmortem_url {
        lines.push(format!("Postmortem: {}", escape(url)));
    }
    if !shown.allowed_next.is_empty() {
        lines.push(format!("Next: {}", lifecycle::list(&shown.allowed_next)));
    }
    Reply::ephemeral(lines.join("\n"))
}

pub fn list(incidents: &[Incident], more: bool) -> Reply {
    if incidents.is_empty() {
        return Reply::ephemeral("No open incidents. :tada:");
    }
    let mut lines: Vec<String> = incidents
        .iter()
        .map(|i| match &i.channel_id {
            Some(channel) => format!("• {} <#{channel}>", headline(i)),
            None => format!("• {}", headline(i)),
        })
        .collect();
    if more {
        lines.push("…and more: see the API or the dashboard.".into());
    }
    Reply::ephemeral(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{IncidentId, Milestones, Policy, Severity};
    use chrono::DateTime;

    fn incident(title: &str) -> Incident {
        Incident {
            id: IncidentId(1),
            title: title.into(),
            severity: Severity::Sev1,
            status: Status::Open,
            channel_id: Some("C0INC".parse().unwrap()),
            milestones: Milestones::opened(DateTime::from_timestamp(1_700_000_000, 0).unwrap()),
            ..crate::domain::incident::example()
        }
    }

    #[test]
    fn a_hostile_title_is_escaped_in_every_reply() {
        let incident = incident("<!channel> <https://evil|click> & co");
        let shown_one = Shown {
            incident: incident.clone(),
            allowed_next: vec![],
        };
        for text in [
            declared(&incident, true).text,
            shown(&shown_one).text,
            list(std::slice::from_ref(&incident), false).text,
            declared_where(&incident),
            role_duty(&incident, "lead", "Lead"),
            crate::slack::blocks::announcement(&incident, &Default::default(), None)
                .1
                .first()
                .unwrap()["text"]["text"]
                .as_str()
                .unwrap()
                .to_owned(),
        ] {
            assert!(!text.contains("<!channel>"), "{text}");
            assert!(!text.contains("<https://evil"), "{text}");
            assert!(text.contains("&lt;!channel&gt; &lt;https://evil|click&gt; &amp; co"));
        }
    }

    #[test]
    fn a_new_lead_is_told_who_led_before_and_a_nudge_without_one_asks_for_one() {
        let i = incident("DB down");
        let at = DateTime::from_timestamp(1_700_000_100, 0).unwrap();
        let (ana, li): (SlackUserId, SlackUserId) =
            ("U0ANA".parse().unwrap(), "U0LI".parse().unwrap());
        let lead: crate::domain::RoleName = "lead".parse().unwrap();
        let first = i.assign(&lead, &ana, &ana.clone().into(), at).unwrap();
        let said = told(&first.after, &first.event);
        assert!(!said.contains("taking over"), "{said}");
        let second = first
            .after
            .assign(&lead, &li, &li.clone().into(), at)
            .unwrap();
        let said = told(&second.after, &second.event);
        assert!(
            said.contains("*lead*") && said.contains("(taking over from <@U0ANA>)"),
            "{said}"
        );

        let nobody = Reminder::Update {
            lead: None,
            every_minutes: 15,
        };
        let said = nudge(&i, &nobody);
        assert!(
            said.contains("and nobody leads it. Someone take the lead"),
            "{said}"
        );
        assert!(!said.contains(": `/incident lead"), "{said}");
        let asked = Reminder::Update {
            lead: Some("U0ANA".into()),
            every_minutes: 15,
        };
        assert!(nudge(&i, &asked).contains("<@U0ANA>, time for an update: `/incident note …`"));
    }

    #[test]
    fn messages_name_the_incident_its_channel_and_local_times() {
        let i = incident("DB down");
        let u = "U2".parse().unwrap();
        let at = DateTime::from_timestamp(1_700_000_100, 0).unwrap();
        let change = i
            .move_to(Status::Investigating, &u, None, at, &Policy::default())
            .unwrap();
        let said = announced(&change.after, &change.event);
        assert!(
            said.contains("*#1 DB down*") && said.contains("<#C0INC>"),
            "{said}"
        );
        assert!(said.contains("*investigating* (was open)"), "{said}");
        let status = shown(&Shown {
            incident: change.after,
            allowed_next: vec![],
        })
        .text;
        assert!(status.contains("<!date^1700000100^"), "{status}");
        assert!(declared_where(&i).contains("*#1 DB down* in <#C0INC>"));
    }
}
