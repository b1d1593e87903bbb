//! What operators see of HTTP: every request gets an id (the client's
//! `X-Request-Id` when it sends one, a new UUID otherwise), echoed in the
//! response and carried by a `request` span into every log line of the
//! request; its duration and outcome are counted by GraphQL operation
//! type and status; and `/metrics` serves the Prometheus text.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::{DefaultOnResponse, MakeSpan, TraceLayer};
use tracing::{Level, Span};

use super::HttpState;
use crate::metrics as m;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Gives a request without an id one.
pub fn set_request_id() -> SetRequestIdLayer<MakeRequestUuid> {
    SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid)
}

/// Echoes the request's id in its response.
pub fn propagate_request_id() -> PropagateRequestIdLayer {
    PropagateRequestIdLayer::new(REQUEST_ID)
}

/// The request's span: its id, method and path (never the query string,
/// which may hold a query's variables), and one line when it is answered.
pub fn trace() -> TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    RequestSpan,
    tower_http::trace::DefaultOnRequest,
    DefaultOnResponse,
> {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_response(
            DefaultOnResponse::new()
                .level(Level::INFO)
                .latency_unit(tower_http::LatencyUnit::Micros),
        )
}

#[derive(Clone, Copy, Debug)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &axum::http::Request<B>) -> Span {
        tracing::info_span!(
            "request",
            request_id = %request_id(request),
            method = %request.method(),
            path = request.uri().path(),
        )
    }
}

/// The id `set_request_id` gave the request (or the client's).
pub fn request_id<B>(request: &axum::http::Request<B>) -> &str {
    request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-")
}

/// Which GraphQL operation type a response answered, as the GraphQL
/// handlers mark it (`query`, `mutation`, `subscription`, `batch`).
#[derive(Clone, Copy, Debug)]
pub struct OperationKind(pub &'static str);

/// Counts each request and its duration by operation type and status.
pub async fn count(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    let kind = response
        .extensions()
        .get::<OperationKind>()
        .map_or("none", |k| k.0);
    let status = response.status().as_u16().to_string();
    metrics::counter!(m::HTTP_REQUESTS, "operation_type" => kind, "status" => status).increment(1);
    metrics::histogram!(m::HTTP_SECONDS, "operation_type" => kind)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Prometheus text exposition. The projections' gauges are read at
/// scrape time, so they are exact whenever they are seen.
pub(super) async fn metrics(State(state): State<Arc<HttpState>>) -> Response {
    let Some(handle) = m::handle() else {
        return (
            StatusCode::NOT_FOUND,
            "metrics are recorded by the embedding application",
        )
            .into_response();
    };
    let head = state.projections.head();
    metrics::gauge!(m::LOG_HEAD).set(head as f64);
    for name in state.projections.names() {
        if let Ok(status) = state.projections.status(name) {
            let name = *name;
            metrics::gauge!(m::PROJECTION_POSITION, "projection" => name)
                .set(status.position as f64);
            metrics::gauge!(m::PROJECTION_LAG, "projection" => name)
                .set((head - status.position).max(0) as f64);
            metrics::gauge!(m::PROJECTION_EVENTS, "projection" => name)
                .set(status.events_processed as f64);
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}
