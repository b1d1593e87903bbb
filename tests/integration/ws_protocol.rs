//! The GraphQL-over-WebSocket protocols' rules, as graphql-ws's PROTOCOL.md
//! and subscriptions-transport-ws state them: the close codes for a client
//! that breaks them, exact subprotocol negotiation, the `error` message for
//! an operation that never ran, and keep-alives.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::http::StatusCode;

use crate::common::{TestServer, databases};
use crate::ws_client::{Protocol, WAIT, handshake, refusal};

async fn open(server: &TestServer, protocol: Protocol) -> WebSocketStream<TcpStream> {
    handshake(server.addr, "/graphql/ws", Some(protocol.name()), None)
        .await
        .expect("handshake")
}

async fn send(ws: &mut WebSocketStream<TcpStream>, message: Value) {
    ws.send(Message::text(message.to_string()))
        .await
        .expect("send");
}

/// The next JSON message, skipping keep-alives; `Err(code)` when the
/// server closed instead.
async fn next(ws: &mut WebSocketStream<TcpStream>) -> Result<Value, u16> {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a message in time");
        match message {
            Some(Ok(Message::Text(text))) => {
                let value: Value = serde_json::from_str(&text).expect("JSON");
                if value["type"] == "ka" {
                    continue;
                }
                return Ok(value);
            }
            Some(Ok(Message::Close(frame))) => return Err(frame.map_or(1005, |f| f.code.into())),
            Some(Ok(_)) => continue,
            Some(Err(err)) => panic!("socket error: {err}"),
            None => return Err(1006),
        }
    }
}

async fn acked(server: &TestServer, protocol: Protocol) -> WebSocketStream<TcpStream> {
    let mut ws = open(server, protocol).await;
    send(&mut ws, json!({ "type": "connection_init" })).await;
    assert_eq!(next(&mut ws).await.unwrap()["type"], "connection_ack");
    ws
}

fn start(protocol: Protocol, id: &str, query: &str) -> Value {
    let kind = match protocol {
        Protocol::TransportWs => "subscribe",
        Protocol::Legacy => "start",
    };
    json!({ "type": kind, "id": id, "payload": { "query": query } })
}

const LIVE: &str = "subscription { eventAppended { position } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaking_the_protocol_closes_with_its_code() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        for protocol in Protocol::ALL {
            let label = format!("{} over {protocol}", db.name);
            // An operation before connection_init: 4401.
            let mut ws = open(&server, protocol).await;
            send(&mut ws, start(protocol, "1", LIVE)).await;
            assert_eq!(next(&mut ws).await, Err(4401), "{label}");
            // A second connection_init: 4429.
            let mut ws = acked(&server, protocol).await;
            send(&mut ws, json!({ "type": "connection_init" })).await;
            assert_eq!(next(&mut ws).await, Err(4429), "{label}");
            // Not a message of the protocol: 4400.
            let mut ws = acked(&server, protocol).await;
            send(&mut ws, json!({ "type": "nonsense" })).await;
            assert_eq!(next(&mut ws).await, Err(4400), "{label}");
            let mut ws = acked(&server, protocol).await;
            ws.send(Message::text("{")).await.unwrap();
            assert_eq!(next(&mut ws).await, Err(4400), "{label}");
            // No connection_init at all: 4408 after the wait.
            let mut ws = open(&server, protocol).await;
            let started = Instant::now();
            assert_eq!(next(&mut ws).await, Err(4408), "{label}");
            assert!(started.elapsed() < Duration::from_secs(10), "{label}");
        }
        // An id in use: 4409 in graphql-transport-ws.
        let mut ws = acked(&server, Protocol::TransportWs).await;
        send(&mut ws, start(Protocol::TransportWs, "same", LIVE)).await;
        send(&mut ws, start(Protocol::TransportWs, "same", LIVE)).await;
        assert_eq!(next(&mut ws).await, Err(4409), "{}", db.name);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subprotocol_is_negotiated_exactly_or_refused() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        for offered in [
            Some("GRAPHQL-TRANSPORT-WS"),
            Some("Graphql-WS"),
            Some("graphql"),
            None,
        ] {
            let status = refusal(server.addr, "/graphql/ws", offered).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{}: {offered:?}", db.name);
        }
        // Both offered: the client's first choice wins, and is echoed.
        let ws = handshake(
            server.addr,
            "/graphql/ws",
            Some("graphql-ws, graphql-transport-ws"),
            None,
        )
        .await;
        assert!(ws.is_ok(), "{}", db.name);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_that_never_ran_gets_the_protocols_error_message() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        for protocol in Protocol::ALL {
            let label = format!("{} over {protocol}", db.name);
            let mut ws = acked(&server, protocol).await;
            send(&mut ws, start(protocol, "bad", "subscription { nope }")).await;
            let message = next(&mut ws).await.unwrap();
            assert_eq!(message["type"], "error", "{label}: {message}");
            assert_eq!(message["id"], "bad");
            assert_eq!(
                message["payload"][0]["extensions"]["code"], "BAD_USER_INPUT",
                "{label}"
            );
            // The operation is over: no complete follows; the connection goes on.
            send(&mut ws, start(protocol, "ok", "{ stats { totalEvents } }")).await;
            let message = next(&mut ws).await.unwrap();
            assert_eq!(message["id"], "ok", "{label}: {message}");
            assert_eq!(
                message["payload"]["data"]["stats"]["totalEvents"], 0,
                "{label}"
            );
            assert_eq!(next(&mut ws).await.unwrap()["type"], "complete", "{label}");
            if protocol == Protocol::TransportWs {
                send(&mut ws, json!({ "type": "ping", "payload": { "n": 1 } })).await;
                let pong = next(&mut ws).await.unwrap();
                assert_eq!(
                    pong,
                    json!({ "type": "pong", "payload": { "n": 1 } }),
                    "{label}"
                );
            }
        }
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_legacy_protocol_sends_ka_after_the_ack() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let mut ws = open(&server, Protocol::Legacy).await;
        send(&mut ws, json!({ "type": "connection_init", "payload": {} })).await;
        let mut kinds = Vec::new();
        while kinds.len() < 2 {
            match tokio::time::timeout(WAIT, ws.next()).await.unwrap() {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).unwrap();
                    kinds.push(value["type"].as_str().unwrap_or_default().to_owned());
                }
                Some(Ok(_)) => continue,
                other => panic!("{}: {other:?}", db.name),
            }
        }
        assert_eq!(kinds, ["connection_ack", "ka"], "{}", db.name);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_closes_gets_the_close_handshake_back() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        for protocol in Protocol::ALL {
            let mut ws = acked(&server, protocol).await;
            ws.send(Message::Close(Some(
                tokio_tungstenite::tungstenite::protocol::CloseFrame {
                    code: 1000.into(),
                    reason: "Normal Closure".into(),
                },
            )))
            .await
            .expect("send Close");
            // RFC 6455 5.5.1: the endpoint answers with a Close frame, which
            // graphql-ws's client needs to see its own 1000, not a 1006.
            assert_eq!(
                next(&mut ws).await,
                Err(1000),
                "{} {}",
                db.name,
                protocol.name()
            );
        }
        server.stop().await;
    }
}
