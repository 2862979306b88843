//! Interactivity: shortcuts and `/incident` open the declare modal, a submission
//! declares (once per view, however often Slack delivers it), the buttons of the pinned
//! summary move the incident. Everything goes through the incidents service, as the text
//! command does; the only outside call on the request path is `views.open`, which Slack
//! allows 3 s.

use std::time::Duration;

use serde_json::{json, Value};

use super::client::SlackClient;
use super::modal::{self, Origin};
use super::reply;
use super::text::decode;
use crate::domain::{Actor, Event, EventKind, IncidentId, RoleName, Severity, SlackUserId, Status};
use crate::incidents::{Caller, Incidents, Outcome, Request};
use crate::store::{NewIncident, StoreError};

/// How long `views.open` may take: a trigger lives 3 s.
const OPEN_DEADLINE: Duration = Duration::from_millis(2500);

/// Opens the declare modal with `trigger_id`; what to tell the user when it cannot.
pub async fn open_modal(
    slack: Option<&SlackClient>,
    trigger_id: Option<&str>,
    form: &modal::Form<'_>,
) -> Result<(), String> {
    let Some(slack) = slack else {
        return Err(
            "The form needs SLACK_BOT_TOKEN on this pompier; meanwhile declare with \
                    `/incident open [sev1..sev4] TITLE`."
                .into(),
        );
    };
    let Some(trigger_id) = trigger_id.filter(|t| !t.is_empty()) else {
        return Err("Slack sent no trigger to open the form with; declare with \
                    `/incident open [sev1..sev4] TITLE`."
            .into());
    };
    let request = json!({"trigger_id": trigger_id, "view": modal::view(form)});
    let call = slack.call("views.open", &request);
    match tokio::time::timeout(OPEN_DEADLINE, call).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot open the declare modal");
            Err(format!(
                "Slack would not open the form ({e}); declare with `/incident open [sev1..sev4] TITLE`."
            ))
        }
        Err(_) => Err(
            "Slack was too slow to open the form; try again, or declare with \
                       `/incident open [sev1..sev4] TITLE`."
                .into(),
        ),
    }
}

/// The declare form as this pompier's teams and severities make it.
pub fn form<'a>(incidents: &Incidents, teams: &'a [crate::domain::Team]) -> modal::Form<'a> {
    modal::Form {
        teams,
        policy: incidents.policy().clone(),
        ..modal::Form::default()
    }
}

/// What to answer Slack: nothing (200, empty), or a JSON body.
#[derive(Debug, PartialEq)]
pub enum Answer {
    Empty,
    Json(Value),
}

/// A message to post to a `response_url` after answering, if any.
pub struct FollowUp {
    pub response_url: String,
    pub text: String,
}

/// Handles one interaction payload.
pub async fn handle(
    incidents: &Incidents,
    slack: Option<&SlackClient>,
    payload: &Value,
) -> Result<(Answer, Option<FollowUp>), StoreError> {
    let user: Option<SlackUserId> = payload["user"]["id"].as_str().and_then(|u| u.parse().ok());
    let trigger = payload["trigger_id"].as_str();
    match payload["type"].as_str().unwrap_or_default() {
        "shortcut" => {
            let teams = incidents.teams();
            if let Err(why) = open_modal(slack, trigger, &form(incidents, &teams)).await {
                tracing::warn!(%why, "global shortcut");
            }
            Ok((Answer::Empty, None))
        }
        "message_action" => {
            let message = &payload["message"];
            let channel = payload["channel"]["id"].as_str().unwrap_or_default();
            let ts = message["ts"].as_str().unwrap_or_default();
            let origin = Origin {
                channel: channel.to_owned(),
                ts: ts.to_owned(),
                user: message["user"].as_str().unwrap_or_default().to_owned(),
                text: decode(message["text"].as_str().unwrap_or_default()),
                permalink: payload["team"]["domain"].as_str().map(|domain| {
                    format!(
                        "https://{domain}.slack.com/archives/{channel}/p{}",
                        ts.replace('.', "")
                    )
                }),
                cut: false,
            };
            let teams = incidents.teams();
            let form = modal::Form {
                prefill: Some(&origin.text),
                origin: Some(&origin),
                ..form(incidents, &teams)
            };
            let follow = match open_modal(slack, trigger, &form).await {
                Ok(()) => None,
                Err(text) => payload["response_url"].as_str().map(|url| FollowUp {
                    response_url: url.to_owned(),
                    text,
                }),
            };
            Ok((Answer::Empty, follow))
        }
        "view_submission" if payload["view"]["callback_id"] == modal::EDIT_ID => {
            let Some(user) = user else {
                return Ok((Answer::Empty, None));
            };
            edit(incidents, &user, &payload["view"]).await
        }
        "view_submission" if payload["view"]["callback_id"] == modal::PUBLIC_ID => {
            let Some(user) = user else {
                return Ok((Answer::Empty, None));
            };
            publish(incidents, &user, &payload["view"]).await
        }
        "view_submission" if payload["view"]["callback_id"] == modal::CALLBACK_ID => {
            let Some(user) = user else {
                return Ok((Answer::Empty, None));
            };
            submit(incidents, &user, &payload["view"]).await
        }
        "block_actions" => {
            let Some(user) = user else {
                return Ok((Answer::Empty, None));
            };
            let action = &payload["actions"][0];
            let channel = payload["channel"]["id"]
                .as_str()
                .or_else(|| payload["container"]["channel_id"].as_str())
                .and_then(|c| c.parse().ok());
            if action["action_id"] == super::home::OPEN_DECLARE {
                let teams = incidents.teams();
                if let Err(why) = open_modal(slack, trigger, &form(incidents, &teams)).await {
                    tracing::warn!(%why, "the Home tab's Declare button");
                }
                return Ok((Answer::Empty, None));
            }
            let said = if action["action_id"] == super::blocks::EDIT {
                let caller = Caller::slack(&user, channel);
                let view = |i: &crate::domain::Incident| modal::edit_view(i, incidents.policy());
                open_form(incidents, slack, trigger, &caller, action, view).await?
            } else if action["action_id"] == super::blocks::STATUS_PAGE {
                let caller = Caller::slack(&user, channel);
                let view = |i: &crate::domain::Incident| modal::public_view(i, incidents.policy());
                open_form(incidents, slack, trigger, &caller, action, view).await?
            } else if action["action_id"] == super::blocks::DECLARE_ALERT {
                declare_alert(incidents, &user, action).await?
            } else {
                act(incidents, &Caller::slack(&user, channel), action).await?
            };
            Ok((
                Answer::Empty,
                said.and_then(|text| {
                    payload["response_url"].as_str().map(|url| FollowUp {
                        response_url: url.to_owned(),
                        text,
                    })
                }),
            ))
        }
        _ => Ok((Answer::Empty, None)),
    }
}

async fn submit(
    incidents: &Incidents,
    user: &SlackUserId,
    view: &Value,
) -> Result<(Answer, Option<FollowUp>), StoreError> {
    let submission = match modal::submission(view) {
        Ok(s) => s,
        Err(errors) => {
            return Ok((
                Answer::Json(json!({"response_action": "errors", "errors": errors})),
                None,
            ))
        }
    };
    let now = crate::now();
    let mut new = NewIncident::new(submission.title, submission.severity, user.clone(), now);
    // The same view submitted twice (a retry, a double click) declares once.
    new.once = view["id"].as_str().map(|id| format!("view:{id}"));
    new.private = submission.private;
    // A team no longer configured is none: the incident is declared all the same.
    new.team = submission.team.filter(|t| incidents.check_team(t).is_ok());
    // Told where its channel is, where the form was opened (as `/incident open` is).
    new.tell_in = submission.from.filter(|c| c.starts_with(['C', 'G', 'D']));
    if let Some(origin) = &submission.origin {
        let note = origin.note();
        new.first_events.push(Event {
            at: origin.at().unwrap_or(now),
            kind: EventKind::Note,
            actor: origin
                .user
                .parse()
                .map(Actor::Slack)
                .unwrap_or_else(|_| user.into()),
            from: None,
            to: None,
            role: None,
            note: Some(note),
        });
    }
    let incident = match incidents.declare_new(new).await {
        Ok(incident) => incident,
        Err(StoreError::Duplicate(_)) => return Ok((Answer::Empty, None)),
        Err(StoreError::Rejected(why)) => {
            let said = reply::capitalised(&why.to_string());
            return Ok((
                Answer::Json(json!({"response_action": "errors", "errors": {"severity": said}})),
                None,
            ));
        }
        Err(e) => return Err(e),
    };
    // The declarer is a member of what they declared.
    let Some(member) = incidents
        .as_member(incident.id, &Caller::slack(user, None))
        .await?
    else {
        return Ok((Answer::Empty, None));
    };
    if let Some(lead) = submission.lead {
        let lead_role: RoleName = "lead".parse().expect("a role name");
        let assign = Request::Assign {
            role: lead_role,
            user: lead,
        };
        incidents.apply(&member, &assign).await?;
    }
    if let Some(impact) = submission.impact {
        let said = Request::Edit {
            field: crate::domain::incident::Field::Impact,
            text: impact,
        };
        incidents.apply(&member, &said).await?;
    }
    if let Some(details) = submission.description {
        incidents.apply(&member, &Request::Note(details)).await?;
    }
    Ok((Answer::Empty, None))
}

/// A button of the pinned summary: `value` is `{incident}:{what}`. What to tell the
/// clicker when nothing changed.
async fn act(
    incidents: &Incidents,
    caller: &Caller,
    action: &Value,
) -> Result<Option<String>, StoreError> {
    let value = action["value"]
        .as_str()
        .or_else(|| action["selected_option"]["value"].as_str())
        .unwrap_or_default();
    let Some((id, what)) = value.split_once(':') else {
        return Ok(None);
    };
    let Ok(id) = id.parse::<IncidentId>() else {
        return Ok(None);
    };
    let request = match action["action_id"].as_str().unwrap_or_default() {
        "move" => match what.parse::<Status>() {
            Ok(to) => Request::Move { to, note: None },
            Err(_) => return Ok(None),
        },
        "severity" => match what.parse::<Severity>() {
            Ok(s) => Request::Severity(s),
            Err(_) => return Ok(None),
        },
        "take_lead" => match caller.actor.slack_user() {
            Some(user) => Request::Assign {
                role: "lead".parse().expect("a role name"),
                user: user.clone(),
            },
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    // Only a member may press its buttons; anyone else hears of no such incident.
    let Some(member) = incidents.as_member(id, caller).await? else {
        return Ok(Some(reply::not_found(id).text));
    };
    let outcome = incidents.apply(&member, &request).await?;
    Ok(match outcome {
        // The channel hears of it from the bot's post, and the summary is updated.
        Outcome::Changed(_) => None,
        other => Some(reply::outcome(&other).text),
    })
}

/// A summary button's form (*Edit*, *Status page*), made by `view`, for a member;
/// anyone else hears of no such incident.
async fn open_form(
    incidents: &Incidents,
    slack: Option<&SlackClient>,
    trigger: Option<&str>,
    caller: &Caller,
    action: &Value,
    view: impl Fn(&crate::domain::Incident) -> Value,
) -> Result<Option<String>, StoreError> {
    let value = action["value"].as_str().unwrap_or_default();
    let Some(id) = value
        .split_once(':')
        .and_then(|(id, _)| id.parse::<IncidentId>().ok())
    else {
        return Ok(None);
    };
    let Some(member) = incidents.as_member(id, caller).await? else {
        return Ok(Some(reply::not_found(id).text));
    };
    let (Some(slack), Some(trigger)) = (slack, trigger) else {
        return Ok(Some(
            "The form needs SLACK_BOT_TOKEN; use `/incident title|summary|impact|public|update`."
                .into(),
        ));
    };
    let view = view(member.incident());
    match slack
        .call("views.open", &json!({"trigger_id": trigger, "view": view}))
        .await
    {
        Ok(_) => Ok(None),
        Err(e) => Ok(Some(format!(":warning: The form did not open ({e}).",))),
    }
}

/// The *Edit* form submitted: each changed field an edit, and the severity, by a member.
async fn edit(
    incidents: &Incidents,
    user: &SlackUserId,
    view: &Value,
) -> Result<(Answer, Option<FollowUp>), StoreError> {
    let edits = match modal::edit_submission(view) {
        Ok(edits) => edits,
        Err(errors) => {
            return Ok((
                Answer::Json(json!({"response_action": "errors", "errors": errors})),
                None,
            ))
        }
    };
    let Some(member) = incidents
        .as_member(edits.id, &Caller::slack(user, None))
        .await?
    else {
        let said = reply::not_found(edits.id).text;
        return Ok((
            Answer::Json(json!({"response_action": "errors", "errors": {"title": said}})),
            None,
        ));
    };
    if member.incident().status == crate::domain::Status::Closed {
        let said = crate::domain::Rejected::Closed.to_string();
        return Ok((
            Answer::Json(json!({"response_action": "errors", "errors": {"title": said}})),
            None,
        ));
    }
    let mut requests: Vec<Request> = edits
        .fields
        .into_iter()
        .map(|(field, text)| Request::Edit { field, text })
        .collect();
    requests.push(Request::Severity(edits.severity));
    for request in &requests {
        // One already so (or refused, as on a closed incident) leaves the others alone.
        incidents.apply(&member, request).await?;
    }
    Ok((Answer::Empty, None))
}

/// The *Status page* form submitted by a member: the incident made public with the
/// message and components, or, once public, an update. A refusal (a private
/// incident, a drill, an unknown component) is said on the form.
async fn publish(
    incidents: &Incidents,
    user: &SlackUserId,
    view: &Value,
) -> Result<(Answer, Option<FollowUp>), StoreError> {
    let refuse = |said: String| {
        Ok((
            Answer::Json(json!({"response_action": "errors", "errors": {"message": said}})),
            None,
        ))
    };
    let (id, message, components) = match modal::public_submission(view) {
        Ok(said) => said,
        Err(errors) => {
            return Ok((
                Answer::Json(json!({"response_action": "errors", "errors": errors})),
                None,
            ))
        }
    };
    let Some(member) = incidents.as_member(id, &Caller::slack(user, None)).await? else {
        return refuse(reply::not_found(id).text);
    };
    let request = match member.incident().public_at {
        None => Request::Public {
            components,
            message: Some(message),
        },
        Some(_) => Request::PublicUpdate(message),
    };
    match incidents.apply(&member, &request).await? {
        crate::incidents::Outcome::Rejected(_, why) => refuse(why.to_string()),
        _ => Ok((Answer::Empty, None)),
    }
}

/// The *Declare* button of an alert group waiting in the triage channel: `value` is
/// the group. Tells the clicker which incident it is now.
async fn declare_alert(
    incidents: &Incidents,
    user: &SlackUserId,
    action: &Value,
) -> Result<Option<String>, StoreError> {
    let Some(group) = action["value"].as_str().and_then(|v| v.parse().ok()) else {
        return Ok(None);
    };
    let declared = match incidents.declare_from_triage(group, user).await {
        Err(StoreError::Rejected(why)) => {
            return Ok(Some(format!(
                ":warning: {}.",
                reply::capitalised(&why.to_string())
            )))
        }
        other => other?,
    };
    Ok(Some(match declared {
        Some(Ok(incident)) => format!(
            ":white_check_mark: You declared incident #{} for this alert; its channel is on the way.",
            incident.id
        ),
        Some(Err(id)) => format!(":information_source: This alert is incident #{id} already."),
        None => ":warning: This alert is no longer known to pompier.".to_owned(),
    }))
}

/// Posts `follow` to its `response_url`, ephemeral, within a few seconds, once.
pub async fn follow_up(follow: FollowUp) {
    // One client for every answer through a response_url.
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let client = CLIENT.get_or_init(|| {
        crate::outbound::client(Duration::from_secs(5), None).expect("an HTTP client")
    });
    let body =
        json!({"response_type": "ephemeral", "replace_original": false, "text": follow.text});
    if let Err(e) = client.post(&follow.response_url).json(&body).send().await {
        tracing::warn!(error = %crate::outbound::cause(e), "cannot answer through response_url");
    }
}
