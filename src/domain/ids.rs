//! Identifiers parsed at the edge, so nothing past it is a bare string.

use std::fmt;
use std::str::FromStr;

use super::Invalid;

/// The number users see (`#42`); also the `id` of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct IncidentId(pub i64);

impl fmt::Display for IncidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for IncidentId {
    type Err = Invalid;

    /// Accepts `42` and `#42`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.strip_prefix('#').unwrap_or(s);
        match digits.parse::<i64>() {
            Ok(n) if n > 0 && digits.bytes().all(|b| b.is_ascii_digit()) => Ok(IncidentId(n)),
            _ => Err(Invalid(format!("`{s}` is not an incident number"))),
        }
    }
}

fn slack_id(s: &str, prefixes: &[char], what: &str) -> Result<String, Invalid> {
    let ok = s.len() >= 2
        && s.len() <= 32
        && s.starts_with(prefixes)
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if ok {
        Ok(s.to_owned())
    } else {
        Err(Invalid(format!("`{s}` is not a Slack {what} id")))
    }
}

macro_rules! slack_id_type {
    ($(#[$doc:meta])* $name:ident, $prefixes:expr, $what:expr) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
        )]
        #[serde(into = "String", try_from = "String")]
        pub struct $name(String);

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = Invalid;

            fn try_from(s: String) -> Result<Self, Invalid> {
                s.parse()
            }
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = Invalid;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                slack_id(s, $prefixes, $what).map($name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

slack_id_type!(
    /// A Slack user (`U…`, or `W…` in Enterprise Grid).
    SlackUserId,
    &['U', 'W'],
    "user"
);
slack_id_type!(
    /// A Slack conversation: public (`C…`), private (`G…`) or direct (`D…`).
    ChannelId,
    &['C', 'G', 'D'],
    "channel"
);

/// A role on an incident: `lead`, `comms`, or a name the team configured.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(into = "String", try_from = "String")]
pub struct RoleName(String);

impl From<RoleName> for String {
    fn from(role: RoleName) -> String {
        role.0
    }
}

impl TryFrom<String> for RoleName {
    type Error = Invalid;

    fn try_from(s: String) -> Result<Self, Invalid> {
        s.parse()
    }
}

impl RoleName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for RoleName {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = !s.is_empty()
            && s.len() <= 32
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(RoleName(s.to_owned()))
        } else {
            Err(Invalid(format!(
                "`{s}` is not a role name: use lowercase letters, digits, `-` or `_`"
            )))
        }
    }
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incident_numbers_take_an_optional_hash() {
        assert_eq!("42".parse(), Ok(IncidentId(42)));
        assert_eq!("#42".parse(), Ok(IncidentId(42)));
        for bad in ["0", "-1", "+4", "4x", "", "#", "99999999999999999999"] {
            assert!(bad.parse::<IncidentId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn slack_ids_are_checked_for_their_kind() {
        assert!("U0456".parse::<SlackUserId>().is_ok());
        assert!("W0456".parse::<SlackUserId>().is_ok());
        assert!("C0456".parse::<SlackUserId>().is_err());
        assert!("u0456".parse::<SlackUserId>().is_err());
        assert!("C0123".parse::<ChannelId>().is_ok());
        assert!("C01<23".parse::<ChannelId>().is_err());
        assert!("lead".parse::<RoleName>().is_ok());
        assert!("Lead".parse::<RoleName>().is_err());
    }
}
