//! A game day's report as a Confluence page (storage format): the teams ranked and each
//! injection's story. Pure; every text from people is escaped.

use std::collections::HashMap;

use super::page::{escape_xml as esc, xml_safe};
use crate::domain::gameday::report::{duration, stories};
use crate::domain::gameday::{Gameday, Mode, Scoreboard};

/// `Game day #3: Q4 chaos day`, one page per game day.
pub fn title(day: &Gameday) -> String {
    format!("Game day #{}: {}", day.id, xml_safe(&day.name))
        .chars()
        .take(255)
        .collect()
}

/// The page's body; `names`: Slack user ids' names, where known.
pub fn body(board: &Scoreboard, names: &HashMap<String, String>) -> String {
    let who = |id: &str| esc(names.get(id).map(String::as_str).unwrap_or(id));
    let median =
        |s: &crate::domain::stats::Summary| s.median.map(duration).unwrap_or_else(|| "—".into());
    let day = &board.gameday;
    let mut html = format!(
        "<p>{} game day, started {} UTC{}.</p><h2>Teams</h2><table><tbody>\
         <tr><th>Rank</th><th>Team</th><th>Score</th><th>Detected</th><th>Detect (median)</th>\
         <th>Drills</th><th>Resolve (median)</th></tr>",
        if day.mode == Mode::Dnd {
            "A Dungeons &amp; Dragons"
        } else {
            "An informed"
        },
        day.started_at.format("%Y-%m-%d %H:%M"),
        day.ended_at
            .map(|e| format!(", ended {} UTC", e.format("%Y-%m-%d %H:%M")))
            .unwrap_or_default()
    );
    for t in &board.teams {
        html += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} of {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            t.rank,
            esc(t.team.as_str()),
            t.score.map(|s| format!("{s}/100")).unwrap_or_else(|| "—".into()),
            t.injections - t.undetected,
            t.injections,
            median(&t.time_to_detect),
            t.drills,
            median(&t.times.time_to_resolve),
        );
    }
    html += "</tbody></table><h2>Injections</h2>";
    let stories = stories(board);
    if stories.is_empty() {
        html += "<p>None.</p>";
    }
    for story in stories {
        let i = story.injection;
        html += &format!(
            "<h3>{} · {}</h3><ul><li>Injected {} UTC by {}: {}{}</li>",
            i.id,
            esc(i.team.as_str()),
            i.started_at.format("%H:%M:%S"),
            who(&i.by),
            esc(i.description.as_deref().unwrap_or_default()),
            i.target
                .as_deref()
                .map(|t| format!(" (target: {})", esc(t)))
                .unwrap_or_default(),
        );
        match (story.drill, story.detected_after) {
            (Some(drill), Some(after)) => {
                html += &format!(
                    "<li>Detected after {} by {}: drill #{} ({})</li>",
                    duration(after),
                    who(&drill.declared_by),
                    drill.id,
                    esc(&drill.title)
                );
                if let Some(after) = story.mitigated_after {
                    html += &format!("<li>Mitigated after {}</li>", duration(after));
                }
                html += &match story.resolved_after {
                    Some(after) => format!("<li>Resolved after {}</li>", duration(after)),
                    None => "<li>Not resolved</li>".into(),
                };
            }
            _ => html += "<li><strong>Never detected</strong></li>",
        }
        if let Some(ended) = i.ended_at {
            html += &format!("<li>Fault removed {} UTC</li>", ended.format("%H:%M:%S"));
        }
        html += "</ul>";
    }
    html
}
