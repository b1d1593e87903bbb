//! Relay cursors and page sizes. A cursor is an opaque, versioned token
//! around a unique sort key (a position or a version), never an offset, so
//! pages stay stable while new rows arrive.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::ApiError;
use crate::config::ApiConfig;

/// What a cursor points at; the tag keeps one list's cursor from being
/// silently accepted by another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CursorKind {
    /// A global log position.
    Position,
    /// A version inside a stream.
    Version,
}

impl CursorKind {
    fn tag(self) -> &'static str {
        match self {
            Self::Position => "p",
            Self::Version => "v",
        }
    }
}

pub fn encode(kind: CursorKind, key: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}1:{key}", kind.tag()))
}

pub fn decode(kind: CursorKind, cursor: &str) -> Result<i64, ApiError> {
    let unknown = || {
        ApiError::bad_input(format!(
            "unknown cursor {cursor:?}: pass an endCursor from this list"
        ))
    };
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| unknown())?;
    let text = String::from_utf8(raw).map_err(|_| unknown())?;
    let key = text
        .strip_prefix(kind.tag())
        .and_then(|rest| rest.strip_prefix("1:"));
    key.and_then(|k| k.parse().ok()).ok_or_else(unknown)
}

/// A cursor around a text key (an account or user id).
pub fn encode_text(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("t1:{key}"))
}

pub fn decode_text(cursor: &str) -> Result<String, ApiError> {
    let unknown = || {
        ApiError::bad_input(format!(
            "unknown cursor {cursor:?}: pass an endCursor from this list"
        ))
    };
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| unknown())?;
    let text = String::from_utf8(raw).map_err(|_| unknown())?;
    // This server's cursors wrap ids, which hold no control characters;
    // a NUL in particular would reach the database as an error.
    text.strip_prefix("t1:")
        .filter(|key| !key.chars().any(char::is_control))
        .map(str::to_owned)
        .ok_or_else(unknown)
}

/// A paged list's cost for the complexity limit: its items' cost times
/// how many it may return (the default page size when `first` is absent;
/// a negative `first` is refused when the field runs).
pub fn cost(first: Option<i32>, child_complexity: usize) -> usize {
    let items = first.map_or(ApiConfig::DEFAULT_PAGE_SIZE, |n| n.max(0) as usize);
    items
        .max(1)
        .saturating_mul(child_complexity)
        .saturating_add(1)
}

/// The page size for `first`, within the configured limits.
pub fn page_size(first: Option<i32>, limits: &ApiConfig) -> Result<usize, ApiError> {
    match first {
        None => Ok(limits.default_page_size),
        Some(n) if n < 0 => Err(ApiError::bad_input(format!(
            "first must be 0 or more, got {n}"
        ))),
        Some(n) if n as usize > limits.max_page_size => Err(ApiError::bad_input(format!(
            "first may be at most {}, got {n}",
            limits.max_page_size
        ))),
        Some(n) => Ok(n as usize),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_foreign_ones() {
        let c = encode(CursorKind::Position, 42);
        assert_eq!(decode(CursorKind::Position, &c).unwrap(), 42);
        assert!(decode(CursorKind::Version, &c).is_err());
        assert!(decode(CursorKind::Position, "nonsense").is_err());
        assert_eq!(decode_text(&encode_text("alice")).unwrap(), "alice");
        // "t1:" and a NUL, as a client might forge it.
        assert!(decode_text("dDE6AA").is_err());
    }

    #[test]
    fn page_size_is_bounded() {
        let limits = ApiConfig::default();
        assert_eq!(page_size(None, &limits).unwrap(), 100);
        assert!(page_size(Some(-1), &limits).is_err());
        assert!(page_size(Some(1001), &limits).is_err());
        assert_eq!(page_size(Some(0), &limits).unwrap(), 0);
    }
}
