//! `Projection`: a read model's state and progress.

use async_graphql::{Enum, SimpleObject};

use crate::graphql::scalars::{DateTime, Long};
use crate::read_models::{ProjectionState as State, ProjectionStatus};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum ProjectionState {
    Running,
    CatchingUp,
    Paused,
    Rebuilding,
    Failed,
}

impl From<State> for ProjectionState {
    fn from(s: State) -> Self {
        match s {
            State::Running => Self::Running,
            State::CatchingUp => Self::CatchingUp,
            State::Paused => Self::Paused,
            State::Rebuilding => Self::Rebuilding,
            State::Failed => Self::Failed,
        }
    }
}

#[derive(Clone, Debug, SimpleObject)]
pub struct Projection {
    /// AccountBalances, TransactionHistory, DailySummary, Users, ...
    pub name: String,
    pub status: ProjectionState,
    /// Global position of the last event applied.
    pub position: Long,
    pub head_position: Long,
    /// headPosition - position.
    pub lag: Long,
    pub events_processed: Long,
    pub last_error: Option<String>,
    /// While FAILED: the position of the event the projection stopped at.
    pub failed_position: Option<Long>,
    /// Events an operator skipped (skipEvent), oldest first.
    pub skipped_events: Vec<SkippedEvent>,
    pub updated_at: DateTime,
    /// The node that runs this projection now; null while no node does.
    pub node: Option<String>,
}

/// An event a projection passed over without applying it.
#[derive(Clone, Debug, SimpleObject)]
pub struct SkippedEvent {
    pub position: Long,
    /// Why the projection could not apply it.
    pub error: String,
    pub skipped_at: DateTime,
}

impl Projection {
    pub fn new(status: ProjectionStatus, head: i64) -> Self {
        let head = head.max(status.position);
        Self {
            name: status.name.to_owned(),
            status: status.state.into(),
            position: Long(status.position),
            head_position: Long(head),
            lag: Long(head - status.position),
            events_processed: Long(status.events_processed),
            last_error: status.last_error,
            failed_position: status.failed_position.map(Long),
            skipped_events: status
                .skipped
                .into_iter()
                .map(|s| SkippedEvent {
                    position: Long(s.position),
                    error: s.error,
                    skipped_at: s.at.into(),
                })
                .collect(),
            updated_at: status.updated_at.into(),
            node: status.node,
        }
    }

    /// Names no node but a live one: a node that died still stands in its
    /// projections' rows until another takes them over.
    pub fn among(mut self, live: &[String]) -> Self {
        self.node = self.node.filter(|n| live.contains(n));
        self
    }
}
