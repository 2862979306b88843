//! Who may see what on the dashboard (`[auth]`): a person signed in through the
//! company's identity provider is a viewer, a responder or an admin, by their email, its
//! domain or one of their groups. Pure: the identity is verified before.

use serde::Deserialize;

/// What a person signed in to the dashboard may do; each role may do what the one
/// before may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// The dashboard, incident pages (a private incident masked), game day boards.
    Viewer,
    /// Also the CSV export, and the private incidents they are a member of in Slack.
    Responder,
    /// Also the audit trail.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Responder, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Responder => "responder",
            Role::Admin => "admin",
        }
    }

    /// The role named `s`.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// `[auth]`: who gets which role. Each entry is an email (`ann@acme.com`), a domain
/// (`@acme.com`) or a group of the groups claim (`sre`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Roles {
    /// Who may sign in at all; empty: anyone the identity provider lets through.
    pub viewers: Vec<String>,
    pub responders: Vec<String>,
    pub admins: Vec<String>,
    /// Whether the sign-in page also takes an API token (for setups without an IdP).
    pub token_login: bool,
}

impl Default for Roles {
    fn default() -> Roles {
        Roles {
            viewers: vec![],
            responders: vec![],
            admins: vec![],
            token_login: true,
        }
    }
}

impl Roles {
    /// The role of `email` in `groups`; `None` when they may not sign in.
    pub fn of(&self, email: &str, groups: &[String]) -> Option<Role> {
        let listed = |list: &[String]| list.iter().any(|entry| matches(entry, email, groups));
        if listed(&self.admins) {
            Some(Role::Admin)
        } else if listed(&self.responders) {
            Some(Role::Responder)
        } else if self.viewers.is_empty() || listed(&self.viewers) {
            Some(Role::Viewer)
        } else {
            None
        }
    }
}

/// Whether `entry` names this person: their email or its domain (any case), or one of
/// their groups (exactly).
fn matches(entry: &str, email: &str, groups: &[String]) -> bool {
    let entry = entry.trim();
    if let Some(domain) = entry.strip_prefix('@') {
        email
            .rsplit_once('@')
            .is_some_and(|(_, d)| d.eq_ignore_ascii_case(domain))
    } else if entry.contains('@') {
        entry.eq_ignore_ascii_case(email)
    } else {
        groups.iter().any(|g| g == entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(viewers: &[&str], responders: &[&str], admins: &[&str]) -> Roles {
        let list = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        Roles {
            viewers: list(viewers),
            responders: list(responders),
            admins: list(admins),
            token_login: true,
        }
    }

    #[test]
    fn emails_domains_and_groups_give_the_highest_role_listed() {
        let r = roles(&["@acme.com"], &["sre", "Bob@Acme.com"], &["ann@acme.com"]);
        let none: &[String] = &[];
        assert_eq!(r.of("ann@acme.com", none), Some(Role::Admin));
        assert_eq!(r.of("bob@acme.com", none), Some(Role::Responder));
        assert_eq!(
            r.of("carl@acme.com", &["sre".to_owned()]),
            Some(Role::Responder)
        );
        assert_eq!(r.of("dana@acme.com", none), Some(Role::Viewer));
        // Another domain is not a viewer; a domain is not a suffix match.
        assert_eq!(r.of("eve@evil.com", none), None);
        assert_eq!(r.of("eve@notacme.com", none), None);
        // A group is matched exactly.
        assert_eq!(r.of("eve@evil.com", &["SRE".to_owned()]), None);
        // Admins and responders may sign in even when not listed as viewers.
        assert_eq!(r.of("ann@acme.com", none), Some(Role::Admin));
    }

    #[test]
    fn without_lists_everyone_is_a_viewer() {
        let r = Roles::default();
        assert_eq!(r.of("anyone@anywhere.org", &[]), Some(Role::Viewer));
        assert!(Role::Admin > Role::Responder && Role::Responder > Role::Viewer);
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
    }
}
