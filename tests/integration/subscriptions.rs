//! `eventAppended` over WebSocket, on both subprotocols and both databases:
//! catch-up then live with no gap and no duplicate at the hand-over, live
//! only, filters, and argument errors that must be reported, not swallowed.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::databases;
use crate::subscriptions_support::{
    EVENT_APPENDED, Seen, append, assert_dense, codes, events_until, events_until_each,
    pause_projections, start,
};
use crate::ws_client::{Frame, Protocol, WsClient};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_up_hands_over_to_live_without_gap_or_duplicate_while_writes_race() {
    for protocol in Protocol::ALL {
        for db in databases().await {
            let context = format!("on {} over {protocol}", db.name);
            let (state, server) = start(&db).await;
            pause_projections(&server).await;
            // 1,200 stored events: catching up from 100 reads several pages.
            for _ in 0..12 {
                append(&state.store, "race-1", "Stored", 100).await;
            }
            // Appends of 1 to 3 events (600 in 300 commits) race the catch-up
            // and the hand-over to the live feed.
            let writer = {
                let store = state.store.clone();
                tokio::spawn(async move {
                    for i in 0..300 {
                        append(&store, "race-1", "Raced", 1 + i % 3).await;
                    }
                })
            };
            let mut client = WsClient::connect(server.addr, protocol).await;
            let id = client
                .subscribe(EVENT_APPENDED, json!({ "after": 100 }))
                .await;
            tokio::time::timeout(Duration::from_secs(120), writer)
                .await
                .expect("the writes finish")
                .expect("the writer task");
            let head = state.store.head();
            assert_eq!(head, 1_800, "{context}");

            let seen = events_until(&mut client, &id, head).await;
            assert_dense(&seen, 101, head, &context);
            let versions: Vec<i64> = seen.iter().map(|e| e.version).collect();
            assert_eq!(versions, (101..=head).collect::<Vec<_>>(), "{context}");
            client.close().await;
            server.stop().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_after_position_only_events_committed_after_subscribing_arrive() {
    for protocol in Protocol::ALL {
        for db in databases().await {
            let context = format!("on {} over {protocol}", db.name);
            let (state, server) = start(&db).await;
            append(&state.store, "before-1", "Old", 50).await;
            let head_before = state.store.head();

            let mut client = WsClient::connect(server.addr, protocol).await;
            let id = client.subscribe(EVENT_APPENDED, json!({})).await;
            // The protocol does not say when the server has started the
            // subscription, so probe: append one event at a time until one
            // arrives. Probes committed before the start are rightly missed.
            let mut first = None;
            for _ in 0..100 {
                append(&state.store, "probe-1", "Probe", 1).await;
                match client.frame_within(Duration::from_millis(200)).await {
                    Ok(Some(Frame::Next { id: got, payload })) => {
                        assert_eq!(got, id, "{context}");
                        first = Some(Seen::from_data(&payload["data"]));
                        break;
                    }
                    Ok(frame) => panic!("{context}: expected an event, got {frame:?}"),
                    Err(()) => continue,
                }
            }
            let first = first.expect("a probe arrives");
            assert_eq!(first.stream, "probe-1", "{context}: an old event arrived");
            assert!(first.position > head_before, "{context}: {first:?}");

            let last = append(&state.store, "after-1", "New", 20).await.position;
            let mut seen = vec![first.clone()];
            seen.extend(events_until(&mut client, &id, last).await);
            assert_dense(&seen, first.position, last, &context);
            client.close().await;
            server.stop().await;
        }
    }
}

/// The events of `all` that a subscription with `filter` must receive.
fn matching(all: &[Seen], filter: &Value) -> Vec<Seen> {
    all.iter()
        .filter(|e| {
            filter["streamId"].as_str().is_none_or(|s| s == e.stream)
                && filter["category"]
                    .as_str()
                    .is_none_or(|c| e.stream.split('-').next() == Some(c))
                && filter["types"]
                    .as_array()
                    .is_none_or(|types| types.iter().any(|t| t == e.event_type.as_str()))
        })
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_by_stream_id_category_and_types_in_catch_up_and_live() {
    let filters = [
        json!({ "streamId": "order-1" }),
        json!({ "category": "order" }),
        json!({ "types": ["Placed", "Paid"] }),
        json!({ "category": "order", "types": ["Shipped"] }),
    ];
    // "orderline" shares a prefix with "order" but is another category.
    let stored = [
        ("order-1", "Placed"),
        ("order-2", "Placed"),
        ("invoice-1", "Issued"),
        ("orderline-1", "Placed"),
        ("order-1", "Shipped"),
    ];
    let live = [
        ("order-2", "Shipped"),
        ("invoice-1", "Paid"),
        ("orderline-1", "Shipped"),
        ("order-1", "Paid"),
        ("invoice-2", "Issued"),
    ];
    for protocol in Protocol::ALL {
        for db in databases().await {
            let context = format!("on {} over {protocol}", db.name);
            let (state, server) = start(&db).await;
            let mut all = Vec::new();
            for (stream, kind) in stored {
                all.extend(Seen::from_outcome(
                    &append(&state.store, stream, kind, 1).await,
                ));
            }
            // Four subscriptions on one connection, all from the start.
            let mut client = WsClient::connect(server.addr, protocol).await;
            let mut ids = Vec::new();
            for filter in &filters {
                let variables = json!({ "filter": filter, "after": 0 });
                ids.push(client.subscribe(EVENT_APPENDED, variables).await);
            }
            let last_of = |all: &[Seen], filter| matching(all, filter).last().map(|e| e.position);
            // The stored events first (from the store), so that the rest
            // come from the live feed.
            let mut targets: HashMap<String, i64> = ids
                .iter()
                .zip(&filters)
                .map(|(id, f)| (id.clone(), last_of(&all, f).expect("a stored match")))
                .collect();
            let mut seen = events_until_each(&mut client, &mut targets).await;
            for (stream, kind) in live {
                all.extend(Seen::from_outcome(
                    &append(&state.store, stream, kind, 1).await,
                ));
            }
            let mut targets: HashMap<String, i64> = ids
                .iter()
                .zip(&filters)
                .map(|(id, f)| (id.clone(), last_of(&all, f).expect("a match")))
                .collect();
            for (id, events) in events_until_each(&mut client, &mut targets).await {
                seen.entry(id).or_default().extend(events);
            }
            for (id, filter) in ids.iter().zip(&filters) {
                assert_eq!(
                    seen.remove(id).unwrap_or_default(),
                    matching(&all, filter),
                    "{context}, filter {filter}"
                );
            }
            // Anything else (a non-matching later event) would come now.
            let extra = client.frame_within(Duration::from_millis(300)).await;
            assert!(extra.is_err(), "{context}: unexpected {extra:?}");
            client.close().await;
            server.stop().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_negative_or_non_numeric_after_position_and_other_bad_requests_are_reported_as_bad_user_input()
 {
    let bad = [
        (EVENT_APPENDED, json!({ "after": -1 })),
        (EVENT_APPENDED, json!({ "after": "abc" })),
        (
            "subscription { eventAppended(afterPosition: -5) { position } }",
            json!({}),
        ),
        (
            "subscription { eventAppended(afterPosition: \"x1\") { position } }",
            json!({}),
        ),
        (
            EVENT_APPENDED,
            json!({ "filter": { "category": "order-1" }, "after": 0 }),
        ),
        // Errors async-graphql raises itself: an unknown field, bad syntax.
        ("subscription { eventAppended { nope } }", json!({})),
        ("subscription { eventAppended {", json!({})),
    ];
    for protocol in Protocol::ALL {
        for db in databases().await {
            let context = format!("on {} over {protocol}", db.name);
            let (state, server) = start(&db).await;
            let mut client = WsClient::connect(server.addr, protocol).await;
            for (query, variables) in &bad {
                let id = client.subscribe(query, variables.clone()).await;
                let errors = client.expect_errors(&id).await;
                assert!(
                    !errors.is_empty() && codes(&errors).iter().all(|c| *c == "BAD_USER_INPUT"),
                    "{context}, {variables}: {errors:?}"
                );
            }
            // The connection still serves a valid subscription.
            let id = client
                .subscribe(EVENT_APPENDED, json!({ "after": 0 }))
                .await;
            let last = append(&state.store, "ok-1", "Fine", 2).await.position;
            let seen = events_until(&mut client, &id, last).await;
            assert_dense(&seen, 1, last, &context);
            client.close().await;
            server.stop().await;
        }
    }
}

/// Reads `barrier`'s events up to position `upto`, failing on any event
/// for the `stopped` operation (whose `complete` is allowed, and skipped).
async fn barrier_until(
    client: &mut WsClient,
    stopped: &str,
    barrier: &str,
    upto: i64,
    context: &str,
) -> Vec<Seen> {
    let mut seen: Vec<Seen> = Vec::new();
    while seen.last().is_none_or(|e| e.position < upto) {
        match client.next_frame().await {
            Frame::Next { id, payload } => {
                assert_eq!(id, barrier, "{context}: after stop, {payload}");
                seen.push(Seen::from_data(&payload["data"]));
            }
            Frame::Complete { id } if id == stopped => {}
            frame => panic!("{context}: after stop, {frame:?}"),
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graphql_path_upgrades_too_and_a_stopped_subscription_goes_quiet() {
    for protocol in Protocol::ALL {
        for db in databases().await {
            let context = format!("on {} over {protocol}", db.name);
            let (state, server) = start(&db).await;
            let mut client = WsClient::connect_with(server.addr, "/graphql", protocol, None).await;
            if protocol == Protocol::TransportWs {
                client.ping().await;
            }
            let id = client
                .subscribe(EVENT_APPENDED, json!({ "after": 0 }))
                .await;
            let last = append(&state.store, "path-1", "Seen", 3).await.position;
            let seen = events_until(&mut client, &id, last).await;
            assert_dense(&seen, 1, last, &context);

            client.stop(&id).await;
            // A connection's messages are handled in order, so once a
            // subscription started after the stop has answered, the stop
            // has been handled: only then is the next append "after stop".
            let barrier = client
                .subscribe(EVENT_APPENDED, json!({ "after": 0 }))
                .await;
            let replayed = barrier_until(&mut client, &id, &barrier, last, &context).await;
            assert_dense(&replayed, 1, last, &context);
            let unseen = append(&state.store, "path-1", "Unseen", 3).await.position;
            // Nothing more comes for the stopped one; the barrier gets the
            // new events.
            barrier_until(&mut client, &id, &barrier, unseen, &context).await;
            let after = client.frame_within(Duration::from_millis(300)).await;
            assert!(
                matches!(after, Err(_) | Ok(Some(Frame::Complete { .. }))),
                "{context}: after stop, {after:?}"
            );
            client.close().await;
            server.stop().await;
        }
    }
}
