//! The HTTP surface: GraphQL over HTTP, GraphiQL, health and readiness,
//! `/metrics`. `request.rs` turns a request into GraphQL operations (or a
//! refusal), `response.rs` turns results into responses.

mod json_scan;
mod request;
mod response;
mod websocket;

pub use websocket::ConnectionLimit;

use async_graphql::BatchRequest;
use async_graphql::http::GraphiQLSource;
use async_graphql::parser::types::{DocumentOperations, OperationType};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::config::RequestLimits;
use crate::error_code::ErrorCode;
use crate::graphql::RequestMeta;
use crate::server::AppState;
use request::Rejection;
use response::{accepts, respond};

/// A client's correlation id, copied into every event its commands append.
const CORRELATION_HEADER: &str = "x-correlation-id";

pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(graphiql))
        .route(
            "/graphql",
            get(graphql_get).post(graphql_post).fallback(graphql_other),
        )
        .route("/graphql/ws", get(graphql_ws))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .layer(CatchPanicLayer::custom(panicked))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .title("Chronicle")
            .finish(),
    )
}

async fn graphql_ws(State(state): State<AppState>, request: Request) -> Response {
    websocket::upgrade(state, request).await
}

/// A WebSocket upgrade is served as on `/graphql/ws`; a browser (asking
/// for HTML) gets GraphiQL; anything else is a GraphQL
/// query over GET, which may not run a mutation (GET must be safe).
async fn graphql_get(State(state): State<AppState>, request: Request) -> Response {
    if websocket::is_upgrade(&request) {
        return websocket::upgrade(state, request).await;
    }
    let headers = request.headers().clone();
    let parsed = request::read_get(request.uri().query());
    let operation = match parsed {
        Ok(operation) if !operation.query.trim().is_empty() => operation,
        _ if accepts(&headers, "text/html") => return graphiql().await.into_response(),
        Ok(_) => {
            return refuse(
                &headers,
                Rejection {
                    status: StatusCode::BAD_REQUEST,
                    message: "a GET needs a `query` parameter".into(),
                },
            );
        }
        Err(rejection) => return refuse(&headers, rejection),
    };
    if is_mutation(&operation, &state.limits.requests) {
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
    let max_response = state.limits.requests.max_response_bytes;
    let result = state.schema.execute(with_meta(operation, &headers)).await;
    respond(&headers, result.into(), max_response)
}

async fn graphql_post(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let limits = &state.limits.requests;
    // No valid request has a longer array: an argument list is bounded by
    // max_list_length, and a JSON payload's arrays by the event size (each
    // element takes at least two bytes).
    let body_limits = request::BodyLimits {
        max_bytes: limits.max_body_bytes,
        max_array: limits
            .max_list_length
            .max(state.limits.events.max_event_bytes / 2),
    };
    let batch = match request::read_post(&headers, body, &body_limits).await {
        Ok(batch) => batch,
        Err(request::Refused::Http(rejection)) => return refuse(&headers, rejection),
        Err(request::Refused::Limit(refusal)) => {
            let refused = async_graphql::Response::from_errors(vec![refusal.into_server_error()]);
            return respond(&headers, refused.into(), limits.max_response_bytes);
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
    let batch = match batch {
        BatchRequest::Single(one) => BatchRequest::Single(with_meta(one, &headers)),
        BatchRequest::Batch(all) => {
            BatchRequest::Batch(all.into_iter().map(|r| with_meta(r, &headers)).collect())
        }
    };
    let result = state.schema.execute_batch(batch).await;
    respond(&headers, result, limits.max_response_bytes)
}

/// Any other method on `/graphql`: 405 in the GraphQL error shape.
async fn graphql_other(headers: HeaderMap) -> Response {
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
fn with_meta(request: async_graphql::Request, headers: &HeaderMap) -> async_graphql::Request {
    let correlation_id = headers
        .get(CORRELATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 255)
        .map(str::to_owned);
    request.data(RequestMeta {
        correlation_id,
        actor: None,
    })
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

/// A panic while answering is a bug: the client gets INTERNAL with an id,
/// the log gets the panic under it, and the process keeps serving.
fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    let id = uuid::Uuid::new_v4();
    tracing::error!(error_id = %id, panic = detail, "a request handler panicked");
    response::internal_with_id(&HeaderMap::new(), id)
}

/// Prometheus text exposition.
async fn metrics() -> Response {
    match crate::metrics::handle() {
        Some(handle) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "metrics are recorded by the embedding application",
        )
            .into_response(),
    }
}

/// Liveness: the process answers.
async fn health() -> &'static str {
    "ok"
}

/// Readiness: migrations ran (the state exists only after they did) and
/// the database answers now.
async fn ready(State(state): State<AppState>) -> Response {
    match state.store.db().ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(err) => {
            tracing::warn!(%err, "readiness check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_is_answered_internal_with_an_error_id() {
        let response = panicked(Box::new("boom".to_owned()));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let extensions = &body["errors"][0]["extensions"];
        assert_eq!(extensions["code"], "INTERNAL");
        assert!(
            extensions["errorId"]
                .as_str()
                .is_some_and(|id| id.len() == 36)
        );
        assert!(
            !body.to_string().contains("boom"),
            "the panic stays in the log"
        );
    }
}
