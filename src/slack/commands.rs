//! A parsed `/incident` command, carried out through the incidents service and worded
//! as a reply. Nothing here calls Slack: the reply is the HTTP response.

use super::client::SlackClient;
use super::command::{Command, Invocation, USAGE};
use super::interactions::open_modal;
use super::reply::{self, Reply};
use crate::domain::{ChannelId, Rejected, SlackUserId, Status};
use crate::incidents::{Incidents, Outcome, Request};
use crate::store::StoreError;

/// Who typed the command, and where.
pub struct Caller {
    pub user: SlackUserId,
    pub channel: Option<ChannelId>,
    /// Lets the command open a modal, within 3 s, once.
    pub trigger_id: Option<String>,
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
    let request = match inv.command {
        Command::Help => return Ok(Some(Reply::ephemeral(USAGE))),
        Command::OpenModal { severity } => {
            let trigger = caller.trigger_id.as_deref();
            return Ok(open_modal(slack, trigger, None, severity, None)
                .await
                .err()
                .map(Reply::ephemeral));
        }
        Command::Declare { severity, title } => {
            let incident = incidents.declare(title, severity, &caller.user).await?;
            return Ok(Some(reply::declared(&incident, slack.is_some())));
        }
        Command::List => {
            let page = incidents.active(LIST_LIMIT).await?;
            return Ok(Some(reply::list(&page.incidents, page.next.is_some())));
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
        return Ok(Some(reply::not_an_incident_channel()));
    };
    Ok(Some(match request {
        None => match incidents.show(id).await? {
            Some(shown) => reply::shown(&shown),
            None => reply::not_found(id),
        },
        Some(request) => {
            let outcome = incidents.apply(id, &request, &caller.user).await?;
            if let Outcome::Rejected(_, Rejected::Refused(refused)) = &outcome {
                if (refused.from, refused.to) == (Status::Postmortem, Status::Postmortem) {
                    if let Some(shown) = incidents.show(id).await? {
                        return Ok(Some(reply::postmortem_link(&shown.incident)));
                    }
                }
            }
            reply::outcome(&outcome)
        }
    }))
}
