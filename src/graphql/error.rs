//! The one place where an error becomes a GraphQL error with an
//! `extensions.code`. Resolvers return `Result<T, ApiError>`; lower layers'
//! errors convert into it with `?`.
//!
//! `ApiError` deliberately does not implement `Display`: async-graphql
//! turns anything displayable into an error without a code, and that
//! conversion must not be picked by accident.

use async_graphql::{ErrorExtensions, InputType, InputValueError};
use uuid::Uuid;

use crate::commands::CommandError;
use crate::projections::ProjectionsError;
use crate::store::StoreError;

#[derive(Clone, Debug, PartialEq)]
pub enum ApiError {
    /// `BAD_USER_INPUT`: the request is malformed; nothing changed.
    BadUserInput(String),
    /// `NOT_FOUND`.
    NotFound(String),
    /// `ALREADY_EXISTS`.
    AlreadyExists(String),
    /// `CONCURRENCY_CONFLICT`, with the expected and actual version.
    Conflict {
        stream: String,
        expected: i64,
        actual: i64,
    },
    /// `INSUFFICIENT_FUNDS`.
    InsufficientFunds(String),
    /// `ACCOUNT_CLOSED`.
    AccountClosed(String),
    /// `CONSISTENCY_TIMEOUT`: a read-your-writes wait ran out.
    ConsistencyTimeout(String),
    /// A rejection recorded in the command log, returned again to a retry
    /// with its original code and message.
    Replayed { code: String, message: String },
    /// `INTERNAL`: the detail is logged, never sent.
    Internal(String),
}

impl ApiError {
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::BadUserInput(message.into())
    }

    pub fn code(&self) -> &str {
        match self {
            Self::BadUserInput(_) => BAD_USER_INPUT,
            Self::NotFound(_) => "NOT_FOUND",
            Self::AlreadyExists(_) => "ALREADY_EXISTS",
            Self::Conflict { .. } => "CONCURRENCY_CONFLICT",
            Self::InsufficientFunds(_) => "INSUFFICIENT_FUNDS",
            Self::AccountClosed(_) => "ACCOUNT_CLOSED",
            Self::ConsistencyTimeout(_) => "CONSISTENCY_TIMEOUT",
            Self::Replayed { code, .. } => code,
            Self::Internal(_) => "INTERNAL",
        }
    }

    /// The error a code names (for a command whose rejection is replayed
    /// from the command log).
    fn from_code(code: &str, message: String) -> Self {
        match code {
            "BAD_USER_INPUT" => Self::BadUserInput(message),
            "NOT_FOUND" => Self::NotFound(message),
            "ALREADY_EXISTS" => Self::AlreadyExists(message),
            "INSUFFICIENT_FUNDS" => Self::InsufficientFunds(message),
            "ACCOUNT_CLOSED" => Self::AccountClosed(message),
            _ => Self::Internal(message),
        }
    }
}

impl From<CommandError> for ApiError {
    fn from(err: CommandError) -> Self {
        let message = err.to_string();
        match err {
            CommandError::Conflict {
                stream,
                expected,
                actual,
            } => Self::Conflict {
                stream,
                expected,
                actual,
            },
            CommandError::Store(store) => store.into(),
            CommandError::Replayed { code, message } => Self::Replayed { code, message },
            other => Self::from_code(other.code(), message),
        }
    }
}

pub(crate) const BAD_USER_INPUT: &str = "BAD_USER_INPUT";

/// Marks a scalar's parse error as `BAD_USER_INPUT`. async-graphql parses
/// custom scalars (a `Long` given as `"abc"`, say) only when the field
/// runs, and reports a failure there with no code; the code set here
/// survives the enclosing input objects and lists.
pub(crate) fn bad_input_value<T: InputType>(err: InputValueError<T>) -> InputValueError<T> {
    err.with_extension("code", BAD_USER_INPUT)
}

/// Errors that async-graphql raises itself (a syntax error, an unknown
/// field, an argument of the wrong type, a query too deep) carry no code;
/// they are all the client's to fix.
pub(crate) fn code_request_errors(response: &mut async_graphql::Response) {
    for err in &mut response.errors {
        let extensions = err.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", BAD_USER_INPUT);
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Invalid(message) => Self::BadUserInput(message),
            StoreError::Conflict {
                stream,
                expected,
                actual,
            } => Self::Conflict {
                stream,
                expected,
                actual,
            },
            err @ StoreError::DuplicateEventId { .. } => Self::AlreadyExists(err.to_string()),
            err @ (StoreError::Unavailable
            | StoreError::Database(_)
            | StoreError::CommandRecorded(_)) => Self::Internal(err.to_string()),
        }
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        let code = err.code().to_owned();
        match err {
            ApiError::BadUserInput(m)
            | ApiError::NotFound(m)
            | ApiError::AlreadyExists(m)
            | ApiError::InsufficientFunds(m)
            | ApiError::AccountClosed(m)
            | ApiError::ConsistencyTimeout(m) => {
                async_graphql::Error::new(m).extend_with(|_, e| e.set("code", code.as_str()))
            }
            ApiError::Conflict {
                stream,
                expected,
                actual,
            } => async_graphql::Error::new(format!(
                "concurrency conflict on stream {stream}: expected version {expected}, actual {actual}"
            ))
            .extend_with(|_, e| {
                e.set("code", code);
                e.set("streamId", stream.as_str());
                e.set("expected", expected);
                e.set("actual", actual);
            }),
            ApiError::Replayed { code, message } => {
                async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code.as_str()))
            }
            ApiError::Internal(detail) => {
                let id = Uuid::new_v4();
                tracing::error!(error_id = %id, %detail, "internal error");
                async_graphql::Error::new(format!("internal error (reference {id})")).extend_with(|_, e| {
                    e.set("code", code);
                    e.set("errorId", id.to_string());
                })
            }
        }
    }
}

impl From<ProjectionsError> for ApiError {
    fn from(err: ProjectionsError) -> Self {
        match err {
            ProjectionsError::Unknown(name) => {
                Self::NotFound(format!("no projection is named {name:?}"))
            }
            err @ ProjectionsError::Timeout { .. } => Self::ConsistencyTimeout(err.to_string()),
            ProjectionsError::NothingToSkip(message) => Self::BadUserInput(message),
            other => Self::Internal(other.to_string()),
        }
    }
}
