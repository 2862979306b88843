//! Scoped API tokens: what each may do (`read`, `write`, `alerts`, `gameday`), how one is
//! made (256 random bits, shown once) and kept (its SHA-256 only: a random token needs no
//! slow hash). `POMPIER_API_TOKEN` stays the operator's, with every scope. Pure.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::domain::Invalid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Read incidents, statistics, exports, game days; sign in to the dashboard.
    Read,
    /// Declare and change incidents through the API.
    Write,
    /// Post alerts.
    Alerts,
    /// Run game days' injections.
    Gameday,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Read, Scope::Write, Scope::Alerts, Scope::Gameday];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Alerts => "alerts",
            Scope::Gameday => "gameday",
        }
    }
}

impl FromStr for Scope {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Scope, Invalid> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| {
                Invalid(format!(
                    "`{s}` is not a scope: use read, write, alerts or gameday"
                ))
            })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Scopes as stored: `read,write`.
pub fn join(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Scopes as stored, read back; unknown ones (a newer version's) are skipped.
pub fn split(stored: &str) -> Vec<Scope> {
    stored.split(',').filter_map(|s| s.parse().ok()).collect()
}

/// A token's name: what the timeline shows (`token:NAME`).
pub fn parse_name(name: &str) -> Result<String, Invalid> {
    if name == OPERATOR {
        return Err(Invalid(format!(
            "`{OPERATOR}` is POMPIER_API_TOKEN's name on the timeline; choose another"
        )));
    }
    crate::domain::actor::name(name)
}

/// The operator's token (`POMPIER_API_TOKEN`) on the timeline: `token:admin`.
pub const OPERATOR: &str = "admin";

/// A new token: `pmp_` and 64 hex digits (256 random bits).
pub fn generate() -> String {
    format!("pmp_{}", hex::encode(rand::random::<[u8; 32]>()))
}

/// What is stored of `token`.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_kept_as_a_hash_and_scopes_round_trip() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        assert_eq!(hash(&a), hash(&a));
        assert_ne!(hash(&a), hash(&b));
        assert!(!hash(&a).contains(&a[4..]));
        let scopes = [Scope::Read, Scope::Alerts];
        assert_eq!(split(&join(&scopes)), scopes);
        assert_eq!(split("read,teleport"), [Scope::Read]);
        assert!("admin".parse::<Scope>().is_err());
        assert_eq!(parse_name("deploy-bot").unwrap(), "deploy-bot");
        assert!(parse_name("a b").is_err());
    }
}
