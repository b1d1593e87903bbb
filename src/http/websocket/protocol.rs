//! The two GraphQL-over-WebSocket protocols, as messages: what a client
//! may send, what the server answers, and the close codes.
//!
//! - `graphql-transport-ws` (the `graphql-ws` npm client, Apollo, urql),
//!   specified in graphql-ws's PROTOCOL.md: `connection_init` →
//!   `connection_ack`; `subscribe` → `next`… `complete`, or `error`;
//!   `ping`/`pong` either way; mistakes close the socket with a 44xx code.
//! - the legacy `graphql-ws` (subscriptions-transport-ws): `connection_init`
//!   → `connection_ack` and then `ka` keep-alives; `start` → `data`…
//!   `complete`, or `error`; `stop`; `connection_terminate`.

use async_graphql::Request;
use serde::Deserialize;
use serde_json::{Value, json};

/// Which protocol a connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    TransportWs,
    Legacy,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Self::TransportWs => "graphql-transport-ws",
            Self::Legacy => "graphql-ws",
        }
    }

    /// The first protocol the client offers that this server speaks.
    /// Subprotocol names are compared exactly, as RFC 6455 has them: a
    /// server that accepted `GRAPHQL-TRANSPORT-WS` would have to echo a
    /// name the client did not offer, and clients abort on that.
    pub fn negotiate<'a>(offered: impl IntoIterator<Item = &'a str>) -> Option<Protocol> {
        offered
            .into_iter()
            .flat_map(|header| header.split(','))
            .map(str::trim)
            .find_map(|name| match name {
                "graphql-transport-ws" => Some(Self::TransportWs),
                "graphql-ws" => Some(Self::Legacy),
                _ => None,
            })
    }
}

/// Close codes of graphql-transport-ws (also used for the legacy protocol,
/// which defines none of its own).
pub mod close {
    /// A message the protocol does not allow.
    pub const INVALID_MESSAGE: u16 = 4400;
    /// An operation before the connection was acknowledged.
    pub const UNAUTHORIZED: u16 = 4401;
    /// The connection-init payload was refused.
    pub const FORBIDDEN: u16 = 4403;
    /// No `connection_init` in time.
    pub const INIT_TIMEOUT: u16 = 4408;
    /// An operation id already in use.
    pub const DUPLICATE_ID: u16 = 4409;
    /// A second `connection_init`.
    pub const TOO_MANY_INITS: u16 = 4429;
    /// The server is shutting down (RFC 6455's "going away").
    pub const GOING_AWAY: u16 = 1001;
}

/// A message from the client, either protocol's spelling.
#[derive(Debug)]
pub enum ClientMessage {
    Init(Value),
    Subscribe { id: String, request: Box<Request> },
    Complete { id: String },
    Ping(Option<Value>),
    Pong,
    Terminate,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Wire {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    Subscribe {
        id: String,
        payload: Box<Request>,
    },
    Start {
        id: String,
        payload: Box<Request>,
    },
    Complete {
        id: String,
    },
    Stop {
        id: String,
    },
    Ping {
        #[serde(default)]
        payload: Option<Value>,
    },
    Pong {
        #[serde(default)]
        #[allow(dead_code)]
        payload: Option<Value>,
    },
    ConnectionTerminate,
}

impl ClientMessage {
    /// Parses one text message as `protocol` has it; `Err` says what is
    /// wrong, for the 4400 close reason.
    pub fn parse(protocol: Protocol, text: &str) -> Result<Self, String> {
        let wire: Wire = serde_json::from_str(text)
            .map_err(|err| format!("not a {} message: {err}", protocol.name()))?;
        let legacy = protocol == Protocol::Legacy;
        Ok(match wire {
            Wire::ConnectionInit { payload } => Self::Init(payload.unwrap_or(Value::Null)),
            Wire::Subscribe { id, payload } if !legacy => Self::Subscribe {
                id,
                request: payload,
            },
            Wire::Start { id, payload } if legacy => Self::Subscribe {
                id,
                request: payload,
            },
            Wire::Complete { id } if !legacy => Self::Complete { id },
            Wire::Stop { id } if legacy => Self::Complete { id },
            Wire::Ping { payload } if !legacy => Self::Ping(payload),
            Wire::Pong { .. } if !legacy => Self::Pong,
            Wire::ConnectionTerminate if legacy => Self::Terminate,
            _ => {
                return Err(format!(
                    "that message type is not part of {}",
                    protocol.name()
                ));
            }
        })
    }
}

/// The server's messages, as JSON text.
pub fn ack() -> String {
    json!({ "type": "connection_ack" }).to_string()
}

pub fn keep_alive() -> String {
    json!({ "type": "ka" }).to_string()
}

pub fn pong(payload: Option<Value>) -> String {
    match payload {
        Some(payload) => json!({ "type": "pong", "payload": payload }),
        None => json!({ "type": "pong" }),
    }
    .to_string()
}

/// One execution result of operation `id`.
pub fn next(protocol: Protocol, id: &str, response: &async_graphql::Response) -> String {
    let kind = match protocol {
        Protocol::TransportWs => "next",
        Protocol::Legacy => "data",
    };
    json!({ "type": kind, "id": id, "payload": response }).to_string()
}

/// The operation failed before it produced a result: its errors, as a
/// list (both protocols' clients take a list).
pub fn error(id: &str, errors: &[async_graphql::ServerError]) -> String {
    json!({ "type": "error", "id": id, "payload": errors }).to_string()
}

pub fn complete(id: &str) -> String {
    json!({ "type": "complete", "id": id }).to_string()
}

/// The legacy protocol refuses a connection with a message, not a code.
pub fn connection_error(message: &str) -> String {
    json!({ "type": "connection_error", "payload": { "message": message } }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_is_exact_and_follows_the_clients_order() {
        assert_eq!(
            Protocol::negotiate(["graphql-transport-ws"]),
            Some(Protocol::TransportWs)
        );
        assert_eq!(
            Protocol::negotiate(["graphql-ws, graphql-transport-ws"]),
            Some(Protocol::Legacy)
        );
        assert_eq!(
            Protocol::negotiate(["foo", "graphql-ws"]),
            Some(Protocol::Legacy)
        );
        assert_eq!(Protocol::negotiate(["GRAPHQL-TRANSPORT-WS"]), None);
        assert_eq!(Protocol::negotiate([]), None);
    }

    #[test]
    fn each_protocol_takes_only_its_own_message_types() {
        let subscribe = r#"{"type":"subscribe","id":"1","payload":{"query":"{ a }"}}"#;
        let start = r#"{"type":"start","id":"1","payload":{"query":"{ a }"}}"#;
        assert!(matches!(
            ClientMessage::parse(Protocol::TransportWs, subscribe),
            Ok(ClientMessage::Subscribe { .. })
        ));
        assert!(ClientMessage::parse(Protocol::TransportWs, start).is_err());
        assert!(matches!(
            ClientMessage::parse(Protocol::Legacy, start),
            Ok(ClientMessage::Subscribe { .. })
        ));
        assert!(ClientMessage::parse(Protocol::Legacy, subscribe).is_err());
        assert!(ClientMessage::parse(Protocol::Legacy, r#"{"type":"ping"}"#).is_err());
        assert!(matches!(
            ClientMessage::parse(Protocol::Legacy, r#"{"type":"connection_terminate"}"#),
            Ok(ClientMessage::Terminate)
        ));
        assert!(ClientMessage::parse(Protocol::TransportWs, "{").is_err());
        assert!(ClientMessage::parse(Protocol::TransportWs, r#"{"type":"subscribe"}"#).is_err());
    }
}
