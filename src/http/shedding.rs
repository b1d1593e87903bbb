//! Load shedding: requests in flight are bounded globally and per client
//! address, and one that would pass either bound is answered at once with
//! 429 `TOO_MANY_REQUESTS` and `Retry-After`, never queued without bound;
//! each request is bounded in time (`TIMEOUT`). `/health`, `/ready` and
//! `/metrics` are exempt, so that an overloaded server still says how it
//! is.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::Semaphore;

use super::per_ip::PerIp;
use super::response;
use crate::error_code::ErrorCode;

#[derive(Clone)]
pub struct Shedding {
    global: Arc<Semaphore>,
    per_ip: PerIp,
    timeout: Duration,
}

impl Shedding {
    pub fn new(max_in_flight: usize, max_per_ip: usize, timeout: Duration) -> Self {
        Self {
            global: Arc::new(Semaphore::new(max_in_flight)),
            per_ip: PerIp::new(max_per_ip),
            timeout,
        }
    }
}

pub async fn shed(State(shedding): State<Shedding>, request: Request, next: Next) -> Response {
    if matches!(request.uri().path(), "/health" | "/ready" | "/metrics") {
        return next.run(request).await;
    }
    let headers = request.headers().clone();
    let Ok(_permit) = shedding.global.clone().try_acquire_owned() else {
        return too_many(&headers, "the server is at its limit of requests in flight");
    };
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let _slot = match ip {
        Some(ip) => match shedding.per_ip.enter(ip) {
            Some(slot) => Some(slot),
            None => return too_many(&headers, "this address has too many requests in flight"),
        },
        None => None,
    };
    match tokio::time::timeout(shedding.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let message = format!(
                "the request took longer than {} ms; a command may still commit, so retry it with its commandId",
                shedding.timeout.as_millis()
            );
            response::error(
                &headers,
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Timeout,
                &message,
            )
        }
    }
}

fn too_many(headers: &axum::http::HeaderMap, message: &str) -> Response {
    let mut refused = response::error(
        headers,
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::TooManyRequests,
        message,
    );
    refused
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    refused
}
