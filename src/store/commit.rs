//! One batch, one transaction: read what the checks need, plan, insert the
//! new events and stream versions, commit.
//!
//! Ordering: the global position is `max(position) + 1`, read inside the
//! transaction while no other writer can commit. SQLite gets that from its
//! single write lock (taken up front with `BEGIN IMMEDIATE`); PostgreSQL from
//! a transaction-level advisory lock that every Chronicle node takes before
//! reading the head. So positions are handed out in commit order, with no
//! gaps, and a reader of the global log can never see position N+1 before
//! N is visible: the failure mode of sequence-based stores, where a slow
//! transaction commits a lower position after a reader already moved on.

use std::collections::{HashMap, HashSet};

use chrono::{SubsecRound, Utc};
use entity::events;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, QueryFilter, QuerySelect, Statement,
};

use super::plan::{BatchState, plan_batch};
use super::statements;
use super::{AppendOutcome, AppendRequest, RecordedEvent, StoreError, WriteGate, command_log};

/// The channel that carries each commit's new head to the other nodes
/// (PostgreSQL's NOTIFY): a hint to read the log, never the data. Its
/// full name adds the store's schema (`EventStore::channel`).
pub const HEAD_CHANNEL: &str = "chronicle_head";

/// The first key of the advisory lock that serializes appends on
/// PostgreSQL ("CHRA"); the second is the store's schema
/// ([`advisory_key`]), so stores in other schemas of one database do not
/// queue behind each other.
const APPEND_LOCK_CLASS: i32 = 0x4348_5241;
/// Ids per `IN (...)` list, for the same reason.
const LOOKUP_CHUNK: usize = 1_000;

pub(crate) struct Committed {
    pub outcomes: Vec<Result<AppendOutcome, StoreError>>,
    pub head: i64,
}

/// Commits every job that passes its checks, in one transaction. `Err` only
/// when the transaction itself failed: then nothing of the batch is stored.
pub(crate) async fn commit_batch(
    db: &DatabaseConnection,
    gate: &WriteGate,
    jobs: &[AppendRequest],
    head_channel: &str,
    lock_key: i32,
) -> Result<Committed, DbErr> {
    let txn = gate.begin(db).await?;
    let postgres = txn.get_database_backend() == DbBackend::Postgres;
    if postgres {
        // Its own statement, before any read: a statement's snapshot is
        // taken when it starts, so a read in the same statement as the
        // lock could miss the commit it waited for.
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1, $2)",
            [APPEND_LOCK_CLASS.into(), lock_key.into()],
        ))
        .await?;
    }
    let read = statements::read_state(&txn, jobs).await?;
    let state = BatchState {
        head: read.head,
        versions: read.versions,
        existing: read_supplied_ids(&txn, jobs).await?,
        commands: read_commands(&txn, read.recorded).await?,
        // Stored precision is microseconds (PostgreSQL); truncating here
        // makes the returned events equal to what a later read returns.
        now: Utc::now().trunc_subsecs(6),
    };
    let plan = plan_batch(state, jobs);
    if plan.new_events.is_empty() && plan.commands.is_empty() {
        txn.rollback().await?;
    } else if postgres {
        // One statement for every row, and the NOTIFY, delivered when (and
        // only if) the batch commits, in commit order (the append lock is
        // held until then): every node that listens learns the new head
        // and reads the events itself.
        let head = if plan.new_events.is_empty() {
            0
        } else {
            plan.head
        };
        statements::write_postgres(
            &txn,
            &plan.new_events,
            &plan.touched,
            &plan.commands,
            plan.now,
            (head_channel, head),
        )
        .await?;
        txn.commit().await?;
    } else {
        statements::write_sqlite(
            &txn,
            &plan.new_events,
            &plan.touched,
            &plan.commands,
            plan.now,
        )
        .await?;
        txn.commit().await?;
    }
    Ok(Committed {
        outcomes: plan.outcomes,
        head: plan.head,
    })
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

/// Client-chosen ids may be retries; generated ones cannot collide, so only
/// the former are looked up.
async fn read_supplied_ids(
    txn: &DatabaseTransaction,
    jobs: &[AppendRequest],
) -> Result<HashMap<uuid::Uuid, RecordedEvent>, DbErr> {
    let ids: Vec<uuid::Uuid> = jobs
        .iter()
        .flat_map(|j| &j.streams)
        .flat_map(|a| &a.events)
        .filter_map(|e| e.id)
        .collect();
    let mut found = HashMap::new();
    for chunk in ids.chunks(LOOKUP_CHUNK) {
        let rows = events::Entity::find()
            .filter(events::Column::EventId.is_in(chunk.iter().copied()))
            .all(txn)
            .await?;
        found.extend(
            rows.into_iter()
                .map(|m| (m.event_id, RecordedEvent::from(m))),
        );
    }
    Ok(found)
}

/// The full records of the client-chosen command ids already in the log:
/// the plan answers a retry from them (`plan.rs`), so that a command
/// is never run twice and its first answer, success or rejection, stands,
/// without a read of the log before every command.
async fn read_commands(
    txn: &DatabaseTransaction,
    recorded: HashSet<String>,
) -> Result<HashMap<String, super::CommandRecord>, DbErr> {
    if recorded.is_empty() {
        return Ok(HashMap::new());
    }
    let records = command_log::by_ids(txn, recorded.into_iter().collect()).await?;
    Ok(records.into_iter().map(|r| (r.id.clone(), r)).collect())
}
