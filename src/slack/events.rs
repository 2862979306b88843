//! The Events API: Slack's URL check, then the events pompier subscribes to. A 📌
//! (`pushpin`) reaction in an incident's channel sends the message to its timeline; a
//! member joining it is a participant; opening the app's Home tab rebuilds it. Events from other channels cost one indexed look.

use serde_json::{json, Value};

use crate::domain::{ChannelId, SlackUserId};
use crate::incidents::Incidents;
use crate::store::StoreError;

/// The answer to an Events API request: its JSON body, if any.
pub async fn handle(
    incidents: &Incidents,
    home: &std::sync::Arc<super::home::Home>,
    body: &Value,
) -> Result<Option<Value>, StoreError> {
    match body["type"].as_str().unwrap_or_default() {
        "url_verification" => Ok(Some(json!({"challenge": body["challenge"]}))),
        "event_callback" => {
            let event = &body["event"];
            let event_id = body["event_id"].as_str().unwrap_or_default();
            let user: Option<SlackUserId> = event["user"].as_str().and_then(|u| u.parse().ok());
            match (event["type"].as_str().unwrap_or_default(), user) {
                ("reaction_added", Some(user))
                    if event["reaction"] == "pushpin" && event["item"]["type"] == "message" =>
                {
                    let channel: Option<ChannelId> = event["item"]["channel"]
                        .as_str()
                        .and_then(|c| c.parse().ok());
                    if let (Some(channel), Some(ts)) = (channel, event["item"]["ts"].as_str()) {
                        incidents.pinned(&channel, ts, &user, event_id).await?;
                    }
                }
                // Rebuilt after the answer, at most every 10 s per user.
                ("app_home_opened", Some(user)) if event["tab"] == "home" => home.opened(user),
                ("member_joined_channel", Some(user)) => {
                    if let Some(channel) = event["channel"].as_str().and_then(|c| c.parse().ok()) {
                        incidents.joined(&channel, &user).await?;
                    }
                }
                _ => {}
            }
            Ok(None)
        }
        _ => Ok(None),
    }
}
