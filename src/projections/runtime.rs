//! One projection's task: read a batch after the checkpoint, apply it and
//! move the checkpoint in one transaction, repeat; sleep until the head
//! moves; obey pause, resume and rebuild; on a failing event, stop there,
//! report FAILED with its position, and retry with backoff.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sea_orm::DbErr;
use tokio::sync::{mpsc, watch};

use super::checkpoint::{self, Checkpoint};
use super::{Control, Projection, ProjectionError, ProjectionState, ProjectionStatus};
use crate::store::{EventStore, LogFilter, RecordedEvent, StoreError};

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

enum Step {
    Applied,
    Idle,
}

impl Runner {
    async fn run(mut self) {
        let mut head = self.store.watch_head();
        loop {
            if self.checkpoint.state == ProjectionState::Paused {
                match self.control.recv().await {
                    Some(control) => self.obey(control).await,
                    None => return,
                }
                continue;
            }
            head.borrow_and_update();
            let step = self.step().await;
            let wait = match step {
                Ok(Step::Applied) => {
                    self.failures = 0;
                    Duration::ZERO
                }
                Ok(Step::Idle) => {
                    self.failures = 0;
                    IDLE_POLL
                }
                Err(err) => self.fail(err).await,
            };
            tokio::select! {
                biased;
                control = self.control.recv() => match control {
                    Some(control) => self.obey(control).await,
                    None => return,
                },
                changed = head.changed(), if wait == IDLE_POLL => if changed.is_err() { return },
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Applies the next batch, if any.
    async fn step(&mut self) -> Result<Step, (Option<i64>, ProjectionError)> {
        let _turn = self.store.gate().read_model_turn().await;
        let events = match self.read_batch().await {
            Ok(events) => events,
            Err(failure) => return Err(failure),
        };
        if events.is_empty() {
            if matches!(
                self.checkpoint.state,
                ProjectionState::CatchingUp | ProjectionState::Rebuilding
            ) {
                self.checkpoint.state = ProjectionState::Running;
                self.persist().await.map_err(|e| (None, e.into()))?;
            }
            return Ok(Step::Idle);
        }
        let more = events.len() as u64 == BATCH;
        match self.commit(&events, more).await {
            Ok(()) => Ok(Step::Applied),
            // Find the event at fault: what precedes it is applied, so
            // the checkpoint stops right before it.
            Err(ProjectionError::Event(_)) if events.len() > 1 => {
                for event in &events {
                    if let Err(err) = self.commit(std::slice::from_ref(event), true).await {
                        return Err((Some(event.position), err));
                    }
                }
                Ok(Step::Applied)
            }
            Err(err) => Err((events.first().map(|e| e.position), err)),
        }
    }

    /// The next batch. An event that cannot be read (no upcaster knows its
    /// version) ends the batch: what precedes it is applied, and the
    /// projection fails at its position rather than stalling unexplained.
    async fn read_batch(&mut self) -> Result<Vec<RecordedEvent>, (Option<i64>, ProjectionError)> {
        let after = self.checkpoint.position;
        match self
            .store
            .read_log(after, &LogFilter::default(), BATCH)
            .await
        {
            Ok(events) => Ok(events),
            Err(StoreError::Upcast { position, message }) => {
                let before = self
                    .store
                    .read_log_until(after, position - 1, &LogFilter::default(), BATCH)
                    .await
                    .map_err(|e| (Some(position), ProjectionError::Event(e.to_string())))?;
                if before.is_empty() {
                    Err((Some(position), ProjectionError::Event(message)))
                } else {
                    Ok(before)
                }
            }
            Err(err) => Err((None, ProjectionError::Event(err.to_string()))),
        }
    }

    /// Applies `events` and moves the checkpoint in one transaction. The
    /// checkpoint is re-read inside it, so events already applied (a
    /// redelivery, or another node that got there first) are skipped.
    async fn commit(
        &mut self,
        events: &[RecordedEvent],
        more: bool,
    ) -> Result<(), ProjectionError> {
        let name = self.projection.name();
        let txn = self.store.gate().begin_read_model().await?;
        let stored = checkpoint::load(&*txn, name)
            .await?
            .unwrap_or_else(Checkpoint::start);
        let fresh: Vec<RecordedEvent> = events
            .iter()
            .filter(|e| e.position > stored.position)
            .cloned()
            .collect();
        let Some(last) = fresh.last().map(|e| e.position) else {
            txn.rollback().await?;
            self.checkpoint.position = stored.position;
            return Ok(());
        };
        self.projection.apply(&txn, &fresh).await?;
        let state = match self.checkpoint.state {
            ProjectionState::Rebuilding => ProjectionState::Rebuilding,
            _ if more => ProjectionState::CatchingUp,
            _ => ProjectionState::Running,
        };
        let next = Checkpoint {
            position: last,
            state,
            events_processed: stored.events_processed + fresh.len() as i64,
            last_error: None,
            failed_position: None,
            updated_at: Utc::now(),
        };
        checkpoint::save(&*txn, name, &next).await?;
        txn.commit().await?;
        self.checkpoint = next;
        self.publish();
        Ok(())
    }

    /// Records a failure and returns how long to wait before retrying.
    async fn fail(&mut self, (position, err): (Option<i64>, ProjectionError)) -> Duration {
        self.failures += 1;
        tracing::warn!(projection = self.projection.name(), ?position, error = %err, "projection failed");
        self.checkpoint.state = ProjectionState::Failed;
        self.checkpoint.last_error = Some(err.to_string());
        self.checkpoint.failed_position = position;
        self.checkpoint.updated_at = Utc::now();
        if let Err(err) = self.persist().await {
            tracing::warn!(projection = self.projection.name(), error = %err, "could not record the failure");
        }
        let backoff = Duration::from_millis(100) * 2u32.saturating_pow(self.failures.min(9));
        backoff.min(MAX_BACKOFF)
    }

    async fn obey(&mut self, control: Control) {
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
            Control::Rebuild(done) => {
                let result = self.reset().await;
                let _ = done.send(result);
            }
        }
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
        }
        checkpoint::save(&*txn, self.projection.name(), &row).await?;
        txn.commit().await?;
        self.checkpoint.position = row.position;
        self.publish();
        Ok(())
    }

    fn publish(&self) {
        self.status
            .send_replace(status_of(self.projection.name(), &self.checkpoint));
    }
}

#[cfg(test)]
mod tests;
