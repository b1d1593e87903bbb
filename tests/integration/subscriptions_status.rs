//! `projectionStatus` over WebSocket, on both subprotocols and both
//! databases: a rebuild is seen as REBUILDING then RUNNING, and with no
//! name every projection reports.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::common::{TestServer, databases};
use crate::subscriptions_support::{append, codes, start};
use crate::ws_client::{Protocol, WsClient};

const STATUS: &str = "subscription($name: String) {
    projectionStatus(name: $name) { name status position headPosition lag eventsProcessed } }";

/// The next status of operation `id`.
async fn next_status(client: &mut WsClient, id: &str) -> Value {
    let (got, data) = client.next_data().await;
    assert_eq!(got, id, "a status of another operation");
    data["projectionStatus"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projection_status_reports_rebuilding_then_running_through_a_rebuild() {
    for protocol in Protocol::ALL {
        for db in databases().await {
            let context = format!("on {} over {protocol}", db.name);
            let (state, server) = start(&db).await;
            // Enough events that the replay takes several batches.
            for _ in 0..20 {
                append(&state.store, "misc-1", "Noted", 100).await;
            }
            let head = state.store.head();

            let mut client = WsClient::connect(server.addr, protocol).await;
            let id = client
                .subscribe(STATUS, json!({ "name": "AccountBalances" }))
                .await;
            // The current status comes first; wait until it has caught up.
            loop {
                let status = next_status(&mut client, &id).await;
                assert_eq!(status["name"], "AccountBalances", "{context}");
                if status["status"] == "RUNNING" && status["position"] == head {
                    break;
                }
            }

            let response = server
                .gql(
                    "mutation { rebuildProjection(name: \"AccountBalances\") { name status } }",
                    json!({}),
                )
                .await;
            TestServer::data(&response);
            let mut states = Vec::new();
            loop {
                let status = next_status(&mut client, &id).await;
                let state = status["status"].as_str().expect("a status").to_owned();
                let done = state == "RUNNING" && status["position"] == head;
                states.push(state);
                if done {
                    break;
                }
                assert!(states.len() < 1_000, "{context}: no end to {states:?}");
            }
            // REBUILDING (maybe with progress reports), then RUNNING.
            let rebuilding = states.len() - 1;
            assert!(rebuilding >= 1, "{context}: {states:?}");
            assert!(
                states[..rebuilding].iter().all(|s| s == "REBUILDING"),
                "{context}: {states:?}"
            );
            client.close().await;
            server.stop().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projection_status_without_a_name_reports_every_projection() {
    for protocol in Protocol::ALL {
        for db in databases().await {
            let context = format!("on {} over {protocol}", db.name);
            let (_state, server) = start(&db).await;
            let response = server.gql("{ projections { name } }", json!({})).await;
            let names: BTreeSet<String> = TestServer::data(&response)["projections"]
                .as_array()
                .expect("a list")
                .iter()
                .map(|p| p["name"].as_str().expect("a name").to_owned())
                .collect();
            assert!(names.contains("AccountBalances"), "{context}: {names:?}");

            let mut client = WsClient::connect(server.addr, protocol).await;
            let id = client.subscribe(STATUS, json!({})).await;
            let mut seen = BTreeSet::new();
            while seen != names {
                let status = next_status(&mut client, &id).await;
                let name = status["name"].as_str().expect("a name").to_owned();
                assert!(names.contains(&name), "{context}: unknown {name}");
                seen.insert(name);
            }

            // An unknown name is NOT_FOUND, reported on the same connection
            // (after whatever the first operation still had to say).
            client.stop(&id).await;
            let nope = client.subscribe(STATUS, json!({ "name": "Nope" })).await;
            let errors = loop {
                let frame = client.next_frame().await;
                if frame.id() == nope {
                    break frame.errors();
                }
                assert_eq!(frame.id(), id, "{context}: {frame:?}");
            };
            let errors = errors.expect("errors for an unknown projection");
            assert_eq!(codes(&errors), ["NOT_FOUND"], "{context}: {errors:?}");
            client.close().await;
            server.stop().await;
        }
    }
}
