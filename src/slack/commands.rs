//! Carries out a parsed `/incident` command against the store and words the reply.
//! Nothing here calls Slack: the reply is the HTTP response.

use super::command::{Command, Invocation, USAGE};
use super::reply::{self, Reply};
use crate::app::AppState;
use crate::domain::{ChannelId, IncidentId, Rejected, SlackUserId, Status};
use crate::store::{Filter, NewIncident, StoreError};

/// Who typed the command, and where.
pub struct Caller {
    pub user: SlackUserId,
    pub channel: Option<ChannelId>,
}

/// Most incidents `/incident list` shows.
const LIST_LIMIT: u32 = 20;

pub async fn execute(
    state: &AppState,
    inv: Invocation,
    caller: &Caller,
) -> Result<Reply, StoreError> {
    let store = &state.store;
    let at = crate::now();
    let id = if inv.command.needs_incident() {
        match find_incident(state, inv.incident, caller).await? {
            Ok(id) => Some(id),
            Err(reply) => return Ok(reply),
        }
    } else {
        None
    };
    let user = &caller.user;
    let effects = |change: &crate::domain::Change| state.effects.on_change(change);
    let changed = |result| -> Result<Reply, StoreError> {
        match result {
            Ok(change) => {
                state.jobs_queued.notify_waiters();
                Ok(reply::changed(&change))
            }
            Err(StoreError::Rejected(why)) => Ok(not_changed(id, &why)),
            Err(StoreError::NotFound(id)) => Ok(not_found(id)),
            Err(e) => Err(e),
        }
    };
    let policy = &state.policy;
    match inv.command {
        Command::Help => Ok(Reply::ephemeral(USAGE)),
        Command::OpenModal { .. } => Ok(Reply::ephemeral(
            "Give the incident a title: `/incident open [sev1..sev4] TITLE`.",
        )),
        Command::Declare { severity, title } => {
            let incident = store
                .declare(
                    NewIncident {
                        title,
                        severity: severity.unwrap_or(crate::domain::Severity::DEFAULT),
                        declared_by: user.clone(),
                        at,
                    },
                    &state.effects.on_declare(),
                )
                .await?;
            state.jobs_queued.notify_waiters();
            let mut reply = reply::declared(&incident);
            if state.settings.secrets.slack_bot_token.is_none() {
                reply.text.push_str(
                    "\n:warning: SLACK_BOT_TOKEN is not set on this pompier: the incident's \
                     channel will be created once it is.",
                );
            }
            Ok(reply)
        }
        Command::List => {
            let page = store
                .list(&Filter {
                    statuses: Status::ALL.into_iter().filter(|s| s.is_active()).collect(),
                    limit: LIST_LIMIT,
                    ..Filter::default()
                })
                .await?;
            Ok(reply::list(&page.incidents, page.next.is_some()))
        }
        Command::Status => {
            let id = id.expect("status needs an incident");
            match store.get(id).await? {
                Some(incident) => {
                    let next = incident.status.allowed_next(incident.severity, policy);
                    Ok(reply::status(&incident, &next))
                }
                None => Ok(not_found(id)),
            }
        }
        Command::Move { to, note } => {
            let id = id.expect("a move needs an incident");
            changed(
                store
                    .change(
                        id,
                        |i| i.move_to(to, user, note.clone(), at, policy),
                        effects,
                    )
                    .await,
            )
        }
        Command::Severity(severity) => {
            let id = id.expect("severity needs an incident");
            changed(
                store
                    .change(id, |i| i.set_severity(severity, user, at), effects)
                    .await,
            )
        }
        Command::Assign {
            role,
            user: assignee,
        } => {
            let id = id.expect("a role needs an incident");
            changed(
                store
                    .change(id, |i| i.assign(&role, &assignee, user, at), effects)
                    .await,
            )
        }
        Command::Note(text) => {
            let id = id.expect("a note needs an incident");
            changed(
                store
                    .change(id, |i| Ok(i.add_note(text.clone(), user, at)), effects)
                    .await,
            )
        }
    }
}

/// The incident named by number, else the one whose channel this is; or the reply
/// that says neither is there.
async fn find_incident(
    state: &AppState,
    named: Option<IncidentId>,
    caller: &Caller,
) -> Result<Result<IncidentId, Reply>, StoreError> {
    if let Some(id) = named {
        return Ok(Ok(id));
    }
    let found = match &caller.channel {
        Some(channel) => state.store.find_by_channel(channel).await?,
        None => None,
    };
    Ok(found.ok_or_else(|| {
        Reply::ephemeral(
            "This channel is not an incident's channel: name the incident by its number, \
             e.g. `/incident 42 resolved`.",
        )
    }))
}

fn not_found(id: IncidentId) -> Reply {
    Reply::ephemeral(format!(
        "Incident #{id} does not exist. `/incident list` shows the open ones."
    ))
}

fn not_changed(id: Option<IncidentId>, why: &Rejected) -> Reply {
    let id = id.map(|i| format!(" #{i}")).unwrap_or_default();
    Reply::ephemeral(format!("Incident{id} was not changed: {why}."))
}
