//! Why a command did not succeed, in two kinds kept apart by type: a
//! rejection (the client's to fix, or a rule that said no: recorded
//! REJECTED and answered as is) and a failure (ours: recorded FAILED, its
//! detail logged, never sent). Each variant has one [`ErrorCode`].

use crate::domain::DomainError;
use crate::error_code::ErrorCode;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error(transparent)]
    Failed(#[from] Failure),
}

/// A command refused, with what to tell the client.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    /// The aggregate refused the command.
    #[error(transparent)]
    Domain(#[from] DomainError),

    /// The stream was not at the version the client expected, or retries
    /// without an expected version kept losing the race.
    #[error(
        "concurrency conflict on stream {stream}: expected version {expected}, actual {actual}"
    )]
    Conflict {
        stream: String,
        expected: i64,
        actual: i64,
    },

    /// The command id was used before for a different command. Not logged:
    /// the log keeps the command that owns the id.
    #[error("{0}")]
    CommandIdReused(String),

    /// A retry of a command that was rejected: the same answer again.
    #[error("{message}")]
    Replayed { code: ErrorCode, message: String },

    /// The store refused the append as malformed (an id, a size).
    #[error("{0}")]
    Invalid(String),

    /// An event id the client chose is already stored elsewhere.
    #[error("{0}")]
    DuplicateEvent(String),
}

/// A command that could not be carried out on our side.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The store failed (a statement, the writer).
    #[error(transparent)]
    Store(StoreError),
    /// The database cannot be reached, or the server is shutting down: the
    /// command may be retried (with its commandId) later.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A stored event that no longer reads, a state that cannot be
    /// serialized, a command log that answered nothing.
    #[error("{0}")]
    Internal(String),
}

impl CommandError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Rejected(rejection) => rejection.code(),
            Self::Failed(Failure::Unavailable(_)) => ErrorCode::Unavailable,
            Self::Failed(_) => ErrorCode::Internal,
        }
    }

    /// Rejections are the client's to fix; failures are ours.
    pub fn is_rejection(&self) -> bool {
        matches!(self, Self::Rejected(_))
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Rejection::Domain(DomainError::Invalid(message.into())).into()
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Failure::Internal(detail.into()).into()
    }

    pub fn conflict(stream: String, expected: i64, actual: i64) -> Self {
        Rejection::Conflict {
            stream,
            expected,
            actual,
        }
        .into()
    }
}

impl Rejection {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Domain(DomainError::Invalid(_)) | Self::CommandIdReused(_) | Self::Invalid(_) => {
                ErrorCode::BadUserInput
            }
            Self::Domain(DomainError::NotFound(_)) => ErrorCode::NotFound,
            Self::Domain(DomainError::AlreadyExists(_)) | Self::DuplicateEvent(_) => {
                ErrorCode::AlreadyExists
            }
            Self::Domain(DomainError::InsufficientFunds(_)) => ErrorCode::InsufficientFunds,
            Self::Domain(DomainError::AccountClosed(_)) => ErrorCode::AccountClosed,
            Self::Conflict { .. } => ErrorCode::ConcurrencyConflict,
            Self::Replayed { code, .. } => *code,
        }
    }
}

impl From<DomainError> for CommandError {
    fn from(err: DomainError) -> Self {
        Rejection::Domain(err).into()
    }
}

/// The store's refusals of an append are the client's to fix; anything
/// else it reports is a failure.
impl From<StoreError> for CommandError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Invalid(message) => Rejection::Invalid(message).into(),
            StoreError::Conflict {
                stream,
                expected,
                actual,
            } => Self::conflict(stream, expected, actual),
            err @ StoreError::DuplicateEventId { .. } => {
                Rejection::DuplicateEvent(err.to_string()).into()
            }
            StoreError::Database(err) if crate::db::is_unreachable(&err) => {
                Failure::Unavailable(err.to_string()).into()
            }
            err @ StoreError::Unavailable => Failure::Unavailable(err.to_string()).into(),
            other => Failure::Store(other).into(),
        }
    }
}
