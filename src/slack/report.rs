//! A game day's report as the channel where it started reads it: the teams ranked, then
//! each injection's story. Pure.

use super::text::{escape, mention_actor};
use crate::domain::gameday::report::{duration, stories};
use crate::domain::gameday::{Mode, Scoreboard};

/// The report, in Slack's mrkdwn.
pub fn gameday_report(board: &Scoreboard) -> String {
    let day = &board.gameday;
    let mut lines = vec![format!(
        ":scroll: *Game day report: {}* ({}, started {} UTC{})",
        escape(&day.name),
        if day.mode == Mode::Dnd {
            "Dungeons & Dragons"
        } else {
            "informed in advance"
        },
        day.started_at.format("%Y-%m-%d %H:%M"),
        day.ended_at
            .map(|e| format!(", ended {}", e.format("%H:%M")))
            .unwrap_or_default()
    )];
    let median =
        |s: &crate::domain::stats::Summary| s.median.map(duration).unwrap_or_else(|| "—".into());
    lines.push("*Teams*".into());
    if board.teams.is_empty() {
        lines.push("No team played.".into());
    }
    for t in &board.teams {
        let mut line = format!("{}. *{}*", t.rank, t.team);
        if let Some(score) = t.score {
            line += &format!(": score {score}/100");
        }
        if t.injections > 0 {
            line += &format!(
                " · detected {} of {} (median {})",
                t.injections - t.undetected,
                t.injections,
                median(&t.time_to_detect)
            );
        }
        line += &format!(
            " · {} drill{}, {} resolved (median {})",
            t.drills,
            if t.drills == 1 { "" } else { "s" },
            t.resolved,
            median(&t.times.time_to_resolve)
        );
        lines.push(line);
    }
    let stories = stories(board);
    if !stories.is_empty() {
        lines.push("*Injections*".into());
    }
    for story in stories {
        let i = story.injection;
        let mut line = format!(
            "• {} *{}*: {}{} (by {}), injected {} UTC",
            i.id,
            i.team,
            escape(i.description.as_deref().unwrap_or_default()),
            i.target
                .as_deref()
                .map(|t| format!(" on {}", escape(t)))
                .unwrap_or_default(),
            mention_actor(&i.by),
            i.started_at.format("%H:%M:%S"),
        );
        match (story.drill, story.detected_after) {
            (Some(drill), Some(after)) => {
                line += &format!(
                    "; detected after {} by {} (drill #{}: {})",
                    duration(after),
                    mention_actor(&drill.declared_by),
                    drill.id,
                    escape(&drill.title)
                );
                if let Some(after) = story.mitigated_after {
                    line += &format!("; mitigated after {}", duration(after));
                }
                match story.resolved_after {
                    Some(after) => line += &format!("; resolved after {}", duration(after)),
                    None => line += "; not resolved",
                }
            }
            _ => line += "; *never detected*",
        }
        lines.push(line);
    }
    if let Some(url) = &day.report_url {
        lines.push(format!("The report's page: {url}"));
    }
    lines.join("\n")
}
