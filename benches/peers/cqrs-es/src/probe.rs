//! How fast this machine commits right now: single-row durable commits on
//! one connection (autocommit), so a round can be tagged with the disk's
//! state (its fsync time changes every few minutes on some machines).

use std::error::Error;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};

use crate::drive::{percentile_ms, round};

pub async fn run(database_url: &str, millis: u64) -> Result<Value, Box<dyn Error>> {
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

    let mut latencies = Vec::new();
    let start = Instant::now();
    let until = start + Duration::from_millis(millis);
    while Instant::now() < until {
        let t0 = Instant::now();
        sqlx::query("INSERT INTO probe(payload) VALUES ($1)")
            .bind("probe")
            .execute(&mut conn)
            .await?;
        latencies.push(t0.elapsed());
    }
    let secs = start.elapsed().as_secs_f64();
    conn.close().await?;

    latencies.sort_unstable();
    let p50 = percentile_ms(&latencies, 0.50);
    let disk = match p50 {
        Some(ms) if ms < 1.0 => "fast",
        _ => "slow",
    };
    Ok(json!({
        "system": "probe",
        "commits": latencies.len(),
        "seconds": round(secs, 3),
        "commits_per_s": round(latencies.len() as f64 / secs, 1),
        "p50_ms": p50,
        "p99_ms": percentile_ms(&latencies, 0.99),
        "disk": disk,
        "synchronous_commit": synchronous_commit,
        "fsync": fsync,
    }))
}
