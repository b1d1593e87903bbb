//! Liveness (`/health`) and readiness (`/ready`), as plain text for a
//! person or a load balancer, and as JSON for a client that asks for it
//! (`Accept: application/json`): readiness then also says how the
//! database answered and where each projection is.
//!
//! Readiness depends on the database only: a failed or paused projection
//! is reported, not a reason to take the node out of a load balancer,
//! since commands and the other read models still work.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use serde_json::json;

use super::HttpState;
use super::response::accepts;
use crate::cluster::ListenerState;

/// How long the readiness check waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Liveness: the process answers.
pub(super) async fn health(headers: HeaderMap) -> Response {
    if wants_json(&headers) {
        Json(json!({ "status": "ok" })).into_response()
    } else {
        "ok".into_response()
    }
}

/// Readiness: migrations ran (the state exists only after they did), the
/// database answers now, and (on PostgreSQL) this node hears the others.
pub(super) async fn ready(State(state): State<Arc<HttpState>>, headers: HeaderMap) -> Response {
    let started = Instant::now();
    let ping = tokio::time::timeout(READY_TIMEOUT, state.store.db().ping()).await;
    let database = match ping {
        Ok(Ok(())) => Ok(started.elapsed()),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err("no answer in time".to_owned()),
    };
    if let Err(err) = &database {
        tracing::warn!(%err, "readiness check: database unreachable");
    }
    // A node that cannot hear the others would serve subscriptions and
    // read-your-writes waits late: it is not ready until it hears again.
    let listen = state.listener.state();
    let hears = listen != ListenerState::Reconnecting;
    let ok = database.is_ok() && hears;
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    if !wants_json(&headers) {
        let text = match (&database, hears) {
            (Ok(_), true) => "ready",
            (Err(_), _) => "database unreachable",
            (Ok(_), false) => "not hearing the other nodes (LISTEN is reconnecting)",
        };
        return (status, text).into_response();
    }
    let head = state.projections.head();
    let projections: Vec<_> = state
        .projections
        .names()
        .iter()
        .filter_map(|name| state.projections.status(name).ok())
        .map(|s| {
            json!({
                "name": s.name,
                "status": s.state.as_str(),
                "position": s.position,
                "lag": (head - s.position).max(0),
            })
        })
        .collect();
    let database = match database {
        // The error's detail stays in the log: it may name hosts.
        Ok(latency) => json!({ "status": "up", "latencyMs": latency.as_secs_f64() * 1000.0 }),
        Err(_) => json!({ "status": "down" }),
    };
    let listen = match listen {
        ListenerState::NotNeeded => "not needed",
        ListenerState::Listening => "up",
        ListenerState::Reconnecting => "reconnecting",
    };
    let body = json!({
        "status": if ok { "ready" } else { "unavailable" },
        "database": database,
        "listen": { "status": listen },
        "head": head,
        "projections": projections,
    });
    (status, Json(body)).into_response()
}

fn wants_json(headers: &HeaderMap) -> bool {
    accepts(headers, "application/json")
}
