//! Write transactions: one at a time per process on SQLite, and cheaper
//! commits for read models.
//!
//! SQLite has one write lock per database. Two connections of one process
//! racing for it do not queue: the loser's busy handler sleeps 1, 2, 5,
//! 10 ms... and tries again, which turned a 0.3 ms event commit into 5 to
//! 10 ms while projections were writing. An async FIFO mutex in front of
//! the lock makes this process's writers queue without sleeping; the busy
//! timeout is left for other processes (the CLI's `migrate`, say).
//! PostgreSQL queues appends on an advisory lock and lets read models write
//! concurrently, so there the gate is open.
//!
//! Read models commit without waiting for the disk (SQLite's
//! `synchronous = NORMAL`, PostgreSQL's `synchronous_commit = off`, each
//! set once per connection of the read models' own pool, not per
//! transaction: a statement saved on every projection batch). That is
//! safe because each one moves its checkpoint in the same transaction as
//! its rows: a commit lost to a power cut loses both, and the projection
//! applies those events again from the log, which stays fully durable.
//! On SQLite the next event commit's fsync covers the read models' earlier
//! WAL frames anyway.
//!
//! On SQLite the event writer and the read models' transactions share one
//! connection, used only under the write turn: a connection's page cache
//! is emptied whenever another connection committed, so two writers taking
//! turns each started cold. With the two changes made beside it
//! (checkpoints off the turn, one call per batch) it cut the event
//! writer's hold of the lock per batch from 3.6-3.7 to 2.7-2.8 ms at 64
//! clients, and a read-model turn's from 3.1-3.3 to 2.2-2.3 ms
//! (BENCHMARKS.md, eleventh pass). It is kept at `NORMAL`; the event writer
//! sets `FULL` around its own commits (`commit/sqlite.rs`), and it leaves
//! checkpoints of the write-ahead log to a task of their own (`wal.rs`).
//! Reads outside those transactions use the read models' pool.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Instant;

use sea_orm::sqlx::postgres::PgPoolOptions;
use sea_orm::sqlx::sqlite::{SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, SqliteTransactionMode,
    SqlxPostgresConnector, SqlxSqliteConnector, TransactionOptions, TransactionTrait,
};
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::commit_cost::CommitCost;
use crate::metrics as m;

/// Connections of the read models' SQLite pool: they take turns on the one
/// write lock, so more would only wait.
const READ_MODEL_POOL: u32 = 2;
/// Connections of the read models' PostgreSQL pool: one per projection a
/// node may run at once.
const READ_MODEL_POOL_POSTGRES: u32 = 4;

#[derive(Clone)]
pub struct WriteGate {
    turn: Option<Arc<Mutex<()>>>,
    read_model_turn: Option<Arc<Mutex<()>>>,
    read_models: DatabaseConnection,
    /// SQLite's one writing connection, shared by the event writer and the
    /// read models' transactions (see [`WriteGate::writer`]).
    writer: Option<SqlitePool>,
    /// The same connection as a SeaORM connection, for read-model
    /// transactions.
    read_model_writes: DatabaseConnection,
    /// How long the event writer's small batches hold the write lock
    /// lately (SQLite only), which paces the read models' turns.
    event_commit: Arc<CommitCost>,
}

/// A write transaction holding this process's turn until it ends.
pub struct WriteTxn {
    txn: DatabaseTransaction,
    _turn: Option<Turn>,
}

/// This process's write turn, held: it records how long when it is let go
/// (a commit, a rollback or a drop), so that `/metrics` shows how the one
/// write lock is shared between the event writer and the read models.
pub(crate) struct Turn {
    _guard: OwnedMutexGuard<()>,
    holder: &'static str,
    since: Instant,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let held = self.since.elapsed().as_secs_f64();
        metrics::histogram!(m::WRITE_TURN_HELD_SECONDS, "holder" => self.holder).record(held);
    }
}

impl WriteGate {
    pub(crate) fn new(db: &DatabaseConnection) -> Self {
        let sqlite = db.get_database_backend() == DbBackend::Sqlite;
        let read_models = match db.get_database_backend() {
            DbBackend::Sqlite => read_model_pool(db),
            DbBackend::Postgres => read_model_pool_postgres(db),
            _ => db.clone(),
        };
        let writer = sqlite.then(|| writer_pool(db)).flatten();
        Self {
            turn: sqlite.then(|| Arc::new(Mutex::new(()))),
            read_model_turn: sqlite.then(|| Arc::new(Mutex::new(()))),
            read_model_writes: match &writer {
                Some(pool) => SqlxSqliteConnector::from_sqlx_sqlite_pool(pool.clone()),
                None => read_models.clone(),
            },
            read_models,
            writer,
            event_commit: Arc::default(),
        }
    }

    /// A write transaction on `db`, after this process's earlier ones. On
    /// SQLite it takes the write lock up front, so a read-then-write never
    /// fails half-way for lack of it.
    pub async fn begin(&self, db: &DatabaseConnection) -> Result<WriteTxn, DbErr> {
        self.begin_as(db, "events").await
    }

    /// [`begin`](Self::begin), naming who holds the turn in the metrics.
    async fn begin_as(
        &self,
        db: &DatabaseConnection,
        holder: &'static str,
    ) -> Result<WriteTxn, DbErr> {
        let turn = self.turn(holder).await;
        let txn = match db.get_database_backend() {
            DbBackend::Sqlite => {
                db.begin_with_options(TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..Default::default()
                })
                .await?
            }
            _ => db.begin().await?,
        };
        Ok(WriteTxn { txn, _turn: turn })
    }

    /// This process's write turn on SQLite (none on PostgreSQL), for a
    /// writer with a connection of its own; `holder` names it in the
    /// metrics.
    pub(crate) async fn turn(&self, holder: &'static str) -> Option<Turn> {
        let turn = self.turn.as_ref()?;
        let asked = Instant::now();
        let guard = turn.clone().lock_owned().await;
        let waited = asked.elapsed().as_secs_f64();
        metrics::histogram!(m::WRITE_TURN_WAIT_SECONDS, "holder" => holder).record(waited);
        Some(Turn {
            _guard: guard,
            holder,
            since: Instant::now(),
        })
    }

    /// On SQLite, one read-model transaction at a time (a projection's own,
    /// or the joint turn's for every caught-up one): it takes this before
    /// reading its next batch and holds it until that batch commits. So the
    /// event writer waits behind at most one read-model transaction, and
    /// whoever waited for the turn reads the events that arrived meanwhile
    /// in the same batch (fewer, larger transactions under load).
    pub async fn read_model_turn(&self) -> Option<OwnedMutexGuard<()>> {
        match &self.read_model_turn {
            Some(turn) => Some(turn.clone().lock_owned().await),
            None => None,
        }
    }

    /// The event writer's batch of `jobs` commands held the write lock for
    /// `held` (`commit_cost.rs`).
    pub(crate) fn event_committed(&self, jobs: usize, held: std::time::Duration) {
        self.event_commit.observe(jobs, held);
    }

    /// What a durable event commit holds the write lock for lately: `None`
    /// on PostgreSQL, whose read models do not wait for that lock, and
    /// before the first commit.
    pub fn event_commit_cost(&self) -> Option<std::time::Duration> {
        self.event_commit.get()
    }

    /// The read models' own pool, for reads outside their transactions.
    pub fn read_models(&self) -> &DatabaseConnection {
        &self.read_models
    }

    /// A write transaction for read-model rows and their checkpoint: it
    /// commits without waiting for the disk (see the module docs).
    pub async fn begin_read_model(&self) -> Result<WriteTxn, DbErr> {
        self.begin_as(&self.read_model_writes, "read_models").await
    }

    /// SQLite's writing connection (one), to be used only while holding
    /// this process's write turn. It is set to `synchronous = NORMAL`;
    /// the event writer sets FULL around each of its transactions.
    pub(crate) fn writer(&self) -> Option<&SqlitePool> {
        self.writer.as_ref()
    }
}

impl WriteTxn {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

impl Deref for WriteTxn {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

/// The same database file as `db`, on connections that commit with
/// `synchronous = NORMAL`. An in-memory database cannot be opened twice, so
/// it keeps `db`.
fn read_model_pool(db: &DatabaseConnection) -> DatabaseConnection {
    let options = db.get_sqlite_connection_pool().connect_options();
    if options.get_filename().as_os_str() == ":memory:" {
        return db.clone();
    }
    let options = (*options).clone().synchronous(SqliteSynchronous::Normal);
    let pool = crate::db::ping_if_idle(SqlitePoolOptions::new())
        .max_connections(READ_MODEL_POOL)
        .connect_lazy_with(options);
    SqlxSqliteConnector::from_sqlx_sqlite_pool(pool)
}

/// SQLite's one writing connection, on the same file as `db`, at
/// `synchronous = NORMAL` and without checkpoints of its own (`wal.rs`).
/// An in-memory database has no other connection and no write-ahead log:
/// none.
///
/// Its statement journals stay in memory (`temp_store = MEMORY`). A
/// statement that writes many rows first copies each page it changes into
/// a statement journal, so that it can undo itself alone on an error;
/// past 64 KiB SQLite moves that journal to a temporary file, and at 64
/// clients the batches' multi-row inserts and upserts did: that was 18 %
/// of the samples of SQLite's threads (BENCHMARKS.md, twelfth pass). The
/// journal is as large as the pages one statement changes, and is gone
/// when the statement ends. Readers keep the default, so that a large
/// sort can still spill to disk.
fn writer_pool(db: &DatabaseConnection) -> Option<SqlitePool> {
    let pool = db.get_sqlite_connection_pool();
    let options = pool.connect_options();
    if options.get_filename().as_os_str() == ":memory:" {
        return None;
    }
    let options = (*options)
        .clone()
        .synchronous(SqliteSynchronous::Normal)
        .pragma("wal_autocheckpoint", "0")
        .pragma("temp_store", "memory");
    Some(
        crate::db::ping_if_idle(SqlitePoolOptions::new())
            .max_connections(1)
            .acquire_timeout(pool.options().get_acquire_timeout())
            .connect_lazy_with(options),
    )
}

/// The same PostgreSQL database and schema as `db`, on connections that
/// start with `synchronous_commit = off`.
fn read_model_pool_postgres(db: &DatabaseConnection) -> DatabaseConnection {
    let pool = db.get_postgres_connection_pool();
    let options = (*pool.connect_options())
        .clone()
        .options([("synchronous_commit", "off")]);
    let pool = crate::db::ping_if_idle(PgPoolOptions::new())
        .max_connections(READ_MODEL_POOL_POSTGRES)
        .acquire_timeout(pool.options().get_acquire_timeout())
        .connect_lazy_with(options);
    SqlxPostgresConnector::from_sqlx_postgres_pool(pool)
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Statement};

    use super::WriteTxn;
    use crate::read_models::testing::sqlite_store;

    async fn synchronous(txn: &WriteTxn) -> i64 {
        pragma(txn, "synchronous").await
    }

    async fn pragma(txn: &WriteTxn, name: &str) -> i64 {
        let row = txn
            .query_one_raw(Statement::from_string(
                txn.get_database_backend(),
                format!("PRAGMA {name}"),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index(0).unwrap()
    }

    #[tokio::test]
    async fn events_commit_with_fsync_and_read_models_without() {
        let (_dir, store) = sqlite_store().await;
        let events = store.gate().begin(store.db()).await.unwrap();
        assert_eq!(synchronous(&events).await, 2, "FULL");
        events.rollback().await.unwrap();
        let read_model = store.gate().begin_read_model().await.unwrap();
        assert_eq!(synchronous(&read_model).await, 1, "NORMAL");
        read_model.rollback().await.unwrap();
    }

    #[tokio::test]
    async fn the_writing_connection_keeps_statement_journals_in_memory() {
        let (_dir, store) = sqlite_store().await;
        let read_model = store.gate().begin_read_model().await.unwrap();
        assert_eq!(pragma(&read_model, "temp_store").await, 2, "MEMORY");
        read_model.rollback().await.unwrap();
        let other = store.gate().begin(store.db()).await.unwrap();
        assert_eq!(pragma(&other, "temp_store").await, 0, "the default");
        other.rollback().await.unwrap();
    }

    #[tokio::test]
    async fn write_transactions_of_one_process_take_turns() {
        let (_dir, store) = sqlite_store().await;
        let first = store.gate().begin_read_model().await.unwrap();
        let gate = store.gate().clone();
        let db = store.db().clone();
        let second = tokio::spawn(async move { gate.begin(&db).await.map(|_| ()) });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!second.is_finished(), "waits for the first to end");
        first.commit().await.unwrap();
        second.await.unwrap().unwrap();
    }
}
