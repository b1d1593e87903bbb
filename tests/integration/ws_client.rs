//! A small GraphQL-over-WebSocket client for the tests, speaking both
//! subprotocols the server offers:
//!
//! - `graphql-transport-ws` (the `graphql-ws` npm client): `connection_init`
//!   → `connection_ack`, `subscribe`, then `next` / `error` / `complete`;
//!   either side may `ping`, the other answers `pong`.
//! - the legacy `graphql-ws` (subscriptions-transport-ws): `connection_init`
//!   → `connection_ack`, `start`, then `data` / `error` / `complete`; `stop`
//!   ends one operation, `connection_terminate` the connection; the server
//!   may send `ka` (keep-alive) at any time.
//!
//! Every wait is bounded by [`WAIT`], so a server that goes quiet fails the
//! test instead of hanging it.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::{self, Message};

/// The longest a test waits for any one frame.
pub const WAIT: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `graphql-transport-ws`.
    TransportWs,
    /// The legacy `graphql-ws` (subscriptions-transport-ws).
    Legacy,
}

impl Protocol {
    pub const ALL: [Protocol; 2] = [Protocol::TransportWs, Protocol::Legacy];

    /// The `Sec-WebSocket-Protocol` value.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::TransportWs => "graphql-transport-ws",
            Protocol::Legacy => "graphql-ws",
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A server message about one operation.
#[derive(Clone, Debug)]
pub enum Frame {
    /// `next` (graphql-transport-ws) or `data` (legacy): one execution result.
    Next {
        id: String,
        payload: Value,
    },
    /// `error`: the operation failed before it ran (its payload is a list of
    /// GraphQL errors, or one error object in the legacy protocol).
    Error {
        id: String,
        payload: Value,
    },
    Complete {
        id: String,
    },
}

impl Frame {
    pub fn id(&self) -> &str {
        match self {
            Frame::Next { id, .. } | Frame::Error { id, .. } | Frame::Complete { id } => id,
        }
    }

    /// The GraphQL errors this frame reports: an `error` frame's, or the
    /// `errors` of a result. None for a clean result or a `complete`.
    pub fn errors(&self) -> Option<Vec<Value>> {
        match self {
            Frame::Error { payload, .. } => Some(match payload {
                Value::Array(errors) => errors.clone(),
                error => vec![error.clone()],
            }),
            Frame::Next { payload, .. } => payload["errors"].as_array().cloned(),
            Frame::Complete { .. } => None,
        }
    }
}

/// Opens a WebSocket to `path`, offering `protocols` (the header is left
/// out when None), with the socket's receive buffer set to `recv_buffer`
/// bytes when given (a small one makes a client that stops reading push
/// back on the server quickly).
pub async fn handshake(
    addr: SocketAddr,
    path: &str,
    protocols: Option<&str>,
    recv_buffer: Option<u32>,
) -> Result<WebSocketStream<TcpStream>, tungstenite::Error> {
    let socket = TcpSocket::new_v4()?;
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size)?;
    }
    let stream = socket.connect(addr).await?;
    let mut request = format!("ws://{addr}{path}").into_client_request()?;
    if let Some(protocols) = protocols {
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_str(protocols).expect("a valid header value"),
        );
    }
    let (ws, _response) = tokio_tungstenite::client_async(request, stream).await?;
    Ok(ws)
}

/// The HTTP status a refused handshake got; panics if it was accepted.
pub async fn refusal(addr: SocketAddr, path: &str, protocols: Option<&str>) -> StatusCode {
    match tokio::time::timeout(WAIT, handshake(addr, path, protocols, None))
        .await
        .expect("the handshake finishes")
    {
        Err(tungstenite::Error::Http(response)) => response.status(),
        Err(err) => panic!("the handshake failed without an HTTP status: {err}"),
        Ok(_) => panic!("the WebSocket to {path} offering {protocols:?} was accepted"),
    }
}

/// One GraphQL WebSocket connection, past `connection_ack`.
pub struct WsClient {
    ws: WebSocketStream<TcpStream>,
    pub protocol: Protocol,
    next_id: u64,
    /// Operations this client stopped or saw fail: a `complete` for one
    /// of them may still come, whenever, and says nothing new.
    ended: HashSet<String>,
}

impl WsClient {
    /// Connects to `/graphql/ws`.
    pub async fn connect(addr: SocketAddr, protocol: Protocol) -> Self {
        Self::connect_with(addr, "/graphql/ws", protocol, None).await
    }

    /// Connects to `path` (see [`handshake`] for `recv_buffer`) and
    /// completes `connection_init` → `connection_ack`.
    pub async fn connect_with(
        addr: SocketAddr,
        path: &str,
        protocol: Protocol,
        recv_buffer: Option<u32>,
    ) -> Self {
        let ws = tokio::time::timeout(
            WAIT,
            handshake(addr, path, Some(protocol.name()), recv_buffer),
        )
        .await
        .expect("the handshake finishes")
        .unwrap_or_else(|err| panic!("WebSocket handshake on {path} over {protocol}: {err}"));
        let mut client = Self {
            ws,
            protocol,
            next_id: 0,
            ended: HashSet::new(),
        };
        client
            .send(json!({ "type": "connection_init", "payload": {} }))
            .await;
        loop {
            let message = client.read().await.expect("connection_ack, not a close");
            match message["type"].as_str() {
                Some("connection_ack") => break,
                Some("ka") if protocol == Protocol::Legacy => continue,
                _ => panic!("expected connection_ack over {protocol}, got {message}"),
            }
        }
        client
    }

    /// Starts an operation and returns its id.
    pub async fn subscribe(&mut self, query: &str, variables: Value) -> String {
        self.next_id += 1;
        let id = self.next_id.to_string();
        let kind = match self.protocol {
            Protocol::TransportWs => "subscribe",
            Protocol::Legacy => "start",
        };
        self.send(json!({
            "type": kind,
            "id": id,
            "payload": { "query": query, "variables": variables },
        }))
        .await;
        id
    }

    /// Ends one operation (`complete` / `stop`).
    pub async fn stop(&mut self, id: &str) {
        self.ended.insert(id.to_owned());
        let kind = match self.protocol {
            Protocol::TransportWs => "complete",
            Protocol::Legacy => "stop",
        };
        self.send(json!({ "type": kind, "id": id })).await;
    }

    /// Sends a graphql-transport-ws `ping` and waits for the `pong`.
    pub async fn ping(&mut self) {
        assert_eq!(self.protocol, Protocol::TransportWs, "only it has ping");
        self.send(json!({ "type": "ping" })).await;
        let message = self.read().await.expect("a pong, not a close");
        assert_eq!(message["type"], "pong", "answer to ping: {message}");
    }

    /// Says goodbye (`connection_terminate` in the legacy protocol) and
    /// closes the socket.
    pub async fn close(mut self) {
        if self.protocol == Protocol::Legacy {
            self.send(json!({ "type": "connection_terminate" })).await;
        }
        let _ = tokio::time::timeout(WAIT, self.ws.close(None)).await;
    }

    /// The next frame about an operation; answers pings and skips
    /// keep-alives and the `complete` of an operation that has ended.
    /// Panics on a close or after [`WAIT`].
    pub async fn next_frame(&mut self) -> Frame {
        match self.frame_within(WAIT).await {
            Ok(Some(frame)) => frame,
            Ok(None) => panic!("the server closed the {} connection", self.protocol),
            Err(_) => panic!("no frame within {WAIT:?} over {}", self.protocol),
        }
    }

    /// The next frame if one comes within `within`; `Ok(None)` when the
    /// server closed the connection, `Err(())` when nothing came.
    pub async fn frame_within(&mut self, within: Duration) -> Result<Option<Frame>, ()> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let message = tokio::time::timeout_at(deadline, self.read())
                .await
                .map_err(|_| ())?;
            let Some(message) = message else {
                return Ok(None);
            };
            let id = || message["id"].as_str().unwrap_or_default().to_owned();
            let payload = || message["payload"].clone();
            let frame = match message["type"].as_str().unwrap_or_default() {
                "next" | "data" => Frame::Next {
                    id: id(),
                    payload: payload(),
                },
                "error" => Frame::Error {
                    id: id(),
                    payload: payload(),
                },
                "complete" if self.ended.remove(&id()) => continue,
                "complete" => Frame::Complete { id: id() },
                "ka" | "pong" => continue,
                "ping" => {
                    self.send(json!({ "type": "pong" })).await;
                    continue;
                }
                _ => panic!("unexpected message over {}: {message}", self.protocol),
            };
            return Ok(Some(frame));
        }
    }

    /// The `data` of the next result: returns the operation id and
    /// `payload.data`; panics on an error or a `complete`.
    pub async fn next_data(&mut self) -> (String, Value) {
        match self.next_frame().await {
            Frame::Next { id, payload } if payload.get("errors").is_none() => {
                (id, payload["data"].clone())
            }
            frame => panic!("expected a result over {}, got {frame:?}", self.protocol),
        }
    }

    /// The errors reported for operation `id`, skipping nothing: the next
    /// frame must be about `id` and must carry errors.
    pub async fn expect_errors(&mut self, id: &str) -> Vec<Value> {
        let frame = self.next_frame().await;
        assert_eq!(frame.id(), id, "a frame about another operation: {frame:?}");
        let errors = frame
            .errors()
            .unwrap_or_else(|| panic!("expected errors over {}, got {frame:?}", self.protocol));
        // A result with errors may be followed by a `complete`.
        if matches!(frame, Frame::Next { .. }) {
            self.ended.insert(id.to_owned());
        }
        errors
    }

    async fn send(&mut self, message: Value) {
        tokio::time::timeout(WAIT, self.ws.send(Message::text(message.to_string())))
            .await
            .expect("the send finishes")
            .unwrap_or_else(|err| panic!("send over {}: {err}", self.protocol));
    }

    /// The next JSON text message; None once the server closed. WebSocket
    /// pings are answered by tungstenite itself.
    async fn read(&mut self) -> Option<Value> {
        loop {
            match self.ws.next().await? {
                Ok(Message::Text(text)) => {
                    return Some(serde_json::from_str(&text).unwrap_or_else(|err| {
                        panic!("a JSON message over {}: {err}: {text}", self.protocol)
                    }));
                }
                Ok(Message::Close(_)) => return None,
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => continue,
                Ok(Message::Binary(bytes)) => panic!("unexpected binary message: {bytes:?}"),
                Err(
                    tungstenite::Error::ConnectionClosed
                    | tungstenite::Error::AlreadyClosed
                    | tungstenite::Error::Protocol(_),
                ) => return None,
                Err(err) => panic!("reading over {}: {err}", self.protocol),
            }
        }
    }
}
