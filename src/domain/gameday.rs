//! Game days, as pure code: drills (incidents declared to train, each for a team) and the
//! scoreboard that ranks the teams of a game day.
//!
//! Teams rank by the median time to resolve of their resolved drills, fastest first;
//! teams with no resolved drill come last, among themselves by drills acknowledged (more
//! first). Ties keep the teams' names in order.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::stats::{Summary, Times};
use super::{Incident, IncidentId, Invalid, Severity, Status};

/// The team of a drill declared without `team:`.
pub const UNASSIGNED: &str = "unassigned";

/// What makes an incident a drill: the team it tests, and the game day it belongs to
/// (the one running when it was declared).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drill {
    pub team: Team,
    pub gameday: Option<i64>,
}

/// A team's name: lowercase letters, digits, `-` and `_`, at most 40.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Team(String);

impl Team {
    pub fn unassigned() -> Team {
        Team(UNASSIGNED.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Team {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

deserialize_from_str!(Team);

impl std::str::FromStr for Team {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Team, Invalid> {
        let name = s.trim().to_lowercase();
        let fine = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
        if name.is_empty() || name.len() > 40 || !name.chars().all(fine) {
            return Err(Invalid(format!(
                "`{}` is not a team name: letters, digits, `-` and `_`, at most 40",
                s.chars().take(60).collect::<String>()
            )));
        }
        Ok(Team(name))
    }
}

/// Who `/incident invite` names: a configured team's people, or a Slack user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invitee {
    Team(Team),
    User(super::SlackUserId),
}

/// A game day: a frame for drills.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gameday {
    pub id: i64,
    pub name: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// A game day's name: one line, at most 100 characters.
pub fn gameday_name(text: &str) -> Result<String, Invalid> {
    let name = text.trim();
    if name.is_empty() {
        return Err(Invalid(
            "a game day needs a name: `gameday start NAME`".into(),
        ));
    }
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Invalid(
            "a game day's name is one line of at most 100 characters".into(),
        ));
    }
    Ok(name.to_owned())
}

/// One team's line on the scoreboard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamScore {
    pub team: Team,
    pub rank: u32,
    pub drills: u64,
    pub resolved: u64,
    #[serde(flatten)]
    pub times: Times,
}

/// One drill on the scoreboard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrillLine {
    pub id: IncidentId,
    pub title: String,
    pub team: Team,
    pub severity: Severity,
    pub status: Status,
    pub opened_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// A game day with its teams ranked and its drills, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scoreboard {
    #[serde(flatten)]
    pub gameday: Gameday,
    pub teams: Vec<TeamScore>,
    pub drills: Vec<DrillLine>,
}

/// The scoreboard of `gameday` from its drills (incidents without a drill are ignored).
pub fn scoreboard(gameday: Gameday, incidents: &[Incident]) -> Scoreboard {
    use std::collections::BTreeMap;
    let mut by_team: BTreeMap<Team, Vec<&Incident>> = BTreeMap::new();
    for incident in incidents {
        if let Some(drill) = &incident.drill {
            by_team
                .entry(drill.team.clone())
                .or_default()
                .push(incident);
        }
    }
    let mut teams: Vec<TeamScore> = by_team
        .into_iter()
        .map(|(team, drills)| {
            let since_open = |at: fn(&Incident) -> Option<DateTime<Utc>>| {
                Summary::of(
                    drills
                        .iter()
                        .filter_map(|i| {
                            let opened = i.milestones.opened_at?;
                            Some((at(i)? - opened).num_microseconds()? as f64 / 1e6)
                        })
                        .collect(),
                )
            };
            let times = Times {
                time_to_acknowledge: since_open(|i| i.milestones.investigating_at),
                time_to_mitigate: since_open(|i| i.milestones.mitigated_at),
                time_to_resolve: since_open(|i| i.milestones.resolved_at),
            };
            TeamScore {
                team,
                rank: 0,
                drills: drills.len() as u64,
                resolved: times.time_to_resolve.count,
                times,
            }
        })
        .collect();
    // Resolved teams by median time to resolve; then the others by drills acknowledged.
    teams.sort_by(|a, b| {
        let key = |t: &TeamScore| {
            (
                t.times.time_to_resolve.median.is_none(),
                t.times.time_to_resolve.median.unwrap_or(0.0),
                std::cmp::Reverse(t.times.time_to_acknowledge.count),
            )
        };
        let (ka, kb) = (key(a), key(b));
        ka.0.cmp(&kb.0)
            .then(ka.1.total_cmp(&kb.1))
            .then(ka.2.cmp(&kb.2))
            .then(a.team.cmp(&b.team))
    });
    for (i, team) in teams.iter_mut().enumerate() {
        team.rank = i as u32 + 1;
    }
    let mut drills: Vec<DrillLine> = incidents
        .iter()
        .filter_map(|i| {
            Some(DrillLine {
                id: i.id,
                // A private drill's title is its members'.
                title: i.shown_title().to_owned(),
                team: i.drill.as_ref()?.team.clone(),
                severity: i.severity,
                status: i.status,
                opened_at: i.milestones.opened_at,
                resolved_at: i.milestones.resolved_at,
            })
        })
        .collect();
    drills.sort_by_key(|d| std::cmp::Reverse(d.id));
    Scoreboard {
        gameday,
        teams,
        drills,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Milestones, SlackUserId};

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + chrono::Duration::minutes(minutes)
    }

    /// A drill of `team` opened at 0, acknowledged and resolved after so many minutes.
    fn drill(id: i64, team: &str, ack: Option<i64>, resolve: Option<i64>) -> Incident {
        Incident {
            id: IncidentId(id),
            title: format!("drill {id}"),
            severity: Severity::Sev2,
            status: if resolve.is_some() {
                Status::Resolved
            } else {
                Status::Open
            },
            channel_id: None,
            declared_by: "U0001".parse::<SlackUserId>().unwrap().into(),
            roles: Default::default(),
            milestones: Milestones {
                opened_at: Some(at(0)),
                investigating_at: ack.map(at),
                mitigated_at: None,
                resolved_at: resolve.map(at),
                postmortem_at: None,
                closed_at: None,
            },
            drill: Some(Drill {
                team: team.parse().unwrap(),
                gameday: Some(1),
            }),
            ..crate::domain::incident::example()
        }
    }

    fn day() -> Gameday {
        Gameday {
            id: 1,
            name: "Q4 chaos day".into(),
            started_at: at(-10),
            ended_at: None,
        }
    }

    fn ranking(board: &Scoreboard) -> Vec<(&str, u32)> {
        board
            .teams
            .iter()
            .map(|t| (t.team.as_str(), t.rank))
            .collect()
    }

    #[test]
    fn teams_rank_by_median_time_to_resolve_then_by_drills_acknowledged() {
        let drills = [
            // payments: resolved in 10 and 30 minutes: median 20.
            drill(1, "payments", Some(2), Some(10)),
            drill(2, "payments", Some(3), Some(30)),
            // search: one in 15: median 15, ahead of payments.
            drill(3, "search", Some(1), Some(15)),
            drill(4, "search", None, None),
            // two teams with nothing resolved: the one that acknowledged more first.
            drill(5, "mobile", None, None),
            drill(6, "web", Some(5), None),
            drill(7, "web", Some(6), None),
        ];
        let board = scoreboard(day(), &drills);
        assert_eq!(
            ranking(&board),
            [("search", 1), ("payments", 2), ("web", 3), ("mobile", 4)]
        );
        let payments = &board.teams[1];
        assert_eq!((payments.drills, payments.resolved), (2, 2));
        assert_eq!(payments.times.time_to_resolve.median, Some(1200.0));
        assert_eq!(payments.times.time_to_acknowledge.mean, Some(150.0));
        assert_eq!(board.drills.first().map(|d| d.id), Some(IncidentId(7)));
        let json = serde_json::to_value(&board).unwrap();
        assert_eq!(json["name"], "Q4 chaos day");
        assert_eq!(json["teams"][0]["team"], "search");
        assert_eq!(json["teams"][0]["time_to_resolve"]["count"], 1);
        assert_eq!(json["drills"][0]["team"], "web");
    }

    #[test]
    fn a_private_drills_title_stays_off_the_board() {
        let mut secret = drill(1, "payments", None, None);
        secret.title = "Payroll export leaked".into();
        secret.private = true;
        let board = scoreboard(day(), &[secret]);
        assert_eq!(board.drills[0].title, "Private incident");
    }

    #[test]
    fn an_empty_game_day_has_no_teams() {
        let board = scoreboard(day(), &[]);
        assert!(board.teams.is_empty() && board.drills.is_empty());
    }

    #[test]
    fn team_names_are_checked() {
        assert_eq!("Payments".parse::<Team>().unwrap().as_str(), "payments");
        for bad in ["", "pay ments", "<!channel>", &"x".repeat(41)] {
            assert!(bad.parse::<Team>().is_err(), "{bad}");
        }
        assert!(gameday_name("  ").is_err());
        assert!(gameday_name("a\nb").is_err());
        assert_eq!(gameday_name(" Q4 chaos day ").unwrap(), "Q4 chaos day");
    }
}
