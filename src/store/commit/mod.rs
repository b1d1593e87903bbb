//! One batch, one transaction: read what the checks need, plan, insert the
//! new events and stream versions, commit. Each database has its own
//! module (`sqlite.rs`, `postgres.rs`): the same steps in two round trips
//! on a connection the writer keeps for itself. On PostgreSQL most batches
//! take one: planned on what the writer already knows (`view.rs`), with a
//! guard in place of the reads.
//!
//! Ordering: the global position is `max(position) + 1`, read inside the
//! transaction while no other writer can commit. SQLite gets that from its
//! single write lock (taken up front with `BEGIN IMMEDIATE`); PostgreSQL from
//! a transaction-level advisory lock that every Chronicle node takes before
//! reading the head. So positions are handed out in commit order, with no
//! gaps, and a reader of the global log can never see position N+1 before
//! N is visible: the failure mode of sequence-based stores, where a slow
//! transaction commits a lower position after a reader already moved on.
//!
//! Why a connection of its own, outside the pool: a pooled transaction
//! costs a round trip for its `BEGIN`, one for its `COMMIT`, and a ping
//! when the connection goes back (sqlx sends one on every return). Here the
//! first round trip begins, locks and reads; the second writes and
//! commits. On SQLite a round trip is a hand-off to the connection's
//! worker thread and back, made while holding the one write lock.

mod postgres;
mod sqlite;
mod view;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{SubsecRound, Utc};
use entity::{commands, events};
use futures::{Stream, TryStreamExt};
use sea_orm::sqlx::{self, Either};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    FromQueryResult, IdenStatic, Iterable, QueryResult, QuerySelect, RuntimeErr,
};
use uuid::Uuid;

use super::plan::{BatchPlan, BatchState};
use super::{AppendOutcome, AppendRequest, CommandRecord, RecordedEvent, StoreError, WriteGate};

/// The channel that carries each commit's new head to the other nodes
/// (PostgreSQL's NOTIFY): a hint to read the log, never the data. Its
/// full name adds the store's schema (`EventStore::channel`).
pub const HEAD_CHANNEL: &str = "chronicle_head";

/// The first key of the advisory lock that serializes appends on
/// PostgreSQL ("CHRA"); the second is the store's schema
/// ([`advisory_key`](super::advisory_key)), so stores in other schemas of
/// one database do not queue behind each other.
const APPEND_LOCK_CLASS: i32 = 0x4348_5241;

pub(crate) struct Committed {
    pub outcomes: Vec<Result<AppendOutcome, StoreError>>,
    pub head: i64,
}

impl From<BatchPlan> for Committed {
    /// What a plan's transaction made of its jobs, once it committed.
    fn from(plan: BatchPlan) -> Self {
        Self {
            outcomes: plan.outcomes,
            head: plan.head,
        }
    }
}

/// Where the writer commits its batches.
pub(crate) enum Log {
    Sqlite(sqlite::SqliteAppender),
    Postgres(postgres::PgAppender),
}

impl Log {
    /// The log of `db`'s database; it connects when first used.
    pub(crate) fn open(db: &DatabaseConnection, gate: WriteGate) -> Self {
        match db.get_database_backend() {
            DbBackend::Postgres => Log::Postgres(postgres::PgAppender::new(db)),
            _ => Log::Sqlite(sqlite::SqliteAppender::new(db, gate)),
        }
    }

    /// Commits every job that passes its checks, in one transaction. `Err`
    /// only when the transaction itself failed: then nothing of the batch
    /// is stored.
    pub(crate) async fn commit(
        &mut self,
        jobs: &[AppendRequest],
        head_channel: &str,
        lock_key: i32,
    ) -> Result<Committed, DbErr> {
        match self {
            Log::Sqlite(appender) => appender.commit_batch(jobs).await,
            Log::Postgres(appender) => appender.commit_batch(jobs, head_channel, lock_key).await,
        }
    }
}

pub(crate) async fn read_head<C: ConnectionTrait>(conn: &C) -> Result<i64, DbErr> {
    let max: Option<Option<i64>> = events::Entity::find()
        .select_only()
        .column_as(events::Column::Position.max(), "head")
        .into_tuple()
        .one(conn)
        .await?;
    Ok(max.flatten().unwrap_or(0))
}

/// The streams `jobs` touch, each once.
fn stream_ids(jobs: &[AppendRequest]) -> Vec<&str> {
    let mut streams: Vec<&str> = jobs
        .iter()
        .flat_map(|j| &j.streams)
        .map(|a| a.stream.as_str())
        .collect();
    streams.sort_unstable();
    streams.dedup();
    streams
}

/// The time a batch's events are recorded at. Stored precision is
/// microseconds (PostgreSQL); truncating here makes the returned events
/// equal to what a later read returns.
fn batch_now() -> chrono::DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// What the checks look up, each as a JSON array: the streams the jobs
/// touch, their client-chosen event ids and command ids. Generated ids
/// cannot be retries, so only the client's are looked up.
struct Lookups {
    streams: String,
    event_ids: String,
    commands: String,
}

impl Lookups {
    fn of(jobs: &[AppendRequest]) -> Self {
        Self::with_event(jobs, None)
    }

    /// The lookups of `jobs`, and one more event id: a generated one
    /// whose commit is in doubt (`postgres.rs`).
    fn with_event(jobs: &[AppendRequest], extra: Option<Uuid>) -> Self {
        let streams = stream_ids(jobs);
        let event_ids: Vec<Uuid> = jobs
            .iter()
            .flat_map(|j| &j.streams)
            .flat_map(|a| &a.events)
            .filter_map(|e| e.id)
            .chain(extra)
            .collect();
        let commands: Vec<&str> = jobs
            .iter()
            .filter_map(|j| j.command.as_ref())
            .filter(|c| c.id_from_client)
            .map(|c| c.id.as_str())
            .collect();
        // Strings and UUIDs: serializing them cannot fail.
        Self {
            streams: serde_json::to_string(&streams).expect("strings serialize"),
            event_ids: serde_json::to_string(&event_ids).expect("UUIDs serialize"),
            commands: serde_json::to_string(&commands).expect("strings serialize"),
        }
    }
}

/// The rows of each statement of a multi-statement call, in order: a
/// statement's rows come first, then its completion.
async fn rows_by_statement<R, D>(
    stream: impl Stream<Item = Result<Either<D, R>, sqlx::Error>>,
) -> Result<Vec<Vec<QueryResult>>, sqlx::Error>
where
    QueryResult: From<R>,
{
    let mut statements = vec![Vec::new()];
    let mut stream = std::pin::pin!(stream);
    while let Some(item) = stream.try_next().await? {
        match item {
            Either::Left(_) => statements.push(Vec::new()),
            Either::Right(row) => statements
                .last_mut()
                .expect("never empty")
                .push(QueryResult::from(row)),
        }
    }
    Ok(statements)
}

/// What the plan needs, from the rows of the three reads: the head and the
/// streams' versions (`kind` 0 and 1), the stored events of client-chosen
/// ids, the log's records of client-chosen command ids.
fn batch_state(mut reads: impl Iterator<Item = Vec<QueryResult>>) -> Result<BatchState, DbErr> {
    let mut state = BatchState {
        head: 0,
        versions: HashMap::new(),
        existing: HashMap::new(),
        commands: HashMap::new(),
        now: batch_now(),
    };
    for row in reads.next().unwrap_or_default() {
        let kind: i32 = row.try_get("", "kind")?;
        let n: i64 = row.try_get("", "n")?;
        match kind {
            0 => state.head = n,
            _ => drop(state.versions.insert(row.try_get("", "id")?, n)),
        }
    }
    for row in reads.next().unwrap_or_default() {
        let event = RecordedEvent::from(events::Model::from_query_result(&row, "")?);
        state.existing.insert(event.id, event);
    }
    for row in reads.next().unwrap_or_default() {
        let record = CommandRecord::try_from(commands::Model::from_query_result(&row, "")?)?;
        state.commands.insert(record.id.clone(), record);
    }
    Ok(state)
}

/// Opens the writer's connection with `options`, giving up as the pool
/// does after its acquire timeout: a database that does not answer makes
/// appends fail fast with UNAVAILABLE rather than queue behind a connect.
async fn connect<C: sqlx::Connection>(
    options: &C::Options,
    timeout: std::time::Duration,
) -> Result<C, DbErr> {
    match tokio::time::timeout(timeout, C::connect_with(options)).await {
        Ok(conn) => conn.map_err(conn_err),
        Err(_) => Err(conn_err(sqlx::Error::PoolTimedOut)),
    }
}

/// An entity's columns, quoted, each after `prefix`, comma-separated: the
/// lookups of a connection's prepared statements name their columns.
/// With `SELECT *`, a migration that adds a column while the writer runs
/// (another node's, in a rolling upgrade) breaks them: PostgreSQL refuses
/// the statement ("cached plan must not change result type"), and sqlx's
/// SQLite worker reads the re-prepared statement's new column with its
/// cached list of the old ones and panics.
fn columns<C: Iterable + IdenStatic>(prefix: &str) -> String {
    C::iter()
        .map(|c| format!("{prefix}\"{}\"", c.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn db_err(err: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(err)))
}

fn conn_err(err: sqlx::Error) -> DbErr {
    DbErr::Conn(RuntimeErr::SqlxError(Arc::new(err)))
}
