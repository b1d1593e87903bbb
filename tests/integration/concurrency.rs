//! Concurrency guarantees of the store, on both databases: one winner per
//! expected version, and a global log that a tailing reader never sees
//! out of order or with a hole, even with two nodes writing.

use std::collections::BTreeMap;
use std::time::Duration;

use chronicle::{EventStore, ExpectedVersion, LogFilter, NewEvent, StoreError, StreamId};
use serde_json::json;

use crate::common::databases;

fn one_event(task: usize) -> Vec<NewEvent> {
    vec![NewEvent::new("Tick", json!({ "task": task }))]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_one_of_32_writers_wins_each_expected_version_of_a_stream() {
    const VERSIONS: i64 = 20;
    for db in databases().await {
        let store = db.store().await;
        let tasks = (0..32).map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut won = Vec::new();
                for expected in 0..VERSIONS {
                    let stream = StreamId::parse("race-1").unwrap();
                    match store
                        .append(
                            stream,
                            ExpectedVersion::from_option(Some(expected)).unwrap(),
                            one_event(task),
                        )
                        .await
                    {
                        Ok(outcome) => won.push(outcome.events[0].version),
                        Err(StoreError::Conflict { .. }) => {}
                        Err(other) => panic!("unexpected error: {other:?}"),
                    }
                }
                won
            })
        });
        let mut winners: BTreeMap<i64, usize> = BTreeMap::new();
        for result in futures::future::join_all(tasks).await {
            for version in result.expect("task") {
                *winners.entry(version).or_default() += 1;
            }
        }
        assert_eq!(
            winners.len() as i64,
            VERSIONS,
            "every version was won, on {}",
            db.name
        );
        assert!(
            winners.values().all(|&n| n == 1),
            "one winner per version: {winners:?}"
        );
        let stored = store
            .read_stream("race-1", None, chronicle::Direction::Forward, 100)
            .await
            .unwrap();
        let versions: Vec<i64> = stored.iter().map(|e| e.version).collect();
        assert_eq!(
            versions,
            (1..=VERSIONS).collect::<Vec<_>>(),
            "no gap in the stream"
        );
    }
}

/// Two stores on one database behave like two server nodes: the ordering
/// guarantee must hold across their writers, not only inside one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn global_log_does_not_skip_events_when_writers_commit_concurrently() {
    const WRITERS: usize = 32;
    const APPENDS: usize = 15;
    let total = (WRITERS * APPENDS) as i64;
    for db in databases().await {
        let nodes = [db.store().await, db.store().await];
        let reader = tokio::spawn(tail(nodes[0].clone(), total));
        let writers = (0..WRITERS).map(|w| {
            let store = nodes[w % 2].clone();
            tokio::spawn(async move {
                let stream = StreamId::parse(format!("tail-{w}")).unwrap();
                for i in 0..APPENDS {
                    let expected = ExpectedVersion::from_option(Some(i as i64)).unwrap();
                    store
                        .append(stream.clone(), expected, one_event(w))
                        .await
                        .expect("append");
                }
            })
        });
        for w in futures::future::join_all(writers).await {
            w.expect("writer");
        }
        let seen = tokio::time::timeout(Duration::from_secs(60), reader)
            .await
            .expect("the reader caught up")
            .expect("reader task");
        assert_eq!(
            seen,
            (1..=total).collect::<Vec<_>>(),
            "every position once, in order, on {}",
            db.name
        );
    }
}

/// Reads the log from the start as it grows, each page after the last
/// position seen, as a subscriber or projector does.
async fn tail(store: EventStore, until: i64) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut after = 0;
    while after < until {
        let page = store
            .read_log(after, &LogFilter::default(), 50)
            .await
            .expect("read log");
        if page.is_empty() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        for event in page {
            seen.push(event.position);
            after = event.position;
        }
    }
    seen
}
