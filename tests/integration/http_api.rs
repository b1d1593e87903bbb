//! The server over HTTP: GraphQL append and reads, idempotent retries and
//! optimistic concurrency. Rejected input is in `http_errors.rs`, the HTTP
//! protocol itself in `http_protocol.rs`.

use serde_json::{Value, json};

use crate::common::{TestServer, databases, error_code};

const EVENT_FIELDS: &str =
    "id streamId version position type schemaVersion data metadata recordedAt";

/// Events of the given types, each with its index as data.
fn events_of(types: &[&str]) -> Value {
    types
        .iter()
        .enumerate()
        .map(|(i, t)| json!({ "type": t, "data": { "n": i } }))
        .collect()
}

/// A field of every node of a connection.
fn nodes<'a>(connection: &'a Value, field: &str) -> Vec<&'a Value> {
    let edges = connection["edges"].as_array().expect("edges");
    edges.iter().map(|e| &e["node"][field]).collect()
}

fn numbers(values: Vec<&Value>) -> Vec<i64> {
    values
        .iter()
        .map(|v| v.as_i64().expect("a number"))
        .collect()
}

async fn stream_page(server: &TestServer, id: &str, args: &str) -> Value {
    let query = format!(
        "{{ stream(id: \"{id}\") {{ events({args}) {{ edges {{ cursor node {{ version }} }} \
         pageInfo {{ hasNextPage hasPreviousPage endCursor }} }} }} }}"
    );
    TestServer::data(&server.gql(&query, json!({})).await)["stream"]["events"].clone()
}

async fn log_page(server: &TestServer, args: &str) -> Value {
    let query = format!(
        "{{ events({args}) {{ edges {{ cursor node {{ position streamId type }} }} \
         pageInfo {{ hasNextPage endCursor }} }} }}"
    );
    TestServer::data(&server.gql(&query, json!({})).await)["events"].clone()
}

async fn stats(server: &TestServer) -> Value {
    let query = "{ stats { totalEvents totalStreams headPosition
        eventsByType { type count } streamsByCategory { category streams events } } }";
    TestServer::data(&server.gql(query, json!({})).await)["stats"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_returns_the_stored_events_and_event_by_id_reads_them_back() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let id = "6f1c1d5e-7a55-4c3e-9a31-5b0f4c1d2e3f";
        let result = server
            .append(
                "order-1",
                json!([
                    { "id": id, "type": "OrderPlaced", "data": { "total": 12 }, "metadata": { "actor": "alice" } },
                    { "type": "OrderShipped", "data": [1, "two"] },
                ]),
            )
            .await;
        assert_eq!(result["streamId"], "order-1", "{}", db.name);
        assert_eq!(result["version"], 2, "{}", db.name);
        assert_eq!(result["position"], 2, "{}", db.name);
        let events = result["events"].as_array().expect("events");
        assert_eq!(events.len(), 2, "{}", db.name);
        assert_eq!(events[0]["id"], id, "{}: the client's id is kept", db.name);
        assert!(
            uuid::Uuid::parse_str(events[1]["id"].as_str().unwrap()).is_ok(),
            "{}",
            db.name
        );
        for (i, (event, ty)) in events
            .iter()
            .zip(["OrderPlaced", "OrderShipped"])
            .enumerate()
        {
            let n = i as i64 + 1;
            assert_eq!(event["streamId"], "order-1", "{}", db.name);
            assert_eq!(
                (&event["version"], &event["position"]),
                (&json!(n), &json!(n)),
                "{}",
                db.name
            );
            assert_eq!(event["type"], ty, "{}", db.name);
            assert_eq!(event["schemaVersion"], 1, "{}", db.name);
            assert!(
                event["metadata"].is_object(),
                "{}: metadata is an object",
                db.name
            );
            let at = event["recordedAt"].as_str().expect("recordedAt");
            let utc =
                chrono::DateTime::parse_from_rfc3339(at).map(|t| t.offset().local_minus_utc());
            assert_eq!(
                utc,
                Ok(0),
                "{}: recordedAt {at} is RFC 3339 in UTC",
                db.name
            );
        }
        assert_eq!(events[0]["data"], json!({ "total": 12 }), "{}", db.name);
        assert_eq!(events[1]["data"], json!([1, "two"]), "{}", db.name);
        assert_eq!(events[0]["metadata"]["actor"], "alice", "{}", db.name);

        for event in events {
            let query = format!("query($id: ID!) {{ event(id: $id) {{ {EVENT_FIELDS} }} }}");
            let read = server.gql(&query, json!({ "id": event["id"] })).await;
            assert_eq!(
                &TestServer::data(&read)["event"],
                event,
                "{}: read equals appended",
                db.name
            );
        }
        let missing = server
            .gql(
                "{ event(id: \"00000000-0000-4000-8000-000000000000\") { id } }",
                json!({}),
            )
            .await;
        assert_eq!(
            TestServer::data(&missing)["event"],
            Value::Null,
            "{}",
            db.name
        );

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_reads_forward_and_backward_in_pages_that_follow_the_end_cursor() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        server.append("order-7", events_of(&["a", "b", "c"])).await;
        server.append("order-8", events_of(&["other"])).await;
        server.append("order-7", events_of(&["d", "e"])).await;

        let info = server
            .gql(
                "{ stream(id: \"order-7\") { id category version } }",
                json!({}),
            )
            .await;
        let expected = json!({ "id": "order-7", "category": "order", "version": 5 });
        assert_eq!(TestServer::data(&info)["stream"], expected, "{}", db.name);
        let none = server
            .gql("{ stream(id: \"order-9\") { id } }", json!({}))
            .await;
        assert_eq!(
            TestServer::data(&none)["stream"],
            Value::Null,
            "{}",
            db.name
        );

        for (direction, pages) in [
            ("FORWARD", [vec![1, 2], vec![3, 4], vec![5]]),
            ("BACKWARD", [vec![5, 4], vec![3, 2], vec![1]]),
        ] {
            let mut after: Option<String> = None;
            for (i, expected) in pages.iter().enumerate() {
                let cursor = after
                    .as_ref()
                    .map_or(String::new(), |c| format!(", after: \"{c}\""));
                let page = stream_page(
                    &server,
                    "order-7",
                    &format!("direction: {direction}, first: 2{cursor}"),
                )
                .await;
                let label = format!("{} {direction} page {i}", db.name);
                assert_eq!(numbers(nodes(&page, "version")), *expected, "{label}");
                let last = i == pages.len() - 1;
                assert_eq!(page["pageInfo"]["hasNextPage"], !last, "{label}");
                assert_eq!(page["pageInfo"]["hasPreviousPage"], i > 0, "{label}");
                let end = page["pageInfo"]["endCursor"].as_str().expect("endCursor");
                assert_eq!(page["edges"][expected.len() - 1]["cursor"], end, "{label}");
                after = Some(end.to_owned());
            }
        }

        let forward = stream_page(&server, "order-7", "fromVersion: 4").await;
        assert_eq!(numbers(nodes(&forward, "version")), [4, 5], "{}", db.name);
        let backward = stream_page(&server, "order-7", "fromVersion: 2, direction: BACKWARD").await;
        assert_eq!(numbers(nodes(&backward, "version")), [2, 1], "{}", db.name);

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_log_pages_by_position_and_filters_by_stream_category_and_type() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        server
            .append("order-1", events_of(&["Placed", "Shipped"]))
            .await; // 1, 2
        server.append("cart-1", events_of(&["ItemAdded"])).await; // 3
        server.append("order-2", events_of(&["Placed"])).await; // 4
        server.append("cart", events_of(&["ItemAdded"])).await; // 5
        server.append("cartx-1", events_of(&["ItemAdded"])).await; // 6
        server.append("ca_t-1", events_of(&["ItemAdded"])).await; // 7

        let first = log_page(&server, "first: 3").await;
        assert_eq!(numbers(nodes(&first, "position")), [1, 2, 3], "{}", db.name);
        assert_eq!(first["pageInfo"]["hasNextPage"], true, "{}", db.name);
        let cursor = first["pageInfo"]["endCursor"].as_str().expect("endCursor");
        let next = log_page(&server, &format!("first: 3, after: \"{cursor}\"")).await;
        assert_eq!(numbers(nodes(&next, "position")), [4, 5, 6], "{}", db.name);
        let last = log_page(&server, "afterPosition: 6, first: 3").await;
        assert_eq!(numbers(nodes(&last, "position")), [7], "{}", db.name);
        assert_eq!(last["pageInfo"]["hasNextPage"], false, "{}", db.name);
        let past = log_page(&server, "afterPosition: 7").await;
        assert_eq!(nodes(&past, "position").len(), 0, "{}", db.name);
        let middle = log_page(&server, "afterPosition: 2, first: 2").await;
        assert_eq!(numbers(nodes(&middle, "position")), [3, 4], "{}", db.name);

        for (filter, expected) in [
            ("{ streamId: \"order-1\" }", vec![1, 2]),
            ("{ category: \"order\" }", vec![1, 2, 4]),
            ("{ category: \"cart\" }", vec![3, 5]),
            ("{ category: \"ca_t\" }", vec![7]),
            ("{ types: [\"Placed\"] }", vec![1, 4]),
            (
                "{ types: [\"Shipped\", \"ItemAdded\"] }",
                vec![2, 3, 5, 6, 7],
            ),
            ("{ category: \"order\", types: [\"Shipped\"] }", vec![2]),
            ("{ streamId: \"order-2\", types: [\"Shipped\"] }", vec![]),
        ] {
            let page = log_page(&server, &format!("filter: {filter}")).await;
            assert_eq!(
                numbers(nodes(&page, "position")),
                expected,
                "{} filter {filter}",
                db.name
            );
        }
        let paged = log_page(
            &server,
            "afterPosition: 1, first: 1, filter: { category: \"order\" }",
        )
        .await;
        assert_eq!(numbers(nodes(&paged, "position")), [2], "{}", db.name);
        assert_eq!(paged["pageInfo"]["hasNextPage"], true, "{}", db.name);

        server.stop().await;
    }
}

/// A list of objects sorted by one string field, to compare without
/// depending on an order the contract does not promise.
fn sorted_by(list: &Value, key: &str) -> Vec<Value> {
    let mut items = list.as_array().expect("a list").clone();
    items.sort_by(|a, b| a[key].as_str().cmp(&b[key].as_str()));
    items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_events_streams_types_and_categories() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let empty = json!({ "totalEvents": 0, "totalStreams": 0, "headPosition": 0,
            "eventsByType": [], "streamsByCategory": [] });
        assert_eq!(stats(&server).await, empty, "{}", db.name);

        server
            .append("order-1", events_of(&["Placed", "Shipped"]))
            .await;
        server.append("order-2", events_of(&["Placed"])).await;
        server.append("cart-1", events_of(&["ItemAdded"])).await;
        let stats = stats(&server).await;
        assert_eq!(stats["totalEvents"], 4, "{}", db.name);
        assert_eq!(stats["totalStreams"], 3, "{}", db.name);
        assert_eq!(stats["headPosition"], 4, "{}", db.name);
        let by_type = [("ItemAdded", 1), ("Placed", 2), ("Shipped", 1)]
            .map(|(t, n)| json!({ "type": t, "count": n }));
        assert_eq!(
            sorted_by(&stats["eventsByType"], "type"),
            by_type,
            "{}",
            db.name
        );
        let by_category = [("cart", 1, 1), ("order", 2, 3)]
            .map(|(c, s, e)| json!({ "category": c, "streams": s, "events": e }));
        assert_eq!(
            sorted_by(&stats["streamsByCategory"], "category"),
            by_category,
            "{}",
            db.name
        );

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_an_append_with_the_same_event_ids_returns_the_first_result_and_appends_nothing() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let input = json!({ "streamId": "order-1", "expectedVersion": 0, "events": [
            { "id": "0b9a3c55-1111-4c3e-9a31-000000000001", "type": "Placed", "data": { "n": 1 } },
            { "id": "0b9a3c55-1111-4c3e-9a31-000000000002", "type": "Shipped", "data": { "n": 2 } },
        ] });
        let first =
            TestServer::data(&server.try_append(input.clone()).await)["appendEvents"].clone();
        let before = stats(&server).await;

        let retry = server.try_append(input.clone()).await;
        assert_eq!(
            TestServer::data(&retry)["appendEvents"],
            first,
            "{}: same result",
            db.name
        );
        assert_eq!(
            stats(&server).await,
            before,
            "{}: nothing appended",
            db.name
        );

        // A late retry, after the stream moved on, still gets the first
        // attempt's events rather than a conflict or a second copy.
        server.append("order-1", events_of(&["Delivered"])).await;
        let before = stats(&server).await;
        let late = server.try_append(input).await;
        let late = &TestServer::data(&late)["appendEvents"];
        assert_eq!(late["events"], first["events"], "{}", db.name);
        assert_eq!(late["position"], first["position"], "{}", db.name);
        assert_eq!(
            stats(&server).await,
            before,
            "{}: nothing appended",
            db.name
        );

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_id_stored_in_one_stream_is_already_exists_in_another_and_appends_nothing() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let id = "0b9a3c55-2222-4c3e-9a31-000000000001";
        server
            .append(
                "order-1",
                json!([{ "id": id, "type": "Placed", "data": {} }]),
            )
            .await;
        let total = server.total_events().await;

        let events =
            json!([{ "type": "Other", "data": {} }, { "id": id, "type": "Placed", "data": {} }]);
        let response = server
            .try_append(json!({ "streamId": "order-2", "events": events }))
            .await;
        assert_eq!(
            error_code(&response),
            Some("ALREADY_EXISTS"),
            "{}: {response}",
            db.name
        );
        assert!(
            response["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(id),
            "{}: {response}",
            db.name
        );
        assert_eq!(server.total_events().await, total, "{}", db.name);
        let stream = server
            .gql("{ stream(id: \"order-2\") { id } }", json!({}))
            .await;
        assert_eq!(
            TestServer::data(&stream)["stream"],
            Value::Null,
            "{}",
            db.name
        );

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_expected_version_is_a_concurrency_conflict_with_expected_and_actual() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        server.append("order-1", events_of(&["a", "b"])).await;
        let total = server.total_events().await;

        for (stream, sent, expected, actual) in [
            ("order-1", json!(5), 5, 2),
            ("order-1", json!(0), 0, 2),
            ("order-1", json!("1"), 1, 2),
            ("order-1", json!("5000000000"), 5_000_000_000_i64, 2),
            ("order-9", json!(1), 1, 0),
        ] {
            let input =
                json!({ "streamId": stream, "expectedVersion": sent, "events": events_of(&["c"]) });
            let response = server.try_append(input).await;
            let label = format!("{} {stream} expecting {sent}: {response}", db.name);
            assert_eq!(
                error_code(&response),
                Some("CONCURRENCY_CONFLICT"),
                "{label}"
            );
            let extensions = &response["errors"][0]["extensions"];
            assert_eq!(extensions["expected"], expected, "{label}");
            assert_eq!(extensions["actual"], actual, "{label}");
            assert_eq!(extensions["streamId"], stream, "{label}");
        }
        assert_eq!(
            server.total_events().await,
            total,
            "{}: conflicts append nothing",
            db.name
        );

        for (stream, sent, version) in [
            ("order-1", json!("2"), 3),
            ("order-1", json!(3), 4),
            ("order-9", json!("0"), 1),
        ] {
            let input =
                json!({ "streamId": stream, "expectedVersion": sent, "events": events_of(&["c"]) });
            let response = server.try_append(input).await;
            assert_eq!(
                TestServer::data(&response)["appendEvents"]["version"],
                version,
                "{} {sent}",
                db.name
            );
        }

        server.stop().await;
    }
}
