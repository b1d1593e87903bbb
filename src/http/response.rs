//! GraphQL results as HTTP responses: the media type the client accepts,
//! the status GraphQL over HTTP asks for, and the response-size bound.
//!
//! Every answer from `/graphql`, a refusal before anything ran included,
//! has the GraphQL shape (`{"errors":[{"message", "extensions":{"code"}}]}`)
//! so that a client needs one error path, never a plain-text body.

use async_graphql::{BatchResponse, ErrorExtensionValues, ServerError};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error_code::ErrorCode;
use crate::graphql::finish;

pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// GraphQL over HTTP: `application/graphql-response+json` when the client
/// accepts it, with 400 for a request that never ran (parse or validation
/// error); plain `application/json` clients always get 200.
pub fn respond(headers: &HeaderMap, mut response: BatchResponse, max_bytes: usize) -> Response {
    let modern = accepts(headers, GRAPHQL_RESPONSE_JSON);
    let mut never_ran = false;
    match &mut response {
        BatchResponse::Single(one) => {
            finish(one);
            never_ran = one.data == async_graphql::Value::Null
                && !one.errors.is_empty()
                && one.errors.iter().all(|e| e.path.is_empty());
        }
        BatchResponse::Batch(all) => all.iter_mut().for_each(finish),
    }
    let status = if modern && never_ran {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = match serde_json::to_vec(&response) {
        Ok(body) if body.len() <= max_bytes => body,
        Ok(body) => return too_large(headers, body.len(), max_bytes),
        Err(err) => {
            tracing::error!(%err, "could not serialize a GraphQL response");
            return internal(headers);
        }
    };
    json(headers, status, body)
}

/// A GraphQL-shaped error for a request that never reached GraphQL.
pub fn error(headers: &HeaderMap, status: StatusCode, code: ErrorCode, message: &str) -> Response {
    json(
        headers,
        status,
        error_body(message, |e| e.set("code", code.as_str())),
    )
}

/// The answer to a panic or an unserializable response: no detail leaks,
/// the log has it under the id the client gets.
pub fn internal(headers: &HeaderMap) -> Response {
    let id = uuid::Uuid::new_v4();
    tracing::error!(error_id = %id, "internal error while answering a request");
    internal_with_id(headers, id)
}

pub fn internal_with_id(headers: &HeaderMap, id: uuid::Uuid) -> Response {
    let body = error_body(&format!("internal error (reference {id})"), |e| {
        e.set("code", ErrorCode::Internal.as_str());
        e.set("errorId", id.to_string());
    });
    json(headers, StatusCode::INTERNAL_SERVER_ERROR, body)
}

fn too_large(headers: &HeaderMap, size: usize, max: usize) -> Response {
    let message = format!(
        "the response would be {size} bytes; the limit is {max}: ask for fewer items or fields"
    );
    let body = error_body(&message, |e| {
        e.set("code", ErrorCode::BadUserInput.as_str());
        e.set("limit", "maxResponseBytes");
        e.set("max", max as u64);
    });
    json(headers, StatusCode::OK, body)
}

/// `{"errors":[{"message", "extensions"}]}` as bytes.
fn error_body(message: &str, extensions: impl FnOnce(&mut ErrorExtensionValues)) -> Vec<u8> {
    let mut values = ErrorExtensionValues::default();
    extensions(&mut values);
    let mut err = ServerError::new(message, None);
    err.extensions = Some(values);
    // Serializing a message and a few strings cannot fail.
    serde_json::to_vec(&async_graphql::Response::from_errors(vec![err])).unwrap_or_default()
}

fn json(headers: &HeaderMap, status: StatusCode, body: Vec<u8>) -> Response {
    let content_type = if accepts(headers, GRAPHQL_RESPONSE_JSON) {
        GRAPHQL_RESPONSE_JSON
    } else {
        "application/json"
    };
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

pub fn accepts(headers: &HeaderMap, media_type: &str) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case(media_type))
        })
}
