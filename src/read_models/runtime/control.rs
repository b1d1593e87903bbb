//! What an operator does to a projection (pause, resume, skip, rebuild),
//! done on its checkpoint row, under the row's lock, by whichever node
//! the request reached. The node that runs the projection learns of it
//! from the row: at its next apply transaction, which finds the row moved
//! on, and at once from the notification each change sends. So the state
//! is the database's, and every node obeys it.

use chrono::Utc;
use sea_orm::DbErr;

use super::checkpoint::{self, Checkpoint, SkippedEvent};
use super::{ProjectionState, ProjectionsError};
use crate::read_models::Projection;
use crate::store::EventStore;

/// Pauses: the runner applies nothing until a resume.
pub async fn pause(store: &EventStore, name: &str) -> Result<Checkpoint, DbErr> {
    change(store, name, |row| {
        if row.state != ProjectionState::Paused {
            row.state = ProjectionState::Paused;
        }
    })
    .await
}

/// Resumes a paused projection, or retries a failed one at once.
pub async fn resume(store: &EventStore, name: &str) -> Result<Checkpoint, DbErr> {
    change(store, name, |row| {
        if matches!(row.state, ProjectionState::Paused | ProjectionState::Failed) {
            row.state = ProjectionState::Running;
        }
    })
    .await
}

/// Moves the checkpoint past the event at `position` without applying
/// it, provided the projection has failed at exactly that event; the skip
/// is recorded on the row.
pub async fn skip(
    store: &EventStore,
    name: &str,
    position: i64,
) -> Result<Checkpoint, ProjectionsError> {
    let txn = store.gate().begin_read_model().await?;
    let stored = checkpoint::load(&*txn, name)
        .await?
        .unwrap_or_else(Checkpoint::start);
    if stored.state != ProjectionState::Failed || stored.failed_position != Some(position) {
        txn.rollback().await?;
        let now = match stored.failed_position {
            Some(failed) if stored.state == ProjectionState::Failed => {
                format!("it failed at position {failed}")
            }
            _ => format!("it is {:?}", stored.state),
        };
        return Err(ProjectionsError::NothingToSkip(format!(
            "{name} has not failed at position {position} ({now}); only the event a \
             projection failed at can be skipped"
        )));
    }
    let error = stored.last_error.clone().unwrap_or_default();
    let mut skipped = stored.skipped.clone();
    skipped.push(SkippedEvent {
        position,
        error: error.clone(),
        at: Utc::now(),
    });
    let next = Checkpoint {
        position: position.max(stored.position),
        state: ProjectionState::Running,
        last_error: None,
        failed_position: None,
        skipped,
        updated_at: Utc::now(),
        ..stored
    };
    checkpoint::save(&*txn, name, &next).await?;
    checkpoint::announce(&*txn, store, name).await?;
    txn.commit().await?;
    tracing::warn!(projection = name, position, %error, "event skipped by an operator");
    Ok(next)
}

/// Empties the projection's tables and puts its checkpoint back to the
/// start, REBUILDING, in one transaction; the runner replays the log.
pub async fn rebuild(store: &EventStore, projection: &dyn Projection) -> Result<Checkpoint, DbErr> {
    let name = projection.name();
    let txn = store.gate().begin_read_model().await?;
    let stored = checkpoint::load(&*txn, name)
        .await?
        .unwrap_or_else(Checkpoint::start);
    projection.reset(&txn).await?;
    let rebuilding = Checkpoint {
        state: ProjectionState::Rebuilding,
        lease_epoch: stored.lease_epoch,
        lease_node: stored.lease_node,
        ..Checkpoint::start()
    };
    checkpoint::save(&*txn, name, &rebuilding).await?;
    checkpoint::announce(&*txn, store, name).await?;
    txn.commit().await?;
    Ok(rebuilding)
}

/// Changes the row's state with `edit`, keeping its position and lease.
async fn change(
    store: &EventStore,
    name: &str,
    edit: impl FnOnce(&mut Checkpoint),
) -> Result<Checkpoint, DbErr> {
    let txn = store.gate().begin_read_model().await?;
    let mut row = checkpoint::load(&*txn, name)
        .await?
        .unwrap_or_else(Checkpoint::start);
    let before = row.state;
    edit(&mut row);
    if row.state == before {
        txn.rollback().await?;
        return Ok(row);
    }
    row.updated_at = Utc::now();
    checkpoint::save(&*txn, name, &row).await?;
    checkpoint::announce(&*txn, store, name).await?;
    txn.commit().await?;
    Ok(row)
}
