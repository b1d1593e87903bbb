//! The WebSocket's limits and handshake, on both subprotocols and both
//! databases: subscriptions per connection, connections per server, and a
//! socket that offers no GraphQL subprotocol.

use std::time::Duration;

use chronicle::Config;
use serde_json::json;
use tokio_tungstenite::tungstenite::http::StatusCode;

use crate::common::databases;
use crate::subscriptions_support::{
    EVENT_APPENDED, append, assert_dense, codes, events_until, start, start_with,
};
use crate::ws_client::{Protocol, WAIT, WsClient, handshake, refusal};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_beyond_its_subscription_limit_gets_an_error_and_a_stop_frees_a_slot() {
    let mut limits = Config::default();
    limits.subscriptions.max_subscriptions_per_connection = 2;
    for protocol in Protocol::ALL {
        for db in databases().await {
            let context = format!("on {} over {protocol}", db.name);
            let (state, server) = start_with(&db, limits.clone()).await;
            append(&state.store, "limit-1", "Counted", 1).await;
            let mut client = WsClient::connect(server.addr, protocol).await;
            // Two subscriptions, each seen running (it holds its slot).
            let mut ids = Vec::new();
            for _ in 0..2 {
                let id = client
                    .subscribe(EVENT_APPENDED, json!({ "after": 0 }))
                    .await;
                assert_dense(&events_until(&mut client, &id, 1).await, 1, 1, &context);
                ids.push(id);
            }
            // A third one of either kind is refused, with a reason.
            for query in [
                EVENT_APPENDED,
                "subscription { projectionStatus { name status } }",
            ] {
                let third = client.subscribe(query, json!({ "after": 0 })).await;
                let errors = client.expect_errors(&third).await;
                assert_eq!(codes(&errors), ["BAD_USER_INPUT"], "{context}: {errors:?}");
                let message = errors[0]["message"].as_str().unwrap_or_default();
                assert!(message.contains("2 subscriptions"), "{context}: {message}");
            }
            // Another connection has slots of its own.
            let mut other = WsClient::connect(server.addr, protocol).await;
            let id = other.subscribe(EVENT_APPENDED, json!({ "after": 0 })).await;
            assert_dense(&events_until(&mut other, &id, 1).await, 1, 1, &context);
            other.close().await;

            // Stopping one gives its slot back.
            client.stop(&ids[0]).await;
            let id = client
                .subscribe(EVENT_APPENDED, json!({ "after": 0 }))
                .await;
            let (got, data) = client.next_data().await;
            assert_eq!(got, id, "{context}");
            assert_eq!(data["eventAppended"]["position"], 1, "{context}");
            client.close().await;
            server.stop().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_beyond_the_server_limit_is_refused_with_503_until_one_closes() {
    let mut limits = Config::default();
    limits.subscriptions.max_connections = 1;
    for protocol in Protocol::ALL {
        for db in databases().await {
            let context = format!("on {} over {protocol}", db.name);
            let (state, server) = start_with(&db, limits.clone()).await;
            let mut first = WsClient::connect(server.addr, protocol).await;
            for path in ["/graphql/ws", "/graphql"] {
                let status = refusal(server.addr, path, Some(protocol.name())).await;
                assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{context}, {path}");
            }
            // The first connection is unaffected.
            let id = first.subscribe(EVENT_APPENDED, json!({ "after": 0 })).await;
            append(&state.store, "conn-1", "Counted", 1).await;
            assert_dense(&events_until(&mut first, &id, 1).await, 1, 1, &context);

            // Once it has closed, its place is free again (the server
            // notices the close a moment later).
            first.close().await;
            let deadline = tokio::time::Instant::now() + WAIT;
            loop {
                match handshake(server.addr, "/graphql/ws", Some(protocol.name()), None).await {
                    Ok(_) => break,
                    Err(_) if tokio::time::Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Err(err) => panic!("{context}: no place after the close: {err}"),
                }
            }
            server.stop().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_without_a_graphql_subprotocol_is_refused_with_400() {
    for protocol in Protocol::ALL {
        for db in databases().await {
            let context = format!("on {} over {protocol}", db.name);
            let (state, server) = start(&db).await;
            for path in ["/graphql/ws", "/graphql"] {
                for offered in [None, Some("chat"), Some("graphql-sse")] {
                    let status = refusal(server.addr, path, offered).await;
                    assert_eq!(
                        status,
                        StatusCode::BAD_REQUEST,
                        "{context}, {path} offering {offered:?}"
                    );
                }
            }
            // Offered among others, a GraphQL subprotocol is picked.
            let offered = format!("chat, {}", protocol.name());
            let ws = handshake(server.addr, "/graphql/ws", Some(&offered), None).await;
            assert!(ws.is_ok(), "{context}: offering {offered}: {ws:?}");
            drop(ws);
            let mut client = WsClient::connect(server.addr, protocol).await;
            let id = client
                .subscribe(EVENT_APPENDED, json!({ "after": 0 }))
                .await;
            append(&state.store, "proto-1", "Counted", 1).await;
            assert_dense(&events_until(&mut client, &id, 1).await, 1, 1, &context);
            client.close().await;
            server.stop().await;
        }
    }
}
