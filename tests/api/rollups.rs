//! The statistics' daily rollups against the incidents themselves, on both databases.
//! Random histories (declarations, moves and reopenings, severity and class changes,
//! drills, updates) are folded in random batches at random moments, while the server's
//! own folder runs too. The statistics from the rollups then equal those read from the
//! incidents: counts and means exactly, percentiles within the stated 1%. The same
//! holds after `pompier stats rebuild`.

use chrono::{DateTime, Duration, Utc};
use pompier::domain::stats::{Stats, Summary, Times};
use pompier::domain::{Policy, Severity, SlackUserId, Status, Team};
use pompier::store::{Filter, NewIncident};

use crate::helpers::{spawn_app, spawn_app_with, Backend, TestApp};

/// A fixed-seed generator (64-bit LCG): each history is the same on every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n.max(1)
    }
}

fn user() -> SlackUserId {
    "U0STATS".parse().unwrap()
}

/// 2026-08-06 13:37:05 UTC, mid-afternoon: ranges from here have partial days at each end.
fn base() -> DateTime<Utc> {
    DateTime::from_timestamp(1_786_023_425, 0).unwrap()
}

const CLASSES: [&str; 3] = ["capacity", "change", "dependency"];

/// `n` incidents opened over ten weeks from `base()`, each walked through a random
/// history; a fold of a random batch now and then.
async fn history(app: &TestApp, rng: &mut Lcg, n: usize) {
    let policy = Policy::default();
    let team: Team = "payments".parse().unwrap();
    for k in 0..n {
        let mut at = base() + Duration::seconds(rng.below(70 * 86_400) as i64);
        let severity = Severity::ALL[rng.below(4) as usize];
        let incident = app
            .store
            .declare(
                NewIncident {
                    drill: (rng.below(8) == 0).then(|| team.clone()),
                    ..NewIncident::new(format!("incident {k}"), severity, user(), at)
                },
                &[],
            )
            .await
            .unwrap();
        for _ in 0..rng.below(7) {
            // From a millisecond to three days later; sometimes the same instant.
            at += match rng.below(5) {
                0 => Duration::zero(),
                1 => Duration::milliseconds(rng.below(900) as i64 + 1),
                _ => Duration::seconds(rng.below(3 * 86_400) as i64 + 1),
            };
            let pick = rng.below(10);
            let to = Status::ALL[rng.below(6) as usize];
            let new_severity = Severity::ALL[rng.below(4) as usize];
            let late = rng.below(3) == 0;
            let _ = app
                .store
                .change(
                    incident.id,
                    |inc| match pick {
                        0 => inc.set_severity(new_severity, &user().into(), at),
                        1 => {
                            let mut change = inc.add_note("update".into(), &user().into(), at)?;
                            change.after.updates.total += 1;
                            change.after.updates.late += i64::from(late);
                            Ok(change)
                        }
                        _ => inc.move_to(to, &user().into(), None, at, &policy),
                    },
                    |_| vec![],
                )
                .await;
            if rng.below(6) == 0 {
                let class = CLASSES[rng.below(3) as usize];
                app.store
                    .set_failure_class(incident.id, class, &[])
                    .await
                    .unwrap();
            }
        }
        if rng.below(5) == 0 {
            app.store
                .fold_stats(rng.below(40) as i64 + 1)
                .await
                .unwrap();
        }
    }
}

fn close(approx: Option<f64>, exact: Option<f64>, bound: f64, what: &str) {
    match (approx, exact) {
        (Some(a), Some(e)) => assert!(
            (a - e).abs() <= bound * e.abs() + 1e-3,
            "{what}: {a} from the rollups, {e} exact"
        ),
        (a, e) => assert_eq!(a, e, "{what}"),
    }
}

fn same_summary(rolled: &Summary, exact: &Summary, what: &str) {
    assert_eq!(rolled.count, exact.count, "{what}: count");
    close(rolled.mean, exact.mean, 1e-9, &format!("{what}: mean"));
    close(
        rolled.median,
        exact.median,
        0.01,
        &format!("{what}: median"),
    );
    close(rolled.p90, exact.p90, 0.01, &format!("{what}: p90"));
}

fn same_times(rolled: &Times, exact: &Times, what: &str) {
    same_summary(
        &rolled.time_to_acknowledge,
        &exact.time_to_acknowledge,
        &format!("{what} acknowledge"),
    );
    same_summary(
        &rolled.time_to_mitigate,
        &exact.time_to_mitigate,
        &format!("{what} mitigate"),
    );
    same_summary(
        &rolled.time_to_resolve,
        &exact.time_to_resolve,
        &format!("{what} resolve"),
    );
}

/// The statistics of `from`..`to` through `filter`, from the rollups and exact, agree.
async fn agree(app: &TestApp, from: DateTime<Utc>, to: DateTime<Utc>, filter: &Filter) -> Stats {
    let exact = app.store.tally(from, to, filter, u64::MAX).await.unwrap();
    let rolled = app.store.tally(from, to, filter, 0).await.unwrap();
    let (exact, rolled) = (exact.stats(from, to, 0), rolled.stats(from, to, 0));
    assert_eq!(exact.percentiles, "exact");
    assert_eq!(rolled.percentiles, "approx_1pct", "{from}..{to}");
    assert!(
        exact.total > 0,
        "the history puts incidents in {from}..{to}"
    );
    assert_eq!(rolled.total, exact.total);
    assert_eq!(rolled.by_severity, exact.by_severity);
    assert_eq!(rolled.by_status, exact.by_status);
    assert_eq!(rolled.per_week, exact.per_week);
    assert_eq!(rolled.by_class, exact.by_class);
    assert_eq!(rolled.updates, exact.updates);
    close(
        rolled.postmortem_coverage,
        exact.postmortem_coverage,
        1e-12,
        "coverage",
    );
    same_times(&rolled.times, &exact.times, "overall");
    assert_eq!(
        rolled.by_severity_times.keys().collect::<Vec<_>>(),
        exact.by_severity_times.keys().collect::<Vec<_>>()
    );
    for (severity, times) in &exact.by_severity_times {
        same_times(&rolled.by_severity_times[severity], times, severity);
    }
    rolled
}

async fn ranges_agree(app: &TestApp) {
    let day = Duration::days(1);
    let all = Filter::default();
    let whole = agree(app, base() - day, base() + day * 80, &all).await;
    assert!(whole.total > 100, "{}", whole.total);
    assert!(whole.times.time_to_resolve.count > 20);
    // Partial days at both ends, from mid-afternoon to a morning.
    agree(
        app,
        base() + day * 9 + Duration::hours(3),
        base() + day * 40 - Duration::hours(5),
        &all,
    )
    .await;
    // From midnight to midnight: whole days only, the last one's first instant kept.
    let midnight = base().date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
    agree(app, midnight + day * 3, midnight + day * 30, &all).await;
    // What the rollups keep as dimensions: severities, statuses, drills.
    let serious = Filter {
        severities: vec![Severity::Sev1, Severity::Sev2],
        ..Filter::default()
    };
    agree(app, base(), base() + day * 75, &serious).await;
    let done = Filter {
        statuses: vec![Status::Resolved, Status::Postmortem, Status::Closed],
        ..Filter::default()
    };
    agree(app, base(), base() + day * 75, &done).await;
    let drills = Filter {
        drills: true,
        ..Filter::default()
    };
    let with_drills = agree(app, base(), base() + day * 75, &drills).await;
    let without = agree(app, base(), base() + day * 75, &all).await;
    assert!(
        with_drills.total > without.total,
        "drills are counted apart"
    );
}

async fn rollups_agree_with_the_incidents(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut rng = Lcg(7);
    history(&app, &mut rng, 150).await;
    // Some changes folded, some still in the log.
    ranges_agree(&app).await;
    // Everything folded.
    while app.store.fold_stats(1000).await.unwrap() > 0 {}
    ranges_agree(&app).await;
    // More history on top of folded days, then a rebuild from the incidents.
    history(&app, &mut rng, 60).await;
    ranges_agree(&app).await;
    assert_eq!(app.store.rebuild_stats().await.unwrap(), 210);
    ranges_agree(&app).await;
    // Nothing left to fold after a rebuild.
    assert_eq!(app.store.fold_stats(1000).await.unwrap(), 0);
}

/// Through HTTP: a range with more incidents than `stats.exact_up_to` in its whole days
/// says its percentiles are sketched, and the dashboard says so too; under it they are
/// exact.
async fn the_answer_says_how_exact_its_percentiles_are(backend: Backend) {
    let app = spawn_app_with(backend, &[("POMPIER_STATS__EXACT_UP_TO", "20")]).await;
    let mut rng = Lcg(11);
    history(&app, &mut rng, 40).await;
    let query = |from: DateTime<Utc>, to: DateTime<Utc>| {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("from", &from.to_rfc3339())
            .append_pair("to", &to.to_rfc3339())
            .finish()
    };
    let wide = query(base(), base() + Duration::days(75));
    let s = app.api_get(&format!("/api/v1/stats?{wide}")).await;
    assert_eq!(s["percentiles"], "approx_1pct", "{s}");
    // Twelve days hold fewer than 20.
    let narrow = query(base(), base() + Duration::days(12));
    let s = app.api_get(&format!("/api/v1/stats?{narrow}")).await;
    assert_eq!(s["percentiles"], "exact", "{s}");
    let page = app
        .client
        .get(app.url(&format!(
            "/dashboard?from={}&to={}",
            base().format("%Y-%m-%d"),
            (base() + Duration::days(75)).format("%Y-%m-%d")
        )))
        .bearer_auth(crate::helpers::API_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("within 1%"), "{page}");
}

crate::on_both_backends!(
    rollups_agree_with_the_incidents,
    the_answer_says_how_exact_its_percentiles_are
);
