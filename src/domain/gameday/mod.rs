//! Game days, as pure code: drills (incidents declared to train, each for a team), the
//! injections villains make in a Dungeons & Dragons game day, and the scoreboard that
//! ranks the teams.
//!
//! A drill's clock starts at its injection when it detected one, else at its
//! declaration. In `informed` mode teams rank by the median time to resolve of their
//! resolved drills, fastest first; teams with no resolved drill come last, among
//! themselves by drills acknowledged (more first). In `dnd` mode they rank by score
//! ([`score`]), highest first, teams without an injection last. Ties keep the teams'
//! names in order.

pub mod report;
pub mod score;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::stats::{Summary, Times};
use super::{Incident, IncidentId, Invalid, Severity, Status};
pub use score::Response;

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

/// How a game day is played.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Heroes are told the kind of incident beforehand; drills are timed from their
    /// declaration.
    #[default]
    Informed,
    /// Heroes know nothing: villains inject faults, and detection is timed from them.
    Dnd,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Informed => "informed",
            Mode::Dnd => "dnd",
        }
    }

    pub fn parse(word: &str) -> Result<Mode, Invalid> {
        match word {
            "informed" => Ok(Mode::Informed),
            "dnd" => Ok(Mode::Dnd),
            _ => Err(Invalid(format!(
                "`{word}` is not a game day mode: `mode:informed` or `mode:dnd`"
            ))),
        }
    }
}

/// A game day: a frame for drills.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gameday {
    pub id: i64,
    pub name: String,
    pub mode: Mode,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Who started it (its first villain).
    #[serde(skip)]
    pub started_by: String,
    /// Where it was started, for its report.
    #[serde(skip)]
    pub channel_id: Option<String>,
    /// Its report's Confluence page, once drafted.
    pub report_url: Option<String>,
}

/// A game day for tests: #1 "Q4 chaos day", informed, running.
#[cfg(test)]
pub fn example() -> Gameday {
    Gameday {
        id: 1,
        name: "Q4 chaos day".into(),
        mode: Mode::Informed,
        started_at: DateTime::from_timestamp(0, 0).expect("the epoch"),
        ended_at: None,
        started_by: "U0VILLAIN".into(),
        channel_id: None,
        report_url: None,
    }
}

/// A fault a villain injected for a team to find.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Injection {
    pub id: i64,
    pub team: Team,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// When a drill of the team detected it (the drill's declaration).
    pub detected_at: Option<DateTime<Utc>>,
    pub drill_id: Option<IncidentId>,
    /// What was done, and to what: hidden from heroes until the game day ends.
    pub description: Option<String>,
    pub target: Option<String>,
    /// Who injected it (`U…` or `token:NAME`).
    pub by: String,
}

impl Injection {
    /// The injection as heroes may see it while the game day runs: a timer and a team.
    pub fn hidden(self) -> Injection {
        Injection {
            description: None,
            target: None,
            by: String::new(),
            ..self
        }
    }
}

/// An injection's description: one line of at most 300 characters.
pub fn injection_text(text: &str, what: &str) -> Result<String, Invalid> {
    let text = text.trim();
    if text.chars().count() > 300 || text.chars().any(char::is_control) {
        return Err(Invalid(format!(
            "an injection's {what} is one line of at most 300 characters"
        )));
    }
    Ok(text.to_owned())
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
    /// Drills declared − injection started, over the injections it detected.
    pub time_to_detect: Summary,
    pub injections: u64,
    pub undetected: u64,
    /// Out of 100 ([`score`]); `None` without an injection.
    pub score: Option<u32>,
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
    pub mitigated_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Who declared it (`U…`).
    pub declared_by: String,
}

/// A game day with its teams ranked and its drills, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scoreboard {
    #[serde(flatten)]
    pub gameday: Gameday,
    pub teams: Vec<TeamScore>,
    pub drills: Vec<DrillLine>,
    /// Oldest first.
    pub injections: Vec<Injection>,
}

/// What a scoreboard is made of: the game day, its drills with what pompier saw of their
/// response, and its injections.
pub struct Played<'a> {
    pub gameday: Gameday,
    pub drills: &'a [Incident],
    pub responses: &'a BTreeMap<IncidentId, Response>,
    pub injections: Vec<Injection>,
    /// The time of the reading.
    pub now: DateTime<Utc>,
}

/// The scoreboard of a game day (incidents without a drill are ignored).
pub fn scoreboard(played: Played<'_>) -> Scoreboard {
    let Played {
        gameday,
        drills: incidents,
        responses,
        mut injections,
        now,
    } = played;
    injections.sort_by_key(|i| (i.started_at, i.id));
    let injected: BTreeMap<IncidentId, DateTime<Utc>> = injections
        .iter()
        .filter_map(|i| Some((i.drill_id?, i.started_at)))
        .collect();
    let mut by_team: BTreeMap<Team, (Vec<&Incident>, Vec<&Injection>)> = BTreeMap::new();
    for incident in incidents {
        if let Some(drill) = &incident.drill {
            by_team
                .entry(drill.team.clone())
                .or_default()
                .0
                .push(incident);
        }
    }
    for injection in &injections {
        by_team
            .entry(injection.team.clone())
            .or_default()
            .1
            .push(injection);
    }
    let by_id: BTreeMap<IncidentId, &Incident> = incidents.iter().map(|i| (i.id, i)).collect();
    let no_response = Response::default();
    let mut teams: Vec<TeamScore> = by_team
        .into_iter()
        .map(|(team, (drills, injections))| {
            // A drill's clock starts at its injection, if it detected one.
            let since_start = |at: fn(&Incident) -> Option<DateTime<Utc>>| {
                Summary::of(
                    drills
                        .iter()
                        .filter_map(|i| {
                            let start = injected.get(&i.id).copied().or(i.milestones.opened_at)?;
                            seconds(at(i)? - start)
                        })
                        .collect(),
                )
            };
            let times = Times {
                time_to_acknowledge: since_start(|i| i.milestones.investigating_at),
                time_to_mitigate: since_start(|i| i.milestones.mitigated_at),
                time_to_resolve: since_start(|i| i.milestones.resolved_at),
            };
            let time_to_detect = Summary::of(
                injections
                    .iter()
                    .filter_map(|i| seconds(i.detected_at? - i.started_at))
                    .collect(),
            );
            let points: Vec<f64> = injections
                .iter()
                .map(|i| {
                    let drill = i
                        .drill_id
                        .and_then(|id| by_id.get(&id))
                        .map(|d| (*d, responses.get(&d.id).unwrap_or(&no_response)));
                    score::injection_points(i.started_at, drill, now)
                })
                .collect();
            TeamScore {
                team,
                rank: 0,
                drills: drills.len() as u64,
                resolved: times.time_to_resolve.count,
                times,
                time_to_detect,
                injections: injections.len() as u64,
                undetected: injections.iter().filter(|i| i.drill_id.is_none()).count() as u64,
                score: score::team_score(&points),
            }
        })
        .collect();
    match gameday.mode {
        Mode::Informed => rank_by_resolution(&mut teams),
        Mode::Dnd => teams.sort_by(|a, b| {
            (a.score.is_none(), std::cmp::Reverse(a.score))
                .cmp(&(b.score.is_none(), std::cmp::Reverse(b.score)))
                .then(a.team.cmp(&b.team))
        }),
    }
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
                mitigated_at: i.milestones.mitigated_at,
                resolved_at: i.milestones.resolved_at,
                declared_by: i.declared_by.to_string(),
            })
        })
        .collect();
    drills.sort_by_key(|d| std::cmp::Reverse(d.id));
    Scoreboard {
        gameday,
        teams,
        drills,
        injections,
    }
}

fn seconds(d: chrono::Duration) -> Option<f64> {
    Some(d.num_microseconds()? as f64 / 1e6)
}

/// Resolved teams by median time to resolve; then the others by drills acknowledged.
fn rank_by_resolution(teams: &mut [TeamScore]) {
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
}

/// The injection a drill of `team` declared at `at` detects: the team's oldest
/// undetected one (or, failing that, the oldest undetected one for no team in
/// particular), started before the drill.
pub fn detected_by<'a>(
    injections: &'a [Injection],
    team: &Team,
    at: DateTime<Utc>,
) -> Option<&'a Injection> {
    let oldest = |of: &Team| {
        injections
            .iter()
            .filter(|i| &i.team == of && i.drill_id.is_none() && i.started_at <= at)
            .min_by_key(|i| (i.started_at, i.id))
    };
    oldest(team).or_else(|| oldest(&Team::unassigned()))
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
            started_at: at(-10),
            ..example()
        }
    }

    fn board(gameday: Gameday, drills: &[Incident], injections: Vec<Injection>) -> Scoreboard {
        scoreboard(Played {
            gameday,
            drills,
            responses: &BTreeMap::new(),
            injections,
            now: at(600),
        })
    }

    fn injection(id: i64, team: &str, started: i64, drill: Option<(i64, i64)>) -> Injection {
        Injection {
            id,
            team: team.parse().unwrap(),
            started_at: at(started),
            ended_at: None,
            detected_at: drill.map(|(_, detected)| at(detected)),
            drill_id: drill.map(|(id, _)| IncidentId(id)),
            description: Some("pod-delete checkout".into()),
            target: Some("checkout".into()),
            by: "U0VILLAIN".into(),
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
        let board = board(day(), &drills, vec![]);
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
        let board = board(day(), &[secret], vec![]);
        assert_eq!(board.drills[0].title, "Private incident");
    }

    #[test]
    fn an_empty_game_day_has_no_teams() {
        let board = board(day(), &[], vec![]);
        assert!(board.teams.is_empty() && board.drills.is_empty());
    }

    #[test]
    fn in_dnd_mode_drills_are_timed_from_their_injection_and_teams_rank_by_score() {
        let dnd = Gameday {
            mode: Mode::Dnd,
            ..day()
        };
        // payments: injected at -4, its drill declared at 0 (4 min: full detection
        // points), resolved at 10 (14 min after the injection: full resolution points).
        // search: injected at -30, declared at 0 (30 min), never resolved; and a second
        // injection it never noticed.
        let drills = [
            drill(1, "payments", Some(1), Some(10)),
            drill(2, "search", Some(2), None),
        ];
        let injections = vec![
            injection(1, "payments", -4, Some((1, 0))),
            injection(2, "search", -30, Some((2, 0))),
            injection(3, "search", 5, None),
        ];
        let board = board(dnd, &drills, injections);
        assert_eq!(ranking(&board), [("payments", 1), ("search", 2)]);
        let (payments, search) = (&board.teams[0], &board.teams[1]);
        assert_eq!(payments.time_to_detect.median, Some(240.0));
        assert_eq!(payments.times.time_to_resolve.median, Some(840.0));
        assert_eq!(payments.times.time_to_acknowledge.median, Some(300.0));
        // 40 + 30, nothing of quality (no lead, no update, no note for 10 min fought…).
        assert_eq!(payments.score, Some(70));
        // 40 × 30/55 = 21.8 for the first, 0 for the one never noticed: 11.
        assert_eq!((search.injections, search.undetected), (2, 1));
        assert_eq!(search.score, Some(11));
        let json = serde_json::to_value(&board).unwrap();
        assert_eq!(json["mode"], "dnd");
        assert_eq!(json["teams"][0]["score"], 70);
        assert_eq!(json["teams"][1]["time_to_detect"]["count"], 1);
        assert_eq!(json["injections"][0]["team"], "search");
        // Hidden, an injection is a team and a timer.
        let hidden = serde_json::to_value(board.injections[0].clone().hidden()).unwrap();
        assert_eq!(hidden["description"], serde_json::Value::Null);
        assert_eq!(hidden["target"], serde_json::Value::Null);
        assert_eq!(hidden["team"], "search");
    }

    #[test]
    fn a_drill_detects_its_teams_oldest_undetected_injection_begun_before_it() {
        let injections = [
            injection(1, "payments", 0, Some((9, 1))),
            injection(2, "payments", 5, None),
            injection(3, "payments", 3, None),
            injection(4, "unassigned", 1, None),
            injection(5, "search", 2, None),
        ];
        let payments: Team = "payments".parse().unwrap();
        assert_eq!(
            detected_by(&injections, &payments, at(10)).map(|i| i.id),
            Some(3)
        );
        // Before any of its own began: one for no team in particular.
        assert_eq!(
            detected_by(&injections, &payments, at(2)).map(|i| i.id),
            Some(4)
        );
        let mobile: Team = "mobile".parse().unwrap();
        assert_eq!(detected_by(&injections, &mobile, at(0)).map(|i| i.id), None);
        assert_eq!(Mode::parse("dnd").unwrap(), Mode::Dnd);
        assert!(Mode::parse("chess").is_err());
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
