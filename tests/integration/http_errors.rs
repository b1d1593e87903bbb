//! Rejected input over HTTP: every malformed request gets
//! `extensions.code == "BAD_USER_INPUT"` with a message that names the
//! problem, and changes nothing.

use serde_json::{Value, json};

use crate::common::{TestServer, databases, error_code};

/// Asserts that `response` is a `BAD_USER_INPUT` error whose message
/// contains `fragment`.
#[track_caller]
fn assert_bad_input(response: &Value, fragment: &str, label: &str) {
    assert_eq!(
        error_code(response),
        Some("BAD_USER_INPUT"),
        "{label}: {response}"
    );
    let message = response["errors"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains(fragment),
        "{label}: the message should mention {fragment:?}: {response}"
    );
}

/// A valid event, to show that one bad event rejects its whole append.
fn valid() -> Value {
    json!({ "type": "Placed", "data": { "ok": true } })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_append_input_is_bad_user_input_and_appends_nothing() {
    let with_event = |event: Value| json!({ "streamId": "order-1", "events": [valid(), event] });
    let expecting = |version: Value| json!({ "streamId": "order-1", "expectedVersion": version, "events": [valid()] });
    let id = "0b9a3c55-3333-4c3e-9a31-000000000001";
    let cases = [
        (
            "empty stream id",
            json!({ "streamId": "", "events": [valid()] }),
            "stream id",
        ),
        (
            "stream id with a space",
            json!({ "streamId": "order 1", "events": [valid()] }),
            "whitespace",
        ),
        (
            "no events",
            json!({ "streamId": "order-1", "events": [] }),
            "no events",
        ),
        (
            "empty type",
            with_event(json!({ "type": "", "data": {} })),
            "event type",
        ),
        (
            "blank type",
            with_event(json!({ "type": "  ", "data": {} })),
            "event type",
        ),
        (
            "256-byte type",
            with_event(json!({ "type": "t".repeat(256), "data": {} })),
            "255",
        ),
        (
            "256-byte type in 128 chars",
            with_event(json!({ "type": "é".repeat(128), "data": {} })),
            "255",
        ),
        (
            "string metadata",
            with_event(json!({ "type": "x", "data": {}, "metadata": "actor" })),
            "metadata",
        ),
        (
            "array metadata",
            with_event(json!({ "type": "x", "data": {}, "metadata": [1] })),
            "metadata",
        ),
        (
            "number metadata",
            with_event(json!({ "type": "x", "data": {}, "metadata": 7 })),
            "metadata",
        ),
        (
            "non-UUID event id",
            with_event(json!({ "id": "not-a-uuid", "type": "x", "data": {} })),
            "not-a-uuid",
        ),
        (
            "one id twice",
            json!({ "streamId": "order-1", "events": [
                { "id": id, "type": "x", "data": {} }, { "id": id, "type": "x", "data": {} }] }),
            id,
        ),
        (
            "negative expectedVersion",
            expecting(json!(-1)),
            "expectedVersion",
        ),
        (
            "non-numeric expectedVersion",
            expecting(json!("abc")),
            "abc",
        ),
        ("fractional expectedVersion", expecting(json!(1.5)), "1.5"),
    ];
    for db in databases().await {
        let server = TestServer::start(&db).await;
        server.append("order-1", json!([valid(), valid()])).await;
        for (label, input, fragment) in &cases {
            let response = server.try_append(input.clone()).await;
            assert_bad_input(&response, fragment, &format!("{} {label}", db.name));
            assert_eq!(
                server.total_events().await,
                2,
                "{} {label}: nothing appended",
                db.name
            );
        }
        let stream = server
            .gql("{ stream(id: \"order-1\") { version } }", json!({}))
            .await;
        assert_eq!(
            TestServer::data(&stream)["stream"]["version"],
            2,
            "{}",
            db.name
        );

        // The limits are inclusive: a 255-byte type is fine.
        let result = server
            .append("order-1", json!([{ "type": "t".repeat(255), "data": {} }]))
            .await;
        assert_eq!(result["version"], 3, "{}", db.name);

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_long_literals_in_the_query_text_are_bad_user_input_too() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        server.append("order-1", json!([valid()])).await;
        for (label, query, fragment) in [
            (
                "expectedVersion",
                "mutation { appendEvents(input: { streamId: \"order-1\", expectedVersion: \"abc\",
                    events: [{ type: \"x\", data: {} }] }) { version } }",
                "abc",
            ),
            (
                "afterPosition",
                "{ events(afterPosition: \"abc\") { edges { cursor } } }",
                "abc",
            ),
        ] {
            let response = server.gql(query, json!({})).await;
            assert_bad_input(&response, fragment, &format!("{} {label}", db.name));
        }
        assert_eq!(
            server.total_events().await,
            1,
            "{}: nothing appended",
            db.name
        );

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_events_refuses_the_aggregate_streams_as_bad_user_input() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        for stream in ["account-1", "user-1", "account"] {
            let response = server
                .try_append(json!({ "streamId": stream, "events": [valid()] }))
                .await;
            assert_bad_input(&response, stream, &format!("{} {stream}", db.name));
            let read = server
                .gql(
                    "query($id: ID!) { stream(id: $id) { id } }",
                    json!({ "id": stream }),
                )
                .await;
            assert_eq!(
                TestServer::data(&read)["stream"],
                Value::Null,
                "{} {stream}",
                db.name
            );
        }
        assert_eq!(
            server.total_events().await,
            0,
            "{}: nothing appended",
            db.name
        );

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_paging_and_filter_arguments_are_bad_user_input() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        server
            .append("order-1", json!([valid(), valid(), valid()]))
            .await;
        let cursors = server
            .gql(
                "{ events(first: 1) { pageInfo { endCursor } }
                   stream(id: \"order-1\") { events(first: 1) { pageInfo { endCursor } } } }",
                json!({}),
            )
            .await;
        let cursors = TestServer::data(&cursors);
        let position_cursor = cursors["events"]["pageInfo"]["endCursor"].as_str().unwrap();
        let version_cursor = cursors["stream"]["events"]["pageInfo"]["endCursor"]
            .as_str()
            .unwrap();

        let log = |args: &str| format!("{{ events({args}) {{ edges {{ cursor }} }} }}");
        let stream = |args: &str| {
            format!("{{ stream(id: \"order-1\") {{ events({args}) {{ edges {{ cursor }} }} }} }}")
        };
        for (label, query, fragment) in [
            ("log: unknown cursor", log("after: \"nonsense\""), "cursor"),
            (
                "log: a stream's cursor",
                log(&format!("after: \"{version_cursor}\"")),
                "cursor",
            ),
            ("log: first over 1000", log("first: 1001"), "1000"),
            ("log: negative first", log("first: -1"), "first"),
            (
                "log: negative afterPosition",
                log("afterPosition: -1"),
                "afterPosition",
            ),
            (
                "log: category with '-'",
                log("filter: { category: \"order-1\" }"),
                "category",
            ),
            (
                "log: empty category",
                log("filter: { category: \"\" }"),
                "category",
            ),
            (
                "log: empty streamId",
                log("filter: { streamId: \"\" }"),
                "streamId",
            ),
            (
                "stream: unknown cursor",
                stream("after: \"nonsense\""),
                "cursor",
            ),
            (
                "stream: the log's cursor",
                stream(&format!("after: \"{position_cursor}\"")),
                "cursor",
            ),
            ("stream: first over 1000", stream("first: 1001"), "1000"),
            ("stream: negative first", stream("first: -1"), "first"),
            (
                "stream: negative fromVersion",
                stream("fromVersion: -1"),
                "fromVersion",
            ),
            (
                "event: non-UUID id",
                "{ event(id: \"nope\") { id } }".to_owned(),
                "nope",
            ),
        ] {
            let response = server.gql(&query, json!({})).await;
            assert_bad_input(&response, fragment, &format!("{} {label}", db.name));
        }

        // The bounds themselves are accepted.
        for query in [
            log("first: 1000"),
            log("first: 0"),
            stream("first: 1000"),
            stream("first: 0"),
        ] {
            let response = server.gql(&query, json!({})).await;
            TestServer::data(&response);
        }

        server.stop().await;
    }
}
