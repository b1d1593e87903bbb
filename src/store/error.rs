//! The store's one error type. The API maps each variant to one
//! `extensions.code`; callers match on variants, never on messages.

use sea_orm::DbErr;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The request itself is malformed (empty stream id, no events, ...).
    #[error("{0}")]
    Invalid(String),

    /// Optimistic concurrency: the stream was not at the expected version.
    #[error("stream {stream} is at version {actual}, expected {expected}")]
    Conflict {
        stream: String,
        expected: i64,
        actual: i64,
    },

    /// An event id given by the client is already stored somewhere that
    /// does not make this append an idempotent retry.
    #[error("event id {id} is already stored in stream {stream} at version {version}")]
    DuplicateEventId {
        id: Uuid,
        stream: String,
        version: i64,
    },

    /// The append's command id already succeeded (a retry, or a reuse of
    /// the id: the caller compares the record with its command).
    #[error("command {} was already executed", .0.id)]
    CommandRecorded(Box<super::CommandRecord>),

    /// The writer is gone (the server is shutting down).
    #[error("the event store is shutting down")]
    Unavailable,

    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

impl StoreError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(message.into())
    }
}
