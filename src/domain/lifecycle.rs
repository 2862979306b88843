//! The incident lifecycle, `open → investigating → mitigated → resolved → postmortem →
//! closed`, as pure rules: which moves are allowed and which milestones a move stamps.

use std::fmt;
use std::str::FromStr;

use super::{Invalid, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    Open,
    Investigating,
    Mitigated,
    Resolved,
    Postmortem,
    Closed,
}

deserialize_from_str!(Status);

impl Status {
    /// In lifecycle order; a status's milestone comes after those before it.
    pub const ALL: [Status; 6] = [
        Status::Open,
        Status::Investigating,
        Status::Mitigated,
        Status::Resolved,
        Status::Postmortem,
        Status::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Investigating => "investigating",
            Status::Mitigated => "mitigated",
            Status::Resolved => "resolved",
            Status::Postmortem => "postmortem",
            Status::Closed => "closed",
        }
    }

    /// Still being fought: open, investigating or mitigated.
    pub fn is_active(self) -> bool {
        self < Status::Resolved
    }

    /// The moves SPEC's table allows from here, in the order users read them.
    pub fn allowed_next(self, severity: Severity, policy: &Policy) -> Vec<Status> {
        use Status::*;
        match self {
            Open => vec![Investigating, Mitigated, Resolved],
            Investigating => vec![Mitigated, Resolved],
            Mitigated => vec![Resolved, Investigating],
            Resolved if policy.postmortem_is_optional(severity) => {
                vec![Postmortem, Investigating, Closed]
            }
            Resolved => vec![Postmortem, Investigating],
            Postmortem => vec![Closed],
            Closed => vec![],
        }
    }

    /// Plans the move to `to`, or says why it is refused and what is allowed instead.
    pub fn transition(
        self,
        to: Status,
        severity: Severity,
        policy: &Policy,
    ) -> Result<Transition, Refused> {
        let allowed = self.allowed_next(severity, policy);
        if !allowed.contains(&to) {
            return Err(Refused {
                from: self,
                to,
                allowed,
            });
        }
        let (stamp, clear) = if to > self {
            // Forward: the target and every status skipped on the way. Closing without a
            // postmortem skips a step that is optional, not a milestone that happened.
            let stamp = Status::ALL
                .into_iter()
                .filter(|s| *s > self && *s <= to)
                .filter(|s| !(*s == Status::Postmortem && to == Status::Closed))
                .collect();
            (stamp, vec![])
        } else {
            // Backward (it came back, or it was reopened): the later milestones no longer
            // hold and are stamped again when reached again; earlier ones are history.
            let clear = Status::ALL.into_iter().filter(|s| *s > to).collect();
            (vec![], clear)
        };
        Ok(Transition {
            from: self,
            to,
            stamp,
            clear,
        })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| Invalid(format!("unknown status `{s}`: use {}", list(&Status::ALL))))
    }
}

impl serde::Serialize for Status {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Statuses joined for a reply: `investigating, mitigated, resolved`.
pub fn list(statuses: &[Status]) -> String {
    statuses
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a team may tune in the lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Severities that may close straight from `resolved`, without a postmortem.
    pub postmortem_optional: Vec<Severity>,
    /// The failure classes `/incident class NAME` accepts, lowercase.
    pub failure_classes: Vec<String>,
    /// How often incidents want an update.
    pub cadence: super::cadence::Cadence,
    /// The status page's components (`status_page.components`), lowercase.
    pub components: Vec<String>,
    /// What each severity means (`lifecycle.severities`), shown where one is chosen.
    pub severities: std::collections::BTreeMap<Severity, String>,
    /// What each role expects of its holder (`lifecycle.role_duties`), told to them
    /// in a direct message when they take it.
    pub duties: std::collections::BTreeMap<String, String>,
}

/// Failure classes a team starts with: what most postmortems come down to.
pub const DEFAULT_FAILURE_CLASSES: [&str; 5] =
    ["change", "capacity", "dependency", "data", "infrastructure"];

impl Policy {
    /// `name` as one of the status page's components (in any case), or why not.
    pub fn component(&self, name: &str) -> Result<String, super::Invalid> {
        let name = name.trim().to_lowercase();
        if self.components.contains(&name) {
            return Ok(name);
        }
        Err(super::Invalid(if self.components.is_empty() {
            "the status page has no components (`status_page.components`)".into()
        } else {
            format!(
                "unknown component `{}`: the status page has {}",
                name.chars().take(40).collect::<String>(),
                self.components.join(", ")
            )
        }))
    }

    /// `name` as one of the team's failure classes (in any case), or why not.
    pub fn failure_class(&self, name: &str) -> Result<String, super::Invalid> {
        let name = name.trim().to_lowercase();
        if self.failure_classes.contains(&name) {
            return Ok(name);
        }
        Err(super::Invalid(format!(
            "`{}` is not a failure class here: {}",
            name.chars().take(40).collect::<String>(),
            self.failure_classes.join(", ")
        )))
    }

    /// `SEV1 — Customers cannot pay`, or `SEV1` when it has no description.
    pub fn severity_label(&self, severity: Severity) -> String {
        match self.severities.get(&severity) {
            Some(what) => format!("{severity} — {what}"),
            None => severity.to_string(),
        }
    }

    pub fn postmortem_is_optional(&self, severity: Severity) -> bool {
        self.postmortem_optional.contains(&severity)
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            postmortem_optional: vec![Severity::Sev3, Severity::Sev4],
            failure_classes: DEFAULT_FAILURE_CLASSES.map(String::from).to_vec(),
            cadence: Default::default(),
            components: vec![],
            severities: Default::default(),
            duties: Default::default(),
        }
    }
}

/// An allowed move and the milestones it touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: Status,
    pub to: Status,
    /// Milestones set to the time of the move, where not already set.
    pub stamp: Vec<Status>,
    /// Milestones that no longer hold after a move backwards.
    pub clear: Vec<Status>,
}

/// A move the lifecycle does not allow; nothing changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Refused {
    pub from: Status,
    pub to: Status,
    pub allowed: Vec<Status>,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.from == self.to {
            write!(f, "it is already {}", self.to)?;
        } else {
            write!(f, "it cannot go from {} to {}", self.from, self.to)?;
        }
        if self.allowed.is_empty() {
            write!(f, "; {} is final", self.from)
        } else {
            write!(f, "; allowed next: {}", list(&self.allowed))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Status::*;
    use super::*;

    /// SPEC's table, written out independently of `allowed_next`.
    fn spec_allows(from: Status, to: Status, postmortem_optional: bool) -> bool {
        matches!(
            (from, to),
            (Open, Investigating)
                | (Open, Mitigated)
                | (Open, Resolved)
                | (Investigating, Mitigated)
                | (Investigating, Resolved)
                | (Mitigated, Resolved)
                | (Mitigated, Investigating)
                | (Resolved, Postmortem)
                | (Resolved, Investigating)
                | (Postmortem, Closed)
        ) || (postmortem_optional && (from, to) == (Resolved, Closed))
    }

    #[test]
    fn every_pair_of_statuses_follows_the_spec_table_for_every_severity() {
        let policy = Policy::default();
        for sev in Severity::ALL {
            let optional = matches!(sev, Severity::Sev3 | Severity::Sev4);
            for from in Status::ALL {
                for to in Status::ALL {
                    let result = from.transition(to, sev, &policy);
                    assert_eq!(
                        result.is_ok(),
                        spec_allows(from, to, optional),
                        "{from} -> {to} at {sev}"
                    );
                    if let Err(refused) = result {
                        assert_eq!(refused.allowed, from.allowed_next(sev, &policy));
                        assert!(refused
                            .allowed
                            .iter()
                            .all(|s| spec_allows(from, *s, optional)));
                    }
                }
            }
        }
    }

    #[test]
    fn a_forward_move_stamps_every_skipped_milestone() {
        let p = Policy::default();
        let t = Open.transition(Resolved, Severity::Sev2, &p).unwrap();
        assert_eq!(t.stamp, vec![Investigating, Mitigated, Resolved]);
        assert!(t.clear.is_empty());
        let t = Open.transition(Investigating, Severity::Sev2, &p).unwrap();
        assert_eq!(t.stamp, vec![Investigating]);
        let t = Investigating
            .transition(Resolved, Severity::Sev2, &p)
            .unwrap();
        assert_eq!(t.stamp, vec![Mitigated, Resolved]);
    }

    #[test]
    fn closing_without_a_postmortem_does_not_pretend_one_happened() {
        let t = Resolved
            .transition(Closed, Severity::Sev4, &Policy::default())
            .unwrap();
        assert_eq!(t.stamp, vec![Closed]);
    }

    #[test]
    fn a_move_back_clears_the_milestones_that_no_longer_hold() {
        let p = Policy::default();
        let t = Mitigated
            .transition(Investigating, Severity::Sev1, &p)
            .unwrap();
        assert!(t.stamp.is_empty());
        assert_eq!(t.clear, vec![Mitigated, Resolved, Postmortem, Closed]);
        let t = Resolved
            .transition(Investigating, Severity::Sev1, &p)
            .unwrap();
        assert_eq!(t.clear, vec![Mitigated, Resolved, Postmortem, Closed]);
    }

    #[test]
    fn a_refusal_names_the_allowed_next_statuses() {
        let p = Policy::default();
        let refused = Resolved.transition(Closed, Severity::Sev1, &p).unwrap_err();
        assert_eq!(refused.allowed, vec![Postmortem, Investigating]);
        assert_eq!(
            refused.to_string(),
            "it cannot go from resolved to closed; allowed next: postmortem, investigating"
        );
        let refused = Closed.transition(Open, Severity::Sev1, &p).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "it cannot go from closed to open; closed is final"
        );
        let refused = Open.transition(Open, Severity::Sev1, &p).unwrap_err();
        assert!(refused.to_string().starts_with("it is already open"));
    }

    #[test]
    fn failure_classes_come_from_the_policy() {
        let p = Policy::default();
        assert_eq!(p.failure_class(" Capacity ").unwrap(), "capacity");
        let refused = p.failure_class("gremlins").unwrap_err().to_string();
        assert!(refused.contains("change, capacity"), "{refused}");
    }

    #[test]
    fn the_policy_decides_which_severities_may_skip_the_postmortem() {
        let strict = Policy {
            postmortem_optional: vec![],
            ..Policy::default()
        };
        assert!(Resolved
            .transition(Closed, Severity::Sev4, &strict)
            .is_err());
        let lax = Policy {
            postmortem_optional: Severity::ALL.to_vec(),
            ..Policy::default()
        };
        assert!(Resolved.transition(Closed, Severity::Sev1, &lax).is_ok());
    }
}
