//! A game day's debrief, as data: each injection's story (injected, detected, mitigated,
//! resolved, by whom) for Slack and Confluence to word. Pure.

use chrono::{DateTime, Utc};

use super::{DrillLine, Injection, Scoreboard};

/// One injection's story.
#[derive(Debug, Clone, PartialEq)]
pub struct Story<'a> {
    pub injection: &'a Injection,
    /// The drill that detected it.
    pub drill: Option<&'a DrillLine>,
    /// Seconds from the injection to the drill's declaration, mitigation, resolution.
    pub detected_after: Option<f64>,
    pub mitigated_after: Option<f64>,
    pub resolved_after: Option<f64>,
}

fn after(from: DateTime<Utc>, to: Option<DateTime<Utc>>) -> Option<f64> {
    Some((to? - from).num_milliseconds() as f64 / 1000.0)
}

/// The stories of `board`'s injections, oldest first.
pub fn stories(board: &Scoreboard) -> Vec<Story<'_>> {
    board
        .injections
        .iter()
        .map(|injection| {
            let drill = injection
                .drill_id
                .and_then(|id| board.drills.iter().find(|d| d.id == id));
            let start = injection.started_at;
            Story {
                injection,
                drill,
                detected_after: after(start, injection.detected_at),
                mitigated_after: drill.and_then(|d| after(start, d.mitigated_at)),
                resolved_after: drill.and_then(|d| after(start, d.resolved_at)),
            }
        })
        .collect()
}

/// A duration in words: `45 s`, `12 min`, `2 h 05 min`, `3 d 4 h`.
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as i64;
    match (s / 3600, s % 3600 / 60) {
        (0, 0) => format!("{s} s"),
        (0, m) if s % 60 == 0 || m >= 10 => format!("{m} min"),
        (0, m) => format!("{m} min {} s", s % 60),
        (h, m) if h < 48 => format!("{h} h {m:02} min"),
        (h, _) => format!("{} d {} h", h / 24, h % 24),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(42.0), "42 s");
        assert_eq!(duration(150.0), "2 min 30 s");
        assert_eq!(duration(720.0), "12 min");
        assert_eq!(duration(754.0), "12 min");
        assert_eq!(duration(7500.0), "2 h 05 min");
        assert_eq!(duration(3.0 * 86400.0 + 4.0 * 3600.0), "3 d 4 h");
    }
}
