//! Paging out: what a page says of an incident (the same words for every pager), and the
//! state of a page as pompier last told its pager.

use std::fmt;
use std::str::FromStr;

use super::{Incident, Invalid, Severity, Team};

/// What pompier asks of a pager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageAction {
    Trigger,
    Acknowledge,
    Resolve,
    /// The incident changed (its title): an open page is sent again, to show it. Sent
    /// as a trigger, which pagers fold into the open alert of its key.
    Update,
}

/// A page's state, after the pager took an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageState {
    Triggered,
    Acknowledged,
    Resolved,
}

impl PageState {
    pub fn as_str(self) -> &'static str {
        match self {
            PageState::Triggered => "triggered",
            PageState::Acknowledged => "acknowledged",
            PageState::Resolved => "resolved",
        }
    }

    /// The state after `action` on a page in state `before` (none: never sent). A
    /// trigger on an acknowledged alert leaves it acknowledged: the pager folds it in.
    pub fn after(before: Option<PageState>, action: PageAction) -> PageState {
        match (before, action) {
            (Some(PageState::Acknowledged), PageAction::Trigger) => PageState::Acknowledged,
            (_, PageAction::Trigger) => PageState::Triggered,
            (Some(before), PageAction::Update) => before,
            (None, PageAction::Update) => PageState::Triggered,
            (_, PageAction::Acknowledge) => PageState::Acknowledged,
            (_, PageAction::Resolve) => PageState::Resolved,
        }
    }

    /// Whether `action` changes a page in this state: acknowledge a triggered page,
    /// resolve one not resolved yet. (A trigger is always sent: pagers fold a trigger
    /// into the open alert of its key, and a new severity updates it.)
    pub fn needs(self, action: PageAction) -> bool {
        match action {
            PageAction::Trigger => true,
            PageAction::Acknowledge => self == PageState::Triggered,
            PageAction::Resolve | PageAction::Update => self != PageState::Resolved,
        }
    }
}

impl fmt::Display for PageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PageState {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            PageState::Triggered,
            PageState::Acknowledged,
            PageState::Resolved,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
        .ok_or_else(|| Invalid(format!("unknown page state `{s}`")))
    }
}

/// One page of an incident: sent through `service` (`pagerduty`, `opsgenie`), to
/// `team`'s routing or the default one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub service: String,
    pub team: Option<Team>,
    pub state: PageState,
}

/// The pager's key for the page of incident `id` to `team`: one open alert per key.
pub fn page_key(id: super::IncidentId, team: Option<&Team>) -> String {
    match team {
        None => format!("pompier-{id}"),
        Some(team) => format!("pompier-{id}-{team}"),
    }
}

/// What the page says: `[SEV1] #42 Checkout returns 500`; a private incident's title is
/// never sent (`[SEV1] #42 Private incident`), nor a drill taken for real.
pub fn page_summary(incident: &Incident) -> String {
    format!(
        "{}[{}] #{} {}",
        incident.label(),
        incident.severity,
        incident.id,
        incident.shown_title()
    )
}

/// PagerDuty's severity for ours.
pub fn pagerduty_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Sev1 => "critical",
        Severity::Sev2 => "error",
        Severity::Sev3 => "warning",
        Severity::Sev4 => "info",
    }
}

/// Opsgenie's priority for ours.
pub fn opsgenie_priority(severity: Severity) -> &'static str {
    match severity {
        Severity::Sev1 => "P1",
        Severity::Sev2 => "P2",
        Severity::Sev3 => "P3",
        Severity::Sev4 => "P4",
    }
}

/// `text` cut to at most `max` characters (Opsgenie's message: 130), on a character
/// boundary, with an ellipsis when cut.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::IncidentId;

    fn incident(private: bool) -> Incident {
        Incident {
            id: IncidentId(42),
            severity: Severity::Sev1,
            private,
            ..crate::domain::incident::example()
        }
    }

    #[test]
    fn a_page_names_severity_number_and_title_but_never_a_private_title() {
        assert_eq!(
            page_summary(&incident(false)),
            "[SEV1] #42 Checkout returns 500"
        );
        assert_eq!(page_summary(&incident(true)), "[SEV1] #42 Private incident");
        assert_eq!(page_key(IncidentId(42), None), "pompier-42");
        let team: Team = "payments".parse().unwrap();
        assert_eq!(page_key(IncidentId(42), Some(&team)), "pompier-42-payments");
        assert_eq!(pagerduty_severity(Severity::Sev2), "error");
        assert_eq!(opsgenie_priority(Severity::Sev4), "P4");
    }

    #[test]
    fn only_actions_that_change_a_page_are_sent() {
        use PageAction::*;
        assert!(PageState::Triggered.needs(Acknowledge));
        assert!(!PageState::Acknowledged.needs(Acknowledge));
        assert!(!PageState::Resolved.needs(Acknowledge));
        assert!(PageState::Acknowledged.needs(Resolve));
        assert!(!PageState::Resolved.needs(Resolve));
        assert!(PageState::Resolved.needs(Trigger));
        assert_eq!("acknowledged".parse(), Ok(PageState::Acknowledged));
        let acked = Some(PageState::Acknowledged);
        assert_eq!(PageState::after(acked, Trigger), PageState::Acknowledged);
        let resolved = Some(PageState::Resolved);
        assert_eq!(PageState::after(resolved, Trigger), PageState::Triggered);
        assert_eq!(PageState::after(None, Resolve), PageState::Resolved);
        assert!("paged".parse::<PageState>().is_err());
    }

    #[test]
    fn long_text_is_cut_on_a_character() {
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("abcd", 3), "ab…");
        assert_eq!(cut("ééééé", 4).chars().count(), 4);
    }
}
