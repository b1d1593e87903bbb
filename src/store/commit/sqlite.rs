//! SQLite's append: two calls per batch on the writer's own connection,
//! each a few statements that sqlx runs in order on the connection's
//! worker thread (binding each `?N` to the call's N-th argument).
//!
//! 1. `BEGIN IMMEDIATE` (the write lock, up front, so a read-then-write
//!    never fails half-way for want of it), then the three reads;
//! 2. the three inserts, then `COMMIT` (the fsync: the connection has the
//!    pool's `synchronous = FULL`).
//!
//! Through the pool a batch took five hand-offs to the worker thread and
//! back (`BEGIN`, the read, the write, `COMMIT`, the ping on return), four
//! of them with the write lock held.
//!
//! The batch takes this process's write turn first (`gate.rs`), so read
//! models never race it for the lock. On an error the transaction is
//! rolled back; if that fails too, the connection is dropped and the next
//! batch opens another.

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use entity::{commands, events};
use sea_orm::sqlx::sqlite::SqliteConnectOptions;
use sea_orm::sqlx::{self, Executor, SqliteConnection};
use sea_orm::{DatabaseConnection, DbErr};

use super::{Committed, Lookups, batch_state, columns, connect, db_err, rows_by_statement};
use crate::store::plan::plan_batch;
use crate::store::statements::{self, READ_SQLITE, WRITE_SQLITE};
use crate::store::{AppendRequest, WriteGate};

/// The first call: the lock, the head and the streams' versions (`?1`),
/// the stored events of client-chosen ids (`?2`), the log's records of
/// client-chosen command ids (`?3`). Each `IN` probes a unique index; the
/// lookups name their columns ([`columns`]).
static BEGIN_AND_READ: LazyLock<String> = LazyLock::new(|| {
    let events = columns::<events::Column>("");
    let commands = columns::<commands::Column>("");
    format!(
        "BEGIN IMMEDIATE;
{READ_SQLITE};
SELECT {events} FROM events WHERE event_id IN (SELECT unhex(replace(value, '-', '')) FROM json_each(?2));
SELECT {commands} FROM commands WHERE id IN (SELECT value FROM json_each(?3))"
    )
});

/// The second call: every row, then the commit.
static WRITE_AND_COMMIT: LazyLock<String> = LazyLock::new(|| format!("{WRITE_SQLITE};\nCOMMIT"));

/// The writer's own connection to SQLite, opened when first needed.
pub(crate) struct SqliteAppender {
    options: Arc<SqliteConnectOptions>,
    timeout: Duration,
    gate: WriteGate,
    conn: Option<SqliteConnection>,
}

impl SqliteAppender {
    /// Connects as `db`'s pool does (same file, same pragmas).
    pub(crate) fn new(db: &DatabaseConnection, gate: WriteGate) -> Self {
        let pool = db.get_sqlite_connection_pool();
        Self {
            options: pool.connect_options(),
            timeout: pool.options().get_acquire_timeout(),
            gate,
            conn: None,
        }
    }

    pub(crate) async fn commit_batch(
        &mut self,
        jobs: &[AppendRequest],
    ) -> Result<Committed, DbErr> {
        let _turn = self.gate.turn("events").await;
        let conn = match &mut self.conn {
            Some(conn) => conn,
            empty => empty.insert(connect(self.options.as_ref(), self.timeout).await?),
        };
        let held = Instant::now();
        let result = commit(conn, jobs).await;
        match &result {
            Ok(_) => self.gate.event_committed(jobs.len(), held.elapsed()),
            Err(_) => {
                if sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await.is_err() {
                    self.conn = None;
                }
            }
        }
        result
    }
}

async fn commit(conn: &mut SqliteConnection, jobs: &[AppendRequest]) -> Result<Committed, DbErr> {
    let lookups = Lookups::of(jobs);
    let query = sqlx::query(BEGIN_AND_READ.as_str())
        .bind(lookups.streams)
        .bind(lookups.event_ids)
        .bind(lookups.commands);
    let stream = conn.fetch_many(query);
    let statements = rows_by_statement(stream).await.map_err(db_err)?;
    // After BEGIN: the three reads.
    let plan = plan_batch(batch_state(statements.into_iter().skip(1))?, jobs);
    if plan.stores_nothing() {
        sqlx::raw_sql("ROLLBACK")
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    } else {
        let [events, streams, commands, now] =
            statements::sqlite_rows(&plan.new_events, &plan.touched, &plan.commands, plan.now);
        sqlx::query(WRITE_AND_COMMIT.as_str())
            .bind(events)
            .bind(streams)
            .bind(commands)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    Ok(plan.into())
}
