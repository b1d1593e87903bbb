//! Reads: a stream forward or backward, the global log after a position
//! (filtered), one event by id, the stream index and counts.

use entity::{events, streams};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, Order,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::{RecordedEvent, StreamInfo};
use crate::paging::{ListOrder, Slice};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    Forward,
    Backward,
}

/// Which events of the global log to return.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogFilter {
    pub stream_id: Option<String>,
    pub category: Option<String>,
    /// Empty means every type.
    pub types: Vec<String>,
}

impl LogFilter {
    pub fn matches(&self, event: &RecordedEvent) -> bool {
        self.stream_id
            .as_ref()
            .is_none_or(|s| *s == event.stream_id)
            && self
                .category
                .as_ref()
                .is_none_or(|c| super::category_of(&event.stream_id) == c)
            && (self.types.is_empty() || self.types.contains(&event.event_type))
    }

    fn condition(&self) -> Condition {
        let mut cond = Condition::all();
        if let Some(stream) = &self.stream_id {
            cond = cond.add(events::Column::StreamId.eq(stream.clone()));
        }
        if let Some(category) = &self.category {
            cond = cond.add(in_category(category));
        }
        if !self.types.is_empty() {
            cond = cond.add(events::Column::EventType.is_in(self.types.clone()));
        }
        cond
    }
}

/// The events of streams in `category` (`account-…`, or the stream named
/// just `account`).
fn in_category(category: &str) -> Condition {
    // A category never contains '-', but it may contain LIKE's own
    // wildcards, which must match themselves.
    let escaped = category
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let pattern = LikeExpr::new(format!("{escaped}-%")).escape('\\');
    Condition::any()
        .add(Expr::col(events::Column::StreamId).like(pattern))
        .add(events::Column::StreamId.eq(category))
}

/// The events of any of `categories` in `after < position <= until`.
pub(crate) async fn categories(
    db: &DatabaseConnection,
    after: i64,
    until: i64,
    categories: &[&str],
    limit: u64,
) -> Result<Vec<RecordedEvent>, DbErr> {
    let cond = categories
        .iter()
        .fold(Condition::any(), |cond, c| cond.add(in_category(c)));
    log_where(db, after, Some(until), cond, limit).await
}

pub(crate) async fn stream(
    db: &DatabaseConnection,
    stream_id: &str,
    from: Option<i64>,
    direction: Direction,
    limit: u64,
) -> Result<Vec<RecordedEvent>, DbErr> {
    let mut query = events::Entity::find().filter(events::Column::StreamId.eq(stream_id));
    query = match direction {
        Direction::Forward => query
            .filter(events::Column::Version.gte(from.unwrap_or(1)))
            .order_by(events::Column::Version, Order::Asc),
        Direction::Backward => {
            if let Some(from) = from {
                query = query.filter(events::Column::Version.lte(from));
            }
            query.order_by(events::Column::Version, Order::Desc)
        }
    };
    let rows = query.limit(limit).all(db).await?;
    Ok(rows.into_iter().map(RecordedEvent::from).collect())
}

pub(crate) async fn log(
    db: &DatabaseConnection,
    after: i64,
    until: Option<i64>,
    filter: &LogFilter,
    limit: u64,
) -> Result<Vec<RecordedEvent>, DbErr> {
    log_where(db, after, until, filter.condition(), limit).await
}

/// The events matching `cond` in `after < position <= until`, ascending.
async fn log_where(
    db: &DatabaseConnection,
    after: i64,
    until: Option<i64>,
    cond: Condition,
    limit: u64,
) -> Result<Vec<RecordedEvent>, DbErr> {
    let mut query = events::Entity::find().filter(events::Column::Position.gt(after));
    if let Some(until) = until {
        query = query.filter(events::Column::Position.lte(until));
    }
    let rows = query
        .filter(cond)
        .order_by(events::Column::Position, Order::Asc)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(RecordedEvent::from).collect())
}

/// A slice of the global log, which is listed by position, ascending.
pub(crate) async fn log_slice(
    db: &DatabaseConnection,
    slice: &Slice<i64>,
    filter: &LogFilter,
) -> Result<Vec<RecordedEvent>, DbErr> {
    let query = events::Entity::find().filter(filter.condition());
    let rows = slice
        .apply(query, events::Column::Position, ListOrder::Ascending)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(RecordedEvent::from).collect())
}

/// A slice of one stream's events, listed by version in `order`.
pub(crate) async fn stream_slice(
    db: &DatabaseConnection,
    stream_id: &str,
    slice: &Slice<i64>,
    order: ListOrder,
) -> Result<Vec<RecordedEvent>, DbErr> {
    let query = events::Entity::find().filter(events::Column::StreamId.eq(stream_id));
    let rows = slice
        .apply(query, events::Column::Version, order)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(RecordedEvent::from).collect())
}

/// The schema the store's tables are in (PostgreSQL), or "" (SQLite).
pub(crate) async fn namespace(db: &DatabaseConnection) -> Result<String, DbErr> {
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(String::new());
    }
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT current_schema() AS schema",
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("current_schema() returned no row".into()))?;
    row.try_get("", "schema")
}

pub(crate) async fn positions(
    db: &DatabaseConnection,
    first: i64,
    last: i64,
) -> Result<Vec<RecordedEvent>, DbErr> {
    let rows = events::Entity::find()
        .filter(events::Column::Position.between(first, last))
        .order_by(events::Column::Position, Order::Asc)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(RecordedEvent::from).collect())
}

/// The first event of each of `streams` (their origins, for upcasters).
pub(crate) async fn origins(
    db: &DatabaseConnection,
    streams: Vec<String>,
) -> Result<Vec<RecordedEvent>, DbErr> {
    let rows = events::Entity::find()
        .filter(events::Column::StreamId.is_in(streams))
        .filter(events::Column::Version.eq(1))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(RecordedEvent::from).collect())
}

pub(crate) async fn event(
    db: &DatabaseConnection,
    id: Uuid,
) -> Result<Option<RecordedEvent>, DbErr> {
    let row = events::Entity::find()
        .filter(events::Column::EventId.eq(id))
        .one(db)
        .await?;
    Ok(row.map(RecordedEvent::from))
}

pub(crate) async fn stream_info(
    db: &DatabaseConnection,
    id: &str,
) -> Result<Option<StreamInfo>, DbErr> {
    Ok(streams::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .map(StreamInfo::from))
}

/// Counts for `stats`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub total_events: i64,
    pub total_streams: i64,
    pub events_by_type: Vec<(String, i64)>,
    /// (category, streams, events)
    pub streams_by_category: Vec<(String, i64, i64)>,
}

pub(crate) async fn stats(db: &DatabaseConnection) -> Result<StoreStats, DbErr> {
    let total_events = events::Entity::find().count(db).await? as i64;
    let total_streams = streams::Entity::find().count(db).await? as i64;
    let events_by_type: Vec<(String, i64)> = events::Entity::find()
        .select_only()
        .column(events::Column::EventType)
        .column_as(events::Column::Position.count(), "n")
        .group_by(events::Column::EventType)
        .order_by(events::Column::EventType, Order::Asc)
        .into_tuple()
        .all(db)
        .await?;
    // A stream's version is its event count, so the stream index alone
    // answers per-category totals without scanning the log.
    let streams_by_category: Vec<(String, i64, i64)> = streams::Entity::find()
        .select_only()
        .column(streams::Column::Category)
        .column_as(streams::Column::Id.count(), "streams")
        // SUM of a BIGINT is NUMERIC on PostgreSQL; cast it back.
        .column_as(
            Expr::expr(Func::cast_as(
                Func::sum(Expr::col(streams::Column::Version)),
                Alias::new("BIGINT"),
            )),
            "events",
        )
        .group_by(streams::Column::Category)
        .order_by(streams::Column::Category, Order::Asc)
        .into_tuple()
        .all(db)
        .await?;
    Ok(StoreStats {
        total_events,
        total_streams,
        events_by_type,
        streams_by_category,
    })
}
