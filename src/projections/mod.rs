//! The read side: projections fold the global log into read tables.
//!
//! Each projection runs as its own task (`runtime.rs`): it reads the log
//! after its checkpoint in batches, applies a batch to its tables and
//! advances its checkpoint in the same transaction, and sleeps until the
//! store's head moves. Delivery is at least once; the checkpoint read
//! inside that transaction makes a redelivered batch a no-op. Where a
//! projection updates a row: one file per read model
//! (`account_balances.rs`, `transaction_history.rs`, `daily_summary.rs`,
//! `users.rs`), each applying a batch through a pure `fold`.

mod account_balances;
mod checkpoint;
mod daily_summary;
mod runtime;
#[cfg(test)]
pub(crate) mod testing;
mod transaction_history;
mod users;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseTransaction, DbErr};
use tokio::sync::{mpsc, oneshot, watch};

pub use checkpoint::SkippedEvent;

pub use account_balances::{AccountBalances, CLOSED, OPEN};
pub use daily_summary::DailySummary;
pub use transaction_history::{TransactionHistory, TransactionKind};
pub use users::Users;

use crate::domain::DomainEvent;
use crate::store::{EventStore, RecordedEvent, StoreError};

/// A read model fed from the global log.
#[async_trait::async_trait]
pub trait Projection: Send + Sync + 'static {
    /// The name clients use (`AccountBalances`, ...).
    fn name(&self) -> &'static str;

    /// The stream category whose events it folds (`account`, `user`): its
    /// aggregate's. The runtime reads only that category's events, so a
    /// generic append that reuses an event type elsewhere never reaches it.
    fn category(&self) -> &'static str;

    /// Applies `events` (ascending, all after the checkpoint, all of its
    /// category) to the read tables inside `txn`.
    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError>;

    /// Empties the read tables, for a rebuild.
    async fn reset(&self, txn: &DatabaseTransaction) -> Result<(), DbErr>;
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// An event the projection cannot apply (unreadable data, a rule of
    /// the read model broken). The projection stops at it; an operator may
    /// skip it.
    #[error("{0}")]
    Event(String),
    /// A row of the read model that this code cannot read; a rebuild
    /// writes it anew.
    #[error("{0}")]
    Corrupt(String),
    /// Reading the log failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

/// The events of `category` in a batch, with their aggregate ids, decoded.
/// An event that could not be brought to its current schema, or whose data
/// does not decode, is an error at its position: folded, it would be
/// misread.
pub(crate) fn decode<'a, E: DomainEvent>(
    events: &'a [RecordedEvent],
    category: &str,
) -> Result<Vec<(String, &'a RecordedEvent, E)>, ProjectionError> {
    let prefix = format!("{category}-");
    events
        .iter()
        .filter_map(|e| {
            e.stream_id
                .strip_prefix(&prefix)
                .map(|id| (id.to_owned(), e))
        })
        .map(|(id, e)| {
            let unreadable = |why: String| {
                ProjectionError::Event(format!(
                    "event {} ({} at position {}) cannot be read: {why}",
                    e.id, e.event_type, e.position
                ))
            };
            if let Some(reason) = &e.upcast_error {
                return Err(unreadable(reason.clone()));
            }
            let event = E::from_parts(&e.event_type, e.data.clone())
                .map_err(|err| unreadable(err.to_string()))?;
            Ok((id, e, event))
        })
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProjectionState {
    Running,
    CatchingUp,
    Paused,
    Rebuilding,
    Failed,
}

impl ProjectionState {
    /// The stored form: CATCHING_UP is a passing phase of RUNNING.
    fn stored(self) -> &'static str {
        match self {
            Self::Running | Self::CatchingUp => "RUNNING",
            Self::Paused => "PAUSED",
            Self::Rebuilding => "REBUILDING",
            Self::Failed => "FAILED",
        }
    }

    /// The state a stored status names; an unknown one is an error, never
    /// a guess.
    fn parse(s: &str) -> Result<Self, DbErr> {
        match s {
            "RUNNING" => Ok(Self::Running),
            "PAUSED" => Ok(Self::Paused),
            "REBUILDING" => Ok(Self::Rebuilding),
            "FAILED" => Ok(Self::Failed),
            other => Err(DbErr::Type(format!(
                "projection_checkpoints.status {other:?} is not a projection state"
            ))),
        }
    }
}

/// What a projection reports: its state and how far it got.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectionStatus {
    pub name: &'static str,
    pub state: ProjectionState,
    /// Position of the last event applied.
    pub position: i64,
    pub events_processed: i64,
    pub last_error: Option<String>,
    pub failed_position: Option<i64>,
    /// Events an operator skipped, oldest first.
    pub skipped: Vec<SkippedEvent>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) enum Control {
    Pause,
    Resume,
    /// Skips the event the projection failed at (which must be at this
    /// position) and goes on after it.
    Skip {
        position: i64,
        done: oneshot::Sender<Result<(), ProjectionsError>>,
    },
    /// Empties the tables and replays from position 0; answers once the
    /// reset committed.
    Rebuild(oneshot::Sender<Result<(), DbErr>>),
}

struct Projector {
    status: watch::Receiver<ProjectionStatus>,
    control: mpsc::Sender<Control>,
}

/// The running projections of this node.
#[derive(Clone)]
pub struct Projections {
    store: EventStore,
    projectors: Arc<HashMap<&'static str, Projector>>,
    names: Arc<Vec<&'static str>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectionsError {
    #[error("no projection is named {0:?}")]
    Unknown(String),
    #[error(
        "projection {name} has not reached position {position} after {waited:?} (it is at {at})"
    )]
    Timeout {
        name: String,
        position: i64,
        at: i64,
        waited: Duration,
    },
    #[error("projection {0} stopped")]
    Stopped(String),
    /// A skip of an event the projection is not failed at.
    #[error("{0}")]
    NothingToSkip(String),
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

impl Projections {
    /// Starts one task per projection, each from its stored checkpoint.
    pub async fn start(
        store: EventStore,
        projections: Vec<Arc<dyn Projection>>,
    ) -> Result<Self, DbErr> {
        let mut projectors = HashMap::new();
        let mut names = Vec::new();
        for projection in projections {
            let name = projection.name();
            let stored = checkpoint::load(store.db(), name)
                .await?
                .unwrap_or_else(checkpoint::Checkpoint::start);
            let (status, control) = runtime::spawn(store.clone(), projection, stored);
            projectors.insert(name, Projector { status, control });
            names.push(name);
        }
        Ok(Self {
            store,
            projectors: Arc::new(projectors),
            names: Arc::new(names),
        })
    }

    /// The standard read models.
    pub fn standard() -> Vec<Arc<dyn Projection>> {
        vec![
            Arc::new(AccountBalances),
            Arc::new(TransactionHistory),
            Arc::new(DailySummary),
            Arc::new(Users),
        ]
    }

    pub fn names(&self) -> &[&'static str] {
        &self.names
    }

    pub fn status(&self, name: &str) -> Result<ProjectionStatus, ProjectionsError> {
        Ok(self.projector(name)?.status.borrow().clone())
    }

    /// Every status change of one projection.
    pub fn watch(&self, name: &str) -> Result<watch::Receiver<ProjectionStatus>, ProjectionsError> {
        Ok(self.projector(name)?.status.clone())
    }

    /// The last position this node committed.
    pub fn head(&self) -> i64 {
        self.store.head()
    }

    /// The log's head as stored (other nodes' appends included).
    pub async fn stored_head(&self) -> Result<i64, crate::store::StoreError> {
        self.store.stored_head().await
    }

    pub async fn pause(&self, name: &str) -> Result<ProjectionStatus, ProjectionsError> {
        self.send(name, Control::Pause).await?;
        self.settled(name, |s| s.state == ProjectionState::Paused)
            .await
    }

    pub async fn resume(&self, name: &str) -> Result<ProjectionStatus, ProjectionsError> {
        self.send(name, Control::Resume).await?;
        self.settled(name, |s| s.state != ProjectionState::Paused)
            .await
    }

    /// Skips the event at `position`, at which the projection has failed:
    /// the checkpoint moves past it without applying it, the skip is
    /// recorded on the checkpoint row, and the projection runs again.
    pub async fn skip(
        &self,
        name: &str,
        position: i64,
    ) -> Result<ProjectionStatus, ProjectionsError> {
        let (done, skipped) = oneshot::channel();
        self.send(name, Control::Skip { position, done }).await?;
        skipped
            .await
            .map_err(|_| ProjectionsError::Stopped(name.to_string()))??;
        self.status(name)
    }

    /// Resets the projection's tables and checkpoint and replays the log;
    /// returns once the reset committed (the replay goes on).
    pub async fn rebuild(&self, name: &str) -> Result<ProjectionStatus, ProjectionsError> {
        let (done, reset) = oneshot::channel();
        self.send(name, Control::Rebuild(done)).await?;
        reset
            .await
            .map_err(|_| ProjectionsError::Stopped(name.to_string()))??;
        self.status(name)
    }

    /// Waits until every projection in `names` has applied `position`,
    /// woken by the projectors as they commit, at most `timeout`.
    pub async fn wait_for(
        &self,
        names: &[&str],
        position: i64,
        timeout: Duration,
    ) -> Result<(), ProjectionsError> {
        let deadline = tokio::time::Instant::now() + timeout;
        for name in names {
            let mut status = self.watch(name)?;
            let reached =
                tokio::time::timeout_at(deadline, status.wait_for(|s| s.position >= position))
                    .await
                    .map(|r| r.map(|_| ()));
            match reached {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(ProjectionsError::Stopped(name.to_string())),
                Err(_) => {
                    return Err(ProjectionsError::Timeout {
                        name: name.to_string(),
                        position,
                        at: self.status(name)?.position,
                        waited: timeout,
                    });
                }
            }
        }
        Ok(())
    }

    fn projector(&self, name: &str) -> Result<&Projector, ProjectionsError> {
        self.projectors
            .get(name)
            .ok_or_else(|| ProjectionsError::Unknown(name.to_owned()))
    }

    async fn send(&self, name: &str, control: Control) -> Result<(), ProjectionsError> {
        let projector = self.projector(name)?;
        projector
            .control
            .send(control)
            .await
            .map_err(|_| ProjectionsError::Stopped(name.to_string()))
    }

    /// The status once the projector has acted on a control message.
    async fn settled(
        &self,
        name: &str,
        done: impl Fn(&ProjectionStatus) -> bool,
    ) -> Result<ProjectionStatus, ProjectionsError> {
        let mut status = self.watch(name)?;
        let wait = status.wait_for(|s| done(s));
        match tokio::time::timeout(Duration::from_secs(10), wait).await {
            Ok(Ok(s)) => Ok(s.clone()),
            _ => Ok(self.status(name)?),
        }
    }
}
