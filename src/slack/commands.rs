//! A parsed `/incident` command, carried out through the incidents service and worded
//! as a reply. Nothing here calls Slack: the reply is the HTTP response.

use super::command::{Command, Invocation, USAGE};
use super::reply::{self, Reply};
use crate::domain::{ChannelId, Rejected, SlackUserId, Status};
use crate::incidents::{Incidents, Outcome, Request};
use crate::store::StoreError;

/// Who typed the command, and where.
pub struct Caller {
    pub user: SlackUserId,
    pub channel: Option<ChannelId>,
}

/// Most incidents `/incident list` shows.
const LIST_LIMIT: u32 = 20;

pub async fn execute(
    incidents: &Incidents,
    inv: Invocation,
    caller: &Caller,
    bot_token_set: bool,
) -> Result<Reply, StoreError> {
    let request = match inv.command {
        Command::Help => return Ok(Reply::ephemeral(USAGE)),
        Command::OpenModal { .. } => {
            return Ok(Reply::ephemeral(
                "Give the incident a title: `/incident open [sev1..sev4] TITLE`.",
            ))
        }
        Command::Declare { severity, title } => {
            let incident = incidents.declare(title, severity, &caller.user).await?;
            return Ok(reply::declared(&incident, bot_token_set));
        }
        Command::List => {
            let page = incidents.active(LIST_LIMIT).await?;
            return Ok(reply::list(&page.incidents, page.next.is_some()));
        }
        Command::Status => None,
        Command::Move { to, note } => Some(Request::Move { to, note }),
        Command::Severity(severity) => Some(Request::Severity(severity)),
        Command::Assign { role, user } => Some(Request::Assign { role, user }),
        Command::Note(text) => Some(Request::Note(text)),
    };
    let Some(id) = incidents
        .find(inv.incident, caller.channel.as_ref())
        .await?
    else {
        return Ok(reply::not_an_incident_channel());
    };
    match request {
        None => Ok(match incidents.show(id).await? {
            Some(shown) => reply::shown(&shown),
            None => reply::not_found(id),
        }),
        Some(request) => {
            let outcome = incidents.apply(id, &request, &caller.user).await?;
            if let Outcome::Rejected(_, Rejected::Refused(refused)) = &outcome {
                if (refused.from, refused.to) == (Status::Postmortem, Status::Postmortem) {
                    if let Some(shown) = incidents.show(id).await? {
                        return Ok(reply::postmortem_link(&shown.incident));
                    }
                }
            }
            Ok(reply::outcome(&outcome))
        }
    }
}
