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

/// A pooled connection idle this long is pinged before it is handed out;
/// one in use more recently goes straight to its caller. The pool's
/// default pings on every checkout: a round trip to PostgreSQL (a hop to
/// the worker thread on SQLite) before each transaction, on the command
/// path's every read-model turn (the event writer keeps a connection of
/// its own, `store/commit/`). What the ping catches, a
/// connection the server, a proxy or a firewall dropped, happens to idle
/// connections; a busy one that breaks fails its statement, which the
/// caller sees as UNAVAILABLE and the pool replaces.
pub(crate) const PING_IF_IDLE_FOR: Duration = Duration::from_secs(30);

/// The same policy for pools built on sqlx directly (the read models').
pub(crate) fn ping_if_idle<DB: sea_orm::sqlx::Database>(
    options: sea_orm::sqlx::pool::PoolOptions<DB>,
) -> sea_orm::sqlx::pool::PoolOptions<DB> {
    use sea_orm::sqlx::Connection;
    options
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IF_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

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
        .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR)
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
