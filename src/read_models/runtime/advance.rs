//! What applying a batch does to a projection's checkpoint, decided from
//! the row as stored (read under its lock) and the runner's own view. Pure,
//! so that a runner's own transaction and a joint turn (`turn.rs`) decide
//! alike, and the tests below can say how.

use chrono::Utc;

use super::ProjectionState;
use super::checkpoint::Checkpoint;
use crate::store::RecordedEvent;

/// The decision for one projection's batch.
#[derive(Debug, PartialEq)]
pub(super) enum Advance {
    /// Another node took the projection over (the row carries another
    /// epoch): write nothing, step down.
    Fenced,
    /// An operator paused or rebuilt it meanwhile, on some node: write
    /// nothing, take the row's state and read again from there.
    Adopt(Checkpoint),
    /// The row is already at or past the batch (a redelivery, or a skip
    /// moved it on): write nothing, take its position.
    Already(Checkpoint),
    /// Apply `fresh` (the batch's events the row has not seen) and save
    /// `next`; `announce` when its state changed, so other nodes read it.
    Apply {
        fresh: Vec<RecordedEvent>,
        next: Checkpoint,
        announce: bool,
    },
}

/// Decides a batch of `events` that reads the log through `through`
/// (`more` when the read was full and more may follow), for a runner whose
/// view is `mine`, against the `stored` row.
pub(super) fn advance<'a>(
    mine: &Checkpoint,
    stored: Checkpoint,
    events: impl IntoIterator<Item = &'a RecordedEvent>,
    through: i64,
    more: bool,
) -> Advance {
    if stored.lease_epoch != mine.lease_epoch {
        return Advance::Fenced;
    }
    let reset = stored.position < mine.position
        || (stored.state == ProjectionState::Rebuilding
            && mine.state != ProjectionState::Rebuilding);
    if reset || stored.state == ProjectionState::Paused {
        return Advance::Adopt(stored);
    }
    if through <= stored.position {
        return Advance::Already(stored);
    }
    let fresh: Vec<RecordedEvent> = events
        .into_iter()
        .filter(|e| e.position > stored.position)
        .cloned()
        .collect();
    let state = match mine.state {
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
        updated_at: Utc::now(),
        ..stored.clone()
    };
    // Only a change of state is announced: a NOTIFY serializes the commits
    // of every notifying transaction (the append's included), and each
    // would make every other node read the row again. Followers learn
    // positions from their periodic read, and a `minPosition` wait asks
    // for the row while it waits.
    let announce = next.state != stored.state;
    Advance::Apply {
        fresh,
        next,
        announce,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(position: i64) -> RecordedEvent {
        RecordedEvent {
            id: uuid::Uuid::new_v4(),
            stream_id: format!("account-{position}"),
            version: 1,
            position,
            event_type: "Deposited".into(),
            schema_version: 1,
            data: serde_json::json!({}),
            metadata: serde_json::json!({}),
            recorded_at: Utc::now(),
            upcast_error: None,
        }
    }

    fn at(position: i64) -> Checkpoint {
        Checkpoint {
            position,
            events_processed: position,
            ..Checkpoint::start()
        }
    }

    #[test]
    fn given_the_row_where_the_runner_left_it_when_a_batch_comes_then_its_unseen_events_apply() {
        let events = [event(4), event(5), event(6)];
        let Advance::Apply {
            fresh,
            next,
            announce,
        } = advance(&at(4), at(4), &events, 9, false)
        else {
            panic!("expected an apply");
        };
        let positions: Vec<i64> = fresh.iter().map(|e| e.position).collect();
        assert_eq!(positions, [5, 6]);
        assert_eq!(next.position, 9, "the checkpoint moves over the whole read");
        assert_eq!(next.events_processed, 6);
        assert_eq!(next.state, ProjectionState::Running);
        assert!(!announce, "a position alone is not announced");
    }

    #[test]
    fn given_a_full_read_when_it_applies_then_the_projection_is_catching_up_and_says_so() {
        let Advance::Apply { next, announce, .. } = advance(&at(0), at(0), &[event(1)], 1, true)
        else {
            panic!("expected an apply");
        };
        assert_eq!(next.state, ProjectionState::CatchingUp);
        assert!(announce);
    }

    #[test]
    fn given_another_epoch_on_the_row_when_a_batch_comes_then_nothing_is_written() {
        let stored = Checkpoint {
            lease_epoch: 2,
            ..at(4)
        };
        assert_eq!(
            advance(&at(4), stored, &[event(5)], 5, false),
            Advance::Fenced
        );
    }

    #[test]
    fn given_an_operator_paused_it_when_a_batch_comes_then_the_runner_adopts_the_row() {
        let paused = Checkpoint {
            state: ProjectionState::Paused,
            ..at(4)
        };
        assert_eq!(
            advance(&at(4), paused.clone(), &[event(5)], 5, false),
            Advance::Adopt(paused)
        );
    }

    #[test]
    fn given_the_row_was_reset_when_a_batch_comes_then_the_runner_adopts_the_row() {
        let reset = at(0);
        assert_eq!(
            advance(&at(4), reset.clone(), &[event(5)], 5, false),
            Advance::Adopt(reset)
        );
    }

    #[test]
    fn given_the_row_is_past_the_batch_when_it_comes_again_then_nothing_applies_twice() {
        let further = at(7);
        assert_eq!(
            advance(&at(4), further.clone(), &[event(5)], 6, false),
            Advance::Already(further)
        );
    }
}
