//! Daily rollups of the statistics: for each day (UTC), drill or not, severity and
//! status, the incidents opened that day counted, with their updates, postmortems and
//! the sketches of their durations; and the same counted by failure class. A change to
//! an incident takes its old facts out and puts its new ones in, so the rollups stay
//! equal to a tally of the incidents whatever order changes arrive in. Pure.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::sketch::Sketch;
use super::stats::Facts;
use super::{Severity, Status};

/// Which rollup an incident counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub day: NaiveDate,
    pub drill: bool,
    pub severity: Severity,
    pub status: Status,
}

/// The incidents of one key: how many, their updates (late among them), how many
/// reached a postmortem, and their times to acknowledge, mitigate and resolve.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cell {
    pub count: i64,
    pub updates: i64,
    pub late: i64,
    pub postmortems: i64,
    pub times: [Sketch; 3],
}

/// The statuses whose milestone each of `Cell::times` measures, in order.
pub const MEASURED: [Status; 3] = [Status::Investigating, Status::Mitigated, Status::Resolved];

impl Cell {
    /// Adds `other` `sign` times (−1 takes it out).
    pub fn merge(&mut self, other: &Cell, sign: i64) {
        self.count += other.count * sign;
        self.updates += other.updates * sign;
        self.late += other.late * sign;
        self.postmortems += other.postmortems * sign;
        for (mine, theirs) in self.times.iter_mut().zip(&other.times) {
            mine.merge(theirs, sign);
        }
    }

    /// The three sketches in their stored form.
    pub fn encode_times(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for sketch in &self.times {
            sketch.encode(&mut out);
        }
        out
    }

    /// What `encode_times` wrote; `None` when it is not that.
    pub fn decode_times(mut bytes: &[u8]) -> Option<[Sketch; 3]> {
        let times = [
            Sketch::decode(&mut bytes)?,
            Sketch::decode(&mut bytes)?,
            Sketch::decode(&mut bytes)?,
        ];
        bytes.is_empty().then_some(times)
    }
}

/// Cells and class counts, as kept or as a batch of changes to fold into them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rollup {
    pub cells: BTreeMap<Key, Cell>,
    pub classes: BTreeMap<(Key, String), i64>,
}

impl Rollup {
    /// Counts the incident of `facts` `sign` times (−1: the facts it no longer has).
    /// The class of an incident without one is the empty string.
    pub fn add(&mut self, facts: &Facts, drill: bool, sign: i64) {
        let Some(opened) = facts.milestones.opened_at else {
            return;
        };
        let key = Key {
            day: opened.date_naive(),
            drill,
            severity: facts.severity,
            status: facts.status,
        };
        let cell = self.cells.entry(key).or_default();
        cell.count += sign;
        cell.updates += facts.updates.0 as i64 * sign;
        cell.late += facts.updates.1.min(facts.updates.0) as i64 * sign;
        cell.postmortems += i64::from(facts.milestones.postmortem_at.is_some()) * sign;
        for (sketch, status) in cell.times.iter_mut().zip(MEASURED) {
            if let Some(d) = facts.milestones.time_to(status) {
                sketch.add(super::stats::seconds(d), sign);
            }
        }
        *self
            .classes
            .entry((key, facts.failure_class.clone().unwrap_or_default()))
            .or_default() += sign;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Milestones;
    use chrono::{DateTime, Utc};

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(2026, 11, day)
            .unwrap()
            .and_hms_opt(hour, 0, 0)
            .unwrap()
            .and_utc()
    }

    #[test]
    fn a_change_moves_an_incident_from_one_cell_to_another() {
        let mut before = Milestones::opened(at(17, 9));
        let open = Facts {
            severity: Severity::Sev2,
            status: Status::Open,
            milestones: before.clone(),
            failure_class: None,
            updates: (0, 0),
        };
        before.investigating_at = Some(at(17, 10));
        let acknowledged = Facts {
            status: Status::Investigating,
            milestones: before,
            failure_class: Some("capacity".into()),
            updates: (3, 1),
            ..open.clone()
        };
        let mut rollup = Rollup::default();
        rollup.add(&open, false, 1);
        rollup.add(&open, false, -1);
        rollup.add(&acknowledged, false, 1);
        let key = |status| Key {
            day: at(17, 0).date_naive(),
            drill: false,
            severity: Severity::Sev2,
            status,
        };
        let emptied = &rollup.cells[&key(Status::Open)];
        assert!(emptied.count == 0 && emptied.times.iter().all(|s| s.count() == 0));
        let cell = &rollup.cells[&key(Status::Investigating)];
        assert_eq!((cell.count, cell.updates, cell.late), (1, 3, 1));
        assert_eq!(
            cell.times[0].quantile(0.5).map(|s| (s / 36.0).round()),
            Some(100.0)
        );
        assert_eq!(cell.times[1].count(), 0);
        assert_eq!(rollup.classes[&(key(Status::Open), String::new())], 0);
        assert_eq!(
            rollup.classes[&(key(Status::Investigating), "capacity".into())],
            1
        );
        let back = Cell::decode_times(&cell.encode_times()).unwrap();
        assert_eq!(back, cell.times);
        let stored = cell.encode_times();
        assert_eq!(Cell::decode_times(&stored[..stored.len() - 1]), None);
    }
}
