//! Why a command did not succeed. Each variant has one error code; the
//! command log stores it and the API returns it as `extensions.code`.

use crate::domain::DomainError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The aggregate refused the command.
    #[error(transparent)]
    Rejected(#[from] DomainError),

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
    Replayed { code: String, message: String },

    /// Our fault, not the client's (e.g. a stored event that no longer
    /// reads); the detail is logged, never sent.
    #[error("{0}")]
    Internal(String),

    /// Infrastructure: the command may be retried.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CommandError {
    pub fn code(&self) -> &str {
        match self {
            Self::Rejected(DomainError::Invalid(_)) | Self::CommandIdReused(_) => "BAD_USER_INPUT",
            Self::Rejected(DomainError::NotFound(_)) => "NOT_FOUND",
            Self::Rejected(DomainError::AlreadyExists(_)) => "ALREADY_EXISTS",
            Self::Rejected(DomainError::InsufficientFunds(_)) => "INSUFFICIENT_FUNDS",
            Self::Rejected(DomainError::AccountClosed(_)) => "ACCOUNT_CLOSED",
            Self::Conflict { .. } => "CONCURRENCY_CONFLICT",
            Self::Replayed { code, .. } => code,
            Self::Store(StoreError::Invalid(_)) => "BAD_USER_INPUT",
            Self::Store(StoreError::Conflict { .. }) => "CONCURRENCY_CONFLICT",
            Self::Store(StoreError::DuplicateEventId { .. }) => "ALREADY_EXISTS",
            Self::Store(_) | Self::Internal(_) => "INTERNAL",
        }
    }

    /// Rejections are the client's to fix; anything else is ours.
    pub fn is_rejection(&self) -> bool {
        self.code() != "INTERNAL"
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Rejected(DomainError::Invalid(message.into()))
    }
}
