//! A runner's seat: whether this node runs the projection. A follower
//! reads the row now and then and tries the lock; the node that takes it
//! over bumps the row's epoch; one that loses its lock, or finds another
//! epoch on the row, steps down; a clean stop gives the projection back at
//! once.

use sea_orm::DbErr;

use super::Runner;
use crate::read_models::runtime::ProjectionState;
use crate::read_models::runtime::checkpoint::{self, Checkpoint};

impl Runner {
    /// A follower's turn: obey a control, or, once a second, read the row
    /// again (and try to take the projection over, back in `run`). False
    /// when the task is to end.
    pub(super) async fn follow(&mut self, tick: &mut tokio::time::Interval) -> bool {
        tokio::select! {
            biased;
            control = self.control.recv() => match control {
                Some(control) => self.obey(control).await,
                None => false,
            },
            _ = tick.tick() => {
                self.refresh().await;
                true
            }
        }
    }

    /// Takes the projection over when no node runs it: its lock, then a
    /// new epoch on its row, so that the node that ran it before can write
    /// no more.
    pub(super) async fn try_run(&mut self) -> bool {
        let name = self.projection.name();
        let held = match self.seat.leases.try_acquire(name).await {
            Ok(Some(held)) => held,
            Ok(None) => return false,
            Err(err) => {
                tracing::warn!(projection = name, %err, "could not try the projection's lock");
                return false;
            }
        };
        match self.claim().await {
            Ok(row) => {
                tracing::info!(
                    projection = name,
                    epoch = row.lease_epoch,
                    position = row.position,
                    "running the projection on this node"
                );
                self.held = Some(held);
                self.checkpoint = row;
                self.publish();
                true
            }
            Err(err) => {
                tracing::warn!(projection = name, %err, "could not take the projection over");
                self.seat.leases.release(name, held).await;
                false
            }
        }
    }

    pub(super) async fn claim(&self) -> Result<Checkpoint, DbErr> {
        let name = self.projection.name();
        let txn = self.store.gate().begin_read_model().await?;
        let stored = checkpoint::load(&*txn, name)
            .await?
            .unwrap_or_else(Checkpoint::start);
        let row = Checkpoint {
            lease_epoch: stored.lease_epoch + 1,
            lease_node: Some(self.seat.id.to_string()),
            ..stored
        };
        checkpoint::save(&*txn, name, &row).await?;
        checkpoint::announce(&*txn, &self.store, name).await?;
        txn.commit().await?;
        Ok(row)
    }

    /// Stops running the projection when its lock is gone.
    pub(super) async fn check_lease(&mut self) {
        if self.held.is_some() && !self.lease_held().await {
            self.step_down("its lock was lost").await;
        }
    }

    /// Whether this node still holds the projection's lock.
    pub(super) async fn lease_held(&self) -> bool {
        match &self.held {
            Some(held) => {
                self.seat
                    .leases
                    .still_held(self.projection.name(), held)
                    .await
            }
            None => false,
        }
    }

    pub(super) async fn step_down(&mut self, why: &str) {
        tracing::warn!(
            projection = self.projection.name(),
            why,
            "no longer running the projection"
        );
        if let Some(held) = self.held.take() {
            self.seat.leases.release(self.projection.name(), held).await;
        }
        self.refresh().await;
    }

    /// Reads the row again and takes what it says: a follower's view, or
    /// the running node's after another node changed the row.
    pub(super) async fn refresh(&mut self) {
        match checkpoint::peek(self.store.db(), self.projection.name()).await {
            Ok(Some(row)) => self.adopt(row),
            Ok(None) => {}
            Err(err) => {
                tracing::debug!(projection = self.projection.name(), %err, "could not read the projection's row");
            }
        }
    }

    /// Takes the stored row as this runner's state. A running node whose
    /// epoch the row no longer carries has been replaced: it stops.
    pub(super) fn adopt(&mut self, row: Checkpoint) {
        if self.held.is_some() && row.lease_epoch != self.checkpoint.lease_epoch {
            tracing::warn!(
                projection = self.projection.name(),
                "another node runs the projection now"
            );
            self.held = None;
        }
        if self.held.is_some() && row.position == self.checkpoint.position {
            // CATCHING_UP is stored as RUNNING: keep the finer state.
            let keep = self.checkpoint.state == ProjectionState::CatchingUp
                && row.state == ProjectionState::Running;
            let state = if keep {
                self.checkpoint.state
            } else {
                row.state
            };
            self.checkpoint = Checkpoint { state, ..row };
        } else {
            self.checkpoint = row;
        }
        self.publish();
    }

    /// A clean stop: says on the row that no node runs the projection, and
    /// gives the lock back, so that another node takes over at once.
    pub(super) async fn leave(&mut self) {
        let Some(held) = self.held.take() else { return };
        let name = self.projection.name();
        let cleared = async {
            let txn = self.store.gate().begin_read_model().await?;
            if let Some(stored) = checkpoint::load(&*txn, name).await?
                && stored.lease_epoch == self.checkpoint.lease_epoch
            {
                let row = Checkpoint {
                    lease_node: None,
                    ..stored
                };
                checkpoint::save(&*txn, name, &row).await?;
                checkpoint::announce(&*txn, &self.store, name).await?;
            }
            txn.commit().await
        };
        if let Err(err) = cleared.await {
            tracing::debug!(projection = name, %err, "could not clear the projection's node");
        }
        self.seat.leases.release(name, held).await;
    }
}
