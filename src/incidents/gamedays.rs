//! Game days through the incidents service: starting and ending them, villains, fault
//! injections and the drills that detect them. Who may do what is decided here: a game
//! day's villains (its starter and those they name) alone may name villains, inject,
//! relink and, in `dnd` mode, end it; an API token reaches injections through its
//! `gameday` scope, checked at the edge.

use super::Incidents;
use crate::domain::gameday::{self, Injection, Mode};
use crate::domain::permissions::Act;
use crate::domain::{Gameday, Incident, IncidentId, SlackUserId};
use crate::outbox::{ConfluenceJob, Job, SlackJob};
use crate::store::{InjectionRef, NewInjection, StoreError};

/// Why a game day request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// No game day runs (or none of this id).
    NoneRunning,
    /// One runs already: this one.
    Running(Box<Gameday>),
    /// Injections belong to `dnd` game days.
    NotDnd(Box<Gameday>),
    /// Only these villains may.
    NotVillain(Vec<String>),
    /// No such injection (in the running game day).
    NoInjection(String),
    /// The drill is not of the game day.
    NotADrill(IncidentId),
    /// A `started_at` more than an hour ago, or ahead.
    StartedAt,
    /// `[permissions]` does not let them.
    Forbidden(crate::domain::permissions::Forbidden),
}

/// Which game day an API caller means.
#[derive(Debug, Clone, Copy)]
pub enum GamedayRef {
    Current,
    Id(i64),
}

/// How far back a late probe may date its injection.
const LATE_REPORT: chrono::Duration = chrono::Duration::hours(1);

impl Incidents {
    /// Starts game day `name` in `mode`, from `channel`; refused naming the one running.
    pub async fn start_gameday(
        &self,
        name: &str,
        mode: Mode,
        by: &SlackUserId,
        channel: Option<&str>,
    ) -> Result<Result<Gameday, Refused>, StoreError> {
        let actor = crate::domain::Actor::Slack(by.clone());
        if let Err(why) = self.permitted(Act::StartGameday, &actor, None).await {
            return Ok(Err(Refused::Forbidden(why)));
        }
        Ok(self
            .store
            .start_gameday(name, mode, by.as_str(), channel, crate::now())
            .await?
            .map_err(|day| Refused::Running(Box::new(day))))
    }

    /// The running game day, if `by` is one of its villains.
    async fn as_villain(&self, by: &SlackUserId) -> Result<Result<Gameday, Refused>, StoreError> {
        let Some(day) = self.store.running_gameday().await? else {
            return Ok(Err(Refused::NoneRunning));
        };
        let villains = self.store.villains(day.id).await?;
        Ok(if villains.iter().any(|v| v == by.as_str()) {
            Ok(day)
        } else {
            Err(Refused::NotVillain(villains))
        })
    }

    /// Ends the running game day: in `dnd` mode only a villain may. Its report is posted
    /// where it was started and, with Confluence, drafted as a page, once.
    pub async fn end_gameday(
        &self,
        by: &SlackUserId,
    ) -> Result<Result<Gameday, Refused>, StoreError> {
        let Some(day) = self.store.running_gameday().await? else {
            return Ok(Err(Refused::NoneRunning));
        };
        if day.mode == Mode::Dnd {
            if let Err(refused) = self.as_villain(by).await? {
                return Ok(Err(refused));
            }
        }
        let mut jobs: Vec<Job> = vec![];
        if day.channel_id.is_some() {
            jobs.push(SlackJob::GamedayReport { gameday: day.id }.into());
        }
        if self.effects.postmortem_pages {
            jobs.push(ConfluenceJob::DraftGamedayReport { gameday: day.id }.into());
        }
        let ended = self.store.end_gameday(crate::now(), &jobs).await?;
        self.jobs_queued.notify_waiters();
        Ok(ended.ok_or(Refused::NoneRunning))
    }

    /// `by`, a villain, names more villains.
    pub async fn add_villains(
        &self,
        by: &SlackUserId,
        users: &[SlackUserId],
    ) -> Result<Result<Vec<String>, Refused>, StoreError> {
        let day = match self.as_villain(by).await? {
            Ok(day) => day,
            Err(refused) => return Ok(Err(refused)),
        };
        for user in users {
            let named = crate::domain::Actor::Slack(user.clone());
            if let Err(why) = self.permitted(Act::BeVillain, &named, None).await {
                return Ok(Err(Refused::Forbidden(why)));
            }
        }
        let users: Vec<String> = users.iter().map(|u| u.as_str().to_owned()).collect();
        self.store.add_villains(day.id, &users).await?;
        let said = format!("game day {}: {}", day.id, users.join(", "));
        self.store
            .audit(by.as_str(), "villains_named", &said, "slack")
            .await;
        Ok(Ok(self.store.villains(day.id).await?))
    }

    /// Records an injection by villain `by` in the running game day.
    pub async fn inject_as_villain(
        &self,
        by: &SlackUserId,
        new: NewInjection,
    ) -> Result<Result<Injection, Refused>, StoreError> {
        let day = match self.as_villain(by).await? {
            Ok(day) => day,
            Err(refused) => return Ok(Err(refused)),
        };
        self.inject(GamedayRef::Id(day.id), new)
            .await
            .map(|r| r.map(|(injection, _)| injection))
    }

    /// Records an injection in game day `which` (it must run, in `dnd` mode); an
    /// injection whose key exists is answered again (`false`).
    pub async fn inject(
        &self,
        which: GamedayRef,
        new: NewInjection,
    ) -> Result<Result<(Injection, bool), Refused>, StoreError> {
        let day = match self.running(which).await? {
            Ok(day) => day,
            Err(refused) => return Ok(Err(refused)),
        };
        if day.mode != Mode::Dnd {
            return Ok(Err(Refused::NotDnd(Box::new(day))));
        }
        let now = crate::now();
        if new.started_at > now || new.started_at < now - LATE_REPORT {
            return Ok(Err(Refused::StartedAt));
        }
        Ok(Ok(self.store.inject(day.id, &new).await?))
    }

    /// The running game day, named by id or as the current one.
    async fn running(&self, which: GamedayRef) -> Result<Result<Gameday, Refused>, StoreError> {
        let running = self.store.running_gameday().await?;
        Ok(match (which, running) {
            (GamedayRef::Current, Some(day)) => Ok(day),
            (GamedayRef::Id(id), Some(day)) if day.id == id => Ok(day),
            _ => Err(Refused::NoneRunning),
        })
    }

    /// Ends an injection (the fault is removed).
    pub async fn end_injection(
        &self,
        which: InjectionRef,
    ) -> Result<Result<Injection, Refused>, StoreError> {
        let named = match &which {
            InjectionRef::Id(id) => id.to_string(),
            InjectionRef::Key(_, key) => key.clone(),
        };
        Ok(self
            .store
            .end_injection(&which, crate::now())
            .await?
            .ok_or(Refused::NoInjection(named)))
    }

    /// Resolves `which` game day to its id, for an injection's key.
    pub async fn gameday_id(&self, which: GamedayRef) -> Result<Option<i64>, StoreError> {
        Ok(match which {
            GamedayRef::Id(id) => Some(id),
            GamedayRef::Current => self.store.running_gameday().await?.map(|d| d.id),
        })
    }

    /// Villain `by` links injection `injection` to drill `drill` (a correction of the
    /// automatic link); detected at the drill's declaration.
    pub async fn relink(
        &self,
        by: &SlackUserId,
        injection: i64,
        drill: &Incident,
    ) -> Result<Result<Injection, Refused>, StoreError> {
        let day = match self.as_villain(by).await? {
            Ok(day) => day,
            Err(refused) => return Ok(Err(refused)),
        };
        if drill.drill.as_ref().and_then(|d| d.gameday) != Some(day.id) {
            return Ok(Err(Refused::NotADrill(drill.id)));
        }
        let Some(found) = self
            .store
            .injections(day.id)
            .await?
            .into_iter()
            .find(|i| i.id == injection)
        else {
            return Ok(Err(Refused::NoInjection(injection.to_string())));
        };
        let at = drill.milestones.opened_at.unwrap_or_else(crate::now);
        self.store
            .link_injection(found.id, drill.id, at, true)
            .await?;
        Ok(Ok(Injection {
            drill_id: Some(drill.id),
            detected_at: Some(at),
            ..found
        }))
    }

    /// A drill was declared: it detects its team's oldest undetected injection of its
    /// game day, if any (racing drills take one each).
    pub(super) async fn detect(&self, drill: &Incident) -> Result<(), StoreError> {
        let Some(gameday::Drill {
            team,
            gameday: Some(day),
        }) = &drill.drill
        else {
            return Ok(());
        };
        let at = drill.milestones.opened_at.unwrap_or_else(crate::now);
        for _ in 0..3 {
            let injections = self.store.injections(*day).await?;
            let Some(found) = gameday::detected_by(&injections, team, at) else {
                return Ok(());
            };
            if self
                .store
                .link_injection(found.id, drill.id, at, false)
                .await?
            {
                return Ok(());
            }
        }
        Ok(())
    }
}
