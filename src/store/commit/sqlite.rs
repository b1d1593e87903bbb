//! SQLite's append: one call per batch on the one writing connection, or
//! two, each a few statements that sqlx runs in order on the connection's
//! worker thread (binding each `?N` to the call's N-th argument).
//!
//! Most batches take one, as on PostgreSQL (`postgres.rs`): planned on
//! what the writer already knows of the log (`view.rs`), they send
//! `PRAGMA synchronous = FULL`, `BEGIN IMMEDIATE` (the write lock), a
//! guard that fails unless the stored state is the one the plan assumed,
//! the three inserts, `COMMIT` (the fsync, as FULL asks) and
//! `PRAGMA synchronous = NORMAL` again. A failed guard writes nothing:
//! the transaction is rolled back and the batch takes the reading path,
//! whose two calls are
//! 1. the pragma, `BEGIN IMMEDIATE`, then the three reads;
//! 2. the three inserts, `COMMIT`, the pragma.
//!
//! Each call is a hand-off to the worker thread and back while the lock is
//! held; one call instead of two cut the writer's median hold of it from
//! 0.58 to 0.53 ms per one-command batch (seven rounds at one client,
//! lower in five; BENCHMARKS.md).
//!
//! The connection is the one the read models' transactions use too
//! (`WriteGate::writer`), taken only while holding this process's write
//! turn. SQLite empties a connection's page cache whenever another
//! connection has committed since its last transaction; with two writing
//! connections taking turns, each began every transaction with an empty
//! cache, unmapping the file and faulting the index pages back in
//! (BENCHMARKS.md). The read models commit with `NORMAL` (`gate.rs`),
//! so the batch sets `FULL` for its own commit and puts `NORMAL` back in
//! the same calls. A batch that fails before that leaves `FULL`: a
//! read-model commit then waits for the disk, which is slower, not less
//! safe.
//!
//! On an error the transaction is rolled back; if that fails too, the
//! connection is closed and the pool opens another. An error after the
//! `COMMIT` completed (the last pragma's) is not the batch's: it is
//! stored, and is answered as such.

use std::sync::LazyLock;
use std::time::Instant;

use entity::{commands, events};
use futures::TryStreamExt;
use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::query::Query;
use sea_orm::sqlx::sqlite::{SqliteArguments, SqlitePool};
use sea_orm::sqlx::{self, Either, Executor, Sqlite, SqliteConnection};
use sea_orm::{DatabaseConnection, DbErr};

use super::view::{Guess, View};
use super::{Committed, Lookups, batch_state, columns, db_err, rows_by_statement, stream_ids};
use crate::metrics as m;
use crate::store::plan::{BatchPlan, plan_batch};
use crate::store::statements::{self, GUARD_SQLITE, READ_SQLITE, WRITE_SQLITE};
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

/// The second call: every row, the commit, and `NORMAL` again.
static WRITE_AND_COMMIT: LazyLock<String> =
    LazyLock::new(|| format!("{WRITE_SQLITE};\nCOMMIT;\n{NORMAL}"));

/// Statements of [`WRITE_AND_COMMIT`] up to and including `COMMIT`.
const WRITE_THROUGH_COMMIT: usize = 4;

/// The one call of a batch planned on the writer's view (`view.rs`): the
/// lock, the guard, every row, the commit. A failed guard stops the call
/// before anything is written.
static GUESSED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "PRAGMA synchronous = FULL;\nBEGIN IMMEDIATE;\n{GUARD_SQLITE};\n{WRITE_SQLITE};\nCOMMIT;\n{NORMAL}"
    )
});

/// Statements of [`GUESSED`] before the guard, and up to and including
/// `COMMIT`.
const GUESSED_BEFORE_GUARD: usize = 2;
const GUESSED_THROUGH_COMMIT: usize = 7;

/// Ends a batch that stores nothing or failed.
const ROLLBACK: &str = "ROLLBACK; PRAGMA synchronous = NORMAL";

/// What the shared connection is left at for the read models.
const NORMAL: &str = "PRAGMA synchronous = NORMAL";

/// The event writer's side of SQLite's writing connection.
pub(crate) struct SqliteAppender {
    pool: SqlitePool,
    gate: WriteGate,
    view: View,
}

impl SqliteAppender {
    /// Connects as `db`'s pool does (same file, same pragmas).
    pub(crate) fn new(db: &DatabaseConnection, gate: WriteGate) -> Self {
        let pool = match gate.writer() {
            Some(pool) => pool.clone(),
            None => db.get_sqlite_connection_pool().clone(),
        };
        Self {
            pool,
            gate,
            view: View::default(),
        }
    }

    /// One call when the view can plan the batch and the guard agrees;
    /// otherwise, or after a miss, the two of the reading path.
    pub(crate) async fn commit_batch(
        &mut self,
        jobs: &[AppendRequest],
    ) -> Result<Committed, DbErr> {
        let _turn = self.gate.turn("events").await;
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        let held = Instant::now();
        let result = match self.guessed(&mut conn, jobs).await {
            Ok(Some(committed)) => Ok(committed),
            Ok(None) => read_and_commit(&mut conn, jobs, &mut self.view).await,
            Err(err) => Err(err),
        };
        match &result {
            Ok(_) => self.gate.event_committed(jobs.len(), held.elapsed()),
            Err(_) => {
                self.view.forget();
                if sqlx::raw_sql(ROLLBACK).execute(&mut *conn).await.is_err() {
                    conn.close_on_drop();
                }
            }
        }
        result
    }

    /// The batch in one call, planned on the view, when the view can plan
    /// it and the plan appends. `None`: take the reading path (nothing to
    /// guess, or the guard refused and the transaction is rolled back).
    async fn guessed(
        &mut self,
        conn: &mut PoolConnection<Sqlite>,
        jobs: &[AppendRequest],
    ) -> Result<Option<Committed>, DbErr> {
        let Some(Guess { state, streams }) = self.view.guess(jobs) else {
            return Ok(None);
        };
        let head = state.head;
        let plan = plan_batch(state, jobs);
        if plan.new_events.is_empty() {
            return Ok(None);
        }
        let lookups = Lookups::of(jobs);
        let query = with_rows(GUESSED.as_str(), &plan)
            .bind(head)
            .bind(streams)
            .bind(lookups.event_ids)
            .bind(lookups.commands);
        let (done, error) = run(conn, query).await;
        match error {
            None => {}
            // Committed, then `NORMAL` failed: the next connection starts
            // at it.
            Some(_) if done >= GUESSED_THROUGH_COMMIT => conn.close_on_drop(),
            Some(err) if done == GUESSED_BEFORE_GUARD && guard_failed(&err) => {
                metrics::counter!(m::APPEND_GUESSES, "outcome" => "missed").increment(1);
                self.view.missed();
                sqlx::raw_sql(ROLLBACK)
                    .execute(&mut **conn)
                    .await
                    .map_err(db_err)?;
                return Ok(None);
            }
            Some(err) => {
                metrics::counter!(m::APPEND_GUESSES, "outcome" => "failed").increment(1);
                return Err(db_err(err));
            }
        }
        metrics::counter!(m::APPEND_GUESSES, "outcome" => "held").increment(1);
        self.view.hit();
        self.view.committed(plan.head, &plan.touched);
        Ok(Some(plan.into()))
    }
}

/// The reading path: the lock and the reads in one call, the plan, then
/// the rows and the commit in a second.
async fn read_and_commit(
    conn: &mut PoolConnection<Sqlite>,
    jobs: &[AppendRequest],
    view: &mut View,
) -> Result<Committed, DbErr> {
    let lookups = Lookups::of(jobs);
    let query = sqlx::query(BEGIN_AND_READ.as_str())
        .bind(lookups.streams)
        .bind(lookups.event_ids)
        .bind(lookups.commands);
    let stream = (&mut **conn).fetch_many(query);
    let statements = rows_by_statement(stream).await.map_err(db_err)?;
    // After the pragma and BEGIN: the three reads.
    let state = batch_state(statements.into_iter().skip(2))?;
    view.read(&state, &stream_ids(jobs));
    let plan = plan_batch(state, jobs);
    if plan.stores_nothing() {
        sqlx::raw_sql(ROLLBACK)
            .execute(&mut **conn)
            .await
            .map_err(db_err)?;
    } else {
        let query = with_rows(WRITE_AND_COMMIT.as_str(), &plan);
        match run(conn, query).await {
            (_, None) => {}
            // Committed, then `NORMAL` failed: the next connection starts
            // at it.
            (done, Some(_)) if done >= WRITE_THROUGH_COMMIT => conn.close_on_drop(),
            (_, Some(err)) => return Err(db_err(err)),
        }
    }
    view.committed(plan.head, &plan.touched);
    Ok(plan.into())
}

/// `sql` with the plan's rows and time bound as its first four arguments,
/// those of [`WRITE_SQLITE`].
fn with_rows(sql: &'static str, plan: &BatchPlan) -> Query<'static, Sqlite, SqliteArguments> {
    let [events, streams, commands, now] =
        statements::sqlite_rows(&plan.new_events, &plan.touched, &plan.commands, plan.now);
    sqlx::query(sql)
        .bind(events)
        .bind(streams)
        .bind(commands)
        .bind(now)
}

/// Runs a multi-statement call to its end or its first error, and counts
/// the statements that completed: an error after `COMMIT` completed is
/// one of a batch that is stored.
async fn run<'q>(
    conn: &mut SqliteConnection,
    query: Query<'q, Sqlite, SqliteArguments>,
) -> (usize, Option<sqlx::Error>) {
    let mut done = 0;
    let mut stream = conn.fetch_many(query);
    loop {
        match stream.try_next().await {
            Ok(Some(Either::Left(_))) => done += 1,
            Ok(Some(Either::Right(_))) => {}
            Ok(None) => return (done, None),
            Err(err) => return (done, Some(err)),
        }
    }
}

/// Whether the guard refused the plan (see `statements::GUARD_SQLITE`).
fn guard_failed(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.message().contains("malformed JSON"))
}

#[cfg(test)]
mod tests {
    use sea_orm::ConnectionTrait;
    use sea_orm::sqlx::{self, SqliteConnection};

    use super::{BEGIN_AND_READ, ROLLBACK, SqliteAppender};
    use crate::read_models::testing::sqlite_store;
    use crate::store::{
        AppendRequest, Direction, ExpectedVersion, NewEvent, StreamAppend, StreamId,
    };

    async fn synchronous(conn: &mut SqliteConnection) -> i64 {
        sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(conn)
            .await
            .unwrap()
    }

    fn append(stream: &str, expected: ExpectedVersion) -> AppendRequest {
        append_event(
            stream,
            expected,
            NewEvent::new("Happened", serde_json::json!({})),
        )
    }

    fn append_event(stream: &str, expected: ExpectedVersion, event: NewEvent) -> AppendRequest {
        AppendRequest {
            streams: vec![StreamAppend {
                stream: StreamId::parse(stream).unwrap(),
                expected,
                events: vec![event],
            }],
            ..AppendRequest::default()
        }
    }

    #[tokio::test]
    async fn given_a_commit_behind_the_views_back_when_a_batch_is_planned_on_it_then_the_guard_refuses_and_the_batch_reads()
     {
        let (_dir, store) = sqlite_store().await;
        let mut appender = SqliteAppender::new(store.db(), store.gate().clone());
        appender
            .commit_batch(&[append("acc-1", ExpectedVersion::NoStream)])
            .await
            .unwrap();
        // The store's own writer: this appender's view does not see it.
        store
            .append(
                StreamId::parse("acc-1").unwrap(),
                ExpectedVersion::Exact(1),
                vec![NewEvent::new("Happened", serde_json::json!({}))],
            )
            .await
            .unwrap();

        let committed = appender
            .commit_batch(&[append("acc-1", ExpectedVersion::Any)])
            .await
            .unwrap();

        let outcome = committed.outcomes[0].as_ref().unwrap();
        assert_eq!(outcome.versions[0].1, 3, "planned on what was read");
        assert_eq!(outcome.position, 3);
        let stored = store
            .read_stream("acc-1", None, Direction::Forward, 10)
            .await
            .unwrap();
        let versions: Vec<(i64, i64)> = stored.iter().map(|e| (e.version, e.position)).collect();
        assert_eq!(versions, [(1, 1), (2, 2), (3, 3)]);
    }

    #[tokio::test]
    async fn given_a_stored_event_id_when_it_is_sent_again_then_the_guard_refuses_and_the_first_is_the_answer()
     {
        let (_dir, store) = sqlite_store().await;
        let mut appender = SqliteAppender::new(store.db(), store.gate().clone());
        let id = uuid::Uuid::now_v7();
        let event = || NewEvent::new("Happened", serde_json::json!({ "n": 1 })).with_id(id);
        let first = appender
            .commit_batch(&[append_event("acc-1", ExpectedVersion::Any, event())])
            .await
            .unwrap();
        appender
            .commit_batch(&[append("acc-2", ExpectedVersion::Any)])
            .await
            .unwrap();

        let again = appender
            .commit_batch(&[append_event("acc-1", ExpectedVersion::Any, event())])
            .await
            .unwrap();

        let (first, again) = (
            first.outcomes[0].as_ref().unwrap(),
            again.outcomes[0].as_ref().unwrap(),
        );
        assert!(!again.appended, "an idempotent retry");
        assert_eq!(again.events, first.events);
        let stored = store
            .read_stream("acc-1", None, Direction::Forward, 10)
            .await
            .unwrap();
        assert_eq!(stored.len(), 1, "stored once");
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
