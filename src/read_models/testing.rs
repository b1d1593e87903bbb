//! Test support for the projections: recorded events made up on the spot,
//! and a fresh store on a real SQLite database in a temp directory.

use chrono::{TimeZone, Utc};
use sea_orm::EntityTrait;
use serde_json::Value;
use uuid::Uuid;

use crate::config::DatabaseArgs;
use crate::domain::DomainEvent;
use crate::store::{EventStore, ExpectedVersion, NewEvent, RecordedEvent, StreamId};

/// An event of `stream` at `version` and global `position`, recorded at
/// noon on 2026-11-22 UTC; its type and data do not matter to a fold,
/// which takes the decoded event beside it.
pub fn recorded(stream: &str, version: i64, position: i64) -> RecordedEvent {
    RecordedEvent {
        id: Uuid::new_v4(),
        stream_id: stream.to_owned(),
        version,
        position,
        event_type: "Test".to_owned(),
        schema_version: 1,
        data: Value::Null,
        metadata: Value::Null,
        recorded_at: Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap(),
        upcast_error: None,
    }
}

/// A migrated store on a new SQLite file; the directory lives as long as
/// the returned guard.
pub async fn sqlite_store() -> (tempfile::TempDir, EventStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let args = DatabaseArgs {
        database_url: format!("sqlite://{}", dir.path().join("p.db").display()),
        db_pool_size: 4,
        ..DatabaseArgs::default()
    };
    let db = crate::db::connect_and_migrate(&args)
        .await
        .expect("migrate");
    (dir, EventStore::open(db).await.expect("open store"))
}

/// Appends domain events to `stream` as a command would.
pub async fn append<E: DomainEvent>(store: &EventStore, stream: &str, events: &[E]) {
    let events = events
        .iter()
        .map(|e| {
            let (event_type, data) = e.to_parts().expect("serialize");
            let mut new = NewEvent::new(event_type.clone(), data);
            new.schema_version = E::schema_version(&event_type);
            new
        })
        .collect();
    let stream = StreamId::parse(stream).expect("stream id");
    store
        .append(stream, ExpectedVersion::Any, events)
        .await
        .expect("append");
}

/// Every read model's rows, in key order: what "unchanged" compares.
#[derive(Debug, PartialEq)]
pub struct Tables {
    pub accounts: Vec<entity::account_summaries::Model>,
    pub transactions: Vec<entity::transactions::Model>,
    pub daily: Vec<entity::daily_summaries::Model>,
    pub users: Vec<entity::users::Model>,
}

impl Tables {
    pub async fn read(store: &EventStore) -> Self {
        use sea_orm::QueryOrder;
        let db = store.db();
        Self {
            accounts: entity::account_summaries::Entity::find()
                .order_by_asc(entity::account_summaries::Column::AccountId)
                .all(db)
                .await
                .expect("accounts"),
            transactions: entity::transactions::Entity::find()
                .order_by_asc(entity::transactions::Column::Position)
                .all(db)
                .await
                .expect("transactions"),
            daily: entity::daily_summaries::Entity::find()
                .order_by_asc(entity::daily_summaries::Column::Date)
                .order_by_asc(entity::daily_summaries::Column::Currency)
                .all(db)
                .await
                .expect("daily summaries"),
            users: entity::users::Entity::find()
                .order_by_asc(entity::users::Column::UserId)
                .all(db)
                .await
                .expect("users"),
        }
    }
}
