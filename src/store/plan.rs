//! Deciding a batch: which jobs pass their checks, and the versions and
//! positions their events get. Pure, so the rules are tested without a
//! database (the tests below build a [`BatchState`] by hand); `commit/`
//! feeds it what the transaction read and writes what it returns.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{
    AppendOutcome, AppendRequest, CommandEntry, CommandRecord, CommandStatus, ExpectedVersion,
    Fate, FateState, RecordedEvent, StoreError, StreamAppend,
};

/// What the transaction knows before planning: the streams' versions, the
/// client-supplied event ids that are already stored, and the head.
pub(crate) struct BatchState {
    pub versions: HashMap<String, i64>,
    pub existing: HashMap<Uuid, RecordedEvent>,
    /// Client-chosen command ids already in the log, whatever became of
    /// them.
    pub commands: HashMap<String, CommandRecord>,
    pub head: i64,
    pub now: DateTime<Utc>,
}

/// The batch's decisions: one outcome per job, and the new rows to insert.
pub(crate) struct BatchPlan {
    pub outcomes: Vec<Result<AppendOutcome, StoreError>>,
    pub new_events: Vec<RecordedEvent>,
    /// Streams whose version changed, with their new version.
    pub touched: HashMap<String, i64>,
    /// Command log rows of the jobs that succeeded.
    pub commands: Vec<CommandRecord>,
    pub head: i64,
    pub now: DateTime<Utc>,
}

impl BatchPlan {
    /// Whether the batch has no row to write: every job was refused or
    /// answered from the log, so its transaction is rolled back.
    pub(crate) fn stores_nothing(&self) -> bool {
        self.new_events.is_empty() && self.commands.is_empty()
    }
}

pub(crate) fn plan_batch(mut state: BatchState, jobs: &[AppendRequest]) -> BatchPlan {
    let mut new_events = Vec::new();
    let mut touched = HashMap::new();
    let mut commands = Vec::new();
    // The fates of this batch's jobs that passed: they commit with it.
    let mut passed: Vec<&Fate> = Vec::new();
    let outcomes = jobs
        .iter()
        .map(|job| {
            if let Some(recorded) = job.command.as_ref().and_then(|c| answered(&state, c)) {
                return Err(StoreError::CommandRecorded(Box::new(recorded.clone())));
            }
            if let Some(base) = job.after.iter().find(|f| {
                f.state() != FateState::Committed && !passed.iter().any(|p| *p == f.as_ref())
            }) {
                return Err(decided_on_failed(&state, job, base));
            }
            let outcome = plan_job(&mut state, &job.streams)?;
            if let Some(fate) = &job.fate {
                passed.push(fate);
            }
            if let Some(entry) = &job.command {
                let record = succeeded(entry, &outcome, state.now);
                state.commands.insert(entry.id.clone(), record.clone());
                commands.push(record);
            }
            if outcome.appended {
                new_events.extend(outcome.events.iter().cloned());
                for (stream, version) in &outcome.versions {
                    touched.insert(stream.as_str().to_owned(), *version);
                }
            }
            Ok(outcome)
        })
        .collect();
    BatchPlan {
        outcomes,
        new_events,
        touched,
        commands,
        head: state.head,
        now: state.now,
    }
}

/// The record that answers `entry` instead of appending: a success or a
/// rejection is final for its id, and any record of another command under
/// the same id makes this one a reuse. A failed attempt of the same
/// command (our side failed) is run again.
fn answered<'a>(state: &'a BatchState, entry: &CommandEntry) -> Option<&'a CommandRecord> {
    state
        .commands
        .get(&entry.id)
        .filter(|r| r.status != CommandStatus::Failed || !r.is_retry_of(entry))
}

fn succeeded(
    entry: &super::CommandEntry,
    outcome: &AppendOutcome,
    now: chrono::DateTime<Utc>,
) -> CommandRecord {
    CommandRecord {
        id: entry.id.clone(),
        command_type: entry.command_type.clone(),
        input: entry.input.clone(),
        status: CommandStatus::Succeeded,
        error_code: None,
        error_message: None,
        stream_id: outcome.versions.first().map(|(s, _)| s.to_string()),
        version: outcome.versions.first().map(|(_, v)| *v),
        first_position: outcome.events.first().map(|e| e.position),
        position: Some(outcome.position),
        created_at: entry.received_at,
        completed_at: Some(now),
    }
}

/// Checks one job against the state and, when it passes, advances the state
/// as if its events were written. A failed job leaves the state untouched.
fn plan_job(state: &mut BatchState, job: &[StreamAppend]) -> Result<AppendOutcome, StoreError> {
    if let Some(retry) = as_retry(state, job)? {
        return Ok(retry);
    }
    for append in job {
        let actual = current_version(state, append.stream.as_str());
        if !append.expected.admits(actual) {
            return Err(conflict(append, actual));
        }
    }
    Ok(assign(state, job))
}

/// The outcome of a job whose events are all stored already (an
/// idempotent retry), `None` for a job with nothing stored, and an error
/// for one only partly stored: a multi-stream append commits whole or not
/// at all, so its ids were used by some other append.
fn as_retry(state: &BatchState, job: &[StreamAppend]) -> Result<Option<AppendOutcome>, StoreError> {
    let mut retried = 0;
    for append in job {
        if already_stored(state, append)? {
            retried += 1;
        }
    }
    if retried == 0 {
        return Ok(None);
    }
    if retried == job.len() {
        return Ok(Some(replay_of_stored(state, job)));
    }
    let event = job
        .iter()
        .flat_map(|a| &a.events)
        .find_map(|e| e.id.and_then(|id| state.existing.get(&id)))
        .expect("a stored stream append has a stored id");
    Err(duplicate(event))
}

/// Gives a job's events their versions and positions, and advances the
/// state past them.
fn assign(state: &mut BatchState, job: &[StreamAppend]) -> AppendOutcome {
    let mut versions = Vec::with_capacity(job.len());
    let mut events = Vec::new();
    for append in job {
        let mut version = current_version(state, append.stream.as_str());
        for new in &append.events {
            version += 1;
            state.head += 1;
            let event = RecordedEvent {
                // Time-ordered ids keep the unique event_id index
                // append-mostly; random v4 ids dirtied a random page of it
                // per event, several times the bytes written per commit.
                id: new.id.unwrap_or_else(Uuid::now_v7),
                stream_id: append.stream.as_str().to_owned(),
                version,
                position: state.head,
                event_type: new.event_type.clone(),
                schema_version: new.schema_version,
                data: new.data.clone(),
                metadata: Value::Object(new.metadata.clone()),
                recorded_at: state.now,
                upcast_error: None,
            };
            // A later job in the same batch may be a retry of this one.
            if new.id.is_some() {
                state.existing.insert(event.id, event.clone());
            }
            events.push(event);
        }
        state
            .versions
            .insert(append.stream.as_str().to_owned(), version);
        versions.push((append.stream.clone(), version));
    }
    AppendOutcome {
        versions,
        position: state.head,
        events,
        appended: true,
    }
}

/// True when every event of `append` is already stored in its stream, in
/// order and where `expected` says the append goes: a retry of a committed
/// append. An id stored anywhere else is a duplicate; an id stored in the
/// right place but at an unexpected version is a conflict.
fn already_stored(state: &BatchState, append: &StreamAppend) -> Result<bool, StoreError> {
    let stored: Vec<Option<&RecordedEvent>> = append
        .events
        .iter()
        .map(|e| e.id.and_then(|id| state.existing.get(&id)))
        .collect();
    let Some(first) = stored.iter().flatten().next() else {
        return Ok(false);
    };
    let stream = append.stream.as_str();
    let in_place = stored[0].is_some_and(|start| {
        stored.iter().enumerate().all(|(i, found)| {
            found.is_some_and(|e| e.stream_id == stream && e.version == start.version + i as i64)
        })
    });
    if !in_place {
        let misplaced = stored
            .iter()
            .flatten()
            .find(|e| e.stream_id != stream)
            .unwrap_or(first);
        return Err(duplicate(misplaced));
    }
    let before = first.version - 1;
    if append.expected != ExpectedVersion::Any && !append.expected.admits(before) {
        return Err(conflict(append, current_version(state, stream)));
    }
    Ok(true)
}

/// The outcome of an append whose events are all stored already.
fn replay_of_stored(state: &BatchState, job: &[StreamAppend]) -> AppendOutcome {
    let events: Vec<RecordedEvent> = job
        .iter()
        .flat_map(|a| &a.events)
        .filter_map(|e| e.id.and_then(|id| state.existing.get(&id)).cloned())
        .collect();
    // The versions the first attempt left each stream at, not where the
    // streams are now: a late retry reports what its append did.
    let versions = job
        .iter()
        .map(|a| {
            let last = events
                .iter()
                .filter(|e| e.stream_id == a.stream.as_str())
                .map(|e| e.version)
                .max();
            (
                a.stream.clone(),
                last.unwrap_or_else(|| current_version(state, a.stream.as_str())),
            )
        })
        .collect();
    AppendOutcome {
        versions,
        position: events
            .iter()
            .map(|e| e.position)
            .max()
            .unwrap_or(state.head),
        events,
        appended: false,
    }
}

fn current_version(state: &BatchState, stream: &str) -> i64 {
    state.versions.get(stream).copied().unwrap_or(0)
}

/// A job decided on an append that did not commit: a conflict on its first
/// stream, so that the command layer decides again on what is stored.
fn decided_on_failed(state: &BatchState, job: &AppendRequest, base: &Fate) -> StoreError {
    tracing::debug!(
        ?base,
        "an append decided on one that did not commit is refused"
    );
    match job.streams.first() {
        Some(append) => conflict(append, current_version(state, append.stream.as_str())),
        None => StoreError::invalid("an append needs at least one stream"),
    }
}

fn conflict(append: &StreamAppend, actual: i64) -> StoreError {
    StoreError::Conflict {
        stream: append.stream.to_string(),
        expected: append.expected.as_number().unwrap_or(actual),
        actual,
    }
}

fn duplicate(event: &RecordedEvent) -> StoreError {
    StoreError::DuplicateEventId {
        id: event.id,
        stream: event.stream_id.clone(),
        version: event.version,
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
