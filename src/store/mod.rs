//! The event store: an append-only log of events in streams.
//!
//! - `append` / `append_multi`: optimistic concurrency per stream, atomic
//!   across streams, idempotent by client-chosen event id. Every append goes
//!   through the group-commit writer (`writer.rs`), which batches concurrent
//!   appends into one transaction (`commit/`) after checking each on its
//!   own (`plan.rs`).
//! - Reads (`read.rs`): a stream by version, the global log by position,
//!   one event by id.
//! - `head()` / `watch_head()`: the last committed global position, updated
//!   by the writer after each commit, for whoever waits for new events.

mod command_log;
mod commit;
mod commit_cost;
mod error;
mod fate;
mod gate;
mod json;
mod plan;
mod read;
mod snapshots;
mod statements;
mod types;
mod upcast;
mod validate;
mod wal;
mod writer;

use sea_orm::DatabaseConnection;
use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, oneshot, watch};
use uuid::Uuid;

use crate::config::EventLimits;
use crate::paging::{ListOrder, Slice};

pub use command_log::{CommandEntry, CommandRecord, CommandStatus};
pub use commit::HEAD_CHANNEL;
pub use error::StoreError;
pub use fate::{Fate, FateState};
pub use gate::WriteGate;
#[cfg(test)]
pub use gate::WriteTxn;
pub use read::{Direction, LogFilter, StoreStats};
pub use snapshots::StoredSnapshot;
pub(crate) use statements::sqlite_time;
pub use types::{
    AppendOutcome, AppendRequest, ExpectedVersion, MAX_NAME_LEN, NewEvent, RecordedEvent,
    StreamAppend, StreamId, StreamInfo, category_of,
};
pub use upcast::Upcasters;

/// Commits kept for live subscribers before a slow one must catch up from
/// the log.
const LIVE_BUFFER: usize = 1_024;

/// Most events one append may carry; bigger imports go in several appends.
pub const MAX_APPEND_EVENTS: usize = 10_000;

fn channel_name(base: &str, namespace: &str) -> String {
    format!("{base}.{namespace}")
}

/// A database-wide advisory lock key for `name` (FNV-1a), stable across
/// builds and nodes, so every node of one store computes the same one.
pub fn advisory_key(name: &str) -> i32 {
    let hash = name.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    i32::from_ne_bytes(hash.to_ne_bytes())
}

/// A handle on the store; cheap to clone, shared by everything in a server.
#[derive(Clone)]
pub struct EventStore {
    db: DatabaseConnection,
    gate: WriteGate,
    upcasters: Arc<Upcasters>,
    limits: EventLimits,
    reserved: Arc<[&'static str]>,
    writer: mpsc::Sender<writer::AppendJob>,
    head: watch::Receiver<i64>,
    /// Shared with the writer, so that reading the stored head can move
    /// the watch too (another node's commits).
    head_tx: Arc<writer::Head>,
    events: broadcast::Sender<Arc<[RecordedEvent]>>,
    namespace: Arc<str>,
}

impl EventStore {
    /// Opens the store on a migrated database and starts its writer.
    pub async fn open(db: DatabaseConnection) -> Result<Self, StoreError> {
        Self::open_with(db, StoreConfig::default()).await
    }

    /// Opens the store with `config`: the upcasters for its reads, the
    /// bounds on what an event may hold, the categories reserved to
    /// commands.
    pub async fn open_with(
        db: DatabaseConnection,
        config: StoreConfig,
    ) -> Result<Self, StoreError> {
        let StoreConfig {
            upcasters,
            limits,
            reserved_categories,
        } = config;
        let head = commit::read_head(&db).await?;
        let namespace: Arc<str> = Arc::from(read::namespace(&db).await?);
        let (head_tx, head_rx) = watch::channel(head);
        let head_tx = Arc::new(writer::Head::new(head_tx));
        let (events, _) = broadcast::channel(LIVE_BUFFER);
        let announce = writer::Announce {
            head: head_tx.clone(),
            events: events.clone(),
            channel: Arc::from(channel_name(HEAD_CHANNEL, &namespace)),
            lock_key: advisory_key(&namespace),
        };
        let gate = WriteGate::new(&db);
        let writer = writer::spawn(db.clone(), gate.clone(), announce);
        if let Some(pool) = gate.writer() {
            wal::spawn(
                (*pool.connect_options()).clone(),
                gate.clone(),
                head_rx.clone(),
            );
        }
        Ok(Self {
            db,
            gate,
            upcasters: Arc::new(upcasters),
            limits,
            reserved: reserved_categories.into(),
            writer,
            head: head_rx,
            head_tx,
            events,
            namespace,
        })
    }

    /// The schema the store lives in (PostgreSQL; empty on SQLite). Several
    /// stores may share one database in several schemas: what nodes share
    /// database-wide (notification channels, advisory lock keys) is named
    /// after it, so that they never hear or block each other.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// `base`'s full name for this store's schema.
    pub fn channel(&self, base: &str) -> String {
        channel_name(base, &self.namespace)
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Where this process's write transactions begin (see `gate.rs`).
    pub fn gate(&self) -> &WriteGate {
        &self.gate
    }

    /// Appends `events` to one stream if it is at `expected`.
    pub async fn append(
        &self,
        stream: StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, StoreError> {
        self.append_multi(vec![StreamAppend {
            stream,
            expected,
            events,
        }])
        .await
    }

    /// Appends to several streams atomically: every stream's check passes
    /// and every event commits, or nothing does. Returns once the events
    /// are durable.
    pub async fn append_multi(
        &self,
        appends: Vec<StreamAppend>,
    ) -> Result<AppendOutcome, StoreError> {
        self.submit(AppendRequest {
            streams: appends,
            ..AppendRequest::default()
        })
        .await
    }

    /// An append that also records the command it comes from, in the same
    /// transaction. Fails with `CommandRecorded` when that command id has
    /// already succeeded, however close together the two attempts run.
    pub async fn submit(&self, request: AppendRequest) -> Result<AppendOutcome, StoreError> {
        self.enqueue(request).await?.await
    }

    /// Queues an append behind every append queued before it, and returns
    /// the wait for its outcome: the command layer queues while it holds
    /// an aggregate's lock and waits after letting it go.
    pub async fn enqueue(
        &self,
        request: AppendRequest,
    ) -> Result<impl Future<Output = Result<AppendOutcome, StoreError>> + use<>, StoreError> {
        validate::validate(&request.streams, &self.limits)?;
        if request.command.is_none() {
            self.refuse_reserved(&request.streams)?;
        }
        if let Some(command) = &request.command
            && (command.id.is_empty() || command.id.len() > MAX_NAME_LEN)
        {
            return Err(StoreError::invalid(format!(
                "a command id must be 1 to {MAX_NAME_LEN} bytes long"
            )));
        }
        let (reply, outcome) = oneshot::channel();
        self.writer
            .send(writer::AppendJob { request, reply })
            .await
            .map_err(|_| StoreError::Unavailable)?;
        Ok(async move { outcome.await.map_err(|_| StoreError::Unavailable)? })
    }

    /// Events of one stream: forward from version `from` (default 1), or
    /// backward from `from` (default: the last), at most `limit`.
    pub async fn read_stream(
        &self,
        stream: &str,
        from: Option<i64>,
        direction: Direction,
        limit: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.current(read::stream(&self.db, stream, from, direction, limit).await?)
            .await
    }

    /// The global log: events with position > `after`, ascending.
    pub async fn read_log(
        &self,
        after: i64,
        filter: &LogFilter,
        limit: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.current(read::log(&self.db, after, None, filter, limit).await?)
            .await
    }

    /// A slice of the global log (listed by position, ascending), as a
    /// connection pages it either way; rows in the slice's reading order.
    pub async fn read_log_slice(
        &self,
        slice: &Slice<i64>,
        filter: &LogFilter,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.current(read::log_slice(&self.db, slice, filter).await?)
            .await
    }

    /// A slice of one stream's events, listed by version in `order`.
    pub async fn read_stream_slice(
        &self,
        stream: &str,
        slice: &Slice<i64>,
        order: ListOrder,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.current(read::stream_slice(&self.db, stream, slice, order).await?)
            .await
    }

    /// The global log between two positions: `after < position <= until`.
    pub async fn read_log_until(
        &self,
        after: i64,
        until: i64,
        filter: &LogFilter,
        limit: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.current(read::log(&self.db, after, Some(until), filter, limit).await?)
            .await
    }

    /// The events of any of `categories` with `after < position <= until`
    /// (one read for all the projections of a turn).
    pub async fn read_categories_until(
        &self,
        after: i64,
        until: i64,
        categories: &[&str],
        limit: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.current(read::categories(&self.db, after, until, categories, limit).await?)
            .await
    }

    pub async fn event(&self, id: Uuid) -> Result<Option<RecordedEvent>, StoreError> {
        match read::event(&self.db, id).await? {
            Some(event) => Ok(self.current(vec![event]).await?.pop()),
            None => Ok(None),
        }
    }

    /// Brings events stored under an older schema to the current one; an
    /// event that cannot be comes back as stored, with the reason (see
    /// `upcast/`).
    async fn current(&self, events: Vec<RecordedEvent>) -> Result<Vec<RecordedEvent>, StoreError> {
        if !events.iter().any(|e| self.upcasters.is_stale(e)) {
            return Ok(events);
        }
        let mut streams: Vec<String> = events
            .iter()
            .filter(|e| self.upcasters.needs_origin(e))
            .map(|e| e.stream_id.clone())
            .collect();
        streams.sort_unstable();
        streams.dedup();
        let origins: std::collections::HashMap<String, RecordedEvent> =
            read::origins(&self.db, streams)
                .await?
                .into_iter()
                .map(|e| (e.stream_id.clone(), e))
                .collect();
        Ok(events
            .into_iter()
            .map(|e| {
                if self.upcasters.is_stale(&e) {
                    let origin = origins.get(&e.stream_id);
                    self.upcasters.upcast(e, origin)
                } else {
                    e
                }
            })
            .collect())
    }

    pub async fn stream_info(&self, id: &str) -> Result<Option<StreamInfo>, StoreError> {
        Ok(read::stream_info(&self.db, id).await?)
    }

    pub async fn stats(&self) -> Result<StoreStats, StoreError> {
        Ok(read::stats(&self.db).await?)
    }

    /// Events by global position, `first..=last` (one command's events).
    pub async fn read_positions(
        &self,
        first: i64,
        last: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.current(read::positions(&self.db, first, last).await?)
            .await
    }

    pub async fn command(&self, id: &str) -> Result<Option<CommandRecord>, StoreError> {
        Ok(command_log::get(&self.db, id).await?)
    }

    /// The command log, newest first, after the (created_at, id) cursor.
    pub async fn commands(
        &self,
        status: Option<CommandStatus>,
        slice: &Slice<command_log::CommandKey>,
    ) -> Result<Vec<CommandRecord>, StoreError> {
        Ok(command_log::list(&self.db, status, slice).await?)
    }

    /// Records a command that appended nothing (rejected, failed, or a
    /// success that changed nothing).
    pub async fn record_without_events(&self, record: &CommandRecord) -> Result<(), StoreError> {
        let txn = self.gate.begin(&self.db).await?;
        command_log::record_without_events(&*txn, record).await?;
        Ok(txn.commit().await?)
    }

    pub async fn save_snapshot(&self, snapshot: &StoredSnapshot) -> Result<(), StoreError> {
        let txn = self.gate.begin(&self.db).await?;
        snapshots::save(&*txn, snapshot).await?;
        Ok(txn.commit().await?)
    }

    /// The latest snapshot of `stream` at or below `version` with the
    /// state shape `state_schema_version`.
    pub async fn latest_snapshot(
        &self,
        stream: &str,
        version: Option<i64>,
        state_schema_version: i32,
    ) -> Result<Option<StoredSnapshot>, StoreError> {
        Ok(snapshots::latest(&self.db, stream, version, state_schema_version).await?)
    }

    pub async fn snapshots(&self, stream: &str) -> Result<Vec<StoredSnapshot>, StoreError> {
        Ok(snapshots::list(&self.db, stream).await?)
    }

    pub async fn snapshot_count(&self) -> Result<i64, StoreError> {
        Ok(snapshots::count(&self.db).await?)
    }

    /// Drops snapshots (they are a cache): of one stream, or all.
    pub async fn drop_snapshots(&self, stream: Option<&str>) -> Result<i64, StoreError> {
        let txn = self.gate.begin(&self.db).await?;
        let dropped = snapshots::drop(&*txn, stream).await?;
        txn.commit().await?;
        Ok(dropped)
    }

    /// The last position this node committed (or found at start-up).
    pub fn head(&self) -> i64 {
        *self.head.borrow()
    }

    /// The head as it moves: woken once per committed batch.
    pub fn watch_head(&self) -> watch::Receiver<i64> {
        self.head.clone()
    }

    /// Every later commit's events, in position order. A receiver that
    /// falls more than the buffer behind gets `Lagged` and must read the
    /// rest from the log: the broadcast is a fast path, never the record.
    pub fn live_events(&self) -> broadcast::Receiver<Arc<[RecordedEvent]>> {
        self.events.subscribe()
    }

    /// Moves the head watch to `position`, which a notification told of:
    /// whoever waits on the head reads another node's events from the
    /// log. This node's own commits move it from the writer, once their
    /// events are broadcast (`writer::Head`).
    pub fn observe_head(&self, position: i64) {
        self.head_tx.notified(position);
    }

    /// The head as stored, including other nodes' commits; the head watch
    /// moves to it when it is further.
    pub async fn stored_head(&self) -> Result<i64, StoreError> {
        let head = commit::read_head(&self.db).await?;
        writer::advance(&self.head_tx.watch, head);
        Ok(head)
    }
}

impl EventStore {
    /// An append that is not a command's may not touch a reserved
    /// category, in any letter case: `Account-1` must not pass for an
    /// account's stream with a reader that folds case.
    fn refuse_reserved(&self, appends: &[StreamAppend]) -> Result<(), StoreError> {
        for append in appends {
            let category = append.stream.category();
            if let Some(reserved) = self
                .reserved
                .iter()
                .find(|r| r.eq_ignore_ascii_case(category))
            {
                return Err(StoreError::invalid(format!(
                    "stream {} is in the {reserved} category, which only its aggregate's commands write",
                    append.stream
                )));
            }
        }
        Ok(())
    }
}

/// How a store is opened.
pub struct StoreConfig {
    pub upcasters: Upcasters,
    pub limits: EventLimits,
    /// Categories that only appends carrying a command (the command layer's)
    /// may write. None by default: a bare store knows no aggregates.
    pub reserved_categories: Vec<&'static str>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            upcasters: Upcasters::standard(),
            limits: EventLimits::default(),
            reserved_categories: Vec::new(),
        }
    }
}
