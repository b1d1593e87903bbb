//! The one place where an error becomes a GraphQL error with an
//! `extensions.code`. Resolvers return `Result<T, ApiError>`; every lower
//! layer's error converts into it with `?`, by variant.
//!
//! An internal error gets its id here, and the client only that id; the
//! detail travels inside the GraphQL error (its `source`, never
//! serialized) to where the response is built, which logs it
//! ([`finish`]), as axum's error-handling example logs in one place.
//!
//! `ApiError` deliberately does not implement `Display`: async-graphql
//! turns anything displayable into an error without a code, and that
//! conversion must not be picked by accident.

use std::sync::Arc;

use async_graphql::{ErrorExtensionValues, InputType, InputValueError};
use sea_orm::DbErr;
use uuid::Uuid;

use crate::commands::{CommandError, Failure, Rejection};
use crate::error_code::ErrorCode;
use crate::read_models::ProjectionsError;
use crate::store::StoreError;

#[derive(Clone, Debug, PartialEq)]
pub enum ApiError {
    /// A request refused: the code and a message for the client; nothing
    /// changed.
    Refused { code: ErrorCode, message: String },
    /// `CONCURRENCY_CONFLICT`, with the stream and both versions.
    Conflict {
        stream: String,
        expected: i64,
        actual: i64,
    },
    /// `INTERNAL`: the detail is logged, never sent.
    Internal(String),
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Refused {
            code,
            message: message.into(),
        }
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadUserInput, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Refused { code, .. } => *code,
            Self::Conflict { .. } => ErrorCode::ConcurrencyConflict,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl From<CommandError> for ApiError {
    fn from(err: CommandError) -> Self {
        match err {
            CommandError::Rejected(Rejection::Conflict {
                stream,
                expected,
                actual,
            }) => Self::Conflict {
                stream,
                expected,
                actual,
            },
            CommandError::Rejected(rejection) => Self::new(rejection.code(), rejection.to_string()),
            CommandError::Failed(failure @ Failure::Unavailable(_)) => {
                tracing::warn!(%failure, "answered UNAVAILABLE");
                Self::new(ErrorCode::Unavailable, UNAVAILABLE)
            }
            CommandError::Failed(failure) => Self::Internal(failure.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        CommandError::from(err).into()
    }
}

impl From<DbErr> for ApiError {
    fn from(err: DbErr) -> Self {
        if crate::db::is_unreachable(&err) {
            tracing::warn!(%err, "answered UNAVAILABLE");
            return Self::new(ErrorCode::Unavailable, UNAVAILABLE);
        }
        Self::Internal(format!("database error: {err}"))
    }
}

/// What a client is told when the database cannot be reached.
const UNAVAILABLE: &str = "the database cannot be reached right now; retry later";

impl From<ProjectionsError> for ApiError {
    fn from(err: ProjectionsError) -> Self {
        match err {
            ProjectionsError::Unknown(name) => {
                Self::not_found(format!("no projection is named {name:?}"))
            }
            err @ ProjectionsError::Timeout { .. } => {
                Self::new(ErrorCode::ConsistencyTimeout, err.to_string())
            }
            ProjectionsError::NothingToSkip(message) => Self::bad_input(message),
            ProjectionsError::Database(err) => err.into(),
            other => Self::Internal(other.to_string()),
        }
    }
}

/// What an internal error carries to where the response is built.
#[derive(Debug)]
struct InternalDetail {
    id: Uuid,
    detail: String,
}

impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        let code = err.code();
        let mut extensions = ErrorExtensionValues::default();
        extensions.set("code", code.as_str());
        let (message, source) = match err {
            ApiError::Refused { message, .. } => (message, None),
            ApiError::Conflict {
                stream,
                expected,
                actual,
            } => {
                extensions.set("streamId", stream.as_str());
                extensions.set("expected", expected);
                extensions.set("actual", actual);
                let message = format!(
                    "concurrency conflict on stream {stream}: expected version {expected}, actual {actual}"
                );
                (message, None)
            }
            ApiError::Internal(detail) => {
                let id = Uuid::new_v4();
                extensions.set("errorId", id.to_string());
                let source: Arc<dyn std::any::Any + Send + Sync> =
                    Arc::new(InternalDetail { id, detail });
                (format!("internal error (reference {id})"), Some(source))
            }
        };
        async_graphql::Error {
            message,
            source,
            extensions: Some(extensions),
        }
    }
}

/// Marks a scalar's parse error as `BAD_USER_INPUT`. async-graphql parses
/// custom scalars (a `Long` given as `"abc"`, say) only when the field
/// runs, and reports a failure there with no code; the code set here
/// survives the enclosing input objects and lists.
pub(crate) fn bad_input_value<T: InputType>(err: InputValueError<T>) -> InputValueError<T> {
    err.with_extension("code", ErrorCode::BadUserInput.as_str())
}

/// Readies a response to be sent, wherever it is built (HTTP, WebSocket):
/// errors that async-graphql raises itself (a syntax error, an unknown
/// field, a query too deep) get `BAD_USER_INPUT`, being the client's to
/// fix, and every internal error's detail is logged under the id its
/// client got.
pub(crate) fn finish(response: &mut async_graphql::Response) {
    for err in &mut response.errors {
        if let Some(internal) = err
            .source
            .as_ref()
            .and_then(|s| s.downcast_ref::<InternalDetail>())
        {
            tracing::error!(error_id = %internal.id, detail = %internal.detail, "internal error");
        }
        let extensions = err.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", ErrorCode::BadUserInput.as_str());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_internal_error_sends_only_its_id_and_keeps_the_detail_for_the_log() {
        let err: async_graphql::Error = ApiError::Internal("disk on fire".into()).into();
        assert!(!err.message.contains("disk"), "{}", err.message);
        let extensions = err.extensions.as_ref().unwrap();
        assert_eq!(
            extensions.get("code"),
            Some(&async_graphql::Value::from("INTERNAL"))
        );
        let detail = err
            .source
            .as_ref()
            .unwrap()
            .downcast_ref::<InternalDetail>()
            .unwrap();
        assert_eq!(detail.detail, "disk on fire");
        assert_eq!(
            extensions.get("errorId"),
            Some(&async_graphql::Value::from(detail.id.to_string()))
        );
    }

    #[test]
    fn store_refusals_keep_their_codes_and_failures_are_internal_or_unavailable() {
        let code = |err: StoreError| ApiError::from(err).code();
        assert_eq!(code(StoreError::invalid("no")), ErrorCode::BadUserInput);
        assert_eq!(code(StoreError::Unavailable), ErrorCode::Unavailable);
        let broken = sea_orm::DbErr::Custom("a constraint".into());
        assert_eq!(code(StoreError::Database(broken)), ErrorCode::Internal);
        let conflict = StoreError::Conflict {
            stream: "s".into(),
            expected: 1,
            actual: 2,
        };
        assert_eq!(code(conflict), ErrorCode::ConcurrencyConflict);
    }
}
