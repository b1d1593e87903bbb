//! The databases a bench runs on: a SQLite file in a temp dir, then
//! PostgreSQL in a fresh schema (dropped afterwards) when
//! `BENCH_DATABASE_URL` is set.

use std::future::Future;

use chronicle::DatabaseArgs;

/// Runs `run` on SQLite (`file` in a temp dir) and, when
/// `BENCH_DATABASE_URL` is set, on PostgreSQL, each with `pool`
/// connections.
pub async fn each<F, Fut>(file: &str, pool: u32, run: F)
where
    F: Fn(&'static str, DatabaseArgs) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = DatabaseArgs {
        database_url: format!("sqlite://{}", dir.path().join(file).display()),
        db_pool_size: pool,
    };
    run("sqlite", sqlite).await;
    if let Some(url) = std::env::var("BENCH_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
        admin(&url, &format!("CREATE SCHEMA {schema}")).await;
        let args = DatabaseArgs {
            database_url: format!("{url}?options[search_path]={schema}"),
            db_pool_size: pool,
        };
        run("postgres", args).await;
        admin(&url, &format!("DROP SCHEMA {schema} CASCADE")).await;
    }
}

async fn admin(url: &str, sql: &str) {
    use sea_orm::ConnectionTrait;
    let db = sea_orm::Database::connect(url)
        .await
        .expect("connect to BENCH_DATABASE_URL");
    db.execute_unprepared(sql).await.expect("schema statement");
}
