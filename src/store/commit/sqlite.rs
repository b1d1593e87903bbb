//! SQLite's append: two calls per batch on the one writing connection,
//! each a few statements that sqlx runs in order on the connection's
//! worker thread (binding each `?N` to the call's N-th argument).
//!
//! 1. `PRAGMA synchronous = FULL`, `BEGIN IMMEDIATE` (the write lock, up
//!    front, so a read-then-write never fails half-way for want of it),
//!    then the three reads;
//! 2. the three inserts, `COMMIT` (the fsync, as FULL asks), then
//!    `PRAGMA synchronous = NORMAL` again.
//!
//! The connection is the one the read models' transactions use too
//! (`WriteGate::writer`), taken only while holding this process's write
//! turn. SQLite empties a connection's page cache whenever another
//! connection has committed since its last transaction; with two writing
//! connections taking turns, each began every transaction with an empty
//! cache, unmapping the file and faulting the index pages back in
//! (BENCHMARKS.md). The read models commit with `NORMAL` (`gate.rs`),
//! so the batch sets `FULL` for its own commit and puts `NORMAL` back, in
//! the same two calls. A batch that fails before that leaves `FULL`: a
//! read-model commit then waits for the disk, which is slower, not less
//! safe.
//!
//! On an error the transaction is rolled back; if that fails too, the
//! connection is closed and the pool opens another.

use std::sync::LazyLock;
use std::time::Instant;

use entity::{commands, events};
use sea_orm::sqlx::sqlite::SqlitePool;
use sea_orm::sqlx::{self, Executor, SqliteConnection};
use sea_orm::{DatabaseConnection, DbErr};

use super::{Committed, Lookups, batch_state, columns, db_err, rows_by_statement};
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
        "PRAGMA synchronous = FULL;
BEGIN IMMEDIATE;
{READ_SQLITE};
SELECT {events} FROM events WHERE event_id IN (SELECT unhex(replace(value, '-', '')) FROM json_each(?2));
SELECT {commands} FROM commands WHERE id IN (SELECT value FROM json_each(?3))"
    )
});

/// The second call: every row, then the commit.
static WRITE_AND_COMMIT: LazyLock<String> =
    LazyLock::new(|| format!("{WRITE_SQLITE};\nCOMMIT;\n{NORMAL}"));

/// Ends a batch that stores nothing or failed.
const ROLLBACK: &str = "ROLLBACK; PRAGMA synchronous = NORMAL";

/// What the shared connection is left at for the read models.
const NORMAL: &str = "PRAGMA synchronous = NORMAL";

/// The event writer's side of SQLite's writing connection.
pub(crate) struct SqliteAppender {
    pool: SqlitePool,
    gate: WriteGate,
}

impl SqliteAppender {
    /// Connects as `db`'s pool does (same file, same pragmas).
    pub(crate) fn new(db: &DatabaseConnection, gate: WriteGate) -> Self {
        let pool = match gate.writer() {
            Some(pool) => pool.clone(),
            None => db.get_sqlite_connection_pool().clone(),
        };
        Self { pool, gate }
    }

    pub(crate) async fn commit_batch(
        &mut self,
        jobs: &[AppendRequest],
    ) -> Result<Committed, DbErr> {
        let _turn = self.gate.turn("events").await;
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        let held = Instant::now();
        let result = commit(&mut conn, jobs).await;
        match &result {
            Ok(_) => self.gate.event_committed(jobs.len(), held.elapsed()),
            Err(_) => {
                if sqlx::raw_sql(ROLLBACK).execute(&mut *conn).await.is_err() {
                    conn.close_on_drop();
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
    // After the pragma and BEGIN: the three reads.
    let plan = plan_batch(batch_state(statements.into_iter().skip(2))?, jobs);
    if plan.stores_nothing() {
        sqlx::raw_sql(ROLLBACK)
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

#[cfg(test)]
mod tests {
    use sea_orm::ConnectionTrait;
    use sea_orm::sqlx::{self, SqliteConnection};

    use super::{BEGIN_AND_READ, ROLLBACK, SqliteAppender};
    use crate::read_models::testing::sqlite_store;
    use crate::store::{AppendRequest, ExpectedVersion, NewEvent, StreamAppend, StreamId};

    async fn synchronous(conn: &mut SqliteConnection) -> i64 {
        sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(conn)
            .await
            .unwrap()
    }

    fn append(stream: &str, expected: ExpectedVersion) -> AppendRequest {
        AppendRequest {
            streams: vec![StreamAppend {
                stream: StreamId::parse(stream).unwrap(),
                expected,
                events: vec![NewEvent::new("Happened", serde_json::json!({}))],
            }],
            ..AppendRequest::default()
        }
    }

    #[tokio::test]
    async fn given_the_shared_connection_when_a_batch_begins_then_its_commit_waits_for_the_disk() {
        let (_dir, store) = sqlite_store().await;
        let mut conn = store.gate().writer().unwrap().acquire().await.unwrap();
        assert_eq!(synchronous(&mut conn).await, 1, "NORMAL for read models");

        // The batch's first call, with nothing to look up.
        sqlx::query(BEGIN_AND_READ.as_str())
            .bind("[]")
            .bind("[]")
            .bind("[]")
            .execute(&mut *conn)
            .await
            .unwrap();
        assert_eq!(synchronous(&mut conn).await, 2, "FULL inside the batch");

        sqlx::raw_sql(ROLLBACK).execute(&mut *conn).await.unwrap();
        assert_eq!(synchronous(&mut conn).await, 1, "NORMAL again");
    }

    #[tokio::test]
    async fn given_a_commit_and_a_conflict_then_the_connection_is_left_normal_for_read_models() {
        let (_dir, store) = sqlite_store().await;
        let mut appender = SqliteAppender::new(store.db(), store.gate().clone());

        let committed = appender
            .commit_batch(&[append("a-1", ExpectedVersion::NoStream)])
            .await
            .unwrap();
        assert!(committed.outcomes[0].is_ok());
        // A conflict: the batch stores nothing and rolls back.
        let nothing = appender
            .commit_batch(&[append("a-1", ExpectedVersion::NoStream)])
            .await
            .unwrap();
        assert!(nothing.outcomes[0].is_err());

        let read_model = store.gate().begin_read_model().await.unwrap();
        let setting = read_model
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                "PRAGMA synchronous",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap();
        assert_eq!(setting, 1, "NORMAL");
        read_model.rollback().await.unwrap();
    }
}
