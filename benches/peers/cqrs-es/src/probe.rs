//! How fast this machine commits right now: single-row durable commits on
//! one connection (autocommit), so a round can be tagged with the disk's
//! state (its fsync time changes every few minutes on some machines).
//! PostgreSQL, or SQLite with Chronicle's settings (WAL, `synchronous =
//! FULL`) for a `sqlite:` URL: the raw commit that Chronicle's SQLite
//! figures are read against.

use std::error::Error;
use std::str::FromStr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, PgConnection, SqliteConnection};

use crate::drive::{percentile_ms, round};

pub async fn run(database_url: &str, millis: u64) -> Result<Value, Box<dyn Error>> {
    if database_url.starts_with("sqlite:") {
        return sqlite(database_url, millis).await;
    }
    let mut conn = PgConnection::connect(database_url).await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS probe(id bigserial primary key, payload text)")
        .execute(&mut conn)
        .await?;
    let setting = async |conn: &mut PgConnection, name: &str| -> Result<String, sqlx::Error> {
        sqlx::query_scalar::<_, String>(&format!("SHOW {name}"))
            .fetch_one(conn)
            .await
    };
    let synchronous_commit = setting(&mut conn, "synchronous_commit").await?;
    let fsync = setting(&mut conn, "fsync").await?;

    let (latencies, secs) = time_commits(millis, async || {
        sqlx::query("INSERT INTO probe(payload) VALUES ($1)")
            .bind("probe")
            .execute(&mut conn)
            .await
            .map(drop)
    })
    .await?;
    conn.close().await?;
    Ok(summary(
        latencies,
        secs,
        json!({ "synchronous_commit": synchronous_commit, "fsync": fsync }),
    ))
}

/// The same on a SQLite file, created when missing.
async fn sqlite(database_url: &str, millis: u64) -> Result<Value, Box<dyn Error>> {
    let options = SqliteConnectOptions::from_str(database_url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    let mut conn = SqliteConnection::connect_with(&options).await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS probe(id integer primary key, payload text)")
        .execute(&mut conn)
        .await?;
    let (latencies, secs) = time_commits(millis, async || {
        sqlx::query("INSERT INTO probe(payload) VALUES (?1)")
            .bind("probe")
            .execute(&mut conn)
            .await
            .map(drop)
    })
    .await?;
    conn.close().await?;
    Ok(summary(
        latencies,
        secs,
        json!({ "journal_mode": "wal", "synchronous": "full" }),
    ))
}

/// Runs `insert` (one single-row commit) over and over for `millis`: each
/// one's duration, and the seconds they took together.
async fn time_commits(
    millis: u64,
    mut insert: impl AsyncFnMut() -> Result<(), sqlx::Error>,
) -> Result<(Vec<Duration>, f64), sqlx::Error> {
    let mut latencies = Vec::new();
    let start = Instant::now();
    let until = start + Duration::from_millis(millis);
    while Instant::now() < until {
        let t0 = Instant::now();
        insert().await?;
        latencies.push(t0.elapsed());
    }
    Ok((latencies, start.elapsed().as_secs_f64()))
}

/// The probe's line: rate, percentiles, the disk's state, and `settings`.
fn summary(mut latencies: Vec<Duration>, secs: f64, settings: Value) -> Value {
    latencies.sort_unstable();
    let p50 = percentile_ms(&latencies, 0.50);
    let disk = match p50 {
        Some(ms) if ms < 1.0 => "fast",
        _ => "slow",
    };
    let mut line = json!({
        "system": "probe",
        "commits": latencies.len(),
        "seconds": round(secs, 3),
        "commits_per_s": round(latencies.len() as f64 / secs, 1),
        "p50_ms": p50,
        "p99_ms": percentile_ms(&latencies, 0.99),
        "disk": disk,
    });
    if let (Some(line), Value::Object(settings)) = (line.as_object_mut(), settings) {
        line.extend(settings);
    }
    line
}
