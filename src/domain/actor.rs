//! Who did something: a Slack user, an API token, or an integration (alerts, Jira). Stored
//! and shown as text: a Slack user id (`U0456`), `token:NAME`, or `SOURCE:NAME` for an
//! integration (`alerts:alertmanager`, `jira:PAY`), so rows written before there were
//! other actors read back as Slack users.

use std::fmt;
use std::str::FromStr;

use super::{Invalid, SlackUserId};

#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(into = "String", try_from = "String")]
pub enum Actor {
    Slack(SlackUserId),
    /// An API token, by its name.
    Token(String),
    /// An integration: `source` (`alerts`, `jira`) and its `name`.
    Integration {
        source: String,
        name: String,
    },
}

/// Integrations an actor may come from.
const SOURCES: [&str; 2] = ["alerts", "jira"];

impl Actor {
    /// The Slack user, when the actor is one.
    pub fn slack_user(&self) -> Option<&SlackUserId> {
        match self {
            Actor::Slack(user) => Some(user),
            _ => None,
        }
    }

    /// As Slack shows it: a mention for a user, the name in code otherwise.
    pub fn mention(&self) -> String {
        match self {
            Actor::Slack(user) => format!("<@{user}>"),
            other => format!("`{other}`"),
        }
    }
}

impl From<SlackUserId> for Actor {
    fn from(user: SlackUserId) -> Actor {
        Actor::Slack(user)
    }
}

impl From<&SlackUserId> for Actor {
    fn from(user: &SlackUserId) -> Actor {
        Actor::Slack(user.clone())
    }
}

impl PartialEq<SlackUserId> for Actor {
    fn eq(&self, user: &SlackUserId) -> bool {
        self.slack_user() == Some(user)
    }
}

/// A token's or an integration's name: letters, digits, `-`, `_`, `.`, at most 64.
pub fn name(s: &str) -> Result<String, Invalid> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(s.to_owned())
    } else {
        Err(Invalid(format!(
            "`{s}` is not a name: use letters, digits, `-`, `_` or `.`, at most 64"
        )))
    }
}

impl FromStr for Actor {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Actor, Invalid> {
        match s.split_once(':') {
            None => s.parse().map(Actor::Slack),
            Some(("token", n)) => name(n).map(Actor::Token),
            Some((source, n)) if SOURCES.contains(&source) => Ok(Actor::Integration {
                source: source.to_owned(),
                name: name(n)?,
            }),
            Some(_) => Err(Invalid(format!("`{s}` is not an actor"))),
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Slack(user) => write!(f, "{user}"),
            Actor::Token(name) => write!(f, "token:{name}"),
            Actor::Integration { source, name } => write!(f, "{source}:{name}"),
        }
    }
}

impl From<Actor> for String {
    fn from(actor: Actor) -> String {
        actor.to_string()
    }
}

impl TryFrom<String> for Actor {
    type Error = Invalid;

    fn try_from(s: String) -> Result<Actor, Invalid> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_round_trip_through_text_and_old_rows_are_slack_users() {
        for text in [
            "U0456",
            "W01",
            "token:deploy-bot",
            "alerts:alertmanager",
            "jira:PAY",
        ] {
            let actor: Actor = text.parse().unwrap();
            assert_eq!(actor.to_string(), text);
        }
        assert_eq!(
            "U0456".parse::<Actor>().unwrap(),
            Actor::Slack("U0456".parse().unwrap())
        );
        for bad in ["", "token:", "token:a b", "evil:x", "u0456", "token:<@U1>"] {
            assert!(bad.parse::<Actor>().is_err(), "{bad}");
        }
        assert_eq!(Actor::Token("ci".into()).mention(), "`token:ci`");
        assert_eq!(Actor::Slack("U1".parse().unwrap()).mention(), "<@U1>");
    }
}
