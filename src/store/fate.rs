//! What became of an append that later appends were decided on.
//!
//! The command layer lets the next command on an aggregate decide on the
//! state an earlier command's append will produce, before that append has
//! committed (`commands/in_flight.rs`): on one hot aggregate, commands then
//! share group commits instead of taking one commit each. Such an append
//! names the earlier one's fate as a precondition ([`AppendRequest::after`]),
//! and the writer refuses it with a conflict unless that append committed,
//! before it or in the same transaction. The version check alone would not
//! do: on PostgreSQL another node may bring the stream to the same version
//! with other events.
//!
//! [`AppendRequest::after`]: super::AppendRequest::after

use std::sync::Arc;

use tokio::sync::watch;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FateState {
    /// Queued or being written.
    Pending,
    Committed,
    /// Refused, or its transaction failed: nothing of it is stored.
    Failed,
}

/// Set once, by the writer (or, when the writer never answered, by the
/// command that queued the append); awaited by whoever decided on it.
pub struct Fate {
    state: watch::Sender<FateState>,
}

impl Fate {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            state: watch::channel(FateState::Pending).0,
        })
    }

    pub fn state(&self) -> FateState {
        *self.state.borrow()
    }

    /// Returns once the append has committed or failed.
    pub async fn settled(&self) -> FateState {
        let mut state = self.state.subscribe();
        // The sender lives as long as `self`, so waiting cannot fail.
        match state.wait_for(|s| *s != FateState::Pending).await {
            Ok(s) => *s,
            Err(_) => FateState::Failed,
        }
    }

    /// Settles a pending fate; a settled one stays as it is.
    pub(crate) fn settle(&self, outcome: FateState) {
        self.state.send_if_modified(|s| {
            let pending = *s == FateState::Pending;
            if pending {
                *s = outcome;
            }
            pending
        });
    }
}

impl std::fmt::Debug for Fate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Fate").field(&self.state()).finish()
    }
}

/// One fate is equal only to itself.
impl PartialEq for Fate {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}
