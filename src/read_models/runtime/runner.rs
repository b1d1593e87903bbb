//! One projection's task: read a batch of its category's events after the
//! checkpoint, apply it and move the checkpoint in one transaction,
//! repeat; sleep until the head moves; obey pause, resume, skip and
//! rebuild; on a failing event, stop there, report FAILED with its
//! position, and retry with backoff.
//!
//! The checkpoint moves over the whole log, not only over the events the
//! projection reads: a batch reads up to the head it saw, and when it is
//! not full, everything up to that head has been seen. So a read that asks
//! for a position held by another category's event (a generic append)
//! still finds the projection there. The head is the store's watch (this
//! node's commits, no query); another node's commits move it when the idle
//! poll reads the stored head.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sea_orm::DbErr;
use tokio::sync::{mpsc, watch};

use super::checkpoint::{self, Checkpoint, SkippedEvent};
use super::{Control, ProjectionState, ProjectionStatus, ProjectionsError};
use crate::read_models::{Projection, ProjectionError};
use crate::store::{EventStore, LogFilter, RecordedEvent};

/// Events per transaction: large enough to amortize the commit, small
/// enough that a status change is seen within a few milliseconds.
const BATCH: u64 = 500;
/// Another node's appends do not wake this node's head watch (until it
/// listens for them), so an idle projector still looks now and then.
const IDLE_POLL: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

pub(super) fn spawn(
    store: EventStore,
    projection: Arc<dyn Projection>,
    checkpoint: Checkpoint,
) -> (watch::Receiver<ProjectionStatus>, mpsc::Sender<Control>) {
    let (status_tx, status_rx) = watch::channel(status_of(projection.name(), &checkpoint));
    let (control_tx, control_rx) = mpsc::channel(16);
    let runner = Runner {
        store,
        projection,
        checkpoint,
        status: status_tx,
        control: control_rx,
        failures: 0,
    };
    tokio::spawn(runner.run());
    (status_rx, control_tx)
}

fn status_of(name: &'static str, c: &Checkpoint) -> ProjectionStatus {
    ProjectionStatus {
        name,
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
}

/// What the runner does after a step.
enum Next {
    /// A batch was applied: there may be more right away.
    Continue,
    /// Caught up: wait for the head to move (or the idle poll).
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
        loop {
            if self.checkpoint.state == ProjectionState::Paused {
                let Some(control) = self.control.recv().await else {
                    return;
                };
                if !self.obey(control).await {
                    return;
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
                changed = head.changed(), if idle => if changed.is_err() { return },
                () = tokio::time::sleep(wait) => if idle {
                    // Nothing woke it: look for other nodes' commits.
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
            Ok(()) => Ok(Next::Continue),
            Err(ProjectionError::Event(_)) if batch.events.len() > 1 => {
                self.apply_one_by_one(&batch).await
            }
            Err(error) => Err(Failure {
                position: batch.events.first().map(|e| e.position),
                error,
            }),
        }
    }

    /// A batch failed on an event: applies it event by event, so that what
    /// precedes the event at fault is applied and the checkpoint stops
    /// right before it.
    async fn apply_one_by_one(&mut self, batch: &Batch) -> Result<Next, Failure> {
        for event in &batch.events {
            self.commit(std::slice::from_ref(event), event.position, true)
                .await
                .map_err(Failure::at(Some(event.position)))?;
        }
        self.commit(&[], batch.through, batch.full)
            .await
            .map_err(Failure::at(None))?;
        Ok(Next::Continue)
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
    /// transaction. The checkpoint is re-read inside it, so events already
    /// applied (a redelivery, or another node that got there first) are
    /// skipped.
    async fn commit(
        &mut self,
        events: &[RecordedEvent],
        through: i64,
        more: bool,
    ) -> Result<(), ProjectionError> {
        let name = self.projection.name();
        let txn = self.store.gate().begin_read_model().await?;
        let stored = checkpoint::load(&*txn, name)
            .await?
            .unwrap_or_else(Checkpoint::start);
        if through <= stored.position {
            txn.rollback().await?;
            self.checkpoint.position = stored.position;
            self.checkpoint.events_processed = stored.events_processed;
            return Ok(());
        }
        let fresh: Vec<RecordedEvent> = events
            .iter()
            .filter(|e| e.position > stored.position)
            .cloned()
            .collect();
        if !fresh.is_empty() {
            self.projection.apply(&txn, &fresh).await?;
        }
        let state = match self.checkpoint.state {
            ProjectionState::Rebuilding => ProjectionState::Rebuilding,
            _ if more => ProjectionState::CatchingUp,
            _ => ProjectionState::Running,
        };
        let next = Checkpoint {
            position: through,
            state,
            events_processed: stored.events_processed + fresh.len() as i64,
            last_error: None,
            failed_position: None,
            skipped: stored.skipped,
            updated_at: Utc::now(),
        };
        checkpoint::save(&*txn, name, &next).await?;
        txn.commit().await?;
        self.checkpoint = next;
        self.publish();
        Ok(())
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

    /// Acts on `control`; false when the task is to end.
    async fn obey(&mut self, control: Control) -> bool {
        match control {
            Control::Pause => self.set_state(ProjectionState::Paused).await,
            Control::Resume => {
                // A resume also retries a failed projection at once.
                self.failures = 0;
                if matches!(
                    self.checkpoint.state,
                    ProjectionState::Paused | ProjectionState::Failed
                ) {
                    self.set_state(ProjectionState::Running).await;
                }
            }
            Control::Skip { position, done } => {
                let _ = done.send(self.skip(position).await);
            }
            Control::Rebuild(done) => {
                let result = self.reset().await;
                let _ = done.send(result);
            }
            Control::Stop(done) => {
                let _ = done.send(());
                return false;
            }
        }
        true
    }

    /// Moves the checkpoint past the event at `position` without applying
    /// it, provided the projection is failed at exactly that event.
    async fn skip(&mut self, position: i64) -> Result<(), ProjectionsError> {
        let name = self.projection.name();
        if self.checkpoint.state != ProjectionState::Failed
            || self.checkpoint.failed_position != Some(position)
        {
            let now = match self.checkpoint.failed_position {
                Some(failed) if self.checkpoint.state == ProjectionState::Failed => {
                    format!("it failed at position {failed}")
                }
                _ => format!("it is {:?}", self.checkpoint.state),
            };
            return Err(ProjectionsError::NothingToSkip(format!(
                "{name} has not failed at position {position} ({now}); only the event a \
                 projection failed at can be skipped"
            )));
        }
        let txn = self.store.gate().begin_read_model().await?;
        let stored = checkpoint::load(&*txn, name)
            .await?
            .unwrap_or_else(Checkpoint::start);
        if stored.position >= position {
            txn.rollback().await?;
            return Err(ProjectionsError::NothingToSkip(format!(
                "{name} is already past position {position}"
            )));
        }
        let error = self.checkpoint.last_error.clone().unwrap_or_default();
        let mut skipped = stored.skipped;
        skipped.push(SkippedEvent {
            position,
            error: error.clone(),
            at: Utc::now(),
        });
        let next = Checkpoint {
            position,
            state: ProjectionState::Running,
            events_processed: stored.events_processed,
            last_error: None,
            failed_position: None,
            skipped,
            updated_at: Utc::now(),
        };
        checkpoint::save(&*txn, name, &next).await?;
        txn.commit().await?;
        tracing::warn!(projection = name, position, %error, "event skipped by an operator");
        self.failures = 0;
        self.checkpoint = next;
        self.publish();
        Ok(())
    }

    async fn set_state(&mut self, state: ProjectionState) {
        self.checkpoint.state = state;
        self.checkpoint.updated_at = Utc::now();
        if let Err(err) = self.persist().await {
            tracing::warn!(projection = self.projection.name(), error = %err, "could not save the projection state");
        }
    }

    async fn reset(&mut self) -> Result<(), DbErr> {
        let txn = self.store.gate().begin_read_model().await?;
        self.projection.reset(&txn).await?;
        let rebuilding = Checkpoint {
            state: ProjectionState::Rebuilding,
            ..Checkpoint::start()
        };
        checkpoint::save(&*txn, self.projection.name(), &rebuilding).await?;
        txn.commit().await?;
        self.failures = 0;
        self.checkpoint = rebuilding;
        self.publish();
        Ok(())
    }

    /// Saves the checkpoint's state (not its position: that moves only
    /// with the tables) and tells watchers.
    async fn persist(&mut self) -> Result<(), DbErr> {
        let txn = self.store.gate().begin_read_model().await?;
        let stored = checkpoint::load(&*txn, self.projection.name()).await?;
        let mut row = self.checkpoint.clone();
        if let Some(stored) = stored {
            row.position = stored.position;
            row.events_processed = stored.events_processed;
            row.skipped = stored.skipped;
        }
        checkpoint::save(&*txn, self.projection.name(), &row).await?;
        txn.commit().await?;
        self.checkpoint.position = row.position;
        self.checkpoint.skipped = row.skipped;
        self.publish();
        Ok(())
    }

    fn publish(&self) {
        self.status
            .send_replace(status_of(self.projection.name(), &self.checkpoint));
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
