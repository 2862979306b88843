//! A parsed `/incident` command, carried out through the incidents service and worded
//! as a reply. Nothing here calls Slack: the reply is the HTTP response.

use super::client::SlackClient;
use super::command::{Command, Invocation, USAGE};
use super::interactions::open_modal;
use super::reply::{self, Reply};
use crate::domain::{ChannelId, Rejected, Severity, SlackUserId, Status};
use crate::incidents::{self, Found, Incidents, Member, Outcome, Request};
use crate::metrics::Metrics;
use crate::store::{NewIncident, NewInjection, StoreError};

/// Who typed the command, and where.
pub struct Caller {
    pub user: SlackUserId,
    pub channel: Option<ChannelId>,
    /// Lets the command open a modal, within 3 s, once.
    pub trigger_id: Option<String>,
    /// What makes this delivery unique (its signature): a replay of a command that adds
    /// something (a declaration, a note) is refused.
    pub delivery: Option<String>,
}

impl Caller {
    /// The caller as the incidents service knows callers.
    fn asking(&self) -> incidents::Caller {
        incidents::Caller::slack(&self.user, self.channel.clone())
    }
}

/// The fields of a slash command pompier reads (Slack sends more), from HTTP's form or
/// a Socket Mode envelope's payload.
#[derive(Debug, Default, serde::Deserialize)]
pub struct CommandFields {
    pub ssl_check: Option<String>,
    pub text: Option<String>,
    pub user_id: Option<String>,
    pub channel_id: Option<String>,
    pub trigger_id: Option<String>,
}

/// Answers a slash command within `deadline`, whatever the database does; the reason
/// when the fields themselves are wrong.
pub async fn answer(
    incidents: &Incidents,
    slack: Option<&SlackClient>,
    metrics: &Metrics,
    fields: CommandFields,
    delivery: Option<String>,
    deadline: std::time::Duration,
) -> Result<Option<Reply>, String> {
    let user: SlackUserId = fields
        .user_id
        .as_deref()
        .ok_or("slash command without user_id")?
        .parse()
        .map_err(|e| format!("user_id: {e}"))?;
    // A command from a DM or an unknown kind of conversation has no incident channel.
    let channel = fields.channel_id.as_deref().and_then(|c| c.parse().ok());
    let text = fields.text.unwrap_or_default();
    let invocation = match super::command::parse(&text, incidents.roles()) {
        Err(invalid) => {
            metrics.command("invalid");
            return Ok(Some(reply::error(invalid)));
        }
        Ok(invocation) => invocation,
    };
    metrics.command(invocation.command.name());
    let caller = Caller {
        user,
        channel,
        trigger_id: fields.trigger_id,
        delivery,
    };
    Ok(
        match tokio::time::timeout(deadline, execute(incidents, invocation, &caller, slack)).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "slash command failed");
                Some(Reply::ephemeral(
                    "pompier could not reach its database, so the command may not have been \
                     saved. Check with `/incident status` and try again.",
                ))
            }
            Err(_) => {
                tracing::error!("slash command missed its deadline");
                Some(Reply::ephemeral(
                    "pompier's database is slow to answer; the command may or may not have \
                     been saved. Check with `/incident status` in a moment.",
                ))
            }
        },
    )
}

/// The usage, then what each severity means when the team said.
fn help(policy: &crate::domain::Policy) -> Reply {
    let mut text = USAGE.to_owned();
    if !policy.severities.is_empty() {
        text.push_str("\n*Severities*");
        for severity in Severity::ALL {
            text.push_str(&format!(
                "\n• {}",
                crate::slack::text::escape(&policy.severity_label(severity))
            ));
        }
    }
    Reply::ephemeral(text)
}

/// Most incidents `/incident list` shows.
const LIST_LIMIT: u32 = 20;

/// Carries out `inv`; the reply, or `None` when there is nothing to say (a modal opened).
pub async fn execute(
    incidents: &Incidents,
    inv: Invocation,
    caller: &Caller,
    slack: Option<&SlackClient>,
) -> Result<Option<Reply>, StoreError> {
    // A replay of a command that adds or starts something is refused before it is
    // looked at (declarations are kept to once by their own key, in the same statement).
    let once = matches!(
        inv.command,
        Command::Note(_)
            | Command::Page { .. }
            | Command::Followup { .. }
            | Command::GamedayStart { .. }
            | Command::GamedayEnd
            | Command::Inject { .. }
    );
    if let (true, Some(key)) = (once, &caller.delivery) {
        if !incidents.first_delivery(key).await? {
            return Ok(Some(reply::replayed()));
        }
    }
    let private = matches!(inv.command, Command::DeclarePrivate { .. });
    let new = |title: String, severity: Option<Severity>| {
        let mut new = NewIncident::new(
            title,
            severity.unwrap_or(Severity::DEFAULT),
            caller.user.clone(),
            crate::now(),
        );
        new.once = caller.delivery.clone();
        new
    };
    let declaring = match inv.command {
        Command::Help => return Ok(Some(help(incidents.policy()))),
        Command::OpenModal { severity } => {
            let trigger = caller.trigger_id.as_deref();
            let teams = incidents.teams();
            let form = super::modal::Form {
                severity,
                from: caller.channel.as_ref().map(|c| c.as_str()),
                ..super::interactions::form(incidents, &teams)
            };
            return Ok(open_modal(slack, trigger, &form)
                .await
                .err()
                .map(Reply::ephemeral));
        }
        Command::Declare {
            severity,
            team,
            title,
        }
        | Command::DeclarePrivate {
            severity,
            team,
            title,
        } => {
            if let Some(team) = &team {
                if let Err(why) = incidents.check_team(team) {
                    return Ok(Some(Reply::ephemeral(format!(
                        "{why}. `/incident help` for usage."
                    ))));
                }
            }
            let mut new = new(title, severity);
            new.private = private;
            new.team = team;
            new
        }
        Command::Drill {
            severity,
            team,
            title,
        } => {
            let mut new = new(title, severity);
            new.drill = Some(team);
            new
        }
        Command::GamedayStart { name, mode } => {
            let channel = caller.channel.as_ref().map(|c| c.as_str());
            let started = incidents
                .start_gameday(&name, mode, &caller.user, channel)
                .await?;
            return Ok(Some(reply::gameday_started(started, &caller.user)));
        }
        Command::GamedayEnd => {
            let ended = incidents.end_gameday(&caller.user).await?;
            return Ok(Some(reply::gameday_ended(ended)));
        }
        Command::GamedayVillains(users) => {
            let villains = incidents.add_villains(&caller.user, &users).await?;
            return Ok(Some(reply::villains(villains)));
        }
        Command::Inject { team, description } => {
            let new = NewInjection {
                team,
                description,
                target: None,
                key: None,
                by: caller.user.as_str().to_owned(),
                started_at: crate::now(),
            };
            let injected = incidents.inject_as_villain(&caller.user, new).await?;
            return Ok(Some(reply::injected(injected)));
        }
        Command::List => {
            let page = incidents.active(LIST_LIMIT).await?;
            // Private incidents are listed to their members only.
            let shown = incidents
                .visible_to(page.incidents, &caller.asking())
                .await?;
            return Ok(Some(reply::list(&shown, page.next.is_some())));
        }
        command => return on_one_incident(incidents, inv.incident, command, caller).await,
    };
    Ok(Some(match incidents.declare_new(declaring).await {
        Ok(incident) => reply::declared(&incident, slack.is_some()),
        Err(StoreError::Duplicate(_)) => reply::replayed(),
        Err(StoreError::Rejected(why)) => reply::error(reply::capitalised(&why.to_string())),
        Err(e) => return Err(e),
    }))
}

/// Carries out `command` about one incident, named or found from the channel, when the
/// caller is one of its members; to anyone else it is an incident that does not exist.
async fn on_one_incident(
    incidents: &Incidents,
    named: Option<crate::domain::IncidentId>,
    command: Command,
    caller: &Caller,
) -> Result<Option<Reply>, StoreError> {
    let member = match incidents.find(named, &caller.asking()).await? {
        Found::Member(member) => member,
        Found::NotFound(id) => return Ok(Some(reply::not_found(id))),
        Found::NotNamed => return Ok(Some(reply::not_an_incident_channel())),
    };
    let reply = about(incidents, &member, command).await?;
    // A private incident's news is shared in its own channel only.
    Ok(Some(if member.may_share_in(caller.channel.as_ref()) {
        reply
    } else {
        Reply::ephemeral(reply.text)
    }))
}

/// `command` carried out on the member's incident.
async fn about(
    incidents: &Incidents,
    member: &Member,
    command: Command,
) -> Result<Reply, StoreError> {
    let id = member.id();
    let request = match command {
        Command::Followup { text, owner } => {
            let added = incidents
                .add_followup(member, &text, owner.as_ref())
                .await?;
            return Ok(reply::followup_added(id, &added));
        }
        Command::Invite(who) => {
            return Ok(match incidents.invite(member, &who).await? {
                Ok(()) => Reply::ephemeral(format!("Done: inviting them into #{id}'s channel.")),
                Err(why) => reply::error(why),
            });
        }
        Command::Class(name) => {
            return Ok(match incidents.policy().failure_class(&name) {
                Ok(class) => {
                    incidents.classify(member, &class).await?;
                    reply::classified(id, &class, member.actor())
                }
                Err(invalid) => reply::error(invalid),
            });
        }
        Command::Done(number) => {
            return Ok(match incidents.finish_followup(member, number).await? {
                Some(done) => reply::followup_done(id, &done),
                None => reply::error(format!(
                    "Incident #{id} has no follow-up {number}: `/incident followups` lists them"
                )),
            });
        }
        Command::Followups => {
            return Ok(reply::followups(id, &incidents.followups(member).await?));
        }
        Command::Status => {
            return Ok(match incidents.show(member).await? {
                Some(shown) => reply::shown(&shown),
                None => reply::not_found(id),
            });
        }
        Command::Link(injection) => {
            let Some(villain) = member.actor().slack_user() else {
                return Ok(Reply::ephemeral(USAGE));
            };
            let linked = incidents
                .relink(villain, injection, member.incident())
                .await?;
            return Ok(reply::linked(linked));
        }
        Command::Move { to, note } => Request::Move { to, note },
        Command::Severity(severity) => Request::Severity(severity),
        Command::Assign { role, user } => Request::Assign { role, user },
        Command::Note(text) => Request::Note(text),
        Command::Page { team, message } => Request::Page { team, message },
        Command::Edit { field, text } => Request::Edit { field, text },
        Command::Public {
            components,
            message,
        } => Request::Public {
            components,
            message,
        },
        Command::PublicUpdate(message) => Request::PublicUpdate(message),
        // `execute` sends only commands about one incident here.
        _ => return Ok(Reply::ephemeral(USAGE)),
    };
    let outcome = incidents.apply(member, &request).await?;
    if let Outcome::Rejected(_, Rejected::Refused(refused)) = &outcome {
        if (refused.from, refused.to) == (Status::Postmortem, Status::Postmortem) {
            if let Some(shown) = incidents.show(member).await? {
                return Ok(reply::postmortem_link(&shown.incident));
            }
        }
    }
    Ok(reply::outcome(&outcome))
}
