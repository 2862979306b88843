//! PostgreSQL: the lane of kept connections (`store::lane`), seen from the
//! server's side (`pg_stat_activity`) and through the store.

use std::time::{Duration, Instant};

use pompier::domain::{Incident, Severity};
use pompier::store::{NewIncident, Store, StoreError};
use sqlx::{Connection, PgConnection};

use crate::helpers::{settings, skip, Backend, TestDb};

/// A store on a PostgreSQL database of its own, with `max_connections` connections in
/// all (half of them the lane, leaving the pool at least four), and a connection of the
/// test's own to watch it.
async fn store(max_connections: &str) -> Option<(Store, PgConnection, TestDb)> {
    store_with(&[("POMPIER_DATABASE__MAX_CONNECTIONS", max_connections)]).await
}

async fn store_with(env: &[(&str, &str)]) -> Option<(Store, PgConnection, TestDb)> {
    if skip(Backend::Postgres) {
        return None;
    }
    let db = TestDb::new(Backend::Postgres).await;
    let settings = settings(&db, "http://127.0.0.1:9/api", env);
    let store = pompier::open_store(&settings).await.unwrap();
    let watcher = PgConnection::connect(&db.url).await.unwrap();
    Some((store, watcher, db))
}

async fn declare(store: &Store, title: &str) -> Result<Incident, StoreError> {
    let by: pompier::domain::SlackUserId = "U1".parse().unwrap();
    let new = NewIncident::new(title.into(), Severity::Sev2, by, pompier::now());
    store.declare(new, &[]).await
}

/// The store's connections to the database, as the server counts them.
async fn connections(watcher: &mut PgConnection) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_one(watcher)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_connection_that_died_while_idle_is_replaced() {
    let Some((store, mut watcher, _db)) = store("16").await else {
        return;
    };
    declare(&store, "first").await.unwrap();
    // A restart or a firewall ends every connection the store holds, the kept one too.
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut watcher)
    .await
    .unwrap();
    assert!(!ended.is_empty(), "the store kept no connection");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let second = declare(&store, "second").await.unwrap();
    assert_eq!(second.title, "second");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_cut_short_frees_its_place_and_leaves_nothing_to_the_next() {
    // One connection in the lane (five in all, the pool keeps four): the next
    // declaration would get the cut one's.
    let Some((store, mut watcher, _db)) = store("5").await else {
        return;
    };
    declare(&store, "warm").await.unwrap();
    let mut lock = watcher.begin().await.unwrap();
    sqlx::query("LOCK TABLE incidents IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let cut = tokio::time::timeout(Duration::from_millis(300), declare(&store, "cut")).await;
    assert!(cut.is_err(), "the declaration went through a locked table");
    lock.rollback().await.unwrap();
    for title in ["next", "after"] {
        let incident = tokio::time::timeout(Duration::from_secs(5), declare(&store, title))
            .await
            .expect("the lane is stuck")
            .unwrap();
        assert_eq!(incident.title, title);
        let read = store.get(incident.id).await.unwrap().unwrap();
        assert_eq!(read.title, title, "another statement's answer");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declarations_queue_for_the_lane_and_the_budget_holds() {
    let Some((store, mut watcher, _db)) = store("5").await else {
        return;
    };
    // Fifty declarations and fifty reads at once, on one kept connection and four in the
    // pool: each waits its turn, none waits out the two-second acquire timeout.
    let started = Instant::now();
    let writes = (0..50).map(|i| {
        let store = store.clone();
        tokio::spawn(async move { declare(&store, &format!("storm {i}")).await })
    });
    let reads = (0..50).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.list(&Default::default()).await.map(|_| ()) })
    });
    let (writes, reads) = futures::future::join(
        futures::future::join_all(writes),
        futures::future::join_all(reads),
    )
    .await;
    for write in writes {
        write.unwrap().unwrap();
    }
    for read in reads {
        read.unwrap().unwrap();
    }
    eprintln!("50 declarations and 50 reads took {:?}", started.elapsed());
    let open = connections(&mut watcher).await;
    assert!(open <= 5, "{open} connections for a budget of 5");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM incidents")
        .fetch_one(&mut watcher)
        .await
        .unwrap();
    assert_eq!(count, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_store_closes_its_kept_connections() {
    let Some((store, mut watcher, _db)) = store("16").await else {
        return;
    };
    declare(&store, "one").await.unwrap();
    assert!(connections(&mut watcher).await >= 1);
    store.close().await;
    let start = Instant::now();
    loop {
        let open = connections(&mut watcher).await;
        if open == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{open} connections left after close"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        declare(&store, "late").await.is_err(),
        "a closed store declared"
    );
}

/// Locks the incidents table from `watcher`, then starts four declarations a moment
/// apart: each statement under way waits for the lock, and a declaration after them
/// queues.
async fn four_behind_a_lock<'c>(
    store: &Store,
    watcher: &'c mut PgConnection,
) -> (
    sqlx::Transaction<'c, sqlx::Postgres>,
    Vec<tokio::task::JoinHandle<Result<Incident, StoreError>>>,
) {
    let mut lock = watcher.begin().await.unwrap();
    sqlx::query("LOCK TABLE incidents IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let mut waiting = vec![];
    for i in 0..4 {
        let store = store.clone();
        waiting.push(tokio::spawn(async move {
            declare(&store, &format!("under way {i}")).await
        }));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (lock, waiting)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declaration_given_up_while_it_queued_is_not_written() {
    let Some((store, mut watcher, _db)) = store("16").await else {
        return;
    };
    declare(&store, "warm").await.unwrap();
    let (lock, mut waiting) = four_behind_a_lock(&store, &mut watcher).await;
    // Its request's deadline: the caller gives up, and its client may declare again.
    let gave_up =
        tokio::time::timeout(Duration::from_millis(300), declare(&store, "gave up")).await;
    assert!(gave_up.is_err(), "declared through a locked table");
    let store2 = store.clone();
    waiting.push(tokio::spawn(async move { declare(&store2, "after").await }));
    tokio::time::sleep(Duration::from_millis(100)).await;
    lock.rollback().await.unwrap();
    for declared in waiting {
        tokio::time::timeout(Duration::from_secs(5), declared)
            .await
            .expect("a declaration stuck after the lock")
            .unwrap()
            .unwrap();
    }
    let titles: Vec<String> = sqlx::query_scalar("SELECT title FROM incidents ORDER BY id")
        .fetch_all(&mut watcher)
        .await
        .unwrap();
    assert!(!titles.contains(&"gave up".to_string()), "{titles:?}");
    assert_eq!(titles.len(), 6, "{titles:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declaration_queued_past_the_acquire_timeout_fails_and_is_not_written() {
    let Some((store, mut watcher, _db)) =
        store_with(&[("POMPIER_DATABASE__ACQUIRE_TIMEOUT_SECS", "1")]).await
    else {
        return;
    };
    declare(&store, "warm").await.unwrap();
    let (lock, under_way) = four_behind_a_lock(&store, &mut watcher).await;
    let store2 = store.clone();
    let queued = tokio::spawn(async move { declare(&store2, "queued").await });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    lock.rollback().await.unwrap();
    let queued = tokio::time::timeout(Duration::from_secs(5), queued)
        .await
        .expect("the queued declaration never answered")
        .unwrap();
    assert!(
        matches!(queued, Err(StoreError::Database(sqlx::Error::PoolTimedOut))),
        "{queued:?}"
    );
    for declared in under_way {
        declared.await.unwrap().unwrap();
    }
    let titles: Vec<String> = sqlx::query_scalar("SELECT title FROM incidents ORDER BY id")
        .fetch_all(&mut watcher)
        .await
        .unwrap();
    assert!(!titles.contains(&"queued".to_string()), "{titles:?}");
    assert_eq!(titles.len(), 5, "{titles:?}");
}
