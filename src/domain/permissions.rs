//! Who may do what in Slack (`[permissions]`): declare at SEV1, close or reopen, start a
//! game day or be a villain, move an incident at all. Pure: the caller's user groups are
//! resolved before, by the edge that can read Slack.

use serde::Deserialize;

use super::{Incident, Status};

/// Who else may move an incident (its lead and the admins always may).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Moves {
    /// Anyone who can see it.
    #[default]
    Anyone,
    /// Those who hold one of its roles.
    Roles,
}

/// The lists, each of Slack user ids (`U…`, `W…`) and user group ids (`S…`); an empty
/// list is anyone (today's open behaviour).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Permissions {
    /// May do all of the below, and move any incident.
    pub admins: Vec<String>,
    /// May declare at SEV1, or raise an incident to SEV1.
    pub declare_sev1: Vec<String>,
    /// May close an incident, or reopen one resolved or closed.
    pub close: Vec<String>,
    /// May start a game day, or be named a villain.
    pub gameday: Vec<String>,
    pub moves: Moves,
}

/// Something a person asks to do that a permission may forbid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    DeclareSev1,
    Move { from: Status, to: Status },
    StartGameday,
    BeVillain,
}

/// The person asking: their user id and the configured user groups they are in.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    pub user: &'a str,
    pub groups: &'a [String],
}

/// Why not, and who may: one line for the person refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("only {} may {what} here (`permissions.{setting}`)", list(.who))]
pub struct Forbidden {
    pub what: &'static str,
    pub setting: &'static str,
    /// Those who may, as Slack mentions.
    pub who: Vec<String>,
}

fn list(who: &[String]) -> String {
    match who {
        [] => "nobody".into(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// `<@U…>` or `<!subteam^S…>`: ids are checked to be letters and digits, so nothing
/// else can be spelt.
fn mention(id: &str) -> String {
    match id.starts_with('S') {
        true => format!("<!subteam^{id}>"),
        false => format!("<@{id}>"),
    }
}

/// Whether `id` names a user or user group as Slack writes them.
pub fn valid_id(id: &str) -> bool {
    id.len() >= 3
        && id.len() <= 20
        && id.starts_with(['U', 'W', 'S'])
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

impl Permissions {
    /// Every user group named anywhere: the edge resolves the caller's membership.
    pub fn groups(&self) -> Vec<&str> {
        let mut all: Vec<&str> = [&self.admins, &self.declare_sev1, &self.close, &self.gameday]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .filter(|id| id.starts_with('S'))
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// The first entry that is not a Slack user or group id, if any (checked at start).
    pub fn invalid(&self) -> Option<&str> {
        [&self.admins, &self.declare_sev1, &self.close, &self.gameday]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .find(|id| !valid_id(id))
    }

    fn listed(list: &[String], who: &Who) -> bool {
        list.iter()
            .any(|id| id == who.user || who.groups.contains(id))
    }

    fn admin(&self, who: &Who) -> bool {
        Self::listed(&self.admins, who)
    }

    /// Whether `who` may do `act` (on `incident`, for a move).
    pub fn check(&self, act: Act, who: &Who, incident: Option<&Incident>) -> Result<(), Forbidden> {
        if self.admin(who) {
            return Ok(());
        }
        let (list, what, setting) = match act {
            Act::DeclareSev1 => (
                &self.declare_sev1,
                "declare or raise an incident at SEV1",
                "declare_sev1",
            ),
            Act::StartGameday => (&self.gameday, "start a game day", "gameday"),
            Act::BeVillain => (&self.gameday, "be a villain", "gameday"),
            Act::Move { from, to } => {
                let lead = incident
                    .and_then(|i| i.roles.iter().find(|(r, _)| r.as_str() == "lead"))
                    .is_some_and(|(_, u)| u.as_str() == who.user);
                if lead {
                    return Ok(());
                }
                if self.moves == Moves::Roles {
                    let holds =
                        incident.is_some_and(|i| i.roles.values().any(|u| u.as_str() == who.user));
                    if !holds {
                        let mut may = vec!["its lead".to_owned(), "its role holders".to_owned()];
                        may.extend(self.admins.iter().map(|a| mention(a)));
                        return Err(Forbidden {
                            what: "move this incident",
                            setting: "moves",
                            who: may,
                        });
                    }
                }
                let done =
                    |s: Status| matches!(s, Status::Resolved | Status::Postmortem | Status::Closed);
                let closes = to == Status::Closed;
                let reopens = done(from) && !done(to);
                if !(closes || reopens) {
                    return Ok(());
                }
                (&self.close, "close or reopen an incident", "close")
            }
        };
        if list.is_empty() || Self::listed(list, who) {
            return Ok(());
        }
        let mut who: Vec<String> = list.iter().map(|id| mention(id)).collect();
        if matches!(act, Act::Move { .. }) {
            who.push("its lead".into());
        }
        who.extend(self.admins.iter().map(|id| mention(id)));
        Err(Forbidden { what, setting, who })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who<'a>(user: &'a str, groups: &'a [String]) -> Who<'a> {
        Who { user, groups }
    }

    #[test]
    fn empty_lists_keep_todays_open_behaviour() {
        let p = Permissions::default();
        let anyone = who("U0ANY", &[]);
        for act in [
            Act::DeclareSev1,
            Act::StartGameday,
            Act::BeVillain,
            Act::Move {
                from: Status::Resolved,
                to: Status::Closed,
            },
            Act::Move {
                from: Status::Closed,
                to: Status::Investigating,
            },
        ] {
            assert_eq!(p.check(act, &anyone, None), Ok(()), "{act:?}");
        }
    }

    #[test]
    fn lists_users_groups_admins_and_the_lead() {
        let p = Permissions {
            admins: vec!["U0ADMIN".into()],
            declare_sev1: vec!["S0ONCALL".into()],
            close: vec!["U0CLOSER".into()],
            ..Permissions::default()
        };
        let oncall = vec!["S0ONCALL".to_owned()];
        assert_eq!(
            p.check(Act::DeclareSev1, &who("U0ANA", &oncall), None),
            Ok(())
        );
        assert_eq!(
            p.check(Act::DeclareSev1, &who("U0ADMIN", &[]), None),
            Ok(())
        );
        let refused = p
            .check(Act::DeclareSev1, &who("U0BOB", &[]), None)
            .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "only <!subteam^S0ONCALL> or <@U0ADMIN> may declare or raise an incident at SEV1 here (`permissions.declare_sev1`)"
        );
        let mut incident = super::super::incident::example();
        incident
            .roles
            .insert("lead".parse().unwrap(), "U0LEAD".parse().unwrap());
        let close = Act::Move {
            from: Status::Resolved,
            to: Status::Closed,
        };
        assert!(p.check(close, &who("U0BOB", &[]), Some(&incident)).is_err());
        assert_eq!(p.check(close, &who("U0LEAD", &[]), Some(&incident)), Ok(()));
        assert_eq!(
            p.check(close, &who("U0CLOSER", &[]), Some(&incident)),
            Ok(())
        );
        let reopen = Act::Move {
            from: Status::Closed,
            to: Status::Investigating,
        };
        assert!(p
            .check(reopen, &who("U0BOB", &[]), Some(&incident))
            .is_err());
        // Other moves stay open to anyone while `moves = "anyone"`.
        let ack = Act::Move {
            from: Status::Open,
            to: Status::Investigating,
        };
        assert_eq!(p.check(ack, &who("U0BOB", &[]), Some(&incident)), Ok(()));
        let roles = Permissions {
            moves: Moves::Roles,
            ..p.clone()
        };
        assert!(roles
            .check(ack, &who("U0BOB", &[]), Some(&incident))
            .is_err());
        assert_eq!(
            roles.check(ack, &who("U0LEAD", &[]), Some(&incident)),
            Ok(())
        );
    }

    #[test]
    fn ids_are_checked() {
        assert!(valid_id("U0123ABC") && valid_id("S0GROUP") && valid_id("W0ENT"));
        for bad in ["", "ana", "U0<script>", "C0123", "U"] {
            assert!(!valid_id(bad), "{bad}");
        }
        let p = Permissions {
            close: vec!["@ana".into()],
            ..Permissions::default()
        };
        assert_eq!(p.invalid(), Some("@ana"));
    }
}
