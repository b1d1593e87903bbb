#![allow(dead_code)] // each bench uses a part of the support it shares
//! The databases a bench runs on, from the tests' own fixture: a SQLite
//! file in a temp dir, then PostgreSQL in a fresh schema (dropped
//! afterwards, whatever happened) when `BENCH_DATABASE_URL` (or else
//! `TEST_DATABASE_URL`) is set.

use std::future::Future;

use chronicle::DatabaseArgs;

#[path = "../../tests/integration/test_db.rs"]
mod test_db;

pub use test_db::TestDb;

/// Every database to measure, each with `pool` connections.
pub async fn all(pool: u32) -> Vec<TestDb> {
    let mut dbs = test_db::fresh_databases(&["BENCH_DATABASE_URL", "TEST_DATABASE_URL"]).await;
    for db in &mut dbs {
        db.args.db_pool_size = pool;
    }
    dbs
}

/// Runs `run` on each database in turn.
pub async fn each<F, Fut>(pool: u32, run: F)
where
    F: Fn(&'static str, DatabaseArgs) -> Fut,
    Fut: Future<Output = ()>,
{
    for db in all(pool).await {
        run(db.name, db.args.clone()).await;
    }
}
