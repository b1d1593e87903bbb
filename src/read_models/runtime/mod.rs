//! Running the projections: one task per projection (`runner.rs`), its
//! checkpoint row (`checkpoint.rs`), what a batch does to it
//! (`advance.rs`), the joint turn that applies the caught-up ones together
//! (`turn.rs`), and [`Projections`], this node's handle on them (status,
//! pause, resume, skip, rebuild, read-your-writes waits).

mod advance;
mod checkpoint;
mod control;
mod lease;
mod pace;
mod runner;
mod turn;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::DbErr;
use tokio::sync::{mpsc, oneshot, watch};

pub use checkpoint::{CHANNEL as PROJECTION_CHANNEL, SkippedEvent};

use super::Projection;
use crate::store::EventStore;

/// Events per transaction: large enough to amortize the commit, small
/// enough that a status change is seen within a few milliseconds.
const BATCH: u64 = 500;
/// Another node's appends do not wake this node's head watch (until it
/// listens for them), so an idle projector still looks now and then.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// How soon a `minPosition` wait on a node that does not run the
/// projection first reads its row again, and the longest it waits between
/// two reads.
const FOLLOWER_FIRST_POLL: Duration = Duration::from_millis(2);
const FOLLOWER_MAX_POLL: Duration = Duration::from_millis(50);

/// Why a wait ended early: the runner is gone, or the deadline passed
/// with the projection at this position.
enum Waited {
    Stopped,
    Timeout(i64),
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
    /// The state as the API names it (the GraphQL enum's values).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::CatchingUp => "CATCHING_UP",
            Self::Paused => "PAUSED",
            Self::Rebuilding => "REBUILDING",
            Self::Failed => "FAILED",
        }
    }

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
    /// The node that last took the projection over (it may have died
    /// since: the node registry says which nodes live).
    pub node: Option<String>,
    /// Whether this node runs it now.
    pub running_here: bool,
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
    /// reset committed, with the status the replay starts in.
    Rebuild(oneshot::Sender<Result<ProjectionStatus, DbErr>>),
    /// Another node changed the row (its notification says so): read it.
    Refresh,
    /// Ends the task once the batch in progress (if any) has committed.
    Stop(oneshot::Sender<()>),
}

struct Projector {
    status: watch::Receiver<ProjectionStatus>,
    control: mpsc::Sender<Control>,
}

/// The running projections of this node.
#[derive(Clone)]
pub struct Projections {
    store: EventStore,
    leases: lease::Leases,
    projectors: Arc<HashMap<&'static str, Projector>>,
    names: Arc<Vec<&'static str>>,
    turns: turn::Turns,
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
    /// Starts one task per projection, each from its stored checkpoint,
    /// on a node named `node_id` that runs projections when `may_run`
    /// (else it only follows their rows); the caught-up ones apply new
    /// commits together, at most once per `interval` (`pace.rs`).
    pub async fn start(
        store: EventStore,
        projections: Vec<Arc<dyn Projection>>,
        node_id: &str,
        may_run: bool,
        interval: Duration,
    ) -> Result<Self, DbErr> {
        let leases = lease::Leases::new(&store);
        let turns = turn::Turns::start(store.clone(), interval);
        let seat = runner::NodeSeat {
            id: Arc::from(node_id),
            may_run,
            leases: leases.clone(),
            turns: turns.clone(),
        };
        let mut projectors = HashMap::new();
        let mut names = Vec::new();
        for projection in projections {
            let name = projection.name();
            let stored = checkpoint::peek(store.db(), name)
                .await?
                .unwrap_or_else(checkpoint::Checkpoint::start);
            let (status, control) = runner::spawn(store.clone(), projection, stored, seat.clone());
            projectors.insert(name, Projector { status, control });
            names.push(name);
        }
        Ok(Self {
            store,
            leases,
            projectors: Arc::new(projectors),
            names: Arc::new(names),
            turns,
        })
    }

    /// The standard read models.
    pub fn standard() -> Vec<Arc<dyn Projection>> {
        vec![
            Arc::new(super::AccountBalances),
            Arc::new(super::TransactionHistory),
            Arc::new(super::DailySummary),
            Arc::new(super::Users),
        ]
    }

    /// Another node changed `name`'s row: its runner here reads it again.
    pub fn refresh(&self, name: &str) {
        if let Some(projector) = self.projectors.get(name) {
            let _ = projector.control.try_send(Control::Refresh);
        }
    }

    /// Every runner reads its row again (after notifications may have been
    /// missed).
    pub fn refresh_all(&self) {
        for name in self.names.iter() {
            self.refresh(name);
        }
    }

    /// The projections this node runs now.
    pub fn running_here(&self) -> Vec<&'static str> {
        self.names
            .iter()
            .copied()
            .filter(|name| self.status(name).is_ok_and(|s| s.running_here))
            .collect()
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
    /// returns once the reset committed (the replay goes on), with the
    /// status it started in: a short replay may be over by the time the
    /// caller could read the status again.
    pub async fn rebuild(&self, name: &str) -> Result<ProjectionStatus, ProjectionsError> {
        let (done, reset) = oneshot::channel();
        self.send(name, Control::Rebuild(done)).await?;
        let started = reset
            .await
            .map_err(|_| ProjectionsError::Stopped(name.to_string()))??;
        Ok(started)
    }

    /// Stops every projection of this node, each after the batch it is
    /// applying; returns when all have stopped.
    pub async fn stop(&self) {
        for projector in self.projectors.values() {
            let (done, stopped) = oneshot::channel();
            if projector.control.send(Control::Stop(done)).await.is_ok() {
                let _ = stopped.await;
            }
        }
        self.leases.close().await;
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
            let status = self.watch(name)?;
            self.wait_one(name, status, position, deadline)
                .await
                .map_err(|reason| match reason {
                    Waited::Stopped => ProjectionsError::Stopped(name.to_string()),
                    Waited::Timeout(at) => ProjectionsError::Timeout {
                        name: name.to_string(),
                        position,
                        at,
                        waited: timeout,
                    },
                })?;
        }
        Ok(())
    }

    /// Waits until `name` has applied `position`. On a node that does not
    /// run it, the row is read again now and then while waiting (2 ms,
    /// doubling to 50 ms): the running node does not announce every batch.
    async fn wait_one(
        &self,
        name: &str,
        mut status: watch::Receiver<ProjectionStatus>,
        position: i64,
        deadline: tokio::time::Instant,
    ) -> Result<(), Waited> {
        let mut poll = FOLLOWER_FIRST_POLL;
        loop {
            let (at, here) = {
                let seen = status.borrow_and_update();
                (seen.position, seen.running_here)
            };
            if at >= position {
                return Ok(());
            }
            if here {
                self.turns.hurry();
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(Waited::Timeout(at));
            }
            let until = if here {
                deadline
            } else {
                deadline.min(now + poll)
            };
            match tokio::time::timeout_at(until, status.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(Waited::Stopped),
                Err(_) if here => {}
                Err(_) => {
                    self.refresh(name);
                    poll = (poll * 2).min(FOLLOWER_MAX_POLL);
                }
            }
        }
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
