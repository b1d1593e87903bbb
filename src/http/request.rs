//! Turning an HTTP request into GraphQL operations, or into a refusal
//! that says why in the GraphQL error shape.
//!
//! The body is read here rather than by an extractor with a size limit,
//! because of how such a limit ends a request: it answers 413 without
//! reading the body, and closing a socket that still has unread data makes
//! the kernel reset the connection, so a client still sending never sees
//! the answer. Over the limit, the rest is read and dropped (up to
//! [`DRAIN_FACTOR`] times the limit, within [`DRAIN_TIME`]) before the 413
//! goes out; a client that announced the size and waits for
//! `100 Continue` gets the 413 at once instead, and sends nothing.

use std::time::Duration;

use async_graphql::{BatchRequest, Request};
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use futures::StreamExt;
use serde_json::Value;

/// Why a request never became GraphQL operations: its HTTP status and a
/// message for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: StatusCode,
    pub message: String,
}

impl Rejection {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

/// How much of an oversized body is read and dropped, in multiples of the
/// limit, so that the client sees the 413.
const DRAIN_FACTOR: usize = 4;
/// How long an oversized body may take to drain.
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// The media types a POST body may have. Anything else, form encodings and
/// `text/plain` included, is refused: those are what a page on another
/// site can send without a preflight.
const JSON_TYPES: &[&str] = &["application/json", "application/graphql-response+json"];

/// What a POST body may be.
pub struct BodyLimits {
    pub max_bytes: usize,
    /// Longest array anywhere in the body; no valid request has a longer
    /// one (see `graphql_post`).
    pub max_array: usize,
}

/// Why a POST's operations were not read: the HTTP request is not one
/// (`Http`), or it is over one of the request limits (`Limit`, answered
/// as GraphQL answers the same bound).
pub enum Refused {
    Http(Rejection),
    Limit(crate::graphql::Refusal),
}

impl From<Rejection> for Refused {
    fn from(rejection: Rejection) -> Self {
        Self::Http(rejection)
    }
}

/// The operations of a POST: one JSON object, or an array of them.
pub async fn read_post(
    headers: &HeaderMap,
    body: Body,
    limits: &BodyLimits,
) -> Result<BatchRequest, Refused> {
    let max_body = limits.max_bytes;
    let declared = declared_length(headers);
    if declared.is_some_and(|n| n > max_body) && expects_continue(headers) {
        return Err(too_large(max_body).into());
    }
    if let Err(rejection) = check_content_type(headers) {
        drain(body, max_body.saturating_mul(DRAIN_FACTOR)).await;
        return Err(rejection.into());
    }
    let bytes = read_limited(body, max_body).await?;
    if let Some(length) = super::json_scan::array_over(&bytes, limits.max_array) {
        return Err(Refused::Limit(crate::graphql::Refusal::new(
            "maxListLength",
            limits.max_array,
            format!(
                "the body holds a list of {length} or more items; the limit is {}",
                limits.max_array
            ),
            None,
        )));
    }
    Ok(parse_json(&bytes)?)
}

/// The operation of a GET: `query`, `operationName`, `variables` and
/// `extensions` in the query string (the last two as JSON).
pub fn read_get(query_string: Option<&str>) -> Result<Request, Rejection> {
    async_graphql::http::parse_query_string(query_string.unwrap_or_default()).map_err(|err| {
        Rejection::new(
            StatusCode::BAD_REQUEST,
            format!("the query string is not a GraphQL request: {err}"),
        )
    })
}

fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"))
}

fn check_content_type(headers: &HeaderMap) -> Result<(), Rejection> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(Rejection::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "a POST needs `content-type: application/json`",
        ));
    };
    // Parameters (`; charset=utf-8`) are allowed; only the type counts.
    let media_type = value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .unwrap_or_default();
    if JSON_TYPES
        .iter()
        .any(|t| t.eq_ignore_ascii_case(media_type))
    {
        Ok(())
    } else {
        Err(Rejection::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "a POST body must be application/json, not {:?}",
                String::from_utf8_lossy(value.as_bytes())
            ),
        ))
    }
}

/// The body, if it fits in `max` bytes; else drains it and refuses.
async fn read_limited(body: Body, max: usize) -> Result<Vec<u8>, Rejection> {
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            Rejection::new(
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            )
        })?;
        if bytes.len() + chunk.len() > max {
            let drained = bytes.len() + chunk.len();
            drop(bytes);
            drain_stream(stream, max.saturating_mul(DRAIN_FACTOR), drained).await;
            return Err(too_large(max));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

async fn drain(body: Body, cap: usize) {
    drain_stream(body.into_data_stream(), cap, 0).await;
}

/// Reads and drops what the client still sends, up to `cap` bytes in all.
async fn drain_stream(mut stream: axum::body::BodyDataStream, cap: usize, mut read: usize) {
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while read <= cap {
            match stream.next().await {
                Some(Ok(chunk)) => read += chunk.len(),
                _ => break,
            }
        }
    })
    .await;
}

fn too_large(max: usize) -> Rejection {
    Rejection::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is larger than {max} bytes"),
    )
}

/// A JSON object is one operation and an array a batch. A body that parses
/// as one goes straight through (one pass over it, which matters for a
/// bulk append); serde's error for one that does not would name Rust
/// types, so such a body is parsed again to describe what is wrong in the
/// client's terms.
fn parse_json(bytes: &[u8]) -> Result<BatchRequest, Rejection> {
    // By the first byte, not serde's untagged guess: serde would also read
    // a struct from an array (`[]` as an empty operation).
    let parsed = match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => serde_json::from_slice::<Request>(bytes)
            .ok()
            .map(BatchRequest::Single),
        Some(b'[') => serde_json::from_slice::<Vec<Request>>(bytes)
            .ok()
            .filter(|items| !items.is_empty())
            .map(BatchRequest::Batch),
        _ => None,
    };
    match parsed {
        Some(batch) => Ok(batch),
        None => describe_invalid(bytes),
    }
}

fn describe_invalid(bytes: &[u8]) -> Result<BatchRequest, Rejection> {
    let bad = |message: String| Rejection::new(StatusCode::BAD_REQUEST, message);
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|err| bad(format!("the body is not valid JSON: {err}")))?;
    match value {
        Value::Object(_) => operation(value, None)
            .map(BatchRequest::Single)
            .map_err(bad),
        Value::Array(items) if items.is_empty() => {
            Err(bad("a batch needs at least one operation".to_owned()))
        }
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| operation(item, Some(i)))
            .collect::<Result<Vec<_>, _>>()
            .map(BatchRequest::Batch)
            .map_err(bad),
        other => Err(bad(format!(
            "a GraphQL request is a JSON object with a `query` (or an array of them), not {}",
            kind(&other)
        ))),
    }
}

fn operation(value: Value, index: Option<usize>) -> Result<Request, String> {
    let at = index
        .map(|i| format!(" (operation {i} of the batch)"))
        .unwrap_or_default();
    if !value.is_object() {
        return Err(format!(
            "each operation of a batch is a JSON object with a `query`, not {}{at}",
            kind(&value)
        ));
    }
    serde_json::from_value(value).map_err(|err| format!("not a GraphQL request{at}: {err}"))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_operations_and_arrays_batches() {
        assert!(matches!(
            parse_json(br#"{"query":"{ a }"}"#),
            Ok(BatchRequest::Single(_))
        ));
        assert!(matches!(
            parse_json(br#"[{"query":"{ a }"},{"query":"{ b }"}]"#),
            Ok(BatchRequest::Batch(b)) if b.len() == 2
        ));
    }

    #[test]
    fn malformed_bodies_say_what_is_wrong_without_rust_names() {
        for (body, fragment) in [
            (&b"{"[..], "not valid JSON"),
            (b"[null]", "not null"),
            (b"[]", "at least one"),
            (b"42", "not a number"),
            (br#"{"query": 1}"#, "not a GraphQL request"),
            (br#"{"query": "\ud800"}"#, "not valid JSON"),
        ] {
            let rejection = parse_json(body).unwrap_err();
            assert_eq!(rejection.status, StatusCode::BAD_REQUEST);
            assert!(
                rejection.message.contains(fragment),
                "{:?}: {}",
                String::from_utf8_lossy(body),
                rejection.message
            );
            assert!(
                !rejection.message.contains("BatchRequest"),
                "{}",
                rejection.message
            );
        }
    }

    #[test]
    fn only_json_bodies_are_accepted() {
        let with = |ct: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, ct.parse().unwrap());
            check_content_type(&headers)
        };
        assert!(with("application/json").is_ok());
        assert!(with("Application/JSON; charset=utf-8").is_ok());
        assert!(with("application/json;;;").is_ok());
        assert!(with("application/graphql-response+json").is_ok());
        for refused in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
        ] {
            assert_eq!(
                with(refused).unwrap_err().status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            );
        }
        assert!(check_content_type(&HeaderMap::new()).is_err());
    }
}
