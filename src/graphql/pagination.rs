//! Relay cursors and page sizes. A cursor is an opaque, versioned token
//! around a unique sort key (a position or a version), never an offset, so
//! pages stay stable while new rows arrive.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use async_graphql::OutputType;
use async_graphql::connection::{Connection, ConnectionNameType, Edge, EdgeNameType, EmptyFields};

use super::ApiError;
use crate::config::ApiConfig;
use crate::paging::Slice;

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
/// how many it may return (`first` or `last`, else the default page size;
/// a negative count is refused when the field runs).
pub fn cost(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let items = first
        .or(last)
        .map_or(ApiConfig::DEFAULT_PAGE_SIZE, |n| n.max(0) as usize);
    items
        .max(1)
        .saturating_mul(child_complexity)
        .saturating_add(1)
}

/// The page size for `first` (or `last`, named by `arg`), within the
/// configured limits.
fn page_size(arg: &str, count: Option<i32>, limits: &ApiConfig) -> Result<usize, ApiError> {
    match count {
        None => Ok(limits.default_page_size),
        Some(n) if n < 0 => Err(ApiError::bad_input(format!(
            "{arg} must be 0 or more, got {n}"
        ))),
        Some(n) if n as usize > limits.max_page_size => Err(ApiError::bad_input(format!(
            "{arg} may be at most {}, got {n}",
            limits.max_page_size
        ))),
        Some(n) => Ok(n as usize),
    }
}

/// A connection's arguments, as the Relay Cursor Connections spec reads
/// them: `first`/`after` page forward, `last`/`before` backward; both
/// cursors may bound one page. `first` and `last` together are refused
/// (the spec discourages them, and no client needs them).
pub struct Window<K> {
    pub slice: Slice<K>,
    size: usize,
}

/// A connection's four arguments, cursors already decoded.
pub struct PageArgs<K> {
    pub first: Option<i32>,
    pub after: Option<K>,
    pub last: Option<i32>,
    pub before: Option<K>,
}

impl<K> Window<K> {
    pub fn new(args: PageArgs<K>, limits: &ApiConfig) -> Result<Self, ApiError> {
        let (size, from_end) = match (args.first, args.last) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_input(
                    "pass first or last, not both: first pages forward, last backward",
                ));
            }
            (None, Some(_)) => (page_size("last", args.last, limits)?, true),
            // `before` alone pages backward from it, as clients expect.
            (None, None) if args.before.is_some() && args.after.is_none() => {
                (page_size("last", None, limits)?, true)
            }
            _ => (page_size("first", args.first, limits)?, false),
        };
        let slice = Slice {
            after: args.after,
            before: args.before,
            // One row more than the page shows says whether there are more.
            limit: size as u64 + 1,
            from_end,
        };
        Ok(Self { slice, size })
    }

    /// The page of `rows` (read for this window's slice, in its reading
    /// order), as a connection in the list's order.
    pub fn page<T, N, Name, EdgeName>(
        &self,
        mut rows: Vec<T>,
        cursor: impl Fn(&T) -> String,
        node: impl Fn(T) -> Result<N, ApiError>,
    ) -> Result<Connection<String, N, EmptyFields, EmptyFields, Name, EdgeName>, ApiError>
    where
        N: OutputType,
        Name: ConnectionNameType,
        EdgeName: EdgeNameType,
    {
        let more = rows.len() > self.size;
        rows.truncate(self.size);
        if self.slice.from_end {
            rows.reverse();
        }
        let (has_previous, has_next) = if self.slice.from_end {
            (more, self.slice.before.is_some())
        } else {
            (self.slice.after.is_some(), more)
        };
        let mut page = Connection::new(has_previous, has_next);
        for row in rows {
            let key = cursor(&row);
            page.edges.push(Edge::new(key, node(row)?));
        }
        Ok(page)
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
        assert_eq!(page_size("first", None, &limits).unwrap(), 100);
        assert!(page_size("first", Some(-1), &limits).is_err());
        assert!(page_size("last", Some(1001), &limits).is_err());
        assert_eq!(page_size("first", Some(0), &limits).unwrap(), 0);
    }

    fn window(
        first: Option<i32>,
        after: Option<i64>,
        last: Option<i32>,
        before: Option<i64>,
    ) -> Result<Window<i64>, ApiError> {
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        Window::new(args, &ApiConfig::default())
    }

    fn keys(page: &Connection<String, i64>) -> Vec<i64> {
        page.edges.iter().map(|e| e.node).collect()
    }

    #[test]
    fn given_rows_read_from_the_end_when_paged_then_they_come_in_list_order() {
        let w = window(None, None, Some(2), Some(9)).unwrap();
        assert!(w.slice.from_end);
        assert_eq!(w.slice.limit, 3);
        // Read descending below 9: 8, 7 and one more (6), which says there
        // is a previous page.
        let page = w.page(vec![8, 7, 6], |k| k.to_string(), Ok).unwrap();
        assert_eq!(keys(&page), vec![7, 8]);
        assert!(page.has_previous_page);
        assert!(page.has_next_page, "there is the item at `before`");
    }

    #[test]
    fn given_rows_read_forward_when_fewer_than_asked_then_there_is_no_next_page() {
        let w = window(Some(5), Some(2), None, None).unwrap();
        let page = w.page(vec![3, 4], |k| k.to_string(), Ok).unwrap();
        assert_eq!(keys(&page), vec![3, 4]);
        assert!(!page.has_next_page);
        assert!(page.has_previous_page);
    }

    #[test]
    fn first_and_last_together_are_refused_and_before_alone_pages_backward() {
        assert!(window(Some(1), None, Some(1), None).is_err());
        assert!(window(None, None, Some(-1), None).is_err());
        assert!(window(None, None, None, Some(4)).unwrap().slice.from_end);
        assert!(!window(None, Some(1), None, Some(4)).unwrap().slice.from_end);
    }
}
