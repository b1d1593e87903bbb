//! The append rules on hand-made batch states: no database.

use std::collections::HashMap;

use chrono::{TimeZone, Utc};
use serde_json::json;
use uuid::Uuid;

use super::*;
use crate::store::{CommandEntry, NewEvent, StreamId};

fn state(head: i64, versions: &[(&str, i64)]) -> BatchState {
    BatchState {
        versions: versions
            .iter()
            .map(|(s, v)| ((*s).to_owned(), *v))
            .collect(),
        existing: HashMap::new(),
        commands: HashMap::new(),
        head,
        now: Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap(),
    }
}

fn append(stream: &str, expected: ExpectedVersion, n: usize) -> StreamAppend {
    StreamAppend {
        stream: StreamId::parse(stream).unwrap(),
        expected,
        events: (0..n)
            .map(|i| NewEvent::new("Happened", json!({ "i": i })))
            .collect(),
    }
}

fn job(appends: Vec<StreamAppend>) -> AppendRequest {
    AppendRequest {
        streams: appends,
        ..AppendRequest::default()
    }
}

fn positions(outcome: &AppendOutcome) -> Vec<(String, i64, i64)> {
    outcome
        .events
        .iter()
        .map(|e| (e.stream_id.clone(), e.version, e.position))
        .collect()
}

#[test]
fn events_get_the_next_versions_and_dense_positions_after_the_head() {
    let plan = plan_batch(
        state(10, &[("a-1", 2)]),
        &[job(vec![append("a-1", ExpectedVersion::Exact(2), 2)])],
    );
    let outcome = plan.outcomes[0].as_ref().unwrap();
    assert_eq!(
        positions(outcome),
        [("a-1".to_owned(), 3, 11), ("a-1".to_owned(), 4, 12)]
    );
    assert_eq!((outcome.position, plan.head), (12, 12));
    assert_eq!(plan.touched.get("a-1"), Some(&4));
    assert_eq!(plan.new_events.len(), 2);
}

#[test]
fn a_stale_expected_version_fails_only_its_own_job() {
    let jobs = [
        job(vec![append("a-1", ExpectedVersion::Exact(1), 1)]),
        job(vec![append("b-1", ExpectedVersion::NoStream, 1)]),
    ];
    let plan = plan_batch(state(5, &[("a-1", 3)]), &jobs);
    assert!(matches!(
        plan.outcomes[0],
        Err(StoreError::Conflict {
            expected: 1,
            actual: 3,
            ..
        })
    ));
    let second = plan.outcomes[1].as_ref().unwrap();
    assert_eq!(
        positions(second),
        [("b-1".to_owned(), 1, 6)],
        "the head did not move for the failed job"
    );
}

#[test]
fn a_later_job_in_the_batch_sees_the_versions_an_earlier_one_wrote() {
    let jobs = [
        job(vec![append("a-1", ExpectedVersion::NoStream, 1)]),
        job(vec![append("a-1", ExpectedVersion::NoStream, 1)]),
        job(vec![append("a-1", ExpectedVersion::Exact(1), 1)]),
    ];
    let plan = plan_batch(state(0, &[]), &jobs);
    assert!(plan.outcomes[0].is_ok());
    assert!(matches!(
        plan.outcomes[1],
        Err(StoreError::Conflict { actual: 1, .. })
    ));
    assert_eq!(
        positions(plan.outcomes[2].as_ref().unwrap()),
        [("a-1".to_owned(), 2, 2)]
    );
}

#[test]
fn a_multi_stream_job_commits_whole_or_not_at_all() {
    let transfer = job(vec![
        append("acc-a", ExpectedVersion::Exact(1), 1),
        append("acc-b", ExpectedVersion::Exact(7), 1),
    ]);
    let plan = plan_batch(state(9, &[("acc-a", 1), ("acc-b", 8)]), &[transfer]);
    assert!(matches!(plan.outcomes[0], Err(StoreError::Conflict { .. })));
    assert!(plan.new_events.is_empty() && plan.touched.is_empty());
    assert_eq!(plan.head, 9);
}

#[test]
fn a_retry_of_stored_ids_appends_nothing_and_answers_the_first_outcome() {
    let id = Uuid::from_u128(1);
    let mut first = append("s-1", ExpectedVersion::NoStream, 1);
    first.events[0].id = Some(id);
    let plan = plan_batch(state(0, &[]), &[job(vec![first.clone()])]);
    let stored = plan.outcomes[0].as_ref().unwrap().events[0].clone();

    let mut later = state(4, &[("s-1", 3)]);
    later.existing.insert(id, stored);
    let plan = plan_batch(later, &[job(vec![first])]);
    let retry = plan.outcomes[0].as_ref().unwrap();
    assert!(!retry.appended);
    assert_eq!(positions(retry), [("s-1".to_owned(), 1, 1)]);
    assert_eq!(retry.versions[0].1, 1, "the version the first attempt left");
    assert!(plan.new_events.is_empty());
}

#[test]
fn an_id_stored_in_another_stream_is_a_duplicate() {
    let id = Uuid::from_u128(2);
    let mut elsewhere = append("other-1", ExpectedVersion::Any, 1);
    elsewhere.events[0].id = Some(id);
    let stored = plan_batch(state(0, &[]), &[job(vec![elsewhere])]).outcomes[0]
        .as_ref()
        .unwrap()
        .events[0]
        .clone();
    let mut now = state(1, &[("other-1", 1)]);
    now.existing.insert(id, stored);
    let mut reuse = append("s-1", ExpectedVersion::Any, 1);
    reuse.events[0].id = Some(id);
    let plan = plan_batch(now, &[job(vec![reuse])]);
    assert!(matches!(
        plan.outcomes[0],
        Err(StoreError::DuplicateEventId { .. })
    ));
}

#[test]
fn a_command_that_already_succeeded_is_answered_from_its_record() {
    let entry = CommandEntry {
        id: "c-1".into(),
        command_type: "deposit".into(),
        input: json!({}),
        received_at: Utc::now(),
        id_from_client: true,
    };
    let mut request = job(vec![append("a-1", ExpectedVersion::Any, 1)]);
    request.command = Some(entry.clone());
    let plan = plan_batch(state(0, &[]), std::slice::from_ref(&request));
    assert_eq!(
        plan.commands.len(),
        1,
        "recorded as SUCCEEDED with its events"
    );
    let mut again = state(1, &[("a-1", 1)]);
    again
        .commands
        .insert("c-1".into(), plan.commands[0].clone());
    let plan = plan_batch(again, &[request]);
    assert!(matches!(
        plan.outcomes[0],
        Err(StoreError::CommandRecorded(_))
    ));
    assert!(plan.new_events.is_empty());
}

/// `entry`'s id already in the log with `status`, for a command of
/// `command_type`.
fn logged(entry: &CommandEntry, command_type: &str, status: CommandStatus) -> BatchState {
    let mut state = state(0, &[]);
    let record = CommandRecord {
        command_type: command_type.into(),
        ..CommandRecord::without_events(entry, status, None)
    };
    state.commands.insert(entry.id.clone(), record);
    state
}

#[test]
fn given_a_rejected_or_failed_command_id_when_it_comes_again_then_only_a_failed_one_runs() {
    let entry = CommandEntry {
        id: "c-2".into(),
        command_type: "withdraw".into(),
        input: json!({ "amount": "5" }),
        received_at: Utc::now(),
        id_from_client: true,
    };
    let mut request = job(vec![append("a-1", ExpectedVersion::Any, 1)]);
    request.command = Some(entry.clone());
    let outcome = |state| {
        plan_batch(state, std::slice::from_ref(&request))
            .outcomes
            .remove(0)
    };

    // A rejection is the id's answer: the retry is not run again, even
    // when it would now pass.
    let rejected = outcome(logged(&entry, "withdraw", CommandStatus::Rejected));
    assert!(
        matches!(rejected, Err(StoreError::CommandRecorded(r)) if r.status == CommandStatus::Rejected)
    );
    // Our side failed the first time: the same command runs.
    assert!(outcome(logged(&entry, "withdraw", CommandStatus::Failed)).is_ok());
    // Another command under a failed id is a reuse of it.
    assert!(matches!(
        outcome(logged(&entry, "deposit", CommandStatus::Failed)),
        Err(StoreError::CommandRecorded(_))
    ));
}

/// `job` decided on the append `base` stands for.
fn after(mut job: AppendRequest, base: &std::sync::Arc<Fate>) -> AppendRequest {
    job.after.push(base.clone());
    job
}

/// An append to `a-1` at version 1, and a second decided on it.
fn queued_pair() -> [AppendRequest; 2] {
    let base = Fate::new();
    let mut first = job(vec![append("a-1", ExpectedVersion::Exact(1), 1)]);
    first.fate = Some(base.clone());
    let second = after(
        job(vec![append("a-1", ExpectedVersion::Exact(2), 1)]),
        &base,
    );
    [first, second]
}

#[test]
fn given_an_append_decided_on_one_in_the_same_batch_when_that_one_passes_then_both_pass() {
    let plan = plan_batch(state(1, &[("a-1", 1)]), &queued_pair());
    assert!(
        plan.outcomes.iter().all(Result::is_ok),
        "{:?}",
        plan.outcomes
    );
    assert_eq!(plan.new_events.len(), 2);
}

#[test]
fn given_an_append_decided_on_one_that_failed_when_its_version_matches_anyway_then_it_is_a_conflict()
 {
    // Another writer (a node) brought the stream to the version the
    // speculative append would have: the version check alone would pass.
    let plan = plan_batch(state(2, &[("a-1", 2)]), &queued_pair());
    assert!(matches!(plan.outcomes[0], Err(StoreError::Conflict { .. })));
    assert!(matches!(plan.outcomes[1], Err(StoreError::Conflict { .. })));
    assert!(plan.new_events.is_empty());
}

#[test]
fn given_an_append_decided_on_an_earlier_batch_when_that_one_settled_then_only_a_commit_admits_it()
{
    let request = |base: &std::sync::Arc<Fate>| {
        after(job(vec![append("a-1", ExpectedVersion::Exact(2), 1)]), base)
    };
    let committed = Fate::new();
    committed.settle(FateState::Committed);
    let plan = plan_batch(state(2, &[("a-1", 2)]), &[request(&committed)]);
    assert!(plan.outcomes[0].is_ok());

    let failed = Fate::new();
    failed.settle(FateState::Failed);
    let plan = plan_batch(state(2, &[("a-1", 2)]), &[request(&failed)]);
    assert!(matches!(plan.outcomes[0], Err(StoreError::Conflict { .. })));

    // Still pending and not in this batch: never assumed to commit.
    let pending = Fate::new();
    let plan = plan_batch(state(2, &[("a-1", 2)]), &[request(&pending)]);
    assert!(matches!(plan.outcomes[0], Err(StoreError::Conflict { .. })));
}
