//! The `/incident` grammar, parsed from the text Slack sends (mentions escaped as
//! `<@U123>` or `<@U123|name>`). Pure: no I/O.

use crate::domain::gameday::{gameday_name, injection_text, Invitee, Mode};
use crate::domain::incident::Field;
use crate::domain::{Incident, IncidentId, Invalid, RoleName, Severity, SlackUserId, Status, Team};

/// A parsed `/incident` command: which incident (when named by number) and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub incident: Option<IncidentId>,
    pub command: Command,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    /// `open` with no title: the declare modal.
    OpenModal {
        severity: Option<Severity>,
    },
    /// `open [sevN] [team:NAME] TITLE`.
    Declare {
        severity: Option<Severity>,
        team: Option<Team>,
        title: String,
    },
    /// `open private [sevN] [team:NAME] TITLE`: a private incident.
    DeclarePrivate {
        severity: Option<Severity>,
        team: Option<Team>,
        title: String,
    },
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
    Status,
    List,
    /// `drill [sevN] [team:NAME] TITLE`.
    Drill {
        severity: Option<Severity>,
        team: Team,
        title: String,
    },
    /// `gameday start NAME [mode:dnd]`.
    GamedayStart {
        name: String,
        mode: Mode,
    },
    GamedayEnd,
    /// `gameday villain @user…`: more villains for the running game day.
    GamedayVillains(Vec<SlackUserId>),
    /// `inject [team:NAME] DESCRIPTION`: a villain's fault injection.
    Inject {
        team: Team,
        description: String,
    },
    /// `link INJECTION`: this drill detected that injection (a villain's correction).
    Link(i64),
    /// `public [component:NAME…] [MESSAGE]`: on the status page.
    Public {
        components: Vec<String>,
        message: Option<String>,
    },
    /// `update MESSAGE`: a customer-facing update on the status page.
    PublicUpdate(String),
    /// `followup TEXT [@owner]`.
    Followup {
        text: String,
        owner: Option<SlackUserId>,
    },
    Followups,
    /// `done N`: follow-up N of the incident is done.
    Done(i64),
    /// `class NAME`: the incident's failure class.
    Class(String),
    /// `title|summary|impact TEXT`: correct the incident.
    Edit {
        field: Field,
        text: String,
    },
    /// `invite TEAM|@user…`: pull more people into the incident's channel.
    Invite(Vec<Invitee>),
    /// `page TEAM [MESSAGE]`: page a team by hand.
    Page {
        team: Team,
        message: Option<String>,
    },
}

impl Command {
    /// Its name, for metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Help => "help",
            Command::OpenModal { .. } => "open_modal",
            Command::Declare { .. } => "declare",
            Command::DeclarePrivate { .. } => "declare_private",
            Command::Move { .. } => "move",
            Command::Severity(_) => "severity",
            Command::Assign { .. } => "assign",
            Command::Note(_) => "note",
            Command::Status => "status",
            Command::List => "list",
            Command::Drill { .. } => "drill",
            Command::GamedayStart { .. } => "gameday_start",
            Command::GamedayEnd => "gameday_end",
            Command::GamedayVillains(_) => "gameday_villain",
            Command::Inject { .. } => "inject",
            Command::Link(_) => "link",
            Command::Public { .. } => "public",
            Command::PublicUpdate(_) => "public_update",
            Command::Followup { .. } => "followup",
            Command::Followups => "followups",
            Command::Done(_) => "done",
            Command::Class(_) => "class",
            Command::Page { .. } => "page",
            Command::Edit { .. } => "edit",
            Command::Invite(_) => "invite",
        }
    }

    /// Commands about one incident, which need it named or found from the channel.
    pub fn needs_incident(&self) -> bool {
        matches!(
            self,
            Command::Move { .. }
                | Command::Severity(_)
                | Command::Assign { .. }
                | Command::Note(_)
                | Command::Status
                | Command::Followup { .. }
                | Command::Followups
                | Command::Done(_)
                | Command::Class(_)
                | Command::Page { .. }
                | Command::Edit { .. }
                | Command::Invite(_)
                | Command::Link(_)
                | Command::Public { .. }
                | Command::PublicUpdate(_)
        )
    }
}

pub const USAGE: &str = "\
*/incident* usage:
• `/incident open [sev1..sev4] TITLE`: declare an incident (`team:NAME` before the title invites the team) (`open private …`: a private channel, not announced) (`/incident` or `/incident open` alone opens the form)
• `/incident investigating|mitigated|resolved|postmortem|closed [NOTE]`: move the incident of this channel
• `/incident severity sev1..sev4`: change its severity
• `/incident lead @user`, `/incident role NAME @user`: assign a role
• `/incident note TEXT`: add a note to the timeline
• `/incident title|summary|impact TEXT`: correct the title (the channel is renamed), say what is happening, or who is affected
• `/incident status`: show the incident of this channel
• `/incident list`: incidents still open, newest first
• `/incident followup TEXT [@owner]`, `/incident followups`, `/incident done N`: follow-up actions
• `/incident class NAME`: the incident's failure class
• `/incident invite TEAM|@user…`: pull a team's people or someone into the incident's channel
• `/incident page TEAM [MESSAGE]`: page a team's on-call (PagerDuty, Opsgenie)
• `/incident public [component:NAME] [MESSAGE]`, `/incident update MESSAGE`: put the incident on the public status page, tell customers more
• `/incident drill [sev1..sev4] [team:NAME] TITLE`: declare a drill (a game day's exercise)
• `/incident gameday start NAME [mode:dnd]`, `/incident gameday end`: frame a game day (`mode:dnd`: villains inject faults, detection is timed from them)
• `/incident gameday villain @user…`, `/incident inject [team:NAME] DESCRIPTION`, `/incident link INJECTION`: a game day's villains name villains, record an injection (only they see it), link a drill to its injection
• `/incident help`: this help
Outside an incident's channel, name the incident first: `/incident 42 resolved`.";

/// Splits off the first word; the rest keeps its inner spacing.
fn next_word(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    match text.find(char::is_whitespace) {
        Some(i) => (&text[..i], text[i..].trim_start()),
        None => (text, ""),
    }
}

/// `<@U123>` or `<@U123|name>`.
pub fn parse_mention(word: &str) -> Result<SlackUserId, Invalid> {
    let inner = word
        .strip_prefix("<@")
        .and_then(|w| w.strip_suffix('>'))
        .ok_or_else(|| Invalid(format!("`{word}` is not a user: mention them with @")))?;
    let id = inner.split('|').next().unwrap_or_default();
    id.parse()
}

/// A word that looks like a severity (`sev0`, `SEV9`) but is none is an error rather
/// than the start of a title.
fn severity_word(word: &str) -> Result<Option<Severity>, Invalid> {
    let looks_like = word.len() > 3
        && word.get(..3).is_some_and(|s| s.eq_ignore_ascii_case("sev"))
        && word[3..].bytes().all(|b| b.is_ascii_digit());
    match word.parse::<Severity>() {
        Ok(sev) => Ok(Some(sev)),
        Err(e) if looks_like => Err(e),
        Err(_) => Ok(None),
    }
}

/// Parses the text of `/incident` as Slack sends it (entities and mentions escaped);
/// `roles` are the role names this team accepts.
pub fn parse(text: &str, roles: &[RoleName]) -> Result<Invocation, Invalid> {
    let text = super::text::decode(text);
    let (mut word, mut rest) = next_word(&text);
    let mut incident = None;
    if word.starts_with('#') || word.starts_with(|c: char| c.is_ascii_digit()) {
        incident = Some(word.parse::<IncidentId>()?);
        (word, rest) = next_word(rest);
    }
    let command = match word.to_ascii_lowercase().as_str() {
        "" if incident.is_none() => Command::OpenModal { severity: None },
        "" => Command::Status,
        "open" | "declare" => {
            if incident.is_some() {
                return Err(Invalid(
                    "`open` declares a new incident and takes no number".into(),
                ));
            }
            let (first, after) = next_word(rest);
            // Lowercase only, so a title such as "Private API down" stays a title.
            let private = first == "private";
            let rest = if private { after } else { rest };
            let (severity, team, title) = leading(rest)?;
            if title.is_empty() {
                Command::OpenModal { severity }
            } else if private {
                Command::DeclarePrivate {
                    severity,
                    team,
                    title: Incident::parse_title(title)?,
                }
            } else {
                Command::Declare {
                    severity,
                    team,
                    title: Incident::parse_title(title)?,
                }
            }
        }
        "help" => Command::Help,
        "status" | "show" => no_more(rest, Command::Status)?,
        "list" => no_more(rest, Command::List)?,
        "severity" | "sev" => {
            let (level, after) = next_word(rest);
            if level.is_empty() {
                return Err(Invalid(
                    "`severity` needs a level: sev1, sev2, sev3 or sev4".into(),
                ));
            }
            no_more(after, Command::Severity(level.parse()?))?
        }
        "lead" => assign("lead".parse()?, rest)?,
        "role" => {
            let (name, after) = next_word(rest);
            let role: RoleName = name.to_ascii_lowercase().parse()?;
            if !roles.contains(&role) {
                let known: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
                return Err(Invalid(format!(
                    "unknown role `{name}`: this team uses {}",
                    known.join(", ")
                )));
            }
            assign(role, after)?
        }
        "note" => Command::Note(Incident::parse_note(rest)?),
        "invite" => {
            let mut who = vec![];
            let mut rest = rest;
            while !rest.is_empty() {
                let (word, after) = next_word(rest);
                who.push(if word.starts_with("<@") {
                    Invitee::User(parse_mention(word)?)
                } else {
                    Invitee::Team(word.parse()?)
                });
                rest = after;
            }
            if who.is_empty() {
                return Err(Invalid("`invite TEAM|@user…`: whom to invite".into()));
            }
            Command::Invite(who)
        }
        "title" | "summary" | "impact" => {
            let field = Field::parse(&word.to_ascii_lowercase()).expect("a field");
            Command::Edit {
                field,
                text: field.parse_text(rest)?,
            }
        }
        "page" => {
            let (name, message) = next_word(rest);
            if name.is_empty() {
                return Err(Invalid(
                    "`page TEAM [MESSAGE]`: the team to page, and what to tell it".into(),
                ));
            }
            Command::Page {
                team: name.parse()?,
                message: (!message.is_empty())
                    .then(|| Incident::parse_note(message))
                    .transpose()?,
            }
        }
        "drill" => drill(rest)?,
        "followup" => followup(rest)?,
        "followups" => no_more(rest, Command::Followups)?,
        "class" => {
            let (name, after) = next_word(rest);
            if name.is_empty() {
                return Err(Invalid("`class NAME`: the incident's failure class".into()));
            }
            no_more(after, Command::Class(name.to_lowercase()))?
        }
        "done" => {
            let (n, after) = next_word(rest);
            let n = number(n, "`done N`: N is a follow-up's number")?;
            no_more(after, Command::Done(n))?
        }
        "gameday" => {
            let (what, name) = next_word(rest);
            match what.to_ascii_lowercase().as_str() {
                "start" => gameday_start(name)?,
                "end" => no_more(name, Command::GamedayEnd)?,
                "villain" | "villains" => {
                    let users = name
                        .split_whitespace()
                        .map(parse_mention)
                        .collect::<Result<Vec<_>, _>>()?;
                    if users.is_empty() {
                        return Err(Invalid("`gameday villain @user…`: who".into()));
                    }
                    Command::GamedayVillains(users)
                }
                _ => return Err(Invalid(
                    "`gameday start NAME [mode:dnd]`, `gameday villain @user…` or `gameday end`"
                        .into(),
                )),
            }
        }
        "inject" => {
            let (severity, team, description) = leading(rest)?;
            if severity.is_some() || description.is_empty() {
                return Err(Invalid(
                    "`inject [team:NAME] DESCRIPTION`: what was done, for which team".into(),
                ));
            }
            Command::Inject {
                team: team.unwrap_or_else(Team::unassigned),
                description: injection_text(description, "description")?,
            }
        }
        "public" => {
            let mut components = vec![];
            let mut rest = rest;
            loop {
                let (word, after) = next_word(rest);
                match word.strip_prefix("component:") {
                    Some(name) if !name.is_empty() => components.push(name.to_owned()),
                    _ => break,
                }
                rest = after;
            }
            Command::Public {
                components,
                message: (!rest.is_empty())
                    .then(|| Incident::parse_note(rest))
                    .transpose()?,
            }
        }
        "update" => {
            if rest.is_empty() {
                return Err(Invalid(
                    "`update MESSAGE`: what customers should read on the status page".into(),
                ));
            }
            Command::PublicUpdate(Incident::parse_note(rest)?)
        }
        "link" => {
            let (n, after) = next_word(rest);
            let n = number(n, "`link INJECTION`: an injection's number")?;
            no_more(after, Command::Link(n))?
        }
        other => match other.parse::<Status>() {
            Ok(Status::Open) | Err(_) => {
                return Err(Invalid(format!("unknown command `{word}`")));
            }
            Ok(to) => Command::Move {
                to,
                note: if rest.is_empty() {
                    None
                } else {
                    Some(Incident::parse_note(rest)?)
                },
            },
        },
    };
    if incident.is_some()
        && matches!(
            command,
            Command::List
                | Command::Help
                | Command::Drill { .. }
                | Command::GamedayStart { .. }
                | Command::GamedayEnd
                | Command::GamedayVillains(_)
                | Command::Inject { .. }
        )
    {
        return Err(Invalid(format!("`{word}` takes no incident number")));
    }
    Ok(Invocation { incident, command })
}

/// `TEXT [@owner]`: the owner when the last word is a mention.
fn followup(rest: &str) -> Result<Command, Invalid> {
    let usage = || Invalid("a follow-up needs a text: `followup TEXT [@owner]`".into());
    let (text, owner) = match rest.rsplit_once(char::is_whitespace) {
        Some((text, last)) if last.starts_with("<@") => {
            (text.trim_end(), Some(parse_mention(last)?))
        }
        None if rest.starts_with("<@") => return Err(usage()),
        _ => (rest, None),
    };
    if text.is_empty() {
        return Err(usage());
    }
    Ok(Command::Followup {
        text: Incident::parse_note(text)?,
        owner,
    })
}

/// `[sevN] [team:NAME] TITLE`, the severity and team in either order.
/// `[sevN] [team:NAME] REST`, the severity and team in either order.
fn leading(mut rest: &str) -> Result<(Option<Severity>, Option<Team>, &str), Invalid> {
    let (mut severity, mut team) = (None, None);
    loop {
        let (word, after) = next_word(rest);
        if let Some(name) = word.strip_prefix("team:") {
            if team.is_some() {
                return Err(Invalid("one team: `team:NAME`".into()));
            }
            team = Some(name.parse::<Team>()?);
        } else if let Some(sev) = severity_word(word)?.filter(|_| severity.is_none()) {
            severity = Some(sev);
        } else {
            break;
        }
        rest = after;
    }
    Ok((severity, team, rest))
}

fn drill(rest: &str) -> Result<Command, Invalid> {
    let (severity, team, rest) = leading(rest)?;
    if rest.is_empty() {
        return Err(Invalid(
            "a drill needs a title: `drill [sevN] [team:NAME] TITLE`".into(),
        ));
    }
    Ok(Command::Drill {
        severity,
        team: team.unwrap_or_else(Team::unassigned),
        title: Incident::parse_title(rest)?,
    })
}

/// A positive number (`7` or `#7`), else `usage`.
fn number(word: &str, usage: &str) -> Result<i64, Invalid> {
    word.trim_start_matches('#')
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| Invalid(usage.into()))
}

/// `NAME [mode:dnd]`, the mode first or last.
fn gameday_start(rest: &str) -> Result<Command, Invalid> {
    let mut mode = Mode::Informed;
    let mut name = rest.trim();
    let (first, after) = next_word(name);
    if let Some(m) = first.strip_prefix("mode:") {
        mode = Mode::parse(m)?;
        name = after;
    } else if let Some((before, last)) = name.rsplit_once(char::is_whitespace) {
        if let Some(m) = last.strip_prefix("mode:") {
            mode = Mode::parse(m)?;
            name = before.trim_end();
        }
    }
    Ok(Command::GamedayStart {
        name: gameday_name(name)?,
        mode,
    })
}

fn no_more(rest: &str, command: Command) -> Result<Command, Invalid> {
    if rest.is_empty() {
        Ok(command)
    } else {
        Err(Invalid(format!("unexpected `{rest}`")))
    }
}

fn assign(role: RoleName, rest: &str) -> Result<Command, Invalid> {
    let (who, after) = next_word(rest);
    if who.is_empty() {
        return Err(Invalid(format!("`{role}` needs a user: `{role} @user`")));
    }
    let user = parse_mention(who)?;
    no_more(after, Command::Assign { role, user })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles() -> Vec<RoleName> {
        ["lead", "comms", "scribe"]
            .iter()
            .map(|r| r.parse().unwrap())
            .collect()
    }

    fn ok(text: &str) -> Invocation {
        parse(text, &roles()).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn cmd(text: &str) -> Command {
        ok(text).command
    }

    fn err(text: &str) -> String {
        parse(text, &roles()).expect_err(text).to_string()
    }

    #[test]
    fn drills_and_game_days() {
        assert_eq!(
            cmd("drill sev2 team:Payments Replica lag"),
            Command::Drill {
                severity: Some(Severity::Sev2),
                team: "payments".parse().unwrap(),
                title: "Replica lag".into()
            }
        );
        assert_eq!(
            cmd("drill team:search sev1 Index gone"),
            Command::Drill {
                severity: Some(Severity::Sev1),
                team: "search".parse().unwrap(),
                title: "Index gone".into()
            }
        );
        assert_eq!(
            cmd("drill Cache cold"),
            Command::Drill {
                severity: None,
                team: Team::unassigned(),
                title: "Cache cold".into()
            }
        );
        assert!(err("drill").contains("needs a title"));
        assert!(err("drill team:a team:b X").contains("one team"));
        assert!(err("drill team:<!here> X").contains("team name"));
        assert!(err("3 drill X").contains("takes no incident number"));
        assert_eq!(
            cmd("gameday start Q4 chaos day"),
            Command::GamedayStart {
                name: "Q4 chaos day".into(),
                mode: Mode::Informed
            }
        );
        for text in [
            "gameday start Dungeon day mode:dnd",
            "gameday start mode:dnd Dungeon day",
        ] {
            assert_eq!(
                cmd(text),
                Command::GamedayStart {
                    name: "Dungeon day".into(),
                    mode: Mode::Dnd
                }
            );
        }
        assert!(err("gameday start X mode:chess").contains("not a game day mode"));
        assert_eq!(cmd("gameday end"), Command::GamedayEnd);
        assert!(err("gameday start").contains("needs a name"));
        assert!(err("gameday start mode:dnd").contains("needs a name"));
        assert!(err("gameday pause").contains("gameday start NAME"));
        assert_eq!(
            cmd("gameday villain <@U0B|bob> <@U0C>"),
            Command::GamedayVillains(vec!["U0B".parse().unwrap(), "U0C".parse().unwrap()])
        );
        assert!(err("gameday villain bob").contains("mention"));
        assert_eq!(
            cmd("inject team:payments pod-delete on checkout"),
            Command::Inject {
                team: "payments".parse().unwrap(),
                description: "pod-delete on checkout".into()
            }
        );
        assert!(err("inject team:payments").contains("DESCRIPTION"));
        assert!(err("4 inject X").contains("takes no incident number"));
        assert_eq!(cmd("link #7"), Command::Link(7));
        assert_eq!(
            cmd("public component:checkout component:api Payments fail"),
            Command::Public {
                components: vec!["checkout".into(), "api".into()],
                message: Some("Payments fail".into())
            }
        );
        assert_eq!(
            cmd("public"),
            Command::Public {
                components: vec![],
                message: None
            }
        );
        assert_eq!(cmd("update Fixed"), Command::PublicUpdate("Fixed".into()));
        assert!(err("update").contains("status page"));
        assert!(err("link seven").contains("injection's number"));
    }

    #[test]
    fn private_incidents() {
        assert_eq!(
            cmd("open private sev1 Payroll leak"),
            Command::DeclarePrivate {
                team: None,
                severity: Some(Severity::Sev1),
                title: "Payroll leak".into()
            }
        );
        assert_eq!(
            cmd("open Private matters"),
            Command::Declare {
                team: None,
                severity: None,
                title: "Private matters".into()
            }
        );
        assert_eq!(cmd("open private"), Command::OpenModal { severity: None });
    }

    #[test]
    fn follow_ups() {
        assert_eq!(
            cmd("followup Add an alert on lag <@U0OWNER>"),
            Command::Followup {
                text: "Add an alert on lag".into(),
                owner: Some(user("U0OWNER"))
            }
        );
        assert_eq!(
            cmd("followup Ask <@U0A> about it"),
            Command::Followup {
                text: "Ask <@U0A> about it".into(),
                owner: None
            }
        );
        assert!(err("followup").contains("needs a text"));
        assert!(err("followup <@U0A>").contains("needs a text"));
        assert_eq!(ok("4 done 2").command, Command::Done(2));
        assert!(err("done x").contains("follow-up's number"));
        assert_eq!(cmd("followups"), Command::Followups);
    }

    fn user(id: &str) -> SlackUserId {
        id.parse().unwrap()
    }

    #[test]
    fn open_declares_with_or_without_severity_and_keeps_the_title_as_typed() {
        assert_eq!(
            cmd("open sev1 Checkout  returns 500"),
            Command::Declare {
                team: None,
                severity: Some(Severity::Sev1),
                title: "Checkout  returns 500".into()
            }
        );
        assert_eq!(
            cmd("OPEN Checkout <!channel> &amp; co &lt;3"),
            Command::Declare {
                team: None,
                severity: None,
                title: "Checkout @channel & co <3".into()
            }
        );
        assert_eq!(
            cmd("open SEV2 sev4"),
            Command::Declare {
                team: None,
                severity: Some(Severity::Sev2),
                title: "sev4".into()
            }
        );
    }

    #[test]
    fn empty_text_or_a_bare_open_asks_for_the_form() {
        assert_eq!(cmd(""), Command::OpenModal { severity: None });
        assert_eq!(cmd("   "), Command::OpenModal { severity: None });
        assert_eq!(cmd("open"), Command::OpenModal { severity: None });
        assert_eq!(
            cmd("open sev2"),
            Command::OpenModal {
                severity: Some(Severity::Sev2)
            }
        );
    }

    #[test]
    fn every_status_but_open_is_a_move_with_an_optional_note() {
        for to in [
            Status::Investigating,
            Status::Mitigated,
            Status::Resolved,
            Status::Postmortem,
            Status::Closed,
        ] {
            assert_eq!(cmd(to.as_str()), Command::Move { to, note: None });
            assert_eq!(
                cmd(&format!("{to} rolled back v2.3")),
                Command::Move {
                    to,
                    note: Some("rolled back v2.3".into())
                }
            );
        }
    }

    #[test]
    fn a_number_first_names_the_incident() {
        assert_eq!(
            ok("42 resolved"),
            Invocation {
                incident: Some(IncidentId(42)),
                command: Command::Move {
                    to: Status::Resolved,
                    note: None
                }
            }
        );
        assert_eq!(ok("#7 status").incident, Some(IncidentId(7)));
        assert_eq!(ok("7").command, Command::Status);
        assert!(err("42 open title").contains("no number"));
        assert!(err("42 list").contains("no incident number"));
        assert!(err("4x2 resolved").contains("not an incident number"));
    }

    #[test]
    fn roles_take_escaped_mentions_in_both_forms() {
        let lead: RoleName = "lead".parse().unwrap();
        assert_eq!(
            cmd("lead <@U0456>"),
            Command::Assign {
                role: lead.clone(),
                user: user("U0456")
            }
        );
        assert_eq!(
            cmd("lead <@U0456|alice>"),
            Command::Assign {
                role: lead,
                user: user("U0456")
            }
        );
        assert_eq!(
            cmd("role Scribe <@W99>"),
            Command::Assign {
                role: "scribe".parse().unwrap(),
                user: user("W99")
            }
        );
        assert!(err("role chef <@U1>").contains("unknown role `chef`"));
        assert!(err("lead @alice").contains("mention them with @"));
        assert!(err("lead").contains("needs a user"));
        assert!(err("lead <@U1> <@U2>").contains("unexpected"));
    }

    #[test]
    fn severity_notes_status_list_and_help() {
        assert_eq!(cmd("severity sev1"), Command::Severity(Severity::Sev1));
        assert_eq!(cmd("sev SEV4"), Command::Severity(Severity::Sev4));
        assert!(err("severity").contains("needs a level"));
        assert!(err("severity sev9").contains("unknown severity"));
        for text in ["open sev0 DB down", "open SEV9 DB down", "open sev12 x"] {
            let e = err(text);
            assert!(
                e.contains("unknown severity") && e.contains("SEV1"),
                "{text}: {e}"
            );
        }
        assert_eq!(
            cmd("open severe DB down"),
            Command::Declare {
                team: None,
                severity: None,
                title: "severe DB down".into()
            }
        );
        assert!(err("note a\0b").contains("control character"));
        // Found by the property test: a multi-byte first word after `open`.
        assert!(matches!(cmd("open &ℛhⷜ down"), Command::Declare { .. }));
        assert_eq!(
            cmd("note  DB failover &lt;b&gt;done&lt;/b&gt; "),
            Command::Note("DB failover <b>done</b>".into())
        );
        assert!(err("note").contains("empty"));
        assert_eq!(cmd("status"), Command::Status);
        assert_eq!(cmd("list"), Command::List);
        assert_eq!(cmd("help"), Command::Help);
        assert!(err("status now").contains("unexpected"));
    }

    #[test]
    fn unknown_words_are_refused() {
        assert!(err("frobnicate").contains("unknown command `frobnicate`"));
        assert!(err("42 frobnicate").contains("unknown command"));
    }
}
