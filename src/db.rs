//! Opening the database: SQLite with the settings that make an
//! acknowledged append durable, or PostgreSQL by URL.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

use crate::config::DatabaseArgs;

/// Address space SQLite may map per connection; only what the file
/// occupies is mapped.
const MMAP_SIZE: u64 = 1 << 30;

/// Connects without migrating.
///
/// SQLite runs in WAL mode with `synchronous = FULL`: WAL lets readers work
/// while the writer commits, and FULL fsyncs the log on every commit, so a
/// transaction that returned is on disk even after power loss (`NORMAL`
/// would only protect against a crash of the process).
pub async fn connect(args: &DatabaseArgs) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(args.database_url.clone());
    options
        .max_connections(args.db_pool_size.max(2))
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    if args.database_url.starts_with("sqlite:") {
        options.map_sqlx_sqlite_opts(|o| {
            o.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                // Reads map the file instead of copying pages in with a
                // syscall each: every commit by another connection empties
                // a connection's page cache, so pages are re-read often.
                .pragma("mmap_size", MMAP_SIZE.to_string())
        });
    }
    Database::connect(options).await
}

/// Connects and runs pending migrations.
pub async fn connect_and_migrate(args: &DatabaseArgs) -> Result<DatabaseConnection, DbErr> {
    let db = connect(args).await?;
    Migrator::up(&db, None).await?;
    Ok(db)
}
