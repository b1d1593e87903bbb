//! The store API on real databases: versions, positions, optimistic
//! concurrency, idempotency by event id, atomic multi-stream appends, reads.

use chronicle::{
    Direction, ExpectedVersion, LogFilter, NewEvent, StoreError, StreamAppend, StreamId,
};
use serde_json::json;
use uuid::Uuid;

use crate::common::databases;

fn stream(id: &str) -> StreamId {
    StreamId::parse(id).expect("valid stream id")
}

fn events(n: usize) -> Vec<NewEvent> {
    (0..n)
        .map(|i| NewEvent::new("Happened", json!({ "i": i })))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_get_consecutive_versions_and_global_positions() {
    for db in databases().await {
        let store = db.store().await;
        let a = store
            .append(stream("order-1"), ExpectedVersion::NoStream, events(2))
            .await
            .unwrap();
        let b = store
            .append(stream("order-2"), ExpectedVersion::Any, events(1))
            .await
            .unwrap();
        let c = store
            .append(stream("order-1"), ExpectedVersion::Exact(2), events(1))
            .await
            .unwrap();
        let got: Vec<(i64, i64)> = [a, b, c]
            .iter()
            .flat_map(|o| o.events.iter().map(|e| (e.version, e.position)))
            .collect();
        assert_eq!(got, vec![(1, 1), (2, 2), (1, 3), (3, 4)], "on {}", db.name);
        assert_eq!(store.head(), 4);
        let info = store
            .stream_info("order-1")
            .await
            .unwrap()
            .expect("stream exists");
        assert_eq!((info.category.as_str(), info.version), ("order", 3));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_expected_version_is_a_conflict_that_stores_nothing() {
    for db in databases().await {
        let store = db.store().await;
        store
            .append(stream("cart-1"), ExpectedVersion::NoStream, events(3))
            .await
            .unwrap();
        let err = store
            .append(stream("cart-1"), ExpectedVersion::Exact(2), events(1))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Conflict {
                    expected: 2,
                    actual: 3,
                    ..
                }
            ),
            "on {}: {err:?}",
            db.name
        );
        let err = store
            .append(stream("cart-1"), ExpectedVersion::NoStream, events(1))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Conflict {
                    expected: 0,
                    actual: 3,
                    ..
                }
            ),
            "{err:?}"
        );
        let err = store
            .append(stream("cart-9"), ExpectedVersion::Exact(1), events(1))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Conflict {
                    expected: 1,
                    actual: 0,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            store.stats().await.unwrap().total_events,
            3,
            "on {}",
            db.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_an_append_with_the_same_event_ids_appends_nothing() {
    for db in databases().await {
        let store = db.store().await;
        let ids = [Uuid::new_v4(), Uuid::new_v4()];
        let batch = || {
            ids.iter()
                .map(|id| NewEvent::new("Paid", json!({})).with_id(*id))
                .collect::<Vec<_>>()
        };
        let first = store
            .append(stream("pay-1"), ExpectedVersion::NoStream, batch())
            .await
            .unwrap();
        assert!(first.appended);
        for expected in [ExpectedVersion::NoStream, ExpectedVersion::Any] {
            let retry = store
                .append(stream("pay-1"), expected, batch())
                .await
                .unwrap();
            assert!(!retry.appended, "on {}", db.name);
            assert_eq!(
                retry.events, first.events,
                "a retry returns the stored events"
            );
            assert_eq!(retry.position, first.position);
        }
        // A late retry, after the stream moved on, reports what the first
        // attempt did, not where the stream is now.
        store
            .append(stream("pay-1"), ExpectedVersion::Exact(2), events(1))
            .await
            .unwrap();
        let late = store
            .append(stream("pay-1"), ExpectedVersion::Any, batch())
            .await
            .unwrap();
        assert_eq!(late.versions, first.versions, "on {}", db.name);
        assert_eq!(late.events, first.events);
        // Stored at versions 1-2, so a retry that expects version 1 is wrong.
        let err = store
            .append(stream("pay-1"), ExpectedVersion::Exact(1), batch())
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
        assert_eq!(store.stats().await.unwrap().total_events, 3);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_id_stored_elsewhere_is_a_duplicate_not_a_retry() {
    for db in databases().await {
        let store = db.store().await;
        let id = Uuid::new_v4();
        store
            .append(
                stream("a-1"),
                ExpectedVersion::Any,
                vec![NewEvent::new("X", json!(1)).with_id(id)],
            )
            .await
            .unwrap();
        let elsewhere = vec![NewEvent::new("X", json!(1)).with_id(id)];
        let err = store
            .append(stream("b-1"), ExpectedVersion::Any, elsewhere)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::DuplicateEventId { version: 1, .. }),
            "on {}: {err:?}",
            db.name
        );
        // Part of a retry plus a new event is not a retry either.
        let mixed = vec![
            NewEvent::new("X", json!(1)).with_id(id),
            NewEvent::new("Y", json!(2)),
        ];
        let err = store
            .append(stream("a-1"), ExpectedVersion::Any, mixed)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::DuplicateEventId { .. }),
            "{err:?}"
        );
        assert_eq!(store.stats().await.unwrap().total_events, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_stream_append_commits_all_streams_or_none() {
    for db in databases().await {
        let store = db.store().await;
        store
            .append(stream("acct-b"), ExpectedVersion::NoStream, events(1))
            .await
            .unwrap();
        let transfer = |b_expected| {
            vec![
                StreamAppend {
                    stream: stream("acct-a"),
                    expected: ExpectedVersion::NoStream,
                    events: events(1),
                },
                StreamAppend {
                    stream: stream("acct-b"),
                    expected: b_expected,
                    events: events(1),
                },
            ]
        };
        let err = store
            .append_multi(transfer(ExpectedVersion::Exact(5)))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict { actual: 1, .. }),
            "on {}: {err:?}",
            db.name
        );
        assert!(
            store.stream_info("acct-a").await.unwrap().is_none(),
            "nothing of a failed append is stored"
        );
        let ok = store
            .append_multi(transfer(ExpectedVersion::Exact(1)))
            .await
            .unwrap();
        let versions: Vec<_> = ok
            .versions
            .iter()
            .map(|(s, v)| (s.as_str().to_owned(), *v))
            .collect();
        assert_eq!(versions, vec![("acct-a".into(), 1), ("acct-b".into(), 2)]);
        assert_eq!(
            ok.events.iter().map(|e| e.position).collect::<Vec<_>>(),
            vec![2, 3]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_appends_are_refused_before_touching_the_log() {
    for db in databases().await {
        let store = db.store().await;
        let cases: Vec<Vec<StreamAppend>> = vec![
            vec![],
            vec![StreamAppend {
                stream: stream("x-1"),
                expected: ExpectedVersion::Any,
                events: vec![],
            }],
            vec![StreamAppend {
                stream: stream("x-1"),
                expected: ExpectedVersion::Any,
                events: vec![NewEvent::new(" ", json!({}))],
            }],
            vec![StreamAppend {
                stream: stream("x-1"),
                expected: ExpectedVersion::Any,
                events: vec![NewEvent::new("T".repeat(256), json!({}))],
            }],
            {
                let id = Uuid::new_v4();
                vec![StreamAppend {
                    stream: stream("x-1"),
                    expected: ExpectedVersion::Any,
                    events: vec![
                        NewEvent::new("A", json!(1)).with_id(id),
                        NewEvent::new("B", json!(2)).with_id(id),
                    ],
                }]
            },
        ];
        for case in cases {
            let err = store.append_multi(case).await.unwrap_err();
            assert!(
                matches!(err, StoreError::Invalid(_)),
                "on {}: {err:?}",
                db.name
            );
        }
        assert_eq!(store.stats().await.unwrap().total_events, 0);
        assert!(StreamId::parse("").is_err());
        assert!(ExpectedVersion::from_option(Some(-1)).is_err());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_read_forward_and_backward_from_a_version() {
    for db in databases().await {
        let store = db.store().await;
        store
            .append(stream("log-1"), ExpectedVersion::Any, events(5))
            .await
            .unwrap();
        let versions =
            |evs: Vec<chronicle::RecordedEvent>| evs.iter().map(|e| e.version).collect::<Vec<_>>();
        let fwd = store
            .read_stream("log-1", Some(2), Direction::Forward, 2)
            .await
            .unwrap();
        assert_eq!(versions(fwd), vec![2, 3], "on {}", db.name);
        let back = store
            .read_stream("log-1", None, Direction::Backward, 2)
            .await
            .unwrap();
        assert_eq!(versions(back), vec![5, 4]);
        let back = store
            .read_stream("log-1", Some(2), Direction::Backward, 10)
            .await
            .unwrap();
        assert_eq!(versions(back), vec![2, 1]);
        assert!(
            store
                .read_stream("nope", None, Direction::Forward, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_log_filters_by_stream_category_and_type() {
    for db in databases().await {
        let store = db.store().await;
        for (id, ty) in [
            ("order-1", "Placed"),
            ("order_x-1", "Placed"),
            ("orderly-1", "Paid"),
            ("order-2", "Paid"),
            ("order", "Placed"),
        ] {
            store
                .append(
                    stream(id),
                    ExpectedVersion::Any,
                    vec![NewEvent::new(ty, json!({}))],
                )
                .await
                .unwrap();
        }
        let ids = |filter: LogFilter| {
            let store = store.clone();
            async move {
                let evs = store.read_log(0, &filter, 100).await.unwrap();
                evs.iter().map(|e| e.stream_id.clone()).collect::<Vec<_>>()
            }
        };
        let category = LogFilter {
            category: Some("order".into()),
            ..Default::default()
        };
        assert_eq!(
            ids(category).await,
            vec!["order-1", "order-2", "order"],
            "on {}",
            db.name
        );
        // '_' is a LIKE wildcard; it must match only itself.
        let underscore = LogFilter {
            category: Some("order_x".into()),
            ..Default::default()
        };
        assert_eq!(ids(underscore).await, vec!["order_x-1"]);
        let paid = LogFilter {
            types: vec!["Paid".into()],
            ..Default::default()
        };
        assert_eq!(ids(paid).await, vec!["orderly-1", "order-2"]);
        let one = LogFilter {
            stream_id: Some("order-2".into()),
            ..Default::default()
        };
        assert_eq!(ids(one).await, vec!["order-2"]);
        let after = store.read_log(3, &LogFilter::default(), 1).await.unwrap();
        assert_eq!(after[0].position, 4, "paged from a position");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_reads_back_exactly_as_the_append_returned_it() {
    for db in databases().await {
        let store = db.store().await;
        let mut meta = serde_json::Map::new();
        meta.insert("correlationId".into(), json!("c-1"));
        let new = NewEvent::new("Shipped", json!({ "to": "Zürich", "n": [1, 2.5, null] }))
            .with_metadata(meta);
        // Values a store must carry bit for bit: doubles that need all 17
        // digits, the integer extremes, escapes, a JSON null as the data.
        let exact = json!({
            "sum": 0.1 + 0.2, "tiny": 5e-324, "huge": 1.7976931348623157e308,
            "min": i64::MIN, "max": u64::MAX, "text": "quote \" back \\ tab \t 🚚",
        });
        let batch = vec![
            new,
            NewEvent::new("Weighed", exact),
            NewEvent::new("Empty", json!(null)),
        ];
        let outcome = store
            .append(stream("ship-1"), ExpectedVersion::Any, batch)
            .await
            .unwrap();
        for appended in &outcome.events {
            let stored = store.event(appended.id).await.unwrap().expect("stored");
            assert_eq!(&stored, appended, "on {}", db.name);
        }
        assert!(store.event(Uuid::new_v4()).await.unwrap().is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_check_fails_only_its_own_append_in_a_concurrent_batch() {
    for db in databases().await {
        let store = db.store().await;
        store
            .append(stream("s-0"), ExpectedVersion::NoStream, events(1))
            .await
            .unwrap();
        // Submitted together, these land in the same group commit.
        let tasks = (0..20).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let (id, expected) = if i % 4 == 0 {
                    ("s-0".to_owned(), ExpectedVersion::NoStream) // stale: s-0 exists
                } else {
                    (format!("s-{i}"), ExpectedVersion::NoStream)
                };
                store.append(stream(&id), expected, events(1)).await
            })
        });
        let results = futures::future::join_all(tasks).await;
        let failed = results
            .iter()
            .filter(|r| r.as_ref().unwrap().is_err())
            .count();
        assert_eq!(failed, 5, "on {}", db.name);
        assert_eq!(store.stats().await.unwrap().total_events, 16);
    }
}
