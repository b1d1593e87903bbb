//! A caught-up runner in the node's joint turn (`turn.rs`): it takes the
//! turn's updates as its own commits, and leaves the turn, waiting until
//! no batch of it is in flight, before it does anything else.

use tokio::sync::mpsc;

use super::Runner;
use crate::read_models::Memo;
use crate::read_models::runtime::ProjectionState;
use crate::read_models::runtime::turn::{Left, Member, Update};

impl Runner {
    /// Whether the joint turn may apply this projection's batches: this
    /// node runs it, it is caught up and RUNNING, and its last step did
    /// not fail.
    pub(super) fn may_join(&self) -> bool {
        self.held.is_some()
            && self.checkpoint.state == ProjectionState::Running
            && self.failures == 0
    }

    /// Stays in the joint turn until a control, a lost lock or the turn
    /// itself needs the runner. False when the task is to end.
    pub(super) async fn joined(&mut self, lease_check: &mut tokio::time::Interval) -> bool {
        let (updates_tx, mut updates) = mpsc::unbounded_channel();
        self.seat.turns.join(Member {
            projection: self.projection.clone(),
            checkpoint: self.checkpoint.clone(),
            updates: updates_tx,
            memo: Memo::on(),
        });
        loop {
            tokio::select! {
                biased;
                control = self.control.recv() => {
                    self.leave_turn(&mut updates).await;
                    return match control {
                        Some(control) => self.obey(control).await,
                        None => false,
                    };
                }
                // The check only reads whether the lock is still held,
                // so the runner stays in the turn while it does: leaving
                // would drop the memo (`memo.rs`) and make the runner
                // step alone once, every second. Writes made meanwhile
                // are fenced by the row's epoch either way.
                _ = lease_check.tick() => {
                    if self.lease_held().await {
                        continue;
                    }
                    self.leave_turn(&mut updates).await;
                    self.step_down("its lock was lost").await;
                    return true;
                }
                update = updates.recv() => match update {
                    Some(Update::Applied(next)) => self.take_applied(next),
                    Some(Update::Left(left)) => {
                        self.take_left(left).await;
                        return true;
                    }
                    // The turn is gone: the runner goes on alone.
                    None => return true,
                },
            }
        }
    }

    /// Leaves the turn and takes what it applied meanwhile.
    async fn leave_turn(&mut self, updates: &mut mpsc::UnboundedReceiver<Update>) {
        self.seat.turns.leave(self.projection.name());
        while let Some(update) = updates.recv().await {
            match update {
                Update::Applied(next) => self.take_applied(next),
                Update::Left(left) => self.take_left(left).await,
            }
        }
    }

    fn take_applied(&mut self, next: super::Checkpoint) {
        self.checkpoint = next;
        self.publish();
    }

    async fn take_left(&mut self, left: Left) {
        match left {
            Left::Fenced => self.step_down("another node took it over").await,
            Left::Adopt(row) => self.adopt(row),
            Left::Solo => {}
        }
    }
}
