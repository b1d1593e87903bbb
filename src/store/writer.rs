//! The group-commit writer: the one task that appends to the event log.
//!
//! Every append is a job on a queue. The writer takes the first job as soon
//! as it arrives (no waiting for company, so a lone writer pays no extra
//! latency), then drains whatever queued up behind it while the previous
//! batch was committing, and commits them all in one transaction: one fsync
//! for many appends. Each job is checked on its own, so a stale expected
//! version fails only that job.
//!
//! One writer per process makes SQLite's single-writer rule cheap, and on
//! PostgreSQL the batch holds a transaction-level advisory lock, so positions
//! are handed out and committed in the same order across replicas (see
//! `commit/`).
//!
//! On PostgreSQL the writer runs on a thread of its own. Each batch is a
//! round trip, and the next batch cannot start until the writer has read
//! the last one's reply; on the runtime's workers that reply waited its
//! turn behind HTTP and GraphQL work. At 8 clients the writer's mean
//! commit went from 0.97-1.21 ms to 0.73-0.78 ms and commands/s rose by
//! about a sixth (BENCHMARKS.md). On SQLite the batch's work is done on
//! sqlx's own worker thread, and a thread for the writer made 64 clients
//! slower, so there it stays a task.

use sea_orm::{DatabaseConnection, DbBackend};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering::SeqCst};

use tokio::sync::{broadcast, mpsc, oneshot, watch};

use super::commit::{Committed, Log};
use super::{AppendOutcome, AppendRequest, FateState, RecordedEvent, StoreError, WriteGate};

/// At most this many events go into one transaction; a larger queue waits
/// for the next batch. Big enough to amortize the fsync, small enough that
/// a batch commits in a few milliseconds.
const MAX_BATCH_EVENTS: usize = 4_096;
/// Queue depth: appenders wait (back-pressure) beyond it.
const QUEUE_DEPTH: usize = 8_192;

pub(crate) type Reply = oneshot::Sender<Result<AppendOutcome, StoreError>>;

/// One append request waiting for the writer.
pub(crate) struct AppendJob {
    pub request: AppendRequest,
    pub reply: Reply,
}

impl AppendJob {
    fn event_count(&self) -> usize {
        self.request.streams.iter().map(|s| s.events.len()).sum()
    }
}

/// Where the writer announces what it committed.
pub(crate) struct Announce {
    /// The head position, moved once per commit.
    pub head: Arc<Head>,
    /// The events of each commit, in position order, for live subscribers.
    pub events: broadcast::Sender<Arc<[RecordedEvent]>>,
    /// Where each commit's new head is announced to other nodes.
    pub channel: Arc<str>,
    /// The second key of the append lock: this store's schema.
    pub lock_key: i32,
}

/// Starts the writer; it stops when every sender is dropped.
pub(crate) fn spawn(
    db: DatabaseConnection,
    gate: WriteGate,
    announce: Announce,
) -> mpsc::Sender<AppendJob> {
    let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
    let log = Log::open(&db, gate);
    let writer = run(log, rx, announce);
    if db.get_database_backend() == DbBackend::Postgres {
        on_own_thread(writer);
    } else {
        tokio::spawn(writer);
    }
    tx
}

/// Runs `writer` on a new thread with a runtime of its own; the thread
/// ends with it.
fn on_own_thread(writer: impl Future<Output = ()> + Send + 'static) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the event writer's runtime");
    std::thread::Builder::new()
        .name("event-writer".into())
        .spawn(move || runtime.block_on(writer))
        .expect("the event writer's thread");
}

async fn run(mut log: Log, mut rx: mpsc::Receiver<AppendJob>, announce: Announce) {
    while let Some(first) = rx.recv().await {
        // The appenders answered by the last commit are re-queueing right
        // now; where the writer shares the runtime's workers with them
        // (SQLite), one yield lets them into this batch instead of the
        // next, at the cost of a scheduler turn, not a timer. On its own
        // thread (PostgreSQL) they re-queue meanwhile on the workers, and
        // the yield returns at once.
        tokio::task::yield_now().await;
        let mut events = first.event_count();
        let mut batch = vec![first];
        while events < MAX_BATCH_EVENTS {
            match rx.try_recv() {
                Ok(job) => {
                    events += job.event_count();
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        process(&mut log, batch, &announce).await;
    }
    tracing::debug!("event store writer stopped");
}

async fn process(log: &mut Log, batch: Vec<AppendJob>, announce: &Announce) {
    let _committing = announce.head.committing();
    commit_batch(log, batch, announce).await;
}

async fn commit_batch(log: &mut Log, batch: Vec<AppendJob>, announce: &Announce) {
    let (requests, replies): (Vec<_>, Vec<_>) =
        batch.into_iter().map(|j| (j.request, j.reply)).unzip();
    let started = std::time::Instant::now();
    match log
        .commit(&requests, &announce.channel, announce.lock_key)
        .await
    {
        Ok(committed) => {
            record(&committed, requests.len(), started);
            publish(announce, &committed);
            for (request, outcome) in requests.iter().zip(&committed.outcomes) {
                settle(request, outcome.is_ok());
            }
            for (reply, outcome) in replies.into_iter().zip(committed.outcomes) {
                let _ = reply.send(outcome);
            }
        }
        // A failed transaction (a lost connection, a constraint that another
        // process beat us to) must not fail every job in it: retry each on
        // its own so only the job at fault sees the error.
        Err(err) if requests.len() > 1 => {
            tracing::warn!(error = %err, jobs = requests.len(), "batch commit failed; retrying jobs one by one");
            for (request, reply) in requests.into_iter().zip(replies) {
                let started = std::time::Instant::now();
                let outcome = match log
                    .commit(
                        std::slice::from_ref(&request),
                        &announce.channel,
                        announce.lock_key,
                    )
                    .await
                {
                    Ok(mut committed) => {
                        record(&committed, 1, started);
                        publish(announce, &committed);
                        committed.outcomes.remove(0)
                    }
                    Err(err) => Err(StoreError::Database(err)),
                };
                // Before the next job's attempt: it may be decided on this one.
                settle(&request, outcome.is_ok());
                let _ = reply.send(outcome);
            }
        }
        Err(err) => {
            for request in &requests {
                settle(request, false);
            }
            if let Some(reply) = replies.into_iter().next() {
                let _ = reply.send(Err(StoreError::Database(err)));
            }
        }
    }
}

/// Settles the fate of `request` (`fate.rs`) before anyone hears of it,
/// so that a job decided on it finds it settled when it is planned.
fn settle(request: &AppendRequest, committed: bool) {
    if let Some(fate) = &request.fate {
        fate.settle(match committed {
            true => FateState::Committed,
            false => FateState::Failed,
        });
    }
}

fn record(committed: &Committed, jobs: usize, started: std::time::Instant) {
    use crate::metrics as m;
    let appended: usize = committed
        .outcomes
        .iter()
        .flatten()
        .filter(|o| o.appended)
        .map(|o| o.events.len())
        .sum();
    metrics::counter!(m::APPEND_BATCHES).increment(1);
    metrics::histogram!(m::APPEND_BATCH_JOBS).record(jobs as f64);
    metrics::histogram!(m::APPEND_COMMIT_SECONDS).record(started.elapsed().as_secs_f64());
    metrics::counter!(m::EVENTS_APPENDED).increment(appended as u64);
}

/// Tells waiters and subscribers about a commit. The events go out before
/// the head moves, so whoever wakes on the head finds them broadcast.
fn publish(announce: &Announce, committed: &Committed) {
    let events: Vec<RecordedEvent> = committed
        .outcomes
        .iter()
        .flatten()
        .filter(|o| o.appended)
        .flat_map(|o| o.events.iter().cloned())
        .collect();
    if !events.is_empty() {
        let mut events = events;
        events.sort_by_key(|e| e.position);
        // No receiver is not an error: nobody subscribes yet.
        let _ = announce.events.send(events.into());
    }
    advance(&announce.head.watch, committed.head);
}

/// The head watch, and what other nodes' notifications said of the head.
///
/// On PostgreSQL this node's own commits are notified too, and the
/// notification can reach the listener before the commit's reply reaches
/// the writer. Moving the watch then woke the subscription hub before the
/// writer had broadcast the commit's events, and the hub read them back
/// from the log: 616 reads for 1,717 commands at one client
/// (docs/benchmarks-history.md, "The command path, thirteenth pass").
/// So while the writer is committing, a notified head is only noted, and
/// the writer moves the watch to it once it is done, after its own
/// commit's events went out.
pub(crate) struct Head {
    pub watch: watch::Sender<i64>,
    committing: AtomicBool,
    notified: AtomicI64,
}

impl Head {
    pub fn new(watch: watch::Sender<i64>) -> Self {
        Self {
            watch,
            committing: AtomicBool::new(false),
            notified: AtomicI64::new(0),
        }
    }

    /// A head another node's notification told of (or this node's own).
    /// Noted before `committing` is read, and the writer clears
    /// `committing` before it reads what was noted: whichever comes
    /// second of the two sees the other's write, so no head is left
    /// unapplied.
    pub fn notified(&self, position: i64) {
        self.notified.fetch_max(position, SeqCst);
        if !self.committing.load(SeqCst) {
            advance(&self.watch, position);
        }
    }

    /// Marks this node's writer as committing until the guard drops,
    /// however the commit ends (a panic or a cancelled task included):
    /// then it applies what was notified meanwhile.
    fn committing(&self) -> Committing<'_> {
        self.committing.store(true, SeqCst);
        Committing(self)
    }
}

/// [`Head::committing`]'s guard.
struct Committing<'a>(&'a Head);

impl Drop for Committing<'_> {
    fn drop(&mut self) {
        let head = self.0;
        head.committing.store(false, SeqCst);
        advance(&head.watch, head.notified.load(SeqCst));
    }
}

/// Moves the head watch to `position` if that is further (never back).
pub(crate) fn advance(head: &watch::Sender<i64>, position: i64) {
    head.send_if_modified(|current| {
        let moved = position > *current;
        if moved {
            *current = position;
        }
        moved
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_no_commit_in_flight_when_a_head_is_notified_then_the_watch_moves_at_once() {
        let (tx, rx) = watch::channel(5);
        let head = Head::new(tx);

        head.notified(7);

        assert_eq!(*rx.borrow(), 7);
    }

    #[test]
    fn given_a_commit_in_flight_when_a_head_is_notified_then_the_watch_moves_once_it_is_done() {
        let (tx, rx) = watch::channel(5);
        let head = Head::new(tx);

        let committing = head.committing();
        head.notified(7);
        assert_eq!(*rx.borrow(), 5, "the writer's own events go out first");

        advance(&head.watch, 6);
        drop(committing);
        assert_eq!(*rx.borrow(), 7);
    }

    #[test]
    fn a_notified_head_never_moves_the_watch_back() {
        let (tx, rx) = watch::channel(9);
        let head = Head::new(tx);

        head.notified(7);
        drop(head.committing());

        assert_eq!(*rx.borrow(), 9);
    }
}
