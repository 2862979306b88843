//! Update cadence, as pure code: how often an incident's channel should hear news for its
//! severity, when pompier nudges it for an update, and whether an update came on time.

use chrono::{DateTime, Duration, Utc};

use super::{Incident, Severity, SlackUserId, Status};

/// How often each severity wants an update, and when a postmortem is due a reminder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cadence {
    /// By severity, SEV1 first; `None`: no cadence.
    pub update: [Option<Duration>; 4],
    pub postmortem_reminder: Option<Duration>,
}

impl Default for Cadence {
    /// SEV1 every 15 minutes, SEV2 30, SEV3 2 hours, SEV4 none; a postmortem reminder
    /// after 5 days.
    fn default() -> Self {
        Cadence {
            update: [
                Some(Duration::minutes(15)),
                Some(Duration::minutes(30)),
                Some(Duration::hours(2)),
                None,
            ],
            postmortem_reminder: Some(Duration::days(5)),
        }
    }
}

/// How an incident's updates went: when its timeline last moved, and how many updates
/// it had while being fought, of which how many came later than their interval.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Updates {
    pub last_at: Option<DateTime<Utc>>,
    pub total: i64,
    pub late: i64,
}

/// What a nudge asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nudge {
    /// An update is overdue; `lead` is asked, or someone to take the lead.
    Update {
        lead: Option<SlackUserId>,
        every: Duration,
    },
    /// The postmortem has waited this long.
    Postmortem { waiting: Duration },
}

impl Cadence {
    pub fn interval(&self, severity: Severity) -> Option<Duration> {
        let i = Severity::ALL.iter().position(|s| *s == severity)?;
        self.update[i]
    }

    /// When `incident` next needs a nudge (pompier last nudged it at `nudged_at`), and
    /// for what; `None` when it never will in its present state.
    pub fn due(
        &self,
        incident: &Incident,
        nudged_at: Option<DateTime<Utc>>,
    ) -> Option<(DateTime<Utc>, Nudge)> {
        let since = |from: Option<DateTime<Utc>>| from.into_iter().chain(nudged_at).max();
        if incident.status.is_active() {
            let every = self.interval(incident.severity)?;
            let since = since(incident.updates.last_at.or(incident.milestones.opened_at))?;
            let lead = incident
                .roles
                .iter()
                .find(|(role, _)| role.as_str() == "lead")
                .map(|(_, user)| user.clone());
            return Some((since + every, Nudge::Update { lead, every }));
        }
        if incident.status == Status::Postmortem {
            let after = self.postmortem_reminder?;
            let reached = incident.milestones.postmortem_at?;
            let since = since(Some(reached))?;
            return Some((
                since + after,
                Nudge::Postmortem {
                    waiting: since + after - reached,
                },
            ));
        }
        None
    }

    /// `before` gets a timeline event at `at`: its update counts after it. An event
    /// while the incident is being fought is an update, late when it comes more than
    /// the severity's interval after the one before.
    pub fn count(&self, before: &Incident, at: DateTime<Utc>) -> Updates {
        let mut updates = before.updates.clone();
        if before.status.is_active() {
            if let Some(every) = self.interval(before.severity) {
                updates.total += 1;
                let previous = before.updates.last_at.or(before.milestones.opened_at);
                if previous.is_some_and(|p| at - p > every) {
                    updates.late += 1;
                }
            }
        }
        updates.last_at = Some(at);
        updates
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Milestones;

    fn t(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap() + Duration::minutes(minutes)
    }

    fn incident(severity: Severity, status: Status) -> Incident {
        Incident {
            id: crate::domain::IncidentId(1),
            title: "x".into(),
            severity,
            status,
            milestones: Milestones::opened(t(0)),
            updates: Updates {
                last_at: Some(t(0)),
                total: 0,
                late: 0,
            },
            ..crate::domain::incident::example()
        }
    }

    #[test]
    fn a_quiet_incident_is_nudged_after_its_interval_then_after_each_further_one() {
        let c = Cadence::default();
        let i = incident(Severity::Sev2, Status::Investigating);
        let (at, nudge) = c.due(&i, None).unwrap();
        assert_eq!(at, t(30));
        assert!(matches!(nudge, Nudge::Update { lead: None, .. }));
        // Nudged at 31: the next one is due 30 minutes later, not at once.
        assert_eq!(c.due(&i, Some(t(31))).unwrap().0, t(61));
        // News at 40 moves it along.
        let mut news = i.clone();
        news.updates.last_at = Some(t(40));
        assert_eq!(c.due(&news, Some(t(31))).unwrap().0, t(70));
        assert_eq!(c.due(&incident(Severity::Sev4, Status::Open), None), None);
        assert_eq!(
            c.due(&incident(Severity::Sev1, Status::Resolved), None),
            None
        );
    }

    #[test]
    fn a_postmortem_is_reminded_after_days() {
        let c = Cadence::default();
        let mut i = incident(Severity::Sev2, Status::Postmortem);
        i.milestones.postmortem_at = Some(t(60));
        let (at, nudge) = c.due(&i, None).unwrap();
        assert_eq!(at, t(60) + Duration::days(5));
        assert_eq!(
            nudge,
            Nudge::Postmortem {
                waiting: Duration::days(5)
            }
        );
        assert_eq!(c.due(&i, Some(at)).unwrap().0, at + Duration::days(5));
    }

    #[test]
    fn updates_are_late_past_their_interval() {
        let c = Cadence::default();
        let i = incident(Severity::Sev1, Status::Investigating);
        let on_time = c.count(&i, t(10));
        assert_eq!((on_time.total, on_time.late), (1, 0));
        let mut i2 = i.clone();
        i2.updates = on_time;
        let late = c.count(&i2, t(26));
        assert_eq!((late.total, late.late, late.last_at), (2, 1, Some(t(26))));
        let resolved = incident(Severity::Sev1, Status::Resolved);
        assert_eq!(c.count(&resolved, t(100)).total, 0);
    }
}
