//! The app's Home tab: when a user opens it (`app_home_opened`), pompier publishes
//! (`views.publish`) a *Declare incident* button, the incidents not yet resolved that
//! the user may see (private ones to their members only, through the incidents
//! service), and the running game day. At most one rebuild per user per `EVERY`; the
//! event is acknowledged first, the view published after.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::client::SlackClient;
use super::text::{escape, mention};
use crate::domain::{Gameday, Incident, SlackUserId};
use crate::incidents::Incidents;

/// The least time between two rebuilds of one user's Home tab.
const EVERY: Duration = Duration::from_secs(10);
/// Incidents listed at most.
pub const LISTED: usize = 20;
/// Users remembered at most before the throttle starts afresh.
const REMEMBERED: usize = 10_000;
/// The button that opens the declare form.
pub const OPEN_DECLARE: &str = "open_declare";

pub struct Home {
    slack: Option<SlackClient>,
    incidents: Incidents,
    public_url: Option<String>,
    last: Throttle,
}

/// When each user's tab was last rebuilt.
#[derive(Default)]
struct Throttle(Mutex<HashMap<SlackUserId, Instant>>);

impl Throttle {
    /// Whether `user`'s tab may be rebuilt at `now`; it counts as rebuilt if so.
    fn due(&self, user: &SlackUserId, now: Instant) -> bool {
        let mut last = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if last
            .get(user)
            .is_some_and(|at| now.duration_since(*at) < EVERY)
        {
            return false;
        }
        if last.len() >= REMEMBERED {
            last.clear();
        }
        last.insert(user.clone(), now);
        true
    }
}

impl Home {
    pub fn new(
        slack: Option<SlackClient>,
        incidents: Incidents,
        public_url: Option<String>,
    ) -> Arc<Home> {
        Arc::new(Home {
            slack,
            incidents,
            public_url,
            last: Throttle::default(),
        })
    }

    /// `user` opened the Home tab: its view is rebuilt after the answer, unless it was
    /// a moment ago.
    pub fn opened(self: &Arc<Self>, user: SlackUserId) {
        if self.slack.is_none() || !self.last.due(&user, Instant::now()) {
            return;
        }
        let home = self.clone();
        tokio::spawn(async move {
            if let Err(why) = home.publish(&user).await {
                tracing::warn!(%user, %why, "the Home tab was not published");
            }
        });
    }

    async fn publish(&self, user: &SlackUserId) -> Result<(), String> {
        let Some(slack) = &self.slack else {
            return Ok(());
        };
        let (incidents, gameday) = self
            .incidents
            .home(user, LISTED)
            .await
            .map_err(|e| e.to_string())?;
        let view = view(&incidents, gameday.as_ref(), self.public_url.as_deref());
        slack
            .call(
                "views.publish",
                &json!({"user_id": user.as_str(), "view": view}),
            )
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

/// The Home tab's view.
pub fn view(incidents: &[Incident], gameday: Option<&Gameday>, public_url: Option<&str>) -> Value {
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": "Incidents"}}),
        json!({"type": "actions", "elements": [{
            "type": "button", "action_id": OPEN_DECLARE, "style": "danger",
            "text": {"type": "plain_text", "text": "Declare incident"}}]}),
    ];
    if let Some(day) = gameday {
        let board = public_url
            .map(|base| {
                format!(
                    ": <{}/gameday/{}|its board>",
                    base.trim_end_matches('/'),
                    day.id
                )
            })
            .unwrap_or_default();
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn",
            "text": format!(":game_die: Game day *{}* is running{board}.", escape(&day.name))}}));
    }
    if incidents.is_empty() {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn",
            "text": "No incident is open. :tada:"}}));
    }
    for i in incidents.iter().take(LISTED) {
        let lead = i
            .roles
            .iter()
            .find(|(role, _)| role.as_str() == "lead")
            .map_or_else(
                || "no lead".to_owned(),
                |(_, user)| format!("lead {}", mention(user)),
            );
        let channel = i
            .channel_id
            .as_ref()
            .map(|c| format!(" · <#{c}>"))
            .unwrap_or_default();
        blocks.push(
            json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(
                "{} · {} · {} · {lead}{channel}",
                super::reply::name(i), i.severity, i.status
            )}}),
        );
    }
    json!({"type": "home", "blocks": blocks})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_rebuilt_at_most_every_ten_seconds() {
        let home = Throttle::default();
        let user: SlackUserId = "U1".parse().unwrap();
        let t0 = Instant::now();
        assert!(home.due(&user, t0));
        assert!(!home.due(&user, t0 + Duration::from_secs(9)));
        assert!(home.due(&user, t0 + Duration::from_secs(11)));
        assert!(home.due(&"U2".parse().unwrap(), t0));
    }

    #[test]
    fn the_view_lists_incidents_escaped_with_their_lead_and_channel() {
        let mut i = crate::domain::incident::example();
        i.title = "<b>Checkout</b> & co".into();
        i.channel_id = Some("C0INC".parse().unwrap());
        i.roles
            .insert("lead".parse().unwrap(), "U2".parse().unwrap());
        let day = Gameday {
            id: 3,
            name: "Spring".into(),
            ..crate::domain::gameday::example()
        };
        let view = view(&[i], Some(&day), Some("https://p.example.com/"));
        let text = view.to_string();
        assert_eq!(view["type"], "home");
        assert!(text.contains(OPEN_DECLARE));
        assert!(
            text.contains("&lt;b&gt;Checkout&lt;/b&gt; &amp; co"),
            "{text}"
        );
        assert!(
            text.contains("lead <@U2>") && text.contains("<#C0INC>"),
            "{text}"
        );
        assert!(
            text.contains("<https://p.example.com/gameday/3|its board>"),
            "{text}"
        );
    }
}
