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
        // A database that is down makes requests fail fast with
        // UNAVAILABLE instead of queueing behind the pool.
        .acquire_timeout(Duration::from_millis(args.db_acquire_timeout_ms))
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

/// Whether `err` says the database cannot be reached now (the pool timed
/// out, the connection broke, the server refused or went away), as
/// opposed to a statement that failed: the caller may retry later.
pub fn is_unreachable(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    let sqlx = |runtime: &RuntimeErr| match runtime {
        RuntimeErr::SqlxError(err) => Some(err.clone()),
        _ => None,
    };
    match err {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(runtime) | DbErr::Exec(runtime) | DbErr::Query(runtime) => {
            sqlx(runtime).is_some_and(|err| {
                matches!(
                    err.as_ref(),
                    Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::Tls(_) | Sqlx::Protocol(_)
                ) || matches!(err.as_ref(), Sqlx::Database(db) if db.code().is_some_and(|c| c.starts_with("57P") || c.starts_with("08")))
            })
        }
        _ => false,
    }
}
