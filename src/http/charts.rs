//! The dashboard's charts, drawn on the server as SVG: nothing to load, nothing to run,
//! readable without JavaScript. Each mark carries its number (`data-*`) for people
//! with screen readers (`<title>`) and for tests.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::domain::stats::{Summary, Times, Week};
use crate::domain::{Severity, Status};

pub fn colour(severity: &str) -> &'static str {
    match severity {
        "SEV1" => "#c62828",
        "SEV2" => "#ef6c00",
        "SEV3" => "#1565c0",
        _ => "#78909c",
    }
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `3 h 05 min`, `12 min`, `40 s`.
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as i64;
    match (s / 3600, s % 3600 / 60) {
        (0, 0) => format!("{s} s"),
        (0, m) => format!("{m} min"),
        (h, m) if h < 48 => format!("{h} h {m:02} min"),
        (h, _) => format!("{} d {} h", h / 24, h % 24),
    }
}

/// Incidents per ISO week, stacked by severity.
pub fn weekly(weeks: &[Week]) -> String {
    let (w, h, left, bottom) = (640.0, 220.0, 32.0, 24.0);
    let max = weeks.iter().map(|w| w.count).max().unwrap_or(0).max(1) as f64;
    let slot = (w - left) / weeks.len().max(1) as f64;
    let bar = (slot * 0.7).max(1.0);
    let mut svg = format!(
        "<svg class=\"chart\" id=\"chart-weekly\" viewBox=\"0 0 {w} {h}\" role=\"img\" \
         aria-label=\"Incidents per week, by severity\">"
    );
    let plot = h - bottom;
    let _ = write!(
        svg,
        "<text x=\"0\" y=\"12\" class=\"axis\">{}</text><line x1=\"{left}\" y1=\"{plot}\" x2=\"{w}\" y2=\"{plot}\" class=\"base\"/>",
        max as u64
    );
    let every = (weeks.len() / 8).max(1);
    for (i, week) in weeks.iter().enumerate() {
        let x = left + i as f64 * slot + (slot - bar) / 2.0;
        let mut y = plot;
        for severity in Severity::ALL {
            let n = week
                .by_severity
                .get(severity.as_str())
                .copied()
                .unwrap_or(0);
            if n == 0 {
                continue;
            }
            let height = n as f64 / max * (plot - 16.0);
            y -= height;
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{height:.1}\" \
                 fill=\"{}\" data-week=\"{}\" data-severity=\"{severity}\" data-count=\"{n}\">\
                 <title>{} {severity}: {n}</title></rect>",
                colour(severity.as_str()),
                esc(&week.week),
                esc(&week.week)
            );
        }
        if i % every == 0 {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{}\" class=\"axis\">{}</text>",
                x,
                h - 6.0,
                esc(week.week.split('-').nth(1).unwrap_or(&week.week))
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// Median time to resolve by severity, with the 90th percentile as a thin mark.
pub fn resolve_by_severity(times: &BTreeMap<&'static str, Times>) -> String {
    let rows: Vec<(&str, &Summary)> = Severity::ALL
        .iter()
        .filter_map(|s| {
            times
                .get(s.as_str())
                .map(|t| (s.as_str(), &t.time_to_resolve))
        })
        .filter(|(_, s)| s.count > 0)
        .collect();
    let max = rows
        .iter()
        .filter_map(|(_, s)| s.p90)
        .fold(1.0_f64, f64::max);
    let (w, row, left) = (640.0, 34.0, 60.0);
    let h = row * rows.len().max(1) as f64;
    let mut svg = format!(
        "<svg class=\"chart\" id=\"chart-resolve\" viewBox=\"0 0 {w} {h}\" role=\"img\" \
         aria-label=\"Time to resolve by severity\">"
    );
    if rows.is_empty() {
        svg.push_str(
            "<text x=\"0\" y=\"20\" class=\"axis\">No incident resolved in this range.</text>",
        );
    }
    for (i, (severity, s)) in rows.iter().enumerate() {
        let y = i as f64 * row;
        let median = s.median.unwrap_or(0.0);
        let width = median / max * (w - left - 210.0);
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{:.1}\" class=\"label\">{severity}</text>\
             <rect x=\"{left}\" y=\"{:.1}\" width=\"{width:.1}\" height=\"18\" fill=\"{}\" \
             data-severity=\"{severity}\" data-median=\"{median}\"><title>{severity}: median {}</title></rect>",
            y + 18.0,
            y + 5.0,
            colour(severity),
            duration(median)
        );
        let mut end = left + width;
        if let Some(p90) = s.p90 {
            let x = left + p90 / max * (w - left - 210.0);
            end = end.max(x);
            let _ = write!(
                svg,
                "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" class=\"p90\" data-p90=\"{p90}\"/>",
                y + 2.0,
                y + 26.0
            );
        }
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"value\">{} (p90 {}, n={})</text>",
            end + 6.0,
            y + 18.0,
            duration(median),
            duration(s.p90.unwrap_or(0.0)),
            s.count
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Incidents of the range by status.
pub fn statuses(by_status: &BTreeMap<&'static str, u64>) -> String {
    let max = by_status.values().copied().max().unwrap_or(0).max(1) as f64;
    let (w, row, left) = (640.0, 26.0, 110.0);
    let h = row * Status::ALL.len() as f64;
    let mut svg = format!(
        "<svg class=\"chart\" id=\"chart-status\" viewBox=\"0 0 {w} {h}\" role=\"img\" \
         aria-label=\"Incidents by status\">"
    );
    for (i, status) in Status::ALL.iter().enumerate() {
        let n = by_status.get(status.as_str()).copied().unwrap_or(0);
        let y = i as f64 * row;
        let width = n as f64 / max * (w - left - 60.0);
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{:.1}\" class=\"label\">{status}</text>\
             <rect x=\"{left}\" y=\"{:.1}\" width=\"{width:.1}\" height=\"16\" class=\"status\" \
             data-status=\"{status}\" data-count=\"{n}\"><title>{status}: {n}</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\" class=\"value\">{n}</text>",
            y + 16.0,
            y + 4.0,
            left + width + 6.0,
            y + 16.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The share of SEV1/SEV2 incidents that reached a postmortem.
pub fn coverage(share: Option<f64>) -> String {
    let (w, h) = (640.0, 40.0);
    let mut svg = format!(
        "<svg class=\"chart\" id=\"chart-coverage\" viewBox=\"0 0 {w} {h}\" role=\"img\" \
         aria-label=\"Postmortem coverage\"><rect x=\"0\" y=\"8\" width=\"{w}\" height=\"20\" class=\"track\"/>"
    );
    match share {
        Some(share) => {
            let _ = write!(
                svg,
                "<rect x=\"0\" y=\"8\" width=\"{:.1}\" height=\"20\" class=\"covered\" data-coverage=\"{share}\">\
                 <title>{:.0}% of SEV1/SEV2 reached a postmortem</title></rect>",
                share * w,
                share * 100.0
            );
        }
        None => svg.push_str(
            "<text x=\"8\" y=\"23\" class=\"axis\">No SEV1 or SEV2 incident in this range.</text>",
        ),
    }
    svg.push_str("</svg>");
    svg
}
