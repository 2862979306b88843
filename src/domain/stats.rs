//! Manager statistics, as pure code: counts by severity, status and ISO week, and the
//! times to acknowledge, mitigate and resolve (count, mean, median, 90th percentile),
//! exact to the microsecond, or, when daily rollups were added, with percentiles
//! within 1% (`Stats::percentiles` says which).
//!
//! Percentiles interpolate linearly between the two nearest ranks (PostgreSQL's
//! `percentile_cont`, Excel's `PERCENTILE.INC`): for `n` sorted values and a fraction
//! `p`, the rank is `h = (n − 1) · p`, and the value `v[⌊h⌋] + (h − ⌊h⌋) ·
//! (v[⌊h⌋+1] − v[⌊h⌋])`. The median is the 50th percentile.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Serialize;

use super::rollup::{Cell, Key};
use super::sketch::Sketch;
pub use super::summary::Summary;
use super::{Milestones, Severity, Status};

/// What the statistics need of one incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub severity: Severity,
    pub status: Status,
    pub milestones: Milestones,
    pub failure_class: Option<String>,
    /// Updates while it was fought, and how many of them were late.
    pub updates: (u64, u64),
}

/// Updates made while incidents were fought, and the share that came within their
/// severity's interval (`null` when there were none).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Updates {
    pub total: u64,
    pub late: u64,
    pub on_time_share: Option<f64>,
}

/// The key of incidents without a failure class in `Stats::by_class`.
pub const UNCLASSIFIED: &str = "unclassified";

/// The longest range statistics are computed over (ten years): past it, the weekly
/// series alone would take memory in proportion to what a client typed.
pub const MAX_RANGE_DAYS: i64 = 3653;

/// A range statistics can be computed over: `from` not after `to`, at most
/// `MAX_RANGE_DAYS` long. What is wrong, for the client, otherwise.
pub fn check_range(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<(), String> {
    if from > to {
        return Err("`from` is after `to`".into());
    }
    if to - from > Duration::days(MAX_RANGE_DAYS) {
        return Err(format!(
            "the range from `from` to `to` is longer than {MAX_RANGE_DAYS} days (ten years); ask for less"
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Times {
    pub time_to_acknowledge: Summary,
    pub time_to_mitigate: Summary,
    pub time_to_resolve: Summary,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Week {
    /// `2026-W47`.
    pub week: String,
    pub count: u64,
    /// The same count by severity (every severity, zeros included).
    pub by_severity: BTreeMap<&'static str, u64>,
}

/// The statistics of the incidents opened from `from` to `to`, inclusive.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub total: u64,
    /// `exact`, or `approx_1pct` when the percentiles come from sketches (each within
    /// 1% of the exact value; counts and means stay exact).
    pub percentiles: &'static str,
    /// Incidents not yet resolved, whenever they were opened.
    pub open_now: u64,
    pub by_severity: BTreeMap<&'static str, u64>,
    pub by_status: BTreeMap<&'static str, u64>,
    /// Every ISO week the range touches, oldest first, zero where none was opened.
    pub per_week: Vec<Week>,
    #[serde(flatten)]
    pub times: Times,
    pub by_severity_times: BTreeMap<&'static str, Times>,
    /// The share of SEV1/SEV2 incidents that reached `postmortem`; `null` when none.
    pub postmortem_coverage: Option<f64>,
    /// Incidents by failure class, `unclassified` for those without one.
    pub by_class: BTreeMap<String, u64>,
    pub updates: Updates,
    /// Follow-ups still open now, of real incidents whenever opened (set by the caller,
    /// which reads them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub followups: Option<super::followup::OpenFollowups>,
}

/// Durations of one severity, and how many of its incidents reached a postmortem: exact
/// values, and sketches of the days that came as rollups.
#[derive(Debug, Clone, Default)]
struct Durations {
    /// Times to acknowledge, mitigate and resolve, in seconds.
    exact: [Vec<f64>; 3],
    sketches: [Sketch; 3],
    count: u64,
    reached_postmortem: u64,
}

/// Incidents added one by one, or as groups a database already counted.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    by_severity: BTreeMap<Severity, Durations>,
    by_status: BTreeMap<Status, u64>,
    per_day: BTreeMap<(NaiveDate, Severity), u64>,
    by_class: BTreeMap<String, u64>,
    updates: (u64, u64),
    /// Whether rollups were added: percentiles then come from sketches.
    approx: bool,
}

pub fn seconds(d: Duration) -> f64 {
    d.num_microseconds()
        .map_or(d.num_seconds() as f64, |us| us as f64 / 1e6)
}

impl Tally {
    pub fn add(&mut self, facts: &Facts) {
        let m = &facts.milestones;
        let time = |s| m.time_to(s).map(seconds);
        self.add_group(
            facts.severity,
            facts.status,
            1,
            time(Status::Investigating).into_iter().collect(),
            time(Status::Mitigated).into_iter().collect(),
            time(Status::Resolved).into_iter().collect(),
            u64::from(m.postmortem_at.is_some()),
        );
        if let Some(opened) = m.opened_at {
            self.add_day(opened.date_naive(), facts.severity, 1);
        }
        self.add_class(facts.failure_class.as_deref(), 1);
        self.add_updates(facts.updates.0, facts.updates.1);
    }

    /// `total` updates of which `late` came past their interval.
    pub fn add_updates(&mut self, total: u64, late: u64) {
        self.updates.0 += total;
        self.updates.1 += late.min(total);
    }

    /// `count` incidents of failure class `class` (none set: `None`).
    pub fn add_class(&mut self, class: Option<&str>, count: u64) {
        *self
            .by_class
            .entry(class.unwrap_or(UNCLASSIFIED).to_owned())
            .or_default() += count;
    }

    /// `count` incidents of one severity and status, with their durations in seconds.
    #[allow(clippy::too_many_arguments)]
    pub fn add_group(
        &mut self,
        severity: Severity,
        status: Status,
        count: u64,
        acknowledge: Vec<f64>,
        mitigate: Vec<f64>,
        resolve: Vec<f64>,
        reached_postmortem: u64,
    ) {
        let d = self.by_severity.entry(severity).or_default();
        d.count += count;
        for (mine, theirs) in d.exact.iter_mut().zip([acknowledge, mitigate, resolve]) {
            mine.extend(theirs);
        }
        d.reached_postmortem += reached_postmortem;
        *self.by_status.entry(status).or_default() += count;
    }

    pub fn add_day(&mut self, day: NaiveDate, severity: Severity, count: u64) {
        *self.per_day.entry((day, severity)).or_default() += count;
    }

    /// Adds what `other` tallied (another part of the range).
    pub fn merge(&mut self, other: Tally) {
        for (severity, theirs) in other.by_severity {
            let mine = self.by_severity.entry(severity).or_default();
            for (a, b) in mine.exact.iter_mut().zip(theirs.exact) {
                a.extend(b);
            }
            for (a, b) in mine.sketches.iter_mut().zip(&theirs.sketches) {
                a.merge(b, 1);
            }
            mine.count += theirs.count;
            mine.reached_postmortem += theirs.reached_postmortem;
        }
        for (status, n) in other.by_status {
            *self.by_status.entry(status).or_default() += n;
        }
        for ((day, severity), n) in other.per_day {
            self.add_day(day, severity, n);
        }
        for (class, n) in other.by_class {
            *self.by_class.entry(class).or_default() += n;
        }
        self.add_updates(other.updates.0, other.updates.1);
        self.approx |= other.approx;
    }

    /// A day's rollup of one severity and status (its class counts come apart, through
    /// `add_class`). Its counts are exact; its durations make the percentiles sketched.
    pub fn add_cell(&mut self, key: &Key, cell: &Cell) {
        let d = self.add_counts(key, cell);
        for (mine, theirs) in d.sketches.iter_mut().zip(&cell.times) {
            mine.merge(theirs, 1);
        }
    }

    /// `add_cell`, plus the durations of `stored` as `Cell::encode_times` wrote them,
    /// merged without being decoded first. `None` when the bytes are not that.
    pub fn add_stored_cell(&mut self, key: &Key, cell: &Cell, mut stored: &[u8]) -> Option<()> {
        self.add_cell(key, cell);
        let d = self.by_severity.get_mut(&key.severity)?;
        for sketch in &mut d.sketches {
            sketch.merge_encoded(&mut stored, 1)?;
        }
        stored.is_empty().then_some(())
    }

    fn add_counts(&mut self, key: &Key, cell: &Cell) -> &mut Durations {
        let count = cell.count.max(0) as u64;
        *self.by_status.entry(key.status).or_default() += count;
        self.add_day(key.day, key.severity, count);
        self.add_updates(cell.updates.max(0) as u64, cell.late.max(0) as u64);
        self.approx = true;
        let d = self.by_severity.entry(key.severity).or_default();
        d.count += count;
        d.reached_postmortem += cell.postmortems.max(0) as u64;
        d
    }

    pub fn stats(mut self, from: DateTime<Utc>, to: DateTime<Utc>, open_now: u64) -> Stats {
        let approx = self.approx;
        if approx {
            // The exact values join the sketches.
            for d in self.by_severity.values_mut() {
                for (sketch, values) in d.sketches.iter_mut().zip(std::mem::take(&mut d.exact)) {
                    for v in values {
                        sketch.add(v, 1);
                    }
                }
            }
        } else {
            // Each list sorted once; the overall ones are then merges of sorted runs,
            // which the sort sees and merges in linear time.
            for d in self.by_severity.values_mut() {
                for list in &mut d.exact {
                    list.sort_by(f64::total_cmp);
                }
            }
        }
        let summarize = |d: &[&Durations], k: usize| {
            if approx {
                let mut all = Sketch::default();
                for one in d {
                    all.merge(&one.sketches[k], 1);
                }
                Summary::of_sketch(&all)
            } else {
                Summary::of(
                    d.iter()
                        .flat_map(|one| one.exact[k].iter().copied())
                        .collect(),
                )
            }
        };
        let times = |d: &[&Durations]| Times {
            time_to_acknowledge: summarize(d, 0),
            time_to_mitigate: summarize(d, 1),
            time_to_resolve: summarize(d, 2),
        };
        let overall = times(&self.by_severity.values().collect::<Vec<_>>());
        let serious: Vec<&Durations> = [Severity::Sev1, Severity::Sev2]
            .iter()
            .filter_map(|s| self.by_severity.get(s))
            .collect();
        let serious_count: u64 = serious.iter().map(|d| d.count).sum();
        let covered: u64 = serious.iter().map(|d| d.reached_postmortem).sum();
        Stats {
            from,
            to,
            total: self.by_severity.values().map(|d| d.count).sum(),
            percentiles: if approx { "approx_1pct" } else { "exact" },
            open_now,
            by_severity: Severity::ALL
                .into_iter()
                .map(|s| (s.as_str(), self.by_severity.get(&s).map_or(0, |d| d.count)))
                .collect(),
            by_status: Status::ALL
                .into_iter()
                .map(|s| (s.as_str(), self.by_status.get(&s).copied().unwrap_or(0)))
                .collect(),
            per_week: weeks(from, to, &self.per_day),
            times: overall,
            by_severity_times: self
                .by_severity
                .iter()
                .filter(|(_, d)| d.count > 0)
                .map(|(s, d)| (s.as_str(), times(&[d])))
                .collect(),
            postmortem_coverage: (serious_count > 0).then(|| covered as f64 / serious_count as f64),
            by_class: std::mem::take(&mut self.by_class),
            updates: Updates {
                total: self.updates.0,
                late: self.updates.1,
                on_time_share: (self.updates.0 > 0)
                    .then(|| (self.updates.0 - self.updates.1) as f64 / self.updates.0 as f64),
            },
            followups: None,
        }
    }
}

/// Every ISO week from `from` to `to`, with the incidents of `per_day` in it.
fn weeks(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    per_day: &BTreeMap<(NaiveDate, Severity), u64>,
) -> Vec<Week> {
    let label = |d: NaiveDate| {
        let w = d.iso_week();
        format!("{}-W{:02}", w.year(), w.week())
    };
    let empty = |week| Week {
        week,
        count: 0,
        by_severity: Severity::ALL.into_iter().map(|s| (s.as_str(), 0)).collect(),
    };
    let mut out: Vec<Week> = Vec::new();
    let mut day = from.date_naive();
    let last = to.date_naive().max(day);
    // Stepping a week at a time from the first day, then the last day's week.
    while day <= last {
        out.push(empty(label(day)));
        day += Duration::days(7);
    }
    if out.last().map(|w| &w.week) != Some(&label(last)) {
        out.push(empty(label(last)));
    }
    for ((day, severity), n) in per_day {
        let l = label(*day);
        if let Some(w) = out.iter_mut().find(|w| w.week == l) {
            w.count += n;
            *w.by_severity.entry(severity.as_str()).or_default() += n;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_bounded() {
        let t = |y: i32| {
            NaiveDate::from_ymd_opt(y, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc()
        };
        assert!(check_range(t(2024), t(2026)).is_ok());
        assert!(check_range(t(2026), t(2024)).unwrap_err().contains("after"));
        assert!(check_range(t(1), t(9999))
            .unwrap_err()
            .contains("3653 days"));
    }

    fn t(s: i64) -> DateTime<Utc> {
        // 2026-11-16 00:00:00 UTC, a Monday (ISO week 2026-W47).
        DateTime::from_timestamp(1_794_787_200 + s, 0).unwrap()
    }

    fn facts(severity: Severity, status: Status, marks: &[(Status, i64)]) -> Facts {
        let mut m = Milestones::opened(t(marks.first().map_or(0, |(_, s)| *s)));
        for (status, at) in marks {
            match status {
                Status::Open => m.opened_at = Some(t(*at)),
                Status::Investigating => m.investigating_at = Some(t(*at)),
                Status::Mitigated => m.mitigated_at = Some(t(*at)),
                Status::Resolved => m.resolved_at = Some(t(*at)),
                Status::Postmortem => m.postmortem_at = Some(t(*at)),
                Status::Closed => m.closed_at = Some(t(*at)),
            }
        }
        Facts {
            severity,
            status,
            milestones: m,
            failure_class: None,
            updates: (0, 0),
        }
    }

    fn stats(all: &[Facts]) -> Stats {
        let mut tally = Tally::default();
        for f in all {
            tally.add(f);
        }
        tally.stats(t(0), t(13 * 86_400), 0)
    }

    #[test]
    fn percentiles_interpolate_between_ranks() {
        let s = Summary::of(vec![40.0, 10.0, 30.0, 20.0]);
        assert_eq!((s.count, s.mean), (4, Some(25.0)));
        assert_eq!(s.median, Some(25.0));
        // h = 3 × 0.9 = 2.7: 30 + 0.7 × (40 − 30).
        assert!((s.p90.unwrap() - 37.0).abs() < 1e-9);
        let one = Summary::of(vec![7.5]);
        assert_eq!((one.median, one.p90), (Some(7.5), Some(7.5)));
        let none = Summary::of(vec![]);
        assert_eq!(
            (none.count, none.mean, none.median, none.p90),
            (0, None, None, None)
        );
    }

    #[test]
    fn an_empty_range_counts_zero_and_has_no_times() {
        let s = stats(&[]);
        assert_eq!(s.total, 0);
        assert_eq!(s.by_severity.values().sum::<u64>(), 0);
        assert_eq!(s.by_severity.len(), 4);
        assert_eq!(s.by_status.len(), 6);
        assert_eq!(s.times.time_to_resolve.mean, None);
        assert_eq!(s.postmortem_coverage, None);
        assert_eq!(
            s.per_week
                .iter()
                .map(|w| w.week.as_str())
                .collect::<Vec<_>>(),
            ["2026-W47", "2026-W48"]
        );
        assert!(s.by_severity_times.is_empty());
    }

    #[test]
    fn one_incident_with_skipped_milestones() {
        // Opened at 0, resolved straight away at 600: acknowledge and mitigate are
        // stamped with the same time.
        let f = facts(
            Severity::Sev2,
            Status::Resolved,
            &[
                (Status::Open, 0),
                (Status::Investigating, 600),
                (Status::Mitigated, 600),
                (Status::Resolved, 600),
            ],
        );
        let s = stats(&[f]);
        assert_eq!(s.total, 1);
        assert_eq!(s.by_severity["SEV2"], 1);
        assert_eq!(s.by_status["resolved"], 1);
        for summary in [
            &s.times.time_to_acknowledge,
            &s.times.time_to_mitigate,
            &s.times.time_to_resolve,
        ] {
            assert_eq!(
                (summary.count, summary.mean, summary.median, summary.p90),
                (1, Some(600.0), Some(600.0), Some(600.0))
            );
        }
        assert_eq!(s.postmortem_coverage, Some(0.0));
        assert_eq!(s.per_week[0].count, 1);
    }

    #[test]
    fn a_reopened_incident_keeps_its_first_acknowledgement_and_last_resolution() {
        // Acknowledged at 60; resolved at 300, reopened (resolution cleared), resolved
        // again at 900: the milestones as the lifecycle leaves them.
        let f = facts(
            Severity::Sev1,
            Status::Postmortem,
            &[
                (Status::Open, 0),
                (Status::Investigating, 60),
                (Status::Mitigated, 900),
                (Status::Resolved, 900),
                (Status::Postmortem, 1000),
            ],
        );
        let s = stats(&[f]);
        assert_eq!(s.times.time_to_acknowledge.mean, Some(60.0));
        assert_eq!(s.times.time_to_resolve.mean, Some(900.0));
        assert_eq!(s.postmortem_coverage, Some(1.0));
    }

    #[test]
    fn several_severities_are_summed_overall_and_kept_apart() {
        let all = [
            // SEV1, acknowledged after 100, resolved after 1000, postmortem.
            facts(
                Severity::Sev1,
                Status::Closed,
                &[
                    (Status::Open, 0),
                    (Status::Investigating, 100),
                    (Status::Mitigated, 500),
                    (Status::Resolved, 1000),
                    (Status::Postmortem, 2000),
                    (Status::Closed, 3000),
                ],
            ),
            // SEV2, acknowledged after 300, still mitigated; in the next week.
            facts(
                Severity::Sev2,
                Status::Mitigated,
                &[
                    (Status::Open, 7 * 86_400),
                    (Status::Investigating, 7 * 86_400 + 300),
                    (Status::Mitigated, 7 * 86_400 + 900),
                ],
            ),
            // SEV4, open, nothing else.
            facts(Severity::Sev4, Status::Open, &[(Status::Open, 50)]),
            // SEV2, acknowledged after 200, resolved after 4000, no postmortem.
            facts(
                Severity::Sev2,
                Status::Resolved,
                &[
                    (Status::Open, 10),
                    (Status::Investigating, 210),
                    (Status::Mitigated, 2010),
                    (Status::Resolved, 4010),
                ],
            ),
        ];
        let s = stats(&all);
        assert_eq!(s.total, 4);
        assert_eq!(
            s.by_severity,
            [("SEV1", 1), ("SEV2", 2), ("SEV3", 0), ("SEV4", 1)].into()
        );
        assert_eq!(s.by_status["open"], 1);
        assert_eq!(s.by_status["mitigated"], 1);
        assert_eq!(s.by_status["resolved"], 1);
        assert_eq!(s.by_status["closed"], 1);
        // Acknowledge: 100, 200, 300 → mean 200, median 200, p90 = 200 + 0.8 × 100.
        let ack = &s.times.time_to_acknowledge;
        assert_eq!(
            (ack.count, ack.mean, ack.median),
            (3, Some(200.0), Some(200.0))
        );
        assert!((ack.p90.unwrap() - 280.0).abs() < 1e-9);
        // Mitigate: 500, 900, 2000.
        let mit = &s.times.time_to_mitigate;
        assert_eq!((mit.count, mit.median), (3, Some(900.0)));
        // Resolve: 1000 and 4000.
        let res = &s.times.time_to_resolve;
        assert_eq!(
            (res.count, res.mean, res.median),
            (2, Some(2500.0), Some(2500.0))
        );
        assert!((res.p90.unwrap() - 3700.0).abs() < 1e-9);
        let sev2 = &s.by_severity_times["SEV2"];
        assert_eq!(sev2.time_to_acknowledge.mean, Some(250.0));
        assert_eq!(sev2.time_to_resolve.count, 1);
        assert!(!s.by_severity_times.contains_key("SEV3"));
        // One of three SEV1/SEV2 reached a postmortem.
        assert!((s.postmortem_coverage.unwrap() - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(
            s.per_week
                .iter()
                .map(|w| (w.week.as_str(), w.count))
                .collect::<Vec<_>>(),
            [("2026-W47", 3), ("2026-W48", 1)]
        );
        assert_eq!(s.per_week[0].by_severity["SEV2"], 1);
        assert_eq!(s.per_week[1].by_severity["SEV2"], 1);
        assert_eq!(s.per_week[0].by_severity["SEV1"], 1);
    }

    #[test]
    fn microseconds_are_kept() {
        let mut m = Milestones::opened(t(0));
        m.investigating_at = Some(t(1) + Duration::microseconds(250));
        let mut tally = Tally::default();
        tally.add(&Facts {
            severity: Severity::Sev3,
            status: Status::Investigating,
            milestones: m,
            failure_class: Some("capacity".into()),
            updates: (4, 1),
        });
        let s = tally.stats(t(0), t(1), 1);
        assert_eq!(s.by_class["capacity"], 1);
        assert_eq!(s.updates.on_time_share, Some(0.75));
        assert_eq!(s.times.time_to_acknowledge.mean, Some(1.000_25));
        assert_eq!(s.open_now, 1);
    }
}
