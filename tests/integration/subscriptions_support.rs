//! Helpers for the subscription tests: a server whose store the test holds
//! (appends go through the store API, fast and without HTTP in the way),
//! the `eventAppended` document, and reading events off a connection.

use std::collections::HashMap;

use chronicle::{AppState, AppendOutcome, Config, EventStore, ExpectedVersion, NewEvent, StreamId};
use serde_json::{Value, json};

use crate::common::{TestDb, TestServer};
use crate::ws_client::{Frame, WsClient};

/// `eventAppended` with both arguments as variables (`$filter`, `$after`).
pub const EVENT_APPENDED: &str = "subscription($filter: EventFilter, $after: Long) {
    eventAppended(filter: $filter, afterPosition: $after) {
        id streamId version position type data recordedAt } }";

/// Starts the app on `db` and serves it; the state gives the test the store.
pub async fn start(db: &TestDb) -> (AppState, TestServer) {
    start_with(db, Config::default()).await
}

pub async fn start_with(db: &TestDb, limits: Config) -> (AppState, TestServer) {
    let state = AppState::start(&db.args, limits).await.expect("start app");
    let server = TestServer::serve(state.clone()).await;
    (state, server)
}

/// Pauses every projection, so that the appends of a test that makes many
/// commits do not share the database with the projectors' own commits.
pub async fn pause_projections(server: &TestServer) {
    let response = server.gql("{ projections { name } }", json!({})).await;
    let names: Vec<String> = TestServer::data(&response)["projections"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| p["name"].as_str().expect("a name").to_owned())
        .collect();
    for name in names {
        let response = server
            .gql(
                "mutation($name: String!) { pauseProjection(name: $name) { status } }",
                json!({ "name": name }),
            )
            .await;
        let status = &TestServer::data(&response)["pauseProjection"]["status"];
        assert_eq!(status, "PAUSED", "{name}");
    }
}

/// Starts the app on `db` and serves it on a listener whose connections
/// have a send buffer of `send_buffer` bytes. Linux grows a socket's send
/// buffer up to 4 MB for a client that does not read; a small fixed one
/// makes the server feel a stalled client after a few events, not after
/// thousands.
pub async fn start_with_send_buffer(db: &TestDb, send_buffer: u32) -> (AppState, TestServer) {
    let state = AppState::start(&db.args, Config::default())
        .await
        .expect("start app");
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    // Accepted connections inherit the listener's buffer sizes.
    socket.set_send_buffer_size(send_buffer).expect("SO_SNDBUF");
    socket
        .bind("127.0.0.1:0".parse().expect("an address"))
        .expect("bind");
    let listener = socket.listen(1024).expect("listen");
    let server = TestServer::serve_on(listener, state.clone()).await;
    (state, server)
}

/// Appends `n` events of `event_type` to `stream` (one commit), each with
/// its index in `data.i`.
pub async fn append(store: &EventStore, stream: &str, event_type: &str, n: usize) -> AppendOutcome {
    let events = (0..n)
        .map(|i| NewEvent::new(event_type, json!({ "i": i })))
        .collect();
    append_events(store, stream, events).await
}

/// Appends `events` to `stream` with no expected version (one commit).
pub async fn append_events(
    store: &EventStore,
    stream: &str,
    events: Vec<NewEvent>,
) -> AppendOutcome {
    let id = StreamId::parse(stream).expect("a valid stream id");
    store
        .append(id, ExpectedVersion::Any, events)
        .await
        .expect("append")
}

/// What the tests compare of an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub stream: String,
    pub version: i64,
    pub position: i64,
    pub event_type: String,
}

impl Seen {
    /// From an `eventAppended` result (`data.eventAppended`).
    pub fn from_data(data: &Value) -> Self {
        let event = &data["eventAppended"];
        let long = |field: &str| {
            event[field]
                .as_i64()
                .unwrap_or_else(|| panic!("{field} is a number in {event}"))
        };
        Self {
            stream: event["streamId"].as_str().expect("streamId").to_owned(),
            version: long("version"),
            position: long("position"),
            event_type: event["type"].as_str().expect("type").to_owned(),
        }
    }

    pub fn from_outcome(outcome: &AppendOutcome) -> Vec<Self> {
        outcome
            .events
            .iter()
            .map(|e| Self {
                stream: e.stream_id.clone(),
                version: e.version,
                position: e.position,
                event_type: e.event_type.clone(),
            })
            .collect()
    }
}

/// Reads the events of operation `id` until the one at `last` (or a later
/// one) arrived; any other frame fails the test.
pub async fn events_until(client: &mut WsClient, id: &str, last: i64) -> Vec<Seen> {
    let mut targets = HashMap::from([(id.to_owned(), last)]);
    events_until_each(client, &mut targets)
        .await
        .remove(id)
        .unwrap_or_default()
}

/// Reads events for several operations on one connection until each has
/// received the event at its target position (or a later one); returns
/// what each received. Errors and completions fail the test.
pub async fn events_until_each(
    client: &mut WsClient,
    targets: &mut HashMap<String, i64>,
) -> HashMap<String, Vec<Seen>> {
    let mut seen: HashMap<String, Vec<Seen>> = HashMap::new();
    let done = |seen: &HashMap<String, Vec<Seen>>, targets: &HashMap<String, i64>| {
        targets.iter().all(|(id, last)| {
            seen.get(id)
                .and_then(|events| events.last())
                .is_some_and(|e| e.position >= *last)
        })
    };
    while !done(&seen, targets) {
        match client.next_frame().await {
            Frame::Next { id, payload } if payload.get("errors").is_none() => {
                assert!(
                    targets.contains_key(&id),
                    "an event for unknown operation {id}"
                );
                seen.entry(id)
                    .or_default()
                    .push(Seen::from_data(&payload["data"]));
            }
            frame => panic!("expected an event over {}, got {frame:?}", client.protocol),
        }
    }
    seen
}

/// Asserts that `seen` holds exactly the positions `first..=last`, once
/// each and in order (positions are dense, so an unfiltered subscription
/// sees consecutive ones).
#[track_caller]
pub fn assert_dense(seen: &[Seen], first: i64, last: i64, context: &str) {
    let positions: Vec<i64> = seen.iter().map(|e| e.position).collect();
    let expected: Vec<i64> = (first..=last).collect();
    if positions != expected {
        let gap = positions
            .windows(2)
            .find(|w| w[1] != w[0] + 1)
            .map(|w| format!("first break: {} then {}", w[0], w[1]))
            .unwrap_or_default();
        panic!(
            "{context}: expected positions {first}..={last} ({} events), got {} events from {:?} to {:?}; {gap}",
            expected.len(),
            positions.len(),
            positions.first(),
            positions.last(),
        );
    }
}

/// The `extensions.code` of each error.
pub fn codes(errors: &[Value]) -> Vec<&str> {
    errors
        .iter()
        .map(|e| e["extensions"]["code"].as_str().unwrap_or("<no code>"))
        .collect()
}
