//! The one vocabulary of error codes: what a GraphQL error's
//! `extensions.code` says, what the command log records, and what each
//! layer's error type maps its variants to.
//!
//! Defined once, here. An error type says which code it is by matching on
//! its own variants; a code read back from storage goes through
//! [`ErrorCode::parse`], so no code travels as a string between layers.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The HTTP request is not a GraphQL request (unparsable body, wrong
    /// media type, too large).
    BadRequest,
    /// The request is malformed or breaks a rule the client can fix.
    BadUserInput,
    NotFound,
    AlreadyExists,
    /// Optimistic concurrency: a stream was not at the expected version.
    ConcurrencyConflict,
    InsufficientFunds,
    AccountClosed,
    /// A read-your-writes wait ran out.
    ConsistencyTimeout,
    /// No valid credentials.
    Unauthenticated,
    /// Credentials whose role may not do this.
    Forbidden,
    /// Load shedding: the server or this client has too many requests in
    /// flight; retry after the `Retry-After` seconds.
    TooManyRequests,
    /// The request took longer than the server allows.
    Timeout,
    /// The database cannot be reached; retry later.
    Unavailable,
    /// An automatic persisted query named by a hash this server does not
    /// hold: send the query text with the hash (Apollo's APQ).
    PersistedQueryNotFound,
    /// Ours: the detail is logged under an id, never sent.
    Internal,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 15] = [
        Self::BadRequest,
        Self::BadUserInput,
        Self::NotFound,
        Self::AlreadyExists,
        Self::ConcurrencyConflict,
        Self::InsufficientFunds,
        Self::AccountClosed,
        Self::ConsistencyTimeout,
        Self::Unauthenticated,
        Self::Forbidden,
        Self::TooManyRequests,
        Self::Timeout,
        Self::Unavailable,
        Self::PersistedQueryNotFound,
        Self::Internal,
    ];

    /// The code as clients see it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "BAD_REQUEST",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::NotFound => "NOT_FOUND",
            Self::AlreadyExists => "ALREADY_EXISTS",
            Self::ConcurrencyConflict => "CONCURRENCY_CONFLICT",
            Self::InsufficientFunds => "INSUFFICIENT_FUNDS",
            Self::AccountClosed => "ACCOUNT_CLOSED",
            Self::ConsistencyTimeout => "CONSISTENCY_TIMEOUT",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::TooManyRequests => "TOO_MANY_REQUESTS",
            Self::Timeout => "TIMEOUT",
            Self::Unavailable => "UNAVAILABLE",
            Self::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            Self::Internal => "INTERNAL",
        }
    }

    /// The code a stored text names; `None` for text this server never
    /// wrote.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|code| code.as_str() == text)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn every_code_parses_back_from_its_text() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
        assert_eq!(ErrorCode::parse("bad_user_input"), None);
    }
}
