//! pompier-seed: fills a database with realistic incidents and their events, for the
//! statistics benchmark: a severity mix, long-tailed durations (log-normal), reopened
//! incidents, postmortems for most SEV1/SEV2, recent incidents still open.
//!
//!   pompier-seed --database-url postgres://postgres@127.0.0.1/bench --incidents 1000000
//!
//! Bounded by `--incidents`; the database is migrated first and should be empty.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use clap::Parser;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use pompier::config::Settings;

#[derive(Parser)]
#[command(name = "pompier-seed", version)]
struct Args {
    #[arg(long)]
    database_url: String,
    #[arg(long, default_value_t = 100_000)]
    incidents: u64,
    /// Incidents are spread over this many days, ending now.
    #[arg(long, default_value_t = 1095)]
    days: i64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

struct Incident {
    severity: &'static str,
    status: &'static str,
    opened: DateTime<Utc>,
    investigating: Option<DateTime<Utc>>,
    mitigated: Option<DateTime<Utc>>,
    resolved: Option<DateTime<Utc>>,
    postmortem: Option<DateTime<Utc>>,
    closed: Option<DateTime<Utc>>,
    /// (at, from, to) of each status event.
    moves: Vec<(DateTime<Utc>, &'static str, &'static str)>,
}

/// Seconds drawn from a log-normal distribution with this median and spread.
fn long_tail(rng: &mut StdRng, median_secs: f64, sigma: f64) -> Duration {
    let (u1, u2): (f64, f64) = (rng.gen_range(1e-12..1.0), rng.gen());
    let normal = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    Duration::microseconds((median_secs * (sigma * normal).exp() * 1e6) as i64)
}

fn make(rng: &mut StdRng, now: DateTime<Utc>, days: i64) -> Incident {
    let opened = now - Duration::seconds(rng.gen_range(0..days * 86_400));
    let severity = match rng.gen_range(0..100) {
        0..=2 => "SEV1",
        3..=14 => "SEV2",
        15..=59 => "SEV3",
        _ => "SEV4",
    };
    let ack = opened + long_tail(rng, 300.0, 1.0);
    let mitigate = ack + long_tail(rng, 1800.0, 1.2);
    let resolve = mitigate + long_tail(rng, 3600.0, 1.3);
    let mut i = Incident {
        severity,
        status: "open",
        opened,
        investigating: None,
        mitigated: None,
        resolved: None,
        postmortem: None,
        closed: None,
        moves: vec![],
    };
    let step = |i: &mut Incident, at: DateTime<Utc>, to: &'static str| {
        if at > now {
            return false;
        }
        i.moves.push((at, i.status, to));
        i.status = to;
        true
    };
    if !step(&mut i, ack, "investigating") {
        return i;
    }
    i.investigating = Some(ack);
    if !step(&mut i, mitigate, "mitigated") {
        return i;
    }
    i.mitigated = Some(mitigate);
    if !step(&mut i, resolve, "resolved") {
        return i;
    }
    i.resolved = Some(resolve);
    // One in twenty comes back, and is resolved again later.
    if rng.gen_range(0..20) == 0 {
        let back = resolve + long_tail(rng, 1800.0, 1.0);
        let again = back + long_tail(rng, 3600.0, 1.0);
        if step(&mut i, back, "investigating") {
            i.mitigated = None;
            i.resolved = None;
            if !step(&mut i, again, "resolved") {
                return i;
            }
            i.mitigated = Some(again);
            i.resolved = Some(again);
        } else {
            return i;
        }
    }
    let serious = matches!(severity, "SEV1" | "SEV2");
    let end = i.resolved.unwrap_or(resolve);
    if serious || rng.gen_range(0..10) == 0 {
        if rng.gen_range(0..10) < 8 {
            let pm = end + Duration::hours(rng.gen_range(1..72));
            if !step(&mut i, pm, "postmortem") {
                return i;
            }
            i.postmortem = Some(pm);
            let close = pm + Duration::days(rng.gen_range(1..14));
            if step(&mut i, close, "closed") {
                i.closed = Some(close);
            }
        }
    } else {
        let close = end + Duration::hours(rng.gen_range(1..48));
        if step(&mut i, close, "closed") {
            i.closed = Some(close);
        }
    }
    i
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let settings = Settings::load(
        None,
        [("DATABASE_URL".to_owned(), args.database_url.clone())],
    )?;
    let store = pompier::open_store(&settings).await?;
    store.close().await;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let now = pompier::now();
    let started = Instant::now();
    let postgres = !args.database_url.starts_with("sqlite:");
    const BATCH: u64 = 2_000;
    let mut done = 0;
    if postgres {
        let pool = sqlx::PgPool::connect(&args.database_url).await?;
        while done < args.incidents {
            let n = BATCH.min(args.incidents - done);
            let batch: Vec<Incident> = (0..n).map(|_| make(&mut rng, now, args.days)).collect();
            insert_postgres(&pool, &batch).await?;
            done += n;
        }
        sqlx::query("VACUUM ANALYZE incidents")
            .execute(&pool)
            .await?;
        sqlx::query("VACUUM ANALYZE events").execute(&pool).await?;
    } else {
        let pool = sqlx::SqlitePool::connect(&args.database_url).await?;
        while done < args.incidents {
            let n = BATCH.min(args.incidents - done);
            let batch: Vec<Incident> = (0..n).map(|_| make(&mut rng, now, args.days)).collect();
            insert_sqlite(&pool, &batch).await?;
            done += n;
        }
        sqlx::query("ANALYZE").execute(&pool).await?;
    }
    println!(
        "seeded {} incidents over {} days in {:.1}s",
        args.incidents,
        args.days,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// One batch: the incidents with `unnest` of arrays, then their events.
async fn insert_postgres(pool: &sqlx::PgPool, batch: &[Incident]) -> anyhow::Result<()> {
    let col = |f: &dyn Fn(&Incident) -> Option<DateTime<Utc>>| -> Vec<Option<DateTime<Utc>>> {
        batch.iter().map(f).collect()
    };
    let mut tx = pool.begin().await?;
    let ids: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO incidents (title, severity, status, declared_by, opened_at, investigating_at, \
         mitigated_at, resolved_at, postmortem_at, closed_at) \
         SELECT 'Seeded incident', * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], \
         $5::timestamptz[], $6::timestamptz[], $7::timestamptz[], $8::timestamptz[], $9::timestamptz[]) \
         RETURNING id",
    )
    .bind(batch.iter().map(|i| i.severity).collect::<Vec<_>>())
    .bind(batch.iter().map(|i| i.status).collect::<Vec<_>>())
    .bind(vec!["U0SEED"; batch.len()])
    .bind(batch.iter().map(|i| i.opened).collect::<Vec<_>>())
    .bind(col(&|i| i.investigating))
    .bind(col(&|i| i.mitigated))
    .bind(col(&|i| i.resolved))
    .bind(col(&|i| i.postmortem))
    .bind(col(&|i| i.closed))
    .fetch_all(&mut *tx)
    .await?;
    let (mut incident, mut at, mut kind, mut from, mut to) =
        (vec![], vec![], vec![], vec![], vec![]);
    for (id, i) in ids.iter().zip(batch) {
        incident.push(*id);
        at.push(i.opened);
        kind.push("declared");
        from.push(None);
        to.push("open");
        for (when, f, t) in &i.moves {
            incident.push(*id);
            at.push(*when);
            kind.push("status");
            from.push(Some(*f));
            to.push(*t);
        }
    }
    sqlx::query(
        "INSERT INTO events (incident_id, at, kind, actor, from_value, to_value) \
         SELECT i, a, k, 'U0SEED', f, t FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], \
         $4::text[], $5::text[]) AS e(i, a, k, f, t)",
    )
    .bind(incident)
    .bind(at)
    .bind(kind)
    .bind(from)
    .bind(to)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn insert_sqlite(pool: &sqlx::SqlitePool, batch: &[Incident]) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    for i in batch {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO incidents (title, severity, status, declared_by, opened_at, investigating_at, \
             mitigated_at, resolved_at, postmortem_at, closed_at) \
             VALUES ('Seeded incident', $1, $2, 'U0SEED', $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(i.severity)
        .bind(i.status)
        .bind(i.opened)
        .bind(i.investigating)
        .bind(i.mitigated)
        .bind(i.resolved)
        .bind(i.postmortem)
        .bind(i.closed)
        .fetch_one(&mut *tx)
        .await?;
        let events = std::iter::once((i.opened, None, "open", "declared"))
            .chain(i.moves.iter().map(|(a, f, t)| (*a, Some(*f), *t, "status")));
        for (at, from, to, kind) in events {
            sqlx::query(
                "INSERT INTO events (incident_id, at, kind, actor, from_value, to_value) \
                 VALUES ($1, $2, $3, 'U0SEED', $4, $5)",
            )
            .bind(id)
            .bind(at)
            .bind(kind)
            .bind(from)
            .bind(to)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}
