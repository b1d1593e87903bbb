//! The hub's dispatch, driven by hand on recorded events, and its hole
//! filling against a real SQLite store written by two "nodes".

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::read_models::testing::{recorded, sqlite_store};
use crate::store::{ExpectedVersion, NewEvent, StreamId};

/// A hub with no task: batches are dispatched by the test.
fn idle_hub(through: i64) -> Hub {
    Hub {
        registry: Arc::new(Mutex::new(Registry {
            through,
            ..Registry::default()
        })),
        catch_up: Arc::new(Semaphore::new(1)),
    }
}

fn filter(stream: Option<&str>, category: Option<&str>, types: &[&str]) -> LogFilter {
    LogFilter {
        stream_id: stream.map(str::to_owned),
        category: category.map(str::to_owned),
        types: types.iter().map(|t| (*t).to_owned()).collect(),
    }
}

fn typed(stream: &str, position: i64, event_type: &str) -> RecordedEvent {
    RecordedEvent {
        event_type: event_type.to_owned(),
        ..recorded(stream, 1, position)
    }
}

fn positions(rx: &mut mpsc::Receiver<Delivery>) -> Vec<i64> {
    let mut seen = Vec::new();
    while let Ok(batch) = rx.try_recv() {
        seen.extend(batch.iter().map(|e| e.position));
    }
    seen
}

#[test]
fn each_subscriber_gets_exactly_what_its_filter_matches() {
    let hub = idle_hub(0);
    let mut all = hub.register(LogFilter::default());
    let mut one_stream = hub.register(filter(Some("account-a"), None, &[]));
    let mut category = hub.register(filter(None, Some("user"), &[]));
    let mut typed_only = hub.register(filter(None, None, &["Closed"]));
    let mut nothing = hub.register(filter(Some("account-z"), None, &[]));
    let batch: Delivery = vec![
        typed("account-a", 1, "Opened"),
        typed("user-u", 2, "Registered"),
        typed("account-b", 3, "Closed"),
        typed("account-a", 4, "Closed"),
    ]
    .into();
    hub.lock().dispatch(&batch);

    assert_eq!(all.through, 0);
    assert_eq!(positions(&mut all.deliveries), [1, 2, 3, 4]);
    assert_eq!(positions(&mut one_stream.deliveries), [1, 4]);
    assert_eq!(positions(&mut category.deliveries), [2]);
    assert_eq!(positions(&mut typed_only.deliveries), [3, 4]);
    assert_eq!(positions(&mut nothing.deliveries), Vec::<i64>::new());
}

#[test]
fn positions_already_dispatched_are_not_dispatched_again() {
    let hub = idle_hub(0);
    let mut all = hub.register(LogFilter::default());
    let first: Delivery = vec![recorded("s-1", 1, 1), recorded("s-1", 2, 2)].into();
    let overlapping: Delivery = vec![recorded("s-1", 2, 2), recorded("s-1", 3, 3)].into();
    hub.lock().dispatch(&first);
    hub.lock().dispatch(&overlapping);
    hub.lock().dispatch(&first);

    assert_eq!(positions(&mut all.deliveries), [1, 2, 3]);
    assert_eq!(hub.register(LogFilter::default()).through, 3);
}

#[test]
fn a_subscriber_that_falls_behind_is_dropped_and_its_channel_ends() {
    let hub = idle_hub(0);
    let mut slow = hub.register(LogFilter::default());
    let mut keeping_up = hub.register(LogFilter::default());
    let total = CHANNEL as i64 + 5;
    for position in 1..=total {
        hub.lock()
            .dispatch(&vec![recorded("s-1", position, position)].into());
        positions(&mut keeping_up.deliveries);
    }

    assert_eq!(hub.subscribers(), 1, "only the slow subscriber is dropped");
    let received = positions(&mut slow.deliveries);
    assert_eq!(received, (1..=CHANNEL as i64).collect::<Vec<_>>());
    assert!(matches!(
        slow.deliveries.try_recv(),
        Err(mpsc::error::TryRecvError::Disconnected)
    ));
    assert_eq!(hub.register(LogFilter::default()).through, total);
}

#[test]
fn dropping_a_registration_removes_it_from_every_index() {
    let hub = idle_hub(0);
    let a = hub.register(filter(Some("account-a"), None, &[]));
    let b = hub.register(filter(None, Some("account"), &[]));
    let c = hub.register(LogFilter::default());
    assert_eq!(hub.subscribers(), 3);
    drop((a, b, c));

    let registry = hub.lock();
    assert!(registry.subscribers.is_empty());
    assert!(registry.by_stream.is_empty());
    assert!(registry.by_category.is_empty());
    assert!(registry.everything.is_empty());
}

/// Another node's commit leaves a hole in this node's broadcast; the hub
/// reads it from the store before dispatching what follows it.
#[tokio::test]
async fn a_hole_left_by_another_node_is_read_from_the_store() {
    let (_dir, store) = sqlite_store().await;
    let other_node = EventStore::open(store.db().clone()).await.unwrap();
    let hub = Hub::start(store.clone());
    let mut all = hub.register(filter(None, Some("node"), &[]));
    let append = |store: EventStore, stream: &'static str| async move {
        let event = NewEvent::new("Happened".to_owned(), json!({}));
        store
            .append(
                StreamId::parse(stream).unwrap(),
                ExpectedVersion::Any,
                vec![event],
            )
            .await
            .unwrap();
    };
    append(store.clone(), "node-1").await;
    append(other_node.clone(), "node-2").await;
    append(other_node, "node-2").await;
    append(store, "node-1").await;

    let mut seen = Vec::new();
    while seen.len() < 4 {
        let batch = tokio::time::timeout(Duration::from_secs(5), all.deliveries.recv())
            .await
            .expect("the hub delivers within 5 s")
            .expect("the hub keeps the subscriber");
        seen.extend(batch.iter().map(|e| (e.position, e.stream_id.clone())));
    }
    let streams: Vec<&str> = seen.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(streams, ["node-1", "node-2", "node-2", "node-1"]);
    assert_eq!(
        seen.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
}
