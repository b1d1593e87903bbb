//! GraphQL over WebSocket on `/graphql/ws` and as an upgrade of
//! `/graphql`: `graphql-transport-ws` and the legacy `graphql-ws`
//! (`protocol.rs`), one task per connection (`session.rs`).
//!
//! The protocols are implemented here rather than taken from
//! async-graphql-axum because their rules are the API clients program
//! against: graphql-ws closes with 4400/4401/4408/4409/4429 where the
//! specification says so, reports a request that never ran as the
//! protocol's `error`, and negotiates the subprotocol exactly; the legacy
//! protocol gets its `ka` keep-alives.

mod protocol;
mod session;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::{StatusCode, header};
use axum::response::Response;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;

use super::HttpState;
use super::per_ip::{PerIp, Slot};
use protocol::Protocol;

const KEEPALIVE: Duration = Duration::from_secs(15);
/// graphql-ws's default `connectionInitWaitTimeout`.
const INIT_TIMEOUT: Duration = Duration::from_secs(3);
/// Bytes read from a client's socket at a time. Clients send only small
/// messages (init, subscribe, ping), and tungstenite zero-fills this much
/// on every read attempt, which a connection makes before each message it
/// sends: the default 128 KiB cost a 128 KiB memset per event delivered
/// and 128 KiB of resident memory per connection.
const READ_BUFFER: usize = 4 * 1024;

/// How many WebSocket connections may be open at once, in all and from
/// one client address.
#[derive(Clone, Debug)]
pub struct ConnectionLimit {
    all: Arc<Semaphore>,
    per_ip: PerIp,
}

/// One open connection's place in the counts; given back on drop.
pub struct ConnectionPermit {
    _all: OwnedSemaphorePermit,
    _ip: Option<Slot>,
}

impl ConnectionLimit {
    pub fn new(max: usize, max_per_ip: usize) -> Self {
        Self {
            all: Arc::new(Semaphore::new(max)),
            per_ip: PerIp::new(max_per_ip),
        }
    }

    fn acquire(&self, ip: Option<IpAddr>) -> Option<ConnectionPermit> {
        let all = self.all.clone().try_acquire_owned().ok()?;
        let ip = match ip {
            Some(ip) => Some(self.per_ip.enter(ip)?),
            None => None,
        };
        Some(ConnectionPermit { _all: all, _ip: ip })
    }
}

pub fn is_upgrade(request: &Request) -> bool {
    request
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

pub async fn upgrade(state: Arc<HttpState>, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    // A page from an origin the policy does not admit may not open a
    // socket (a browser would otherwise let any page use a user's
    // credentials here); a client that sends no Origin is not a page.
    if let Some(origin) = parts.headers.get(header::ORIGIN)
        && !state.origins.allows(origin)
    {
        return refuse(
            &parts.headers,
            StatusCode::FORBIDDEN,
            "this origin may not open a WebSocket here",
        );
    }
    let offered = parts
        .headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok());
    let Some(protocol) = Protocol::negotiate(offered) else {
        return refuse(
            &parts.headers,
            StatusCode::BAD_REQUEST,
            "offer the graphql-transport-ws or graphql-ws subprotocol (exactly so spelled)",
        );
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            return refuse(&parts.headers, rejection.status(), &rejection.body_text());
        }
    };
    let ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let Some(permit) = state.connections.acquire(ip) else {
        return refuse(
            &parts.headers,
            StatusCode::SERVICE_UNAVAILABLE,
            "too many WebSocket connections; try again later",
        );
    };
    // The connection's id is its upgrade request's: every log line of the
    // connection, in a task of its own, carries it.
    let span = tracing::info_span!(
        "websocket",
        connection_id = parts
            .headers
            .get(crate::http::observe::REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-"),
        protocol = protocol.name(),
    );
    let session = session::Session {
        protocol,
        schema: state.schema.clone(),
        max_subscriptions: state.subscriptions.max_subscriptions_per_connection,
        init_timeout: INIT_TIMEOUT,
        keep_alive: KEEPALIVE,
        auth: state.auth.clone(),
        shutdown: state.shutdown.clone(),
    };
    upgrade
        .protocols([protocol.name()])
        .read_buffer_size(READ_BUFFER)
        .max_message_size(state.requests.max_body_bytes)
        .on_upgrade(move |socket| serve(socket, session, permit).instrument(span))
}

async fn serve(
    socket: axum::extract::ws::WebSocket,
    session: session::Session,
    _permit: ConnectionPermit,
) {
    let _open = crate::metrics::Open::new(crate::metrics::WS_CONNECTIONS);
    tracing::debug!("WebSocket connected");
    session::run(socket, session).await;
    tracing::debug!("WebSocket closed");
}

fn refuse(headers: &axum::http::HeaderMap, status: StatusCode, message: &str) -> Response {
    super::response::error(headers, status, crate::ErrorCode::BadRequest, message)
}
