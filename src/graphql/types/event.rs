//! `Event`, its connection, and `EventFilter`.

use async_graphql::connection::Connection;
use async_graphql::{ID, InputObject, SimpleObject};

use crate::graphql::ApiError;
use crate::graphql::pagination::{self, CursorKind, Window};
use crate::graphql::scalars::{DateTime, Json, Long};
use crate::store::{LogFilter, MAX_NAME_LEN, RecordedEvent};

#[derive(Clone, Debug, SimpleObject)]
pub struct Event {
    /// Event id (UUID). Appending an event whose id is already stored in the
    /// same stream is an idempotent no-op.
    pub id: ID,
    pub stream_id: ID,
    /// 1-based position of the event inside its stream.
    pub version: Long,
    /// Global position in the whole log; strictly increasing in commit order.
    pub position: Long,
    #[graphql(name = "type")]
    pub event_type: String,
    /// Schema version of `data` as served (after upcasting to the current schema).
    pub schema_version: i32,
    pub data: Json,
    /// correlationId, causationId, commandId and any client metadata.
    pub metadata: Json,
    pub recorded_at: DateTime,
    /// Why this event is served as stored, with its stored schemaVersion,
    /// instead of in its type's current schema: it could not be upcast (a
    /// version this server does not know, or data the upcaster cannot
    /// read). Null for every readable event.
    pub upcast_error: Option<String>,
}

impl From<RecordedEvent> for Event {
    fn from(e: RecordedEvent) -> Self {
        Self {
            id: ID(e.id.to_string()),
            stream_id: ID(e.stream_id),
            version: Long(e.version),
            position: Long(e.position),
            event_type: e.event_type,
            schema_version: e.schema_version,
            data: Json(e.data),
            metadata: Json(e.metadata),
            recorded_at: e.recorded_at.into(),
            upcast_error: e.upcast_error,
        }
    }
}

#[derive(Clone, Debug, Default, InputObject)]
pub struct EventFilter {
    pub stream_id: Option<ID>,
    /// Stream category: the part of the stream id before the first '-'.
    pub category: Option<String>,
    pub types: Option<Vec<String>>,
}

impl EventFilter {
    pub fn into_log_filter(self) -> Result<LogFilter, ApiError> {
        if self.stream_id.as_ref().is_some_and(|s| s.is_empty()) {
            return Err(ApiError::bad_input("filter.streamId must not be empty"));
        }
        // Longer names match nothing stored, and a long category would
        // make a LIKE pattern the database refuses.
        let too_long = |what: &str, len: usize| {
            ApiError::bad_input(format!(
                "{what} is {len} bytes long; stream ids and event types are at most {MAX_NAME_LEN}"
            ))
        };
        if let Some(s) = self.stream_id.as_ref().filter(|s| s.len() > MAX_NAME_LEN) {
            return Err(too_long("filter.streamId", s.len()));
        }
        if let Some(c) = self.category.as_ref().filter(|c| c.len() > MAX_NAME_LEN) {
            return Err(too_long("filter.category", c.len()));
        }
        if let Some(t) = self.types.iter().flatten().find(|t| t.len() > MAX_NAME_LEN) {
            return Err(too_long("a type in filter.types", t.len()));
        }
        if self
            .category
            .as_ref()
            .is_some_and(|c| c.is_empty() || c.contains('-'))
        {
            return Err(ApiError::bad_input(
                "filter.category must be non-empty and contain no '-' (it is the part of a stream id before the first '-')",
            ));
        }
        Ok(LogFilter {
            stream_id: self.stream_id.map(|s| s.0),
            category: self.category,
            types: self.types.unwrap_or_default(),
        })
    }
}

/// A page of events read for `window`, each with its cursor: its
/// position in the global log, its version in a stream.
pub fn event_page(
    window: &Window<i64>,
    rows: Vec<RecordedEvent>,
    kind: CursorKind,
) -> Result<Connection<String, Event>, ApiError> {
    let cursor = |e: &RecordedEvent| match kind {
        CursorKind::Position => pagination::encode(kind, e.position),
        CursorKind::Version => pagination::encode(kind, e.version),
    };
    window.page(rows, cursor, |e| Ok(Event::from(e)))
}
