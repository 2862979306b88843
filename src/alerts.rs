//! Alerts in: a group from monitoring opens an incident, or counts as a repeat of the one
//! it opened, or tells that incident what changed, through the incidents service (same
//! channel, summary and announcements as a declaration in Slack). One incident per
//! (source, dedup key) while it is not closed, however many replicas post at once.

use chrono::Duration;

use crate::domain::alert::{AlertGroup, AlertStatus, Decision, Rules};
use crate::domain::{Actor, IncidentId, Severity, Status};
use crate::incidents::{Caller, Incidents, Request};
use crate::outbox::SlackJob;
use crate::store::{NewAlert, NewIncident, Store, StoreError};

/// The source and key of the incident that gathers new groups during a storm.
const STORM_SOURCE: &str = "pompier";
const STORM_KEY: &str = "alert-storm";
pub const STORM_TITLE: &str = "Alert storm";

/// Rounds of looking again when another post of the same group got there first.
const ROUNDS: usize = 8;

/// The most groups [`Seen`] remembers before it starts afresh.
const SEEN_AT_MOST: usize = 65_536;

/// What became of a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// `None`: the group waits in the triage channel.
    pub incident: Option<IncidentId>,
    /// It opened the incident.
    pub created: bool,
}

#[derive(Clone)]
pub struct Alerts {
    store: Store,
    incidents: Incidents,
    rules: Rules,
    /// New incidents from alerts in a minute before new groups join the storm's (0:
    /// never).
    storm_after: i64,
    /// Where a resolved group moves its incident, if anywhere.
    resolve_moves_to: Option<Status>,
    seen: Seen,
}

/// The groups this process has had posts of: a hint of which statement to try first
/// (a repeat's `UPDATE`, or the declaring statement for a group never seen), so that
/// each costs one statement in the common case. A wrong hint costs one statement more,
/// nothing else: the store decides.
#[derive(Clone, Default)]
struct Seen(std::sync::Arc<std::sync::Mutex<std::collections::HashSet<u64>>>);

impl Seen {
    /// Whether the group of `source` and `key` was seen before; it is from now on.
    fn check(&self, source: &str, key: &str) -> bool {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let hash = BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .hash_one((source, key));
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= SEEN_AT_MOST {
            seen.clear();
        }
        !seen.insert(hash)
    }
}

impl Alerts {
    pub fn new(
        store: Store,
        incidents: Incidents,
        rules: Rules,
        storm_after: u32,
        resolve_moves_to: Option<Status>,
    ) -> Alerts {
        Alerts {
            store,
            incidents,
            rules,
            storm_after: i64::from(storm_after),
            resolve_moves_to,
            seen: Seen::default(),
        }
    }

    /// Takes one post of `group`.
    pub async fn receive(&self, group: &AlertGroup) -> Result<Received, StoreError> {
        let actor = Actor::Integration {
            source: "alerts".into(),
            name: group.source.clone(),
        };
        let signature = group.signature();
        let decision = self.rules.decide(group);
        let new = NewAlert {
            source: group.source.clone(),
            dedup_key: group.dedup_key.clone(),
            status: group.status,
            title: group.title(),
            url: group.url.clone(),
            signature,
            severity: decision.severity,
        };
        // A group this process never saw is most likely new: open it at once.
        if !self.seen.check(&new.source, &new.dedup_key) {
            match self.open(group, &new, &decision, &actor).await {
                Err(StoreError::Duplicate(_)) => {}
                other => return other,
            }
        }
        for round in 0..ROUNDS {
            if round > 0 {
                // Another post of the group is writing: give it time to commit.
                tokio::time::sleep(std::time::Duration::from_millis(1 << round)).await;
            }
            let now = crate::now();
            if let Some(incident) = self
                .store
                .repeat_alert(&new.source, &new.dedup_key, &new.signature, now)
                .await?
            {
                return Ok(Received {
                    incident,
                    created: false,
                });
            }
            // Most posts that are not repeats are new groups: open one, unless the group
            // is there already (a change, a closed incident, another post opening it).
            match self.open(group, &new, &decision, &actor).await {
                Err(StoreError::Duplicate(_)) => {}
                other => return other,
            }
            match self.store.active_alert(&new.source, &new.dedup_key).await? {
                // Retired: the next round opens it anew.
                Some(active) if active.closed => self.store.retire_alert(active.id).await?,
                Some(active) => {
                    // Told once, however many replicas post the change: the key names the
                    // post it follows. (A group in triage has nobody to tell yet.)
                    let once = format!("alert:{}:{}", active.id, active.count);
                    if let Some(incident) = active.incident_id {
                        self.tell(incident, &actor, group.describe(), &once).await?;
                    }
                    if !self
                        .store
                        .update_alert(active.id, active.count, &new, now)
                        .await?
                    {
                        continue;
                    }
                    if let (Some(incident), AlertStatus::Firing, AlertStatus::Resolved) =
                        (active.incident_id, active.status, group.status)
                    {
                        self.resolved(incident, &actor).await?;
                    }
                    return Ok(Received {
                        incident: active.incident_id,
                        created: false,
                    });
                }
                // Being opened by another post: its repeat is found next round.
                None => {}
            }
        }
        Err(StoreError::Contended(IncidentId(0)))
    }

    /// A new group: its own incident, or the storm's when alerts opened too many of late;
    /// `Duplicate` when the group exists.
    async fn open(
        &self,
        group: &AlertGroup,
        new: &NewAlert,
        decision: &Decision,
        actor: &Actor,
    ) -> Result<Received, StoreError> {
        let now = crate::now();
        if !decision.declare {
            let post = |group| SlackJob::PostTriage { group }.into();
            self.store.triage_alert(new, post, now).await?;
            self.incidents.queued();
            return Ok(Received {
                incident: None,
                created: false,
            });
        }
        if new.source != STORM_SOURCE
            && self.storm_after > 0
            && self
                .store
                .alerts_declared_since(now - Duration::minutes(1), self.storm_after)
                .await?
                >= self.storm_after
        {
            // A change of a group that exists is not a new group of the storm.
            if self
                .store
                .active_alert(&new.source, &new.dedup_key)
                .await?
                .is_some()
            {
                return Err(StoreError::Duplicate(new.dedup_key.clone()));
            }
            let storm = Box::pin(self.receive(&storm_group(new.severity))).await?;
            let incident = storm.incident.ok_or(StoreError::Contended(IncidentId(0)))?;
            self.store.attach_alert(incident, new, now).await?;
            let once = format!("alert:joined:{}:{}", new.source, new.dedup_key);
            self.tell(incident, actor, group.describe(), &once).await?;
            return Ok(Received {
                incident: Some(incident),
                created: false,
            });
        }
        let mut declaring = NewIncident::new(new.title.clone(), new.severity, actor.clone(), now);
        declaring.alert = Some(new.clone());
        // A team that is not configured is none: the alert still opens its incident.
        declaring.team = decision
            .team
            .clone()
            .filter(|t| self.incidents.check_team(t).is_ok());
        let incident = self.incidents.declare_new(declaring).await?;
        Ok(Received {
            incident: Some(incident.id),
            created: true,
        })
    }

    /// Records `note` on incident `id` as `actor`, once per `once`.
    async fn tell(
        &self,
        id: IncidentId,
        actor: &Actor,
        note: String,
        once: &str,
    ) -> Result<(), StoreError> {
        let Some(member) = self.incidents.as_member(id, &integration(actor)).await? else {
            return Err(StoreError::NotFound(id));
        };
        match self
            .incidents
            .apply_once(&member, &Request::Alert(note), Some(once))
            .await
        {
            Ok(_) | Err(StoreError::Duplicate(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The group behind incident `id` is resolved: moved as `alerts.resolve_moves_to`
    /// says, when the lifecycle lets it.
    async fn resolved(&self, id: IncidentId, actor: &Actor) -> Result<(), StoreError> {
        let Some(to) = self.resolve_moves_to else {
            return Ok(());
        };
        if let Some(member) = self.incidents.as_member(id, &integration(actor)).await? {
            let note = Some("Its alerts are resolved.".to_owned());
            // Already there or past it: nothing to do.
            self.incidents
                .apply(&member, &Request::Move { to, note })
                .await?;
        }
        Ok(())
    }
}

/// An integration acts on the incidents its alerts opened, private or not.
fn integration(actor: &Actor) -> Caller {
    Caller {
        actor: actor.clone(),
        channel: None,
        operator: true,
    }
}

/// The group that stands for a storm.
fn storm_group(severity: Severity) -> AlertGroup {
    AlertGroup {
        source: STORM_SOURCE.into(),
        dedup_key: STORM_KEY.into(),
        status: AlertStatus::Firing,
        title: Some(STORM_TITLE.into()),
        severity: Some(severity),
        labels: Default::default(),
        annotations: Default::default(),
        url: None,
        alerts: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_is_seen_from_its_first_post_on() {
        let seen = Seen::default();
        assert!(!seen.check("alertmanager", "{}:{a=\"1\"}"));
        assert!(seen.check("alertmanager", "{}:{a=\"1\"}"));
        assert!(!seen.check("grafana", "{}:{a=\"1\"}"));
        for n in 0..SEEN_AT_MOST {
            seen.check("x", &n.to_string());
        }
        // Full: it starts afresh rather than grow.
        assert!(!seen.check("alertmanager", "{}:{a=\"1\"}"));
    }
}
