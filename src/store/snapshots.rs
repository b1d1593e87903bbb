//! Snapshot rows: written off the hot path, read when a stream is loaded.
//! They are a cache of what the events say, so losing or dropping them is
//! always safe.

use chrono::{DateTime, Utc};
use entity::snapshots as row;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, Order,
    PaginatorTrait, QueryFilter, QueryOrder,
};
use serde_json::Value;

/// A stored snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredSnapshot {
    pub stream_id: String,
    pub version: i64,
    pub state: Value,
    pub state_schema_version: i32,
    pub created_at: DateTime<Utc>,
}

impl From<row::Model> for StoredSnapshot {
    fn from(m: row::Model) -> Self {
        Self {
            stream_id: m.stream_id,
            version: m.version,
            state: m.state,
            state_schema_version: m.state_schema_version,
            created_at: m.created_at,
        }
    }
}

pub(crate) async fn save<C: ConnectionTrait>(
    db: &C,
    snapshot: &StoredSnapshot,
) -> Result<(), DbErr> {
    let model = row::ActiveModel {
        stream_id: Set(snapshot.stream_id.clone()),
        version: Set(snapshot.version),
        state: Set(snapshot.state.clone()),
        state_schema_version: Set(snapshot.state_schema_version),
        created_at: Set(snapshot.created_at),
    };
    // The state at a version never changes, but its shape may: a newer
    // shape replaces an older one.
    row::Entity::insert(model)
        .on_conflict(
            OnConflict::columns([row::Column::StreamId, row::Column::Version])
                .update_columns([
                    row::Column::State,
                    row::Column::StateSchemaVersion,
                    row::Column::CreatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The latest snapshot of `stream` at or below `version` (any when none)
/// whose state has the shape `state_schema_version`.
pub(crate) async fn latest(
    db: &DatabaseConnection,
    stream: &str,
    version: Option<i64>,
    state_schema_version: i32,
) -> Result<Option<StoredSnapshot>, DbErr> {
    let mut query = row::Entity::find()
        .filter(row::Column::StreamId.eq(stream))
        .filter(row::Column::StateSchemaVersion.eq(state_schema_version));
    if let Some(version) = version {
        query = query.filter(row::Column::Version.lte(version));
    }
    let found = query
        .order_by(row::Column::Version, Order::Desc)
        .one(db)
        .await?;
    Ok(found.map(StoredSnapshot::from))
}

pub(crate) async fn list(
    db: &DatabaseConnection,
    stream: &str,
) -> Result<Vec<StoredSnapshot>, DbErr> {
    let rows = row::Entity::find()
        .filter(row::Column::StreamId.eq(stream))
        .order_by(row::Column::Version, Order::Asc)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(StoredSnapshot::from).collect())
}

pub(crate) async fn count(db: &DatabaseConnection) -> Result<i64, DbErr> {
    Ok(row::Entity::find().count(db).await? as i64)
}

/// Drops the snapshots of one stream, or of all; returns how many.
pub(crate) async fn drop<C: ConnectionTrait>(db: &C, stream: Option<&str>) -> Result<i64, DbErr> {
    let mut delete = row::Entity::delete_many();
    if let Some(stream) = stream {
        delete = delete.filter(row::Column::StreamId.eq(stream));
    }
    Ok(delete.exec(db).await?.rows_affected as i64)
}
