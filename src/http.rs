//! The HTTP surface: GraphQL over HTTP, GraphiQL, health and readiness.

use async_graphql::http::GraphiQLSource;
use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql_axum::GraphQLRequest;
use async_graphql_axum::rejection::GraphQLRejection;
use axum::Router;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

use crate::graphql::{RequestMeta, code_request_errors};
use crate::server::AppState;
use crate::websocket;

/// Largest request body: a generous bulk append, not an upload service.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
/// A client's correlation id, copied into every event its commands append.
const CORRELATION_HEADER: &str = "x-correlation-id";

pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(graphiql))
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphql/ws", get(graphql_ws))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
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
    let request = GraphQLRequest::<GraphQLRejection>::from_request(request, &state).await;
    let request = match request.map(GraphQLRequest::into_inner) {
        Ok(request) if !request.query.trim().is_empty() => request,
        _ if accepts(&headers, "text/html") => return graphiql().await.into_response(),
        _ => {
            return request_error(
                &headers,
                StatusCode::BAD_REQUEST,
                "a GET needs a `query` parameter",
            );
        }
    };
    if is_mutation(&request) {
        let mut response = request_error(
            &headers,
            StatusCode::METHOD_NOT_ALLOWED,
            "mutations must be sent with POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    respond(
        &headers,
        state.schema.execute(with_meta(request, &headers)).await,
    )
}

async fn graphql_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    let request = with_meta(request.into_inner(), &headers);
    respond(&headers, state.schema.execute(request).await)
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

/// GraphQL over HTTP: `application/graphql-response+json` when the client
/// accepts it, with 400 for a request that never ran (parse or validation
/// error); plain `application/json` clients always get 200.
fn respond(headers: &HeaderMap, mut response: async_graphql::Response) -> Response {
    code_request_errors(&mut response);
    let modern = accepts(headers, GRAPHQL_RESPONSE_JSON);
    let never_ran = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    let status = if modern && never_ran {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = match serde_json::to_vec(&response) {
        Ok(body) => body,
        Err(err) => {
            tracing::error!(%err, "could not serialize a GraphQL response");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let content_type = if modern {
        GRAPHQL_RESPONSE_JSON
    } else {
        "application/json"
    };
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn request_error(headers: &HeaderMap, status: StatusCode, message: &str) -> Response {
    let mut response = respond(
        headers,
        async_graphql::Response::from_errors(vec![async_graphql::ServerError::new(message, None)]),
    );
    *response.status_mut() = status;
    response
}

fn accepts(headers: &HeaderMap, media_type: &str) -> bool {
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

fn is_mutation(request: &async_graphql::Request) -> bool {
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
