//! A joint turn's batch, folded: each member's checkpoint decided
//! (`advance.rs`) and its events applied to its rows in memory, leaving
//! the statements to send. The turn (`turn.rs`) folds before its
//! transaction begins, on the rows as it last left them, and checks in
//! the transaction that the checkpoints are still those ([`unchanged`]);
//! when one is not, it folds again on what is stored.

use std::collections::{BTreeMap, HashMap};

use sea_orm::{ConnectionTrait, DatabaseExecutor};

use super::super::ProjectionState;
use super::super::advance::{Advance, advance};
use super::super::checkpoint::Checkpoint;
use super::{Left, Member, Update};
use crate::read_models::{ProjectionError, Target, Writes};
use crate::store::{RecordedEvent, category_of};

/// The stretch of the log a turn applies.
pub(super) struct Batch<'a> {
    pub events: &'a [RecordedEvent],
    pub through: i64,
    pub more: bool,
}

/// A turn's batch, folded: the rows and checkpoints to write, the
/// members' new views, and whose change of state to announce.
pub(super) struct Folded {
    pub writes: Writes,
    pub updates: Vec<(&'static str, Update)>,
    pub saves: Vec<(&'static str, Checkpoint)>,
    pub announce: Vec<&'static str>,
}

/// A member's view as its row would read back: CATCHING_UP is stored as
/// RUNNING.
pub(super) fn as_stored(view: &Checkpoint) -> Checkpoint {
    let mut row = view.clone();
    if row.state == ProjectionState::CatchingUp {
        row.state = ProjectionState::Running;
    }
    row
}

/// Whether the row read under the lock is the one the fold assumed, in
/// everything [`advance`] reads of it.
pub(super) fn unchanged(stored: Option<&Checkpoint>, assumed: &Checkpoint) -> bool {
    let start = Checkpoint::start();
    let stored = stored.unwrap_or(&start);
    stored.position == assumed.position
        && stored.lease_epoch == assumed.lease_epoch
        && stored.state == assumed.state
        && stored.events_processed == assumed.events_processed
        && stored.skipped == assumed.skipped
        && stored.lease_node == assumed.lease_node
}

/// Decides each `due` member's part of `batch` against its `stored`
/// row (a missing row is a fresh start) and folds it, reading any row
/// its memo lacks through `reads`.
pub(super) async fn fold(
    members: &mut BTreeMap<&'static str, Member>,
    due: &[&'static str],
    stored: &HashMap<String, Checkpoint>,
    batch: &Batch<'_>,
    reads: &DatabaseExecutor<'_>,
) -> Result<Folded, ProjectionError> {
    let mut folded = Folded {
        writes: Writes::new(reads.get_database_backend()),
        updates: Vec::with_capacity(due.len()),
        saves: Vec::new(),
        announce: Vec::new(),
    };
    for &name in due {
        let Some(member) = members.get_mut(name) else {
            continue;
        };
        let row = stored.get(name).cloned().unwrap_or_else(Checkpoint::start);
        if row.position != member.checkpoint.position
            || row.lease_epoch != member.checkpoint.lease_epoch
        {
            // The table may hold what another writer left: read it.
            member.memo.clear();
        }
        let category = member.projection.category();
        let theirs = batch
            .events
            .iter()
            .filter(|e| category_of(&e.stream_id) == category);
        let update = match advance(&member.checkpoint, row, theirs, batch.through, batch.more) {
            Advance::Fenced => Update::Left(Left::Fenced),
            Advance::Adopt(row) => Update::Left(Left::Adopt(row)),
            Advance::Already(row) => Update::Applied(Checkpoint {
                position: row.position,
                events_processed: row.events_processed,
                ..member.checkpoint.clone()
            }),
            Advance::Apply {
                fresh,
                next,
                announce,
            } => {
                if !fresh.is_empty() {
                    let mut to = Target {
                        reads,
                        memo: &mut member.memo,
                        writes: &mut folded.writes,
                    };
                    member.projection.apply(&mut to, &fresh).await?;
                }
                if announce {
                    folded.announce.push(name);
                }
                folded.saves.push((name, next.clone()));
                Update::Applied(next)
            }
        };
        folded.updates.push((name, update));
    }
    Ok(folded)
}
