//! The store's transactions against each database: what they wait for,
//! and what becomes of one the database refuses.

use chronicle::{ExpectedVersion, LogFilter, NewEvent, StoreError, StreamId};
use serde_json::json;

use crate::common::databases;

fn stream(id: &str) -> StreamId {
    StreamId::parse(id).expect("valid stream id")
}

/// Events commit durably; read-model transactions need not wait for the
/// disk (their checkpoint moves with their rows, and the log replays them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_commits_wait_for_the_disk_and_read_model_commits_do_not() {
    for db in databases().await {
        let store = db.store().await;
        let events = store.gate().begin(store.db()).await.unwrap();
        let events_setting = durability(&*events).await;
        events.rollback().await.unwrap();
        let read_models = store.gate().begin_read_model().await.unwrap();
        let read_models_setting = durability(&*read_models).await;
        read_models.rollback().await.unwrap();
        let expected = match db.name {
            "postgres" => ("on", "off"),
            _ => ("2", "1"), // FULL, NORMAL
        };
        assert_eq!(
            (events_setting.as_str(), read_models_setting.as_str()),
            expected,
            "on {}",
            db.name
        );
    }
}

/// `synchronous_commit` on PostgreSQL, `PRAGMA synchronous` on SQLite.
async fn durability<C: sea_orm::ConnectionTrait>(conn: &C) -> String {
    let backend = conn.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => "SELECT current_setting('synchronous_commit') AS v",
        _ => "SELECT CAST(synchronous AS TEXT) AS v FROM pragma_synchronous",
    };
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(backend, sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "v").unwrap()
}

/// A batch the database refuses (here a trigger refuses one event type)
/// fails only the append at fault, and the writer's connection goes on:
/// the transaction is rolled back, never left open, so the next appends
/// commit with gap-free positions after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_the_database_refuses_fails_only_its_append_and_the_writer_goes_on() {
    use sea_orm::ConnectionTrait;
    for db in databases().await {
        let store = db.store().await;
        let refuse = match db.name {
            "postgres" => {
                "CREATE FUNCTION refuse_event() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN IF NEW.event_type = 'Refused' THEN RAISE EXCEPTION 'refused'; END IF; \
                 RETURN NEW; END $$; \
                 CREATE TRIGGER refuse BEFORE INSERT ON events FOR EACH ROW \
                 EXECUTE FUNCTION refuse_event()"
            }
            _ => {
                "CREATE TRIGGER refuse BEFORE INSERT ON events \
                 WHEN NEW.event_type = 'Refused' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            }
        };
        store.db().execute_unprepared(refuse).await.unwrap();
        // Submitted together, so that they share a transaction first.
        let tasks = (0..12).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let kind = if i == 5 { "Refused" } else { "Happened" };
                let event = NewEvent::new(kind, json!({ "i": i }));
                store
                    .append(
                        stream(&format!("t-{i}")),
                        ExpectedVersion::NoStream,
                        vec![event],
                    )
                    .await
            })
        });
        let results = futures::future::join_all(tasks).await;
        for (i, result) in results.into_iter().enumerate() {
            let result = result.unwrap();
            match i {
                5 => assert!(
                    matches!(result, Err(StoreError::Database(_))),
                    "on {}: {result:?}",
                    db.name
                ),
                _ => assert!(result.is_ok(), "on {}: {result:?}", db.name),
            }
        }
        for round in 0..3 {
            let refused = store
                .append(
                    stream("alone"),
                    ExpectedVersion::Any,
                    vec![NewEvent::new("Refused", json!({}))],
                )
                .await;
            assert!(
                matches!(refused, Err(StoreError::Database(_))),
                "on {}",
                db.name
            );
            store
                .append(
                    stream(&format!("after-{round}")),
                    ExpectedVersion::NoStream,
                    vec![NewEvent::new("Happened", json!({})); 2],
                )
                .await
                .unwrap();
        }
        let positions: Vec<i64> = store
            .read_log(0, &LogFilter::default(), 100)
            .await
            .unwrap()
            .iter()
            .map(|e| e.position)
            .collect();
        assert_eq!(positions, (1..=17).collect::<Vec<_>>(), "on {}", db.name);
        assert_eq!(store.head(), 17, "on {}", db.name);
    }
}

/// A migration that adds a column while the store runs (another node's,
/// in a rolling upgrade) does not break the appends that look up
/// client-chosen event ids: the writer's prepared statements name their
/// columns, so their result keeps its shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_column_added_while_the_store_runs_leaves_id_lookups_working() {
    use sea_orm::ConnectionTrait;
    for db in databases().await {
        let store = db.store().await;
        let with_id =
            |n: u128| vec![NewEvent::new("Happened", json!({})).with_id(uuid::Uuid::from_u128(n))];
        let first = store
            .append(stream("m-1"), ExpectedVersion::NoStream, with_id(1))
            .await
            .unwrap();
        store
            .db()
            .execute_unprepared("ALTER TABLE events ADD COLUMN note TEXT")
            .await
            .unwrap();
        let second = store
            .append(stream("m-2"), ExpectedVersion::NoStream, with_id(2))
            .await;
        assert!(second.is_ok(), "on {}: {second:?}", db.name);
        let again = store
            .append(stream("m-1"), ExpectedVersion::NoStream, with_id(1))
            .await
            .unwrap();
        assert_eq!(again.events, first.events, "a retry, on {}", db.name);
        assert!(!again.appended, "on {}", db.name);
    }
}

/// The writer keeps its PostgreSQL connection between batches. When the
/// server closes it meanwhile (a restart, an administrator, a proxy's
/// idle timeout), the next append still commits: its message fails, a new
/// connection finds it did not commit, and the batch runs there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_after_the_writers_connection_was_closed_still_commits() {
    use sea_orm::ConnectionTrait;
    for db in databases().await {
        if db.name != "postgres" {
            continue;
        }
        let store = db.store().await;
        let new = || vec![NewEvent::new("Happened", json!({}))];
        store
            .append(stream("c-1"), ExpectedVersion::NoStream, new())
            .await
            .unwrap();
        // The writer's last statement names this store's head channel,
        // which holds its schema.
        let schema = store.namespace().to_owned();
        let closed = store
            .db()
            .query_one_raw(sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
                 WHERE query LIKE '%chronicle_write(%' AND strpos(query, $1) > 0 \
                 AND pid <> pg_backend_pid()",
                [schema.into()],
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            closed.try_get::<i64>("", "n").unwrap(),
            1,
            "the writer's connection"
        );
        for i in 2..=3 {
            store
                .append(stream(&format!("c-{i}")), ExpectedVersion::NoStream, new())
                .await
                .unwrap();
        }
        assert_eq!(store.head(), 3);
    }
}

/// Two nodes append to one stream in turn, each with a stale idea of the
/// log after the other's commit: every append still lands, at the next
/// position and version, with no gap and no position handed out twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_from_two_nodes_in_turn_get_consecutive_positions_and_versions() {
    for db in databases().await {
        let nodes = [db.store().await, db.store().await];
        let mut positions = Vec::new();
        for i in 0..12 {
            let outcome = nodes[i % 2]
                .append(
                    stream("t-1"),
                    ExpectedVersion::Any,
                    vec![NewEvent::new("Happened", json!({ "i": i }))],
                )
                .await
                .unwrap();
            assert!(outcome.appended, "on {}", db.name);
            positions.push((outcome.position, outcome.events[0].version));
        }
        let expected: Vec<(i64, i64)> = (1..=12).map(|n| (n, n)).collect();
        assert_eq!(positions, expected, "on {}", db.name);
        let stored = nodes[0]
            .read_log(0, &LogFilter::default(), 100)
            .await
            .unwrap();
        let stored: Vec<i64> = stored
            .iter()
            .map(|e| e.data["i"].as_i64().unwrap())
            .collect();
        assert_eq!(stored, (0..12).collect::<Vec<i64>>(), "on {}", db.name);
    }
}

/// A retry with the same event id, with no expected version to refuse it,
/// is answered with the stored event, not stored again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_event_id_with_any_version_is_answered_from_the_log() {
    for db in databases().await {
        let store = db.store().await;
        let id = uuid::Uuid::now_v7();
        let event = || vec![NewEvent::new("Happened", json!({})).with_id(id)];
        let first = store
            .append(stream("r-1"), ExpectedVersion::Any, event())
            .await
            .unwrap();
        let again = store
            .append(stream("r-1"), ExpectedVersion::Any, event())
            .await
            .unwrap();
        assert!(!again.appended, "on {}", db.name);
        assert_eq!(again.events, first.events, "on {}", db.name);
        assert_eq!(store.head(), 1, "on {}", db.name);
    }
}

/// A command id that already succeeded is answered from the command log,
/// even when nothing else about the batch looks like a retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_append_under_a_succeeded_command_id_is_refused() {
    use chronicle::{AppendRequest, CommandEntry, StreamAppend};
    for db in databases().await {
        let store = db.store().await;
        let request = |n: i64| AppendRequest {
            streams: vec![StreamAppend {
                stream: stream("k-1"),
                expected: ExpectedVersion::Any,
                events: vec![NewEvent::new("Happened", json!({ "n": n }))],
            }],
            command: Some(CommandEntry {
                id: "command-1".to_owned(),
                command_type: "Test".to_owned(),
                input: json!({}),
                received_at: chrono::Utc::now(),
                id_from_client: true,
            }),
            ..AppendRequest::default()
        };
        store.submit(request(1)).await.unwrap();
        let again = store.submit(request(2)).await;
        assert!(
            matches!(again, Err(StoreError::CommandRecorded(_))),
            "on {}: {again:?}",
            db.name
        );
        assert_eq!(store.head(), 1, "on {}", db.name);
    }
}
