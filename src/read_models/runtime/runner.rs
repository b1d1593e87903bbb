//! One projection's task: read a batch of its category's events after the
//! checkpoint, apply it and move the checkpoint in one transaction,
//! repeat; once caught up, leave the batches to the node's joint turn
//! (`turn.rs`) until a control or a failure needs the runner; obey pause,
//! resume, skip and rebuild; on a failing event, stop there, report FAILED
//! with its position, and retry with backoff.
//!
//! The checkpoint moves over the whole log, not only over the events the
//! projection reads: a batch reads up to the head it saw, and when it is
//! not full, everything up to that head has been seen. So a read that asks
//! for a position held by another category's event (a generic append)
//! still finds the projection there. The head is the store's watch (this
//! node's commits; other nodes' through their notifications, and the idle
//! poll that reads the stored head).
//!
//! Every node runs a runner per projection, but only the one holding the
//! projection's lock (`lease.rs`) applies; the others follow its
//! checkpoint row, read again when its node announces a change of state,
//! once a second, and whenever a read-your-writes wait on their node asks
//! (`Projections::wait_for`).
//! Operators' changes are made on the row by any node (`control.rs`); the
//! running node adopts whatever the row says when it differs from what it
//! last wrote.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseExecutor, DbErr};
use tokio::sync::{mpsc, watch};

use super::advance::{Advance, advance};
use super::checkpoint::{self, Checkpoint};
use super::lease::{Held, Leases};
use super::turn::{Turns, apply_fresh};
use super::{BATCH, IDLE_POLL};
use super::{Control, ProjectionState, ProjectionStatus, control};
use crate::read_models::{Memo, Projection, ProjectionError, Target, Writes};
use crate::store::{EventStore, LogFilter, RecordedEvent};

const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often a follower tries to take the projection over, and the running
/// node checks that it still holds it: the takeover time after a node dies.
const LEASE_CHECK: Duration = Duration::from_secs(1);

/// What a runner needs to know of its node.
#[derive(Clone)]
pub(super) struct NodeSeat {
    pub id: Arc<str>,
    /// False on an API-only node: it follows, never runs.
    pub may_run: bool,
    pub leases: Leases,
    /// Where its batches go while it is caught up.
    pub turns: Turns,
}

pub(super) fn spawn(
    store: EventStore,
    projection: Arc<dyn Projection>,
    checkpoint: Checkpoint,
    seat: NodeSeat,
) -> (watch::Receiver<ProjectionStatus>, mpsc::Sender<Control>) {
    let (status_tx, status_rx) = watch::channel(status_of(projection.name(), &checkpoint, false));
    let (control_tx, control_rx) = mpsc::channel(16);
    let runner = Runner {
        store,
        projection,
        checkpoint,
        status: status_tx,
        control: control_rx,
        failures: 0,
        seat,
        held: None,
    };
    tokio::spawn(runner.run());
    (status_rx, control_tx)
}

fn status_of(name: &'static str, c: &Checkpoint, running_here: bool) -> ProjectionStatus {
    ProjectionStatus {
        name,
        node: c.lease_node.clone(),
        running_here,
        state: c.state,
        position: c.position,
        events_processed: c.events_processed,
        last_error: c.last_error.clone(),
        failed_position: c.failed_position,
        skipped: c.skipped.clone(),
        updated_at: c.updated_at,
    }
}

struct Runner {
    store: EventStore,
    projection: Arc<dyn Projection>,
    checkpoint: Checkpoint,
    status: watch::Sender<ProjectionStatus>,
    control: mpsc::Receiver<Control>,
    failures: u32,
    seat: NodeSeat,
    /// The projection's lock, while this node runs it.
    held: Option<Held>,
}

/// How an apply transaction ended.
enum Applied {
    Committed,
    /// The row had moved on (an operator's change, or another node): the
    /// runner took the row's state and reads again from there.
    Adopted,
    /// Another node took the projection over: nothing was written.
    Fenced,
}

/// What the runner does after a step.
#[derive(Debug)]
enum Next {
    /// A batch was applied: there may be more right away.
    Continue,
    /// Caught up to the head the step read: join the joint turn, or wait
    /// for the head to move (or the idle poll).
    Idle,
    /// Failed: try again after the backoff.
    Retry(Duration),
}

/// A step that failed, and the position of the event at fault when one is.
struct Failure {
    position: Option<i64>,
    error: ProjectionError,
}

impl Failure {
    fn at(position: Option<i64>) -> impl FnOnce(ProjectionError) -> Failure {
        move |error| Failure { position, error }
    }
}

/// The projection's events after its checkpoint, and how far the log was
/// read for them.
struct Batch {
    events: Vec<RecordedEvent>,
    /// Every position up to this one has been read (it is the last event's
    /// when the batch is full, else the head at the time of the read).
    through: i64,
    full: bool,
}

impl Runner {
    async fn run(mut self) {
        let mut head = self.store.watch_head();
        let mut lease_check = tokio::time::interval(LEASE_CHECK);
        lease_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if self.held.is_none() {
                if self.seat.may_run && self.try_run().await {
                    continue;
                }
                if !self.follow(&mut lease_check).await {
                    return;
                }
                continue;
            }
            if self.checkpoint.state == ProjectionState::Paused {
                tokio::select! {
                    biased;
                    control = self.control.recv() => {
                        let Some(control) = control else { return };
                        if !self.obey(control).await {
                            return;
                        }
                    }
                    _ = lease_check.tick() => self.check_lease().await,
                }
                continue;
            }
            head.borrow_and_update();
            let next = match self.step().await {
                Ok(next) => {
                    self.failures = 0;
                    next
                }
                Err(failure) => Next::Retry(self.fail(failure).await),
            };
            if matches!(next, Next::Idle) && self.may_join() {
                if !self.joined(&mut lease_check).await {
                    return;
                }
                continue;
            }
            let (idle, wait) = match next {
                Next::Continue => (false, Duration::ZERO),
                Next::Idle => (true, IDLE_POLL),
                Next::Retry(backoff) => (false, backoff),
            };
            tokio::select! {
                biased;
                control = self.control.recv() => {
                    let Some(control) = control else { return };
                    if !self.obey(control).await {
                        return;
                    }
                }
                _ = lease_check.tick() => self.check_lease().await,
                changed = head.changed(), if idle => if changed.is_err() { return },
                () = tokio::time::sleep(wait) => if idle {
                    // Nothing woke it: look for commits no notification
                    // announced.
                    if let Err(err) = self.store.stored_head().await {
                        tracing::debug!(projection = self.projection.name(), %err, "idle poll of the head failed");
                    }
                }
            }
        }
    }

    /// Applies the next batch, if any.
    async fn step(&mut self) -> Result<Next, Failure> {
        let _turn = self.store.gate().read_model_turn().await;
        let batch = self.read_batch().await.map_err(Failure::at(None))?;
        if batch.through <= self.checkpoint.position {
            if matches!(
                self.checkpoint.state,
                ProjectionState::CatchingUp | ProjectionState::Rebuilding
            ) {
                self.checkpoint.state = ProjectionState::Running;
                self.persist()
                    .await
                    .map_err(|e| Failure::at(None)(e.into()))?;
            }
            return Ok(Next::Idle);
        }
        match self.commit(&batch.events, batch.through, batch.full).await {
            Ok(applied) => Ok(self.after(applied, batch.full).await),
            Err(ProjectionError::Event(_)) if batch.events.len() > 1 => {
                self.apply_one_by_one(&batch).await
            }
            Err(error) => Err(Failure {
                position: batch.events.first().map(|e| e.position),
                error,
            }),
        }
    }

    /// What follows a commit of a batch that was `full` or not.
    ///
    /// A batch that was not full reached the head the runner read: it is
    /// caught up, and `Idle` lets it join the joint turn. Waiting instead
    /// for a step that finds nothing new kept it out under a steady load,
    /// where the head moves during every step: each projection then took a
    /// read-model transaction of its own for every commit (four where the
    /// turn takes one). Idle is right even when the head moved meanwhile:
    /// a runner that may not join waits on the head watch, which it marked
    /// seen before the step, so it wakes at once.
    async fn after(&mut self, applied: Applied, full: bool) -> Next {
        match applied {
            Applied::Fenced => {
                self.step_down("another node took it over").await;
                Next::Continue
            }
            Applied::Committed if !full => Next::Idle,
            Applied::Committed | Applied::Adopted => Next::Continue,
        }
    }

    /// A batch failed on an event: applies it event by event, so that what
    /// precedes the event at fault is applied and the checkpoint stops
    /// right before it.
    async fn apply_one_by_one(&mut self, batch: &Batch) -> Result<Next, Failure> {
        for event in &batch.events {
            let applied = self
                .commit(std::slice::from_ref(event), event.position, true)
                .await
                .map_err(Failure::at(Some(event.position)))?;
            if !matches!(applied, Applied::Committed) {
                return Ok(self.after(applied, true).await);
            }
        }
        let applied = self
            .commit(&[], batch.through, batch.full)
            .await
            .map_err(Failure::at(None))?;
        Ok(self.after(applied, batch.full).await)
    }

    async fn read_batch(&self) -> Result<Batch, ProjectionError> {
        let after = self.checkpoint.position;
        let head = self.store.head();
        if head <= after {
            return Ok(Batch {
                events: Vec::new(),
                through: after,
                full: false,
            });
        }
        let filter = LogFilter {
            category: Some(self.projection.category().to_owned()),
            ..LogFilter::default()
        };
        let events = self
            .store
            .read_log_until(after, head, &filter, BATCH)
            .await?;
        let full = events.len() as u64 == BATCH;
        let through = match events.last() {
            Some(last) if full => last.position,
            _ => head,
        };
        Ok(Batch {
            events,
            through,
            full,
        })
    }

    /// Applies `events` and moves the checkpoint to `through` in one
    /// transaction, if the row (read under its lock) still carries this
    /// node's epoch (fencing) and was neither paused nor reset meanwhile
    /// (else the runner adopts the row and reads again). Events the row is
    /// already past are not applied again.
    async fn commit(
        &mut self,
        events: &[RecordedEvent],
        through: i64,
        more: bool,
    ) -> Result<Applied, ProjectionError> {
        let name = self.projection.name();
        let txn = self.store.gate().begin_read_model().await?;
        let stored = checkpoint::load(&*txn, name)
            .await?
            .unwrap_or_else(Checkpoint::start);
        match advance(&self.checkpoint, stored, events, through, more) {
            Advance::Fenced => {
                txn.rollback().await?;
                Ok(Applied::Fenced)
            }
            Advance::Adopt(row) => {
                txn.rollback().await?;
                self.adopt(row);
                Ok(Applied::Adopted)
            }
            Advance::Already(row) => {
                txn.rollback().await?;
                self.checkpoint.position = row.position;
                self.checkpoint.events_processed = row.events_processed;
                Ok(Applied::Committed)
            }
            Advance::Apply {
                fresh,
                next,
                announce,
            } => {
                let mut writes = Writes::new(txn.get_database_backend());
                // On its own a runner remembers nothing: only the joint
                // turn knows no one else wrote the table in between.
                let reads = DatabaseExecutor::Transaction(&txn);
                let mut to = Target {
                    reads: &reads,
                    memo: &mut Memo::off(),
                    writes: &mut writes,
                };
                apply_fresh(
                    &mut to,
                    &self.store,
                    self.projection.as_ref(),
                    &fresh,
                    announce,
                )
                .await?;
                checkpoint::save_with(&mut writes, [(name, &next)])?;
                writes.send(&txn).await?;
                txn.commit().await?;
                self.checkpoint = next;
                self.publish();
                Ok(Applied::Committed)
            }
        }
    }

    /// Records a failure and returns how long to wait before retrying.
    async fn fail(&mut self, failure: Failure) -> Duration {
        let Failure { position, error } = failure;
        self.failures += 1;
        tracing::warn!(projection = self.projection.name(), ?position, %error, "projection failed");
        self.checkpoint.state = ProjectionState::Failed;
        self.checkpoint.last_error = Some(error.to_string());
        self.checkpoint.failed_position = position;
        self.checkpoint.updated_at = Utc::now();
        if let Err(err) = self.persist().await {
            tracing::warn!(projection = self.projection.name(), error = %err, "could not record the failure");
        }
        let backoff = Duration::from_millis(100) * 2u32.saturating_pow(self.failures.min(9));
        backoff.min(MAX_BACKOFF)
    }

    /// Acts on `control`, done on the row whether this node runs the
    /// projection or not; false when the task is to end.
    async fn obey(&mut self, control: Control) -> bool {
        let name = self.projection.name();
        let changed = match control {
            Control::Pause => control::pause(&self.store, name).await,
            Control::Resume => {
                self.failures = 0;
                control::resume(&self.store, name).await
            }
            // The runner takes the new row before it answers, so that the
            // status the caller reads next is the new one.
            Control::Skip { position, done } => {
                let skipped = control::skip(&self.store, name, position).await;
                if let Ok(row) = &skipped {
                    self.failures = 0;
                    self.adopt(row.clone());
                }
                let _ = done.send(skipped.map(|_| ()));
                return true;
            }
            Control::Rebuild(done) => {
                let reset = control::rebuild(&self.store, self.projection.as_ref()).await;
                if let Ok(row) = &reset {
                    self.failures = 0;
                    self.adopt(row.clone());
                }
                // The status the rebuild started with: the runner may be
                // done replaying before the caller reads the watch.
                let _ = done.send(reset.map(|_| self.status.borrow().clone()));
                return true;
            }
            Control::Refresh => {
                self.refresh().await;
                return true;
            }
            Control::Stop(done) => {
                self.leave().await;
                let _ = done.send(());
                return false;
            }
        };
        match changed {
            Ok(row) => self.adopt(row),
            Err(err) => {
                tracing::warn!(projection = name, error = %err, "could not change the projection's state")
            }
        }
        true
    }

    /// Saves the checkpoint's state (not its position: that moves only
    /// with the tables) and tells watchers; an operator's pause in the
    /// meantime wins.
    async fn persist(&mut self) -> Result<(), DbErr> {
        let name = self.projection.name();
        let txn = self.store.gate().begin_read_model().await?;
        let stored = checkpoint::load(&*txn, name).await?;
        if let Some(stored) = &stored
            && (stored.lease_epoch != self.checkpoint.lease_epoch
                || stored.state == ProjectionState::Paused)
        {
            txn.rollback().await?;
            self.adopt(stored.clone());
            return Ok(());
        }
        let mut row = self.checkpoint.clone();
        if let Some(stored) = stored {
            row.position = stored.position;
            row.events_processed = stored.events_processed;
            row.skipped = stored.skipped;
        }
        checkpoint::save(&*txn, name, &row).await?;
        checkpoint::announce(&*txn, &self.store, name).await?;
        txn.commit().await?;
        self.checkpoint.position = row.position;
        self.checkpoint.skipped = row.skipped;
        self.publish();
        Ok(())
    }

    fn publish(&self) {
        let status = status_of(
            self.projection.name(),
            &self.checkpoint,
            self.held.is_some(),
        );
        self.status.send_replace(status);
    }
}

/// Taking a projection over, following it, and giving it up.
#[path = "seat.rs"]
mod seat;

/// Handing batches to the joint turn while caught up.
#[path = "joined.rs"]
mod joined;

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
