//! A Dungeons & Dragons game day's score: how one team answered one injection, out of
//! 100, from what pompier saw. Pure.
//!
//! | part | points | full marks | nothing |
//! | --- | --- | --- | --- |
//! | detection (drill declared − injection started) | 40 | within 5 min | 60 min or more, or never |
//! | resolution (resolved − injection started) | 30 | within 15 min | 4 h or more, or never |
//! | a lead named within 5 min of the declaration | 8 | | |
//! | updates on the severity's cadence (one at least, none late) | 6 | | |
//! | a note trail: a note per 15 min fought (at least one) | 6 | | |
//! | a postmortem drafted | 5 | | |
//! | follow-ups filed | 5 | | |
//!
//! Between full marks and nothing, points fall linearly. An undetected injection scores
//! 0. A team's score is the mean over its injections, rounded: an injection it never
//! noticed counts against it.

use chrono::{DateTime, Duration, Utc};

use crate::domain::Incident;

/// What pompier saw of a drill's response besides its milestones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// When a lead was first named.
    pub lead_at: Option<DateTime<Utc>>,
    /// Notes on its timeline.
    pub notes: i64,
    /// Follow-ups filed.
    pub followups: i64,
}

/// Points between `full` (at or under) and `none` (at or over), linear between.
fn falling(points: f64, took: Duration, full: Duration, none: Duration) -> f64 {
    let (took, full, none) = (
        took.num_seconds() as f64,
        full.num_seconds() as f64,
        none.num_seconds() as f64,
    );
    points * ((none - took) / (none - full)).clamp(0.0, 1.0)
}

/// The points one injection earned: `started` is the injection's start, `drill` the
/// drill that detected it (with what else pompier saw of it), `now` the time of the
/// reading (a drill still being fought is judged so far).
pub fn injection_points(
    started: DateTime<Utc>,
    drill: Option<(&Incident, &Response)>,
    now: DateTime<Utc>,
) -> f64 {
    let Some((drill, response)) = drill else {
        return 0.0;
    };
    let Some(declared) = drill.milestones.opened_at else {
        return 0.0;
    };
    let minutes = Duration::minutes;
    let mut points = falling(40.0, declared - started, minutes(5), minutes(60));
    if let Some(resolved) = drill.milestones.resolved_at {
        points += falling(30.0, resolved - started, minutes(15), minutes(240));
    }
    if response
        .lead_at
        .is_some_and(|at| at - declared <= minutes(5))
    {
        points += 8.0;
    }
    if drill.updates.total > 0 && drill.updates.late == 0 {
        points += 6.0;
    }
    let fought = drill.milestones.resolved_at.unwrap_or(now) - declared;
    let notes_due = (fought.num_seconds().max(1) + 899) / 900;
    if response.notes >= notes_due {
        points += 6.0;
    }
    if drill.postmortem_url.is_some() || drill.milestones.postmortem_at.is_some() {
        points += 5.0;
    }
    if response.followups > 0 {
        points += 5.0;
    }
    points
}

/// A team's score: the mean of its injections' points, rounded; `None` without any.
pub fn team_score(points: &[f64]) -> Option<u32> {
    (!points.is_empty()).then(|| (points.iter().sum::<f64>() / points.len() as f64).round() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cadence::Updates;
    use crate::domain::Milestones;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-06T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + Duration::minutes(minutes)
    }

    fn drill(declared: i64, resolved: Option<i64>) -> Incident {
        Incident {
            milestones: Milestones {
                opened_at: Some(at(declared)),
                resolved_at: resolved.map(at),
                ..Default::default()
            },
            updates: Updates::default(),
            postmortem_url: None,
            ..crate::domain::incident::example()
        }
    }

    #[test]
    fn a_perfect_response_scores_100_and_an_unnoticed_injection_0() {
        let mut best = drill(3, Some(12));
        best.updates = Updates {
            last_at: Some(at(10)),
            total: 2,
            late: 0,
        };
        best.postmortem_url = Some("https://wiki/pm".into());
        let response = Response {
            lead_at: Some(at(4)),
            notes: 1,
            followups: 2,
        };
        assert_eq!(
            injection_points(at(0), Some((&best, &response)), at(60)),
            100.0
        );
        assert_eq!(injection_points(at(0), None, at(60)), 0.0);
        assert_eq!(team_score(&[100.0, 0.0]), Some(50));
        assert_eq!(team_score(&[]), None);
    }

    #[test]
    fn speed_falls_linearly_and_quality_counts_by_part() {
        // Detected after 32.5 min (half of 40), resolved after 127.5 min (half of 30),
        // a lead after 6 min of the declaration (none), no updates, one note for 95 min
        // fought (7 due), no postmortem, no follow-up.
        let mut slow = drill(0, None);
        slow.milestones.opened_at = Some(at(0) + Duration::seconds(1950));
        slow.milestones.resolved_at = Some(at(0) + Duration::seconds(7650));
        let response = Response {
            lead_at: Some(at(39)),
            notes: 1,
            followups: 0,
        };
        assert_eq!(
            injection_points(at(0), Some((&slow, &response)), at(600)),
            35.0
        );
        // Named in time and noted enough: +8 +6.
        let response = Response {
            lead_at: Some(at(36)),
            notes: 7,
            followups: 0,
        };
        assert_eq!(
            injection_points(at(0), Some((&slow, &response)), at(600)),
            49.0
        );
        // A late update loses the cadence's points; one on time earns them.
        slow.updates = Updates {
            last_at: None,
            total: 3,
            late: 1,
        };
        assert_eq!(
            injection_points(at(0), Some((&slow, &response)), at(600)),
            49.0
        );
        slow.updates.late = 0;
        assert_eq!(
            injection_points(at(0), Some((&slow, &response)), at(600)),
            55.0
        );
        // Beyond an hour to detect and four to resolve, no speed points; a drill still
        // fought is judged so far (its notes against the time until now).
        let mut late = drill(70, None);
        late.updates = Updates::default();
        let quiet = Response::default();
        assert_eq!(injection_points(at(0), Some((&late, &quiet)), at(80)), 0.0);
        let noted = Response {
            notes: 1,
            ..Response::default()
        };
        assert_eq!(injection_points(at(0), Some((&late, &noted)), at(80)), 6.0);
        assert_eq!(injection_points(at(0), Some((&late, &noted)), at(100)), 0.0);
    }
}
