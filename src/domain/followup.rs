//! Follow-up actions: what an incident leaves to do, numbered within it, with an owner
//! when someone took it, done or not. And how many are open, and for how long.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::summary::Summary;
use super::{Actor, SlackUserId};

/// One follow-up of an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Followup {
    /// `N` of `/incident done N`: 1, 2, … within its incident.
    pub number: i64,
    pub text: String,
    pub owner: Option<SlackUserId>,
    pub created_by: Actor,
    pub created_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
    pub done_by: Option<Actor>,
    /// Its issue in Jira, once made.
    pub jira: Option<JiraIssue>,
}

/// An issue in Jira: its key, and the address people open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JiraIssue {
    pub key: String,
    pub url: String,
}

/// Open follow-ups and how long they have been open, in seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpenFollowups {
    pub open: u64,
    pub age: Summary,
    pub oldest: Option<f64>,
}

/// The open follow-ups at `now`, from when each was made.
pub fn open_at(created: &[DateTime<Utc>], now: DateTime<Utc>) -> OpenFollowups {
    let ages: Vec<f64> = created
        .iter()
        .map(|at| ((now - *at).num_milliseconds() as f64 / 1000.0).max(0.0))
        .collect();
    let oldest = ages.iter().copied().reduce(f64::max);
    OpenFollowups {
        open: ages.len() as u64,
        age: Summary::of(ages),
        oldest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_follow_ups_are_counted_with_their_ages() {
        let now = DateTime::from_timestamp(10_000, 0).unwrap();
        let made = [
            DateTime::from_timestamp(10_000 - 60, 0).unwrap(),
            DateTime::from_timestamp(10_000 - 180, 0).unwrap(),
        ];
        let open = open_at(&made, now);
        assert_eq!(open.open, 2);
        assert_eq!(open.oldest, Some(180.0));
        assert_eq!(open.age.median, Some(120.0));
        assert_eq!(open_at(&[], now).oldest, None);
    }
}
