//! The store's vocabulary: stream ids, expected versions, events to append
//! and events as recorded.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::StoreError;

/// Longest stream id and event type name, in bytes (the column width).
pub const MAX_NAME_LEN: usize = 255;

/// A validated stream id: non-empty, at most [`MAX_NAME_LEN`] bytes, no
/// whitespace or control characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(String);

impl StreamId {
    pub fn parse(id: impl Into<String>) -> Result<Self, StoreError> {
        let id = id.into();
        if id.is_empty() {
            return Err(StoreError::invalid("stream id must not be empty"));
        }
        if id.len() > MAX_NAME_LEN {
            return Err(StoreError::invalid(format!(
                "stream id is {} bytes long; the limit is {MAX_NAME_LEN}",
                id.len()
            )));
        }
        if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(StoreError::invalid(format!(
                "stream id {id:?} contains whitespace or control characters"
            )));
        }
        Ok(Self(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the first `-` (the whole id when it has none).
    pub fn category(&self) -> &str {
        category_of(&self.0)
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The category of a stream id: the part before the first `-`.
pub fn category_of(stream_id: &str) -> &str {
    stream_id.split_once('-').map_or(stream_id, |(c, _)| c)
}

/// What the stream's version must be before an append.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must not exist yet (version 0).
    NoStream,
    /// The stream must be at exactly this version (0 means no stream).
    Exact(i64),
}

impl ExpectedVersion {
    /// From the API's optional number: none is `Any`, 0 is `NoStream`.
    pub fn from_option(version: Option<i64>) -> Result<Self, StoreError> {
        match version {
            None => Ok(Self::Any),
            Some(v) if v < 0 => Err(StoreError::invalid(format!(
                "expectedVersion must be 0 or more, got {v}"
            ))),
            Some(0) => Ok(Self::NoStream),
            Some(v) => Ok(Self::Exact(v)),
        }
    }

    /// Whether a stream currently at `actual` satisfies this expectation.
    pub fn admits(self, actual: i64) -> bool {
        match self {
            Self::Any => true,
            Self::NoStream => actual == 0,
            Self::Exact(v) => actual == v,
        }
    }

    /// The exact version expected, if any (for error reports).
    pub fn as_number(self) -> Option<i64> {
        match self {
            Self::Any => None,
            Self::NoStream => Some(0),
            Self::Exact(v) => Some(v),
        }
    }
}

/// An event to append. `id` is the client's idempotency key when given.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    pub id: Option<Uuid>,
    pub event_type: String,
    pub schema_version: i32,
    pub data: Value,
    pub metadata: Map<String, Value>,
}

impl NewEvent {
    /// An event of the current schema (version 1) with no client id.
    pub fn new(event_type: impl Into<String>, data: Value) -> Self {
        Self {
            id: None,
            event_type: event_type.into(),
            schema_version: 1,
            data,
            metadata: Map::new(),
        }
    }

    pub fn with_id(mut self, id: Uuid) -> Self {
        self.id = Some(id);
        self
    }

    pub fn with_metadata(mut self, metadata: Map<String, Value>) -> Self {
        self.metadata = metadata;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        let t = &self.event_type;
        if t.trim().is_empty() {
            return Err(StoreError::invalid("event type must not be empty"));
        }
        if t.len() > MAX_NAME_LEN {
            return Err(StoreError::invalid(format!(
                "event type is {} bytes long; the limit is {MAX_NAME_LEN}",
                t.len()
            )));
        }
        if t.chars().any(char::is_control) {
            return Err(StoreError::invalid(format!(
                "event type {t:?} contains control characters"
            )));
        }
        if self.schema_version < 1 {
            return Err(StoreError::invalid("schema version must be 1 or more"));
        }
        Ok(())
    }
}

/// Events for one stream, with the version the stream must be at first.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamAppend {
    pub stream: StreamId,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
}

/// One atomic append: events for one or more streams, and optionally the
/// command they come from, recorded as SUCCEEDED in the same transaction.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppendRequest {
    pub streams: Vec<StreamAppend>,
    pub command: Option<super::CommandEntry>,
    /// Settled by the writer once this append committed or failed
    /// (`fate.rs`).
    pub fate: Option<std::sync::Arc<super::Fate>>,
    /// Appends this one was decided after: it commits only if each of them
    /// committed, earlier or in the same transaction.
    pub after: Vec<std::sync::Arc<super::Fate>>,
}

/// An event as stored (and, when read, brought to its current schema).
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedEvent {
    pub id: Uuid,
    pub stream_id: String,
    pub version: i64,
    pub position: i64,
    pub event_type: String,
    pub schema_version: i32,
    pub data: Value,
    pub metadata: Value,
    pub recorded_at: DateTime<Utc>,
    /// Why the event is served as stored rather than in its type's current
    /// schema (no upcaster knows its version, or one failed); `None` for
    /// every readable event. A fold must refuse an event with a reason.
    pub upcast_error: Option<String>,
}

impl From<entity::events::Model> for RecordedEvent {
    fn from(m: entity::events::Model) -> Self {
        Self {
            id: m.event_id,
            stream_id: m.stream_id,
            version: m.version,
            position: m.position,
            event_type: m.event_type,
            schema_version: m.schema_version,
            data: m.data,
            metadata: m.metadata,
            recorded_at: m.recorded_at,
            upcast_error: None,
        }
    }
}

/// The outcome of one (possibly multi-stream) append.
#[derive(Clone, Debug, PartialEq)]
pub struct AppendOutcome {
    /// Each stream's version after the append, in request order.
    pub versions: Vec<(StreamId, i64)>,
    /// Global position of the last event (the head when nothing was new).
    pub position: i64,
    /// The events, in append order. On an idempotent retry these are the
    /// events stored by the first attempt.
    pub events: Vec<RecordedEvent>,
    /// False when every event was already stored (an idempotent retry).
    pub appended: bool,
}

/// A stream's row in the stream index.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamInfo {
    pub id: String,
    pub category: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<entity::streams::Model> for StreamInfo {
    fn from(m: entity::streams::Model) -> Self {
        Self {
            id: m.id,
            category: m.category,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_is_the_part_before_the_first_dash() {
        assert_eq!(category_of("account-1-2"), "account");
        assert_eq!(category_of("orders"), "orders");
        assert_eq!(StreamId::parse("user-x").unwrap().category(), "user");
    }

    #[test]
    fn stream_ids_reject_empty_long_and_blank() {
        assert!(StreamId::parse("").is_err());
        assert!(StreamId::parse("a b").is_err());
        assert!(StreamId::parse("x".repeat(256)).is_err());
        assert!(StreamId::parse("x".repeat(255)).is_ok());
    }

    #[test]
    fn expected_version_zero_means_no_stream() {
        assert_eq!(
            ExpectedVersion::from_option(Some(0)).unwrap(),
            ExpectedVersion::NoStream
        );
        assert!(ExpectedVersion::from_option(Some(-1)).is_err());
        assert!(ExpectedVersion::NoStream.admits(0));
        assert!(!ExpectedVersion::Exact(2).admits(3));
        assert!(ExpectedVersion::Any.admits(7));
    }
}
