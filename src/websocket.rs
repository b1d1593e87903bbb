//! GraphQL over WebSocket: `graphql-transport-ws` (the `graphql-ws` npm
//! client, Apollo, urql) and the legacy `graphql-ws`
//! (subscriptions-transport-ws), on `/graphql/ws` and as an upgrade of
//! `/graphql`.
//!
//! Between the socket and the GraphQL protocol sits a forwarder that also
//! sends a WebSocket ping every [`KEEPALIVE`], so idle subscriptions
//! survive proxies that drop quiet connections; browsers answer pings by
//! themselves. The connection-init payload is kept in the connection's data
//! for resolvers (authentication will read it).

use std::sync::Arc;
use std::time::Duration;

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::{Data, Executor};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::stream::{BoxStream, SplitSink};
use futures::{SinkExt, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::graphql::{ChronicleSchema, SubscriptionSlots, code_request_errors};
use crate::server::AppState;

const KEEPALIVE: Duration = Duration::from_secs(15);
/// Bytes read from a client's socket at a time. Clients send only small
/// messages (init, subscribe, ping), and tungstenite zero-fills this much
/// on every read attempt, which the GraphQL connection makes before each
/// message it sends: the default 128 KiB cost a 128 KiB memset per event
/// delivered and 128 KiB of resident memory per connection.
const READ_BUFFER: usize = 4 * 1024;
/// Messages written per flush at most, so a busy connection still flushes
/// regularly.
const FLUSH_EVERY: usize = 64;

/// The payload a client sent with `connection_init`.
#[derive(Clone, Debug, Default)]
pub struct ConnectionInit(pub serde_json::Value);

/// How many WebSocket connections may be open at once.
#[derive(Clone, Debug)]
pub struct ConnectionLimit(Arc<Semaphore>);

impl ConnectionLimit {
    pub fn new(max: usize) -> Self {
        Self(Arc::new(Semaphore::new(max)))
    }
}

pub fn is_upgrade(request: &Request) -> bool {
    request
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

pub async fn upgrade(state: AppState, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &state).await {
        Ok(protocol) => protocol,
        Err(status) => {
            let message = "offer the graphql-transport-ws or graphql-ws subprotocol";
            return (status, message).into_response();
        }
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let Ok(permit) = state.connections.0.clone().try_acquire_owned() else {
        let message = "too many WebSocket connections; try again later";
        return (StatusCode::SERVICE_UNAVAILABLE, message).into_response();
    };
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| serve(socket, state, protocol, permit))
}

async fn serve(
    socket: WebSocket,
    state: AppState,
    protocol: GraphQLProtocol,
    _permit: OwnedSemaphorePermit,
) {
    let (mut socket_sink, socket_stream) = socket.split();
    let (tx, mut rx) = futures::channel::mpsc::channel::<Message>(64);
    let forward = async move {
        let mut ticker = tokio::time::interval(KEEPALIVE);
        ticker.tick().await;
        loop {
            let message = tokio::select! {
                message = rx.next() => match message {
                    Some(message) => message,
                    None => break,
                },
                _ = ticker.tick() => Message::Ping(Default::default()),
            };
            if send_ready(&mut socket_sink, &mut rx, message)
                .await
                .is_err()
            {
                break;
            }
        }
        let _ = socket_sink.close().await;
    };
    let max_subscriptions = state.limits.max_subscriptions_per_connection;
    let graphql =
        GraphQLWebSocket::new_with_pair(tx, socket_stream, Coded(state.schema.clone()), protocol)
            .on_connection_init(move |payload| async move {
                let mut data = Data::default();
                data.insert(SubscriptionSlots::new(max_subscriptions));
                data.insert(ConnectionInit(payload));
                Ok(data)
            })
            .serve();
    tokio::join!(forward, graphql);
}

/// Writes `first` and whatever else is already queued (up to a bound),
/// then flushes once: under fan-out a connection carries many messages per
/// commit, and one flush (one write) for all of them instead of one each
/// halves the server's cost per delivered event.
async fn send_ready(
    sink: &mut SplitSink<WebSocket, Message>,
    queued: &mut futures::channel::mpsc::Receiver<Message>,
    first: Message,
) -> Result<(), axum::Error> {
    sink.feed(first).await?;
    for _ in 1..FLUSH_EVERY {
        match queued.try_recv() {
            Ok(message) => sink.feed(message).await?,
            _ => break,
        }
    }
    sink.flush().await
}

/// The schema as the WebSocket runs it: the errors async-graphql raises
/// itself (a syntax error, an unknown field) get their `extensions.code`,
/// as they do over HTTP (`http::respond`); without it a WebSocket client
/// would get the same mistake reported with no code.
#[derive(Clone)]
struct Coded(ChronicleSchema);

impl Executor for Coded {
    async fn execute(&self, request: async_graphql::Request) -> async_graphql::Response {
        let mut response = self.0.execute(request).await;
        code_request_errors(&mut response);
        response
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, async_graphql::Response> {
        Executor::execute_stream(&self.0, request, session_data)
            .map(|mut response| {
                code_request_errors(&mut response);
                response
            })
            .boxed()
    }
}
