//! GraphQL over HTTP: a GET runs a query (never a mutation: GET must be
//! safe), a POST runs one operation or a batch, and a WebSocket upgrade of
//! `/graphql` is served as on `/graphql/ws`.

use std::sync::Arc;

use async_graphql::BatchRequest;
use async_graphql::parser::types::{DocumentOperations, OperationType};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use super::observe::OperationKind;
use super::request::{self, Rejection};
use super::response::{self, accepts, respond};
use super::{HttpState, websocket};
use crate::auth::{self, AuthError, Principal};
use crate::config::RequestLimits;
use crate::error_code::ErrorCode;
use crate::graphql::{OperationSlot, RequestMeta};

/// A client's correlation id, copied into every event its commands append.
const CORRELATION_HEADER: &str = "x-correlation-id";

pub(super) async fn graphql_ws(State(state): State<Arc<HttpState>>, request: Request) -> Response {
    websocket::upgrade(state, request).await
}

/// A WebSocket upgrade is served as on `/graphql/ws`; a browser (asking
/// for HTML) gets GraphiQL; anything else is a GraphQL
/// query over GET, which may not run a mutation (GET must be safe).
pub(super) async fn graphql_get(State(state): State<Arc<HttpState>>, request: Request) -> Response {
    if websocket::is_upgrade(&request) {
        return websocket::upgrade(state, request).await;
    }
    let headers = request.headers().clone();
    let mut operation = match request::read_get(request.uri().query()) {
        Ok(operation) => operation,
        Err(rejection) => return refuse(&headers, rejection),
    };
    let names_persisted = operation.extensions.contains_key("persistedQuery");
    if operation.query.trim().is_empty() && !names_persisted {
        if accepts(&headers, "text/html") && state.graphiql {
            return super::ui::graphiql();
        }
        return refuse(
            &headers,
            Rejection {
                status: StatusCode::BAD_REQUEST,
                message: "a GET needs a `query` parameter".into(),
            },
        );
    }
    // A hash-only request is held to the GET rule by the text it names.
    if let Err(err) = state.persisted.resolve(&mut operation) {
        return respond_error(&headers, err, state.requests.max_response_bytes);
    }
    if is_mutation(&operation, &state.requests) {
        let mut response = response::error(
            &headers,
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::BadRequest,
            "mutations must be sent with POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let caller = match caller(&state, &headers) {
        Ok(caller) => caller,
        Err(err) => return unauthenticated(&headers, &err),
    };
    let max_response = state.requests.max_response_bytes;
    let slot = OperationSlot::default();
    let operation = with_meta(operation, &headers, &caller).data(slot.clone());
    let result = state.schema.execute(operation).await;
    marked(respond(&headers, result.into(), max_response), slot.get())
}

pub(super) async fn graphql_post(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let limits = &state.requests;
    // No valid request has a longer array: an argument list is bounded by
    // max_list_length, and a JSON payload's arrays by the event size (each
    // element takes at least two bytes).
    let body_limits = request::BodyLimits {
        max_bytes: limits.max_body_bytes,
        max_array: limits.max_list_length.max(state.max_event_bytes / 2),
    };
    let batch = match request::read_post(&headers, body, &body_limits).await {
        Ok(batch) => batch,
        Err(request::Refused::Http(rejection)) => return refuse(&headers, rejection),
        Err(request::Refused::Limit(refusal)) => {
            return respond_error(
                &headers,
                refusal.into_server_error(),
                limits.max_response_bytes,
            );
        }
    };
    if let BatchRequest::Batch(operations) = &batch
        && operations.len() > limits.max_batch_size
    {
        let message = format!(
            "a batch may hold at most {} operations, got {}",
            limits.max_batch_size,
            operations.len()
        );
        return response::error(
            &headers,
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            &message,
        );
    }
    let caller = match caller(&state, &headers) {
        Ok(caller) => caller,
        Err(err) => return unauthenticated(&headers, &err),
    };
    let meta = |r| with_meta(r, &headers, &caller);
    let slot = OperationSlot::default();
    let (result, kind) = match batch {
        BatchRequest::Single(mut one) => match state.persisted.resolve(&mut one) {
            Ok(()) => {
                let one = meta(one).data(slot.clone());
                (state.schema.execute(one).await.into(), slot.get())
            }
            Err(err) => (async_graphql::Response::from_errors(vec![err]).into(), None),
        },
        BatchRequest::Batch(all) => {
            // One after another, in the order sent, as a client that
            // batches a mutation and a query reading it expects.
            let mut responses = Vec::with_capacity(all.len());
            for mut one in all {
                responses.push(match state.persisted.resolve(&mut one) {
                    Ok(()) => state.schema.execute(meta(one)).await,
                    Err(err) => async_graphql::Response::from_errors(vec![err]),
                });
            }
            (
                async_graphql::BatchResponse::Batch(responses),
                Some("batch"),
            )
        }
    };
    marked(respond(&headers, result, limits.max_response_bytes), kind)
}

/// Marks the response with the operation type it answered, for the
/// request metrics.
fn marked(mut response: Response, kind: Option<&'static str>) -> Response {
    if let Some(kind) = kind {
        response.extensions_mut().insert(OperationKind(kind));
    }
    response
}

fn respond_error(headers: &HeaderMap, err: async_graphql::ServerError, max: usize) -> Response {
    respond(
        headers,
        async_graphql::Response::from_errors(vec![err]).into(),
        max,
    )
}

/// Any other method on `/graphql`: 405 in the GraphQL error shape.
pub(super) async fn graphql_other(headers: HeaderMap) -> Response {
    let mut response = response::error(
        &headers,
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::BadRequest,
        "GraphQL is served with GET (queries) and POST",
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
    response
}

fn refuse(headers: &HeaderMap, rejection: Rejection) -> Response {
    response::error(
        headers,
        rejection.status,
        ErrorCode::BadRequest,
        &rejection.message,
    )
}

/// Hands the resolvers what commands record from the request's headers.
/// The caller the request's credentials name, or the 401 that refuses
/// them (with a GraphQL error body, and `WWW-Authenticate` saying which
/// scheme to use).
fn caller(state: &HttpState, headers: &HeaderMap) -> Result<Principal, AuthError> {
    state.auth.authenticate(auth::from_headers(headers))
}

fn unauthenticated(headers: &HeaderMap, err: &AuthError) -> Response {
    let mut refused = response::error(
        headers,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthenticated,
        &err.to_string(),
    );
    refused
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    refused
}

fn with_meta(
    request: async_graphql::Request,
    headers: &HeaderMap,
    caller: &Principal,
) -> async_graphql::Request {
    let correlation_id = headers
        .get(CORRELATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 255)
        .map(str::to_owned);
    request
        .data(RequestMeta {
            correlation_id,
            actor: caller.subject.clone(),
        })
        .data(caller.clone())
}

fn is_mutation(request: &async_graphql::Request, limits: &RequestLimits) -> bool {
    // The text is bounded before it is parsed, as the schema's guard does.
    if crate::graphql::check_text(&request.query, limits).is_err() {
        return false; // the guard refuses it when the request runs
    }
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return false; // execution reports the syntax error
    };
    let operation = match &document.operations {
        DocumentOperations::Single(op) => Some(op),
        DocumentOperations::Multiple(ops) => match &request.operation_name {
            Some(name) => ops.get(name.as_str()),
            None => ops.values().next(),
        },
    };
    operation.is_some_and(|op| op.node.ty == OperationType::Mutation)
}
