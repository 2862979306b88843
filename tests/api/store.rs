//! The store contract, checked the same way on both backends.

use std::collections::BTreeMap;

use pompier::domain::{EventKind, Incident, Policy, Rejected, Severity, SlackUserId, Status};
use pompier::store::{Filter, NewIncident, Store, StoreError};

use crate::helpers::{settings, Backend, TestDb};

async fn store(backend: Backend) -> (Store, TestDb) {
    let db = TestDb::new(backend).await;
    let store = pompier::open_store(&settings(&db, "http://127.0.0.1:9/api", &[]))
        .await
        .unwrap();
    (store, db)
}

/// No jobs for a change.
fn none(_: &pompier::domain::Change) -> Vec<pompier::outbox::Job> {
    vec![]
}

fn user(id: &str) -> SlackUserId {
    id.parse().unwrap()
}

async fn declared(store: &Store, title: &str) -> Incident {
    store
        .declare(
            NewIncident {
                once: None,
                first_events: vec![],
                drill: None,
                private: false,
                team: None,
                answers: None,
                alert: None,
                from_triage: None,
                tell_in: None,
                title: title.into(),
                severity: Severity::Sev2,
                declared_by: user("U1").into(),
                at: pompier::now(),
            },
            &[],
        )
        .await
        .unwrap()
}

async fn what_is_written_reads_back_the_same(backend: Backend) {
    let (store, _db) = store(backend).await;
    let incident = declared(&store, "Ünïcödé 🔥 & <b>").await;
    assert_eq!(
        store.get(incident.id).await.unwrap(),
        Some(incident.clone())
    );
    let at = pompier::now();
    let change = store
        .change(
            incident.id,
            |i| {
                i.move_to(
                    Status::Resolved,
                    &user("U2").into(),
                    None,
                    at,
                    &Policy::default(),
                )
            },
            none,
        )
        .await
        .unwrap();
    let read = store.get(incident.id).await.unwrap().unwrap();
    assert_eq!(read, change.after);
    assert_eq!(read.milestones.resolved_at, Some(at));
    let timeline = store.timeline(incident.id).await.unwrap();
    assert_eq!(timeline.last(), Some(&change.event));
    // Migrations run twice are a no-op.
    store.migrate().await.unwrap();
    assert!(store.get(incident.id).await.unwrap().is_some());
}

async fn a_rejected_change_writes_nothing(backend: Backend) {
    let (store, _db) = store(backend).await;
    let incident = declared(&store, "x").await;
    let result = store
        .change(
            incident.id,
            |i| {
                i.move_to(
                    Status::Closed,
                    &user("U2").into(),
                    None,
                    pompier::now(),
                    &Policy::default(),
                )
            },
            none,
        )
        .await;
    assert!(
        matches!(result, Err(StoreError::Rejected(Rejected::Refused(_)))),
        "{result:?}"
    );
    assert_eq!(
        store.get(incident.id).await.unwrap(),
        Some(incident.clone())
    );
    assert_eq!(store.timeline(incident.id).await.unwrap().len(), 1);
    let missing = store
        .change(
            pompier::domain::IncidentId(999),
            |i| i.add_note("n".into(), &user("U1").into(), pompier::now()),
            none,
        )
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))));
}

async fn concurrent_writers_lose_no_update(backend: Backend) {
    let (store, _db) = store(backend).await;
    let incident = declared(&store, "busy").await;
    let writers = (0..20).map(|i| {
        let store = store.clone();
        let id = incident.id;
        tokio::spawn(async move {
            let at = pompier::now();
            if i % 2 == 0 {
                store
                    .change(
                        id,
                        |inc| inc.add_note(format!("note {i}"), &user("U1").into(), at),
                        none,
                    )
                    .await
            } else {
                let role = format!("r{i}").parse().unwrap();
                store
                    .change(
                        id,
                        |inc| inc.assign(&role, &user(&format!("U{i}")), &user("U1").into(), at),
                        none,
                    )
                    .await
            }
        })
    });
    for writer in futures::future::join_all(writers).await {
        writer.unwrap().unwrap();
    }
    let after = store.get(incident.id).await.unwrap().unwrap();
    assert_eq!(after.version, incident.version + 20);
    assert_eq!(after.roles.len(), 10);
    let timeline = store.timeline(incident.id).await.unwrap();
    assert_eq!(
        timeline
            .iter()
            .filter(|e| e.kind == EventKind::Note)
            .count(),
        10
    );
    assert_eq!(
        timeline
            .iter()
            .filter(|e| e.kind == EventKind::Role)
            .count(),
        10
    );
}

async fn channels_find_their_incident(backend: Backend) {
    let (store, _db) = store(backend).await;
    let incident = declared(&store, "x").await;
    let channel = "C0CHAN".parse().unwrap();
    assert_eq!(store.find_by_channel(&channel).await.unwrap(), None);
    store.set_channel(incident.id, &channel).await.unwrap();
    assert_eq!(
        store.find_by_channel(&channel).await.unwrap(),
        Some(incident.id)
    );
    let read = store.get(incident.id).await.unwrap().unwrap();
    assert_eq!(read.channel_id, Some(channel));
    assert_eq!(read.roles, BTreeMap::new());
}

async fn list_is_newest_first_and_pages_without_gaps(backend: Backend) {
    let (store, _db) = store(backend).await;
    // Several incidents opened at the same instant: the id breaks the tie.
    let at = pompier::now();
    let mut ids = vec![];
    for i in 0..5 {
        let incident = store
            .declare(
                NewIncident {
                    once: None,
                    first_events: vec![],
                    drill: None,
                    private: false,
                    team: None,
                    answers: None,
                    alert: None,
                    from_triage: None,
                    tell_in: None,
                    title: format!("t{i}"),
                    severity: Severity::Sev4,
                    declared_by: user("U1").into(),
                    at,
                },
                &[],
            )
            .await
            .unwrap();
        ids.push(incident.id);
    }
    ids.reverse();
    let mut seen = vec![];
    let mut filter = Filter {
        limit: 2,
        ..Default::default()
    };
    loop {
        let page = store.list(&filter).await.unwrap();
        seen.extend(page.incidents.iter().map(|i| i.id));
        match page.next {
            Some(next) => filter.after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ids);
}

/// Declarations arriving together (on PostgreSQL, written several to a statement):
/// each gets its own incident, its `declared` event and its job rows in order, and a
/// delivery key sent again among them refuses only that declaration.
async fn declarations_at_once_each_get_their_own_rows(backend: Backend) {
    use pompier::outbox::{JiraJob, Job, SlackJob};
    let (store, _db) = store(backend).await;
    let jobs: Vec<Job> = vec![
        SlackJob::CreateChannel.into(),
        SlackJob::SetTopic.into(),
        SlackJob::AnnounceDeclared.into(),
        Job::Jira(JiraJob::JiraIncidentIssue),
    ];
    // Polled together, they queue together: a statement takes them all at once.
    let at_once = |numbers: std::ops::Range<usize>, key: fn(usize) -> usize| {
        let declarations = numbers.map(|i| {
            let (store, jobs) = (store.clone(), jobs.clone());
            async move {
                let severity = if i % 2 == 0 {
                    Severity::Sev1
                } else {
                    Severity::Sev3
                };
                let mut new = NewIncident::new(
                    format!("at once {i}"),
                    severity,
                    user(&format!("U{i}")),
                    pompier::now(),
                );
                new.once = Some(format!("delivery {}", key(i)));
                (i, store.declare(new, &jobs).await)
            }
        });
        futures::future::join_all(declarations)
    };
    let mut ids = std::collections::BTreeSet::new();
    let mut refused = vec![];
    let first = at_once(0..40, |i| i).await;
    // Declaration 45 sends declaration 5's key again.
    let second = at_once(40..60, |i| if i == 45 { 5 } else { i }).await;
    for (i, result) in first.into_iter().chain(second) {
        match result {
            Ok(incident) => {
                assert_eq!(incident.title, format!("at once {i}"), "another's row");
                assert_eq!(incident.declared_by.to_string(), format!("U{i}"));
                assert!(ids.insert(incident.id), "one id for two declarations");
                assert_eq!(
                    store.get(incident.id).await.unwrap(),
                    Some(incident.clone())
                );
                let timeline = store.timeline(incident.id).await.unwrap();
                assert_eq!(timeline.len(), 1);
                assert_eq!(timeline[0].kind, EventKind::Declared);
                assert_eq!(timeline[0].actor.to_string(), format!("U{i}"));
                let rows = store.jobs_of(incident.id).await.unwrap();
                let kinds: Vec<(&str, &str, &str)> = rows
                    .iter()
                    .map(|j| (j.service.as_str(), j.kind.as_str(), j.state.as_str()))
                    .collect();
                assert_eq!(
                    kinds,
                    [
                        ("slack", "create_channel", "pending"),
                        ("slack", "announce_declared", "queued"),
                        ("jira", "jira_incident_issue", "pending"),
                    ],
                    "declaration {i}'s jobs"
                );
                assert!(rows[0].payload.contains("set_topic"), "the setup's steps");
            }
            Err(StoreError::Duplicate(key)) => refused.push((i, key)),
            Err(e) => panic!("declaration {i}: {e}"),
        }
    }
    assert_eq!(refused, [(45, "delivery 5".to_string())]);
    assert_eq!(ids.len(), 59);
    let page = store
        .list(&Filter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.incidents.len(), 59, "an incident of no declaration");
}

crate::on_both_backends!(
    what_is_written_reads_back_the_same,
    a_rejected_change_writes_nothing,
    concurrent_writers_lose_no_update,
    channels_find_their_incident,
    list_is_newest_first_and_pages_without_gaps,
    declarations_at_once_each_get_their_own_rows,
);
