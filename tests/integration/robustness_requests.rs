//! Requests that once took the server down or got answers no client can
//! handle, each refused now with a GraphQL error and a code, on both
//! databases; after every one the server still answers `/health` and the
//! store is unchanged.

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use crate::common::{TestServer, databases, error_code};

/// `extensions.limit` of the first error.
fn limit(response: &Value) -> Option<&str> {
    response["errors"][0]["extensions"]["limit"].as_str()
}

async fn assert_alive(server: &TestServer, label: &str) {
    let health = server
        .client
        .get(server.url("/health"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap_or_else(|err| panic!("{label}: /health does not answer: {err}"));
    assert_eq!(health.status(), 200, "{label}");
}

/// POSTs raw bytes with a content type; returns status and JSON body.
async fn post_raw(server: &TestServer, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let response = server
        .client
        .post(server.url("/graphql"))
        .header(CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .expect("an answer");
    let status = response.status().as_u16();
    let declared = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.expect("a body");
    assert!(
        declared.starts_with("application/json")
            || declared.starts_with("application/graphql-response+json"),
        "status {status}: content type {declared:?}, body {text}"
    );
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("JSON body ({e}): {text}"));
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deeply_nested_literal_is_refused_before_parsing() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        for depth in [2_000, 100_000] {
            let query = format!(
                "{{ stats(x: {}{}) {{ totalEvents }} }}",
                "[".repeat(depth),
                "]".repeat(depth)
            );
            // Past the document size, that bound speaks first.
            let bound = |r: &Value| matches!(limit(r), Some("maxNesting" | "maxDocumentBytes"));
            let r = server.gql(&query, json!({})).await;
            assert_eq!(error_code(&r), Some("BAD_USER_INPUT"), "{}: {r}", db.name);
            assert!(bound(&r), "{}: {r}", db.name);
            let objects = format!(
                "{{ stats(x: {}1{}) {{ totalEvents }} }}",
                "{a:".repeat(depth),
                "}".repeat(depth)
            );
            let r = server.gql(&objects, json!({})).await;
            assert!(bound(&r), "{}: {r}", db.name);
        }
        // Over GET too, where the server looks at the operation first.
        let deep = format!(
            "{{ stats(x: {}{}) {{ totalEvents }} }}",
            "[".repeat(5_000),
            "]".repeat(5_000)
        );
        let mut url = reqwest::Url::parse(&server.url("/graphql")).unwrap();
        url.query_pairs_mut().append_pair("query", &deep);
        let r: Value = server
            .client
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(limit(&r), Some("maxNesting"), "{}: {r}", db.name);
        assert_alive(&server, db.name).await;
        server.stop().await;
    }
}

/// `fragment F0 on Query { __typename }`, each next fragment spreading
/// the one before twice, and `query { ...F<levels> }`.
fn fragment_explosion(levels: usize) -> String {
    let mut doc = format!("query {{ ...F{levels} }}\nfragment F0 on Query {{ __typename }}\n");
    for i in 1..=levels {
        doc.push_str(&format!(
            "fragment F{i} on Query {{ ...F{p} ...F{p} }}\n",
            p = i - 1
        ));
    }
    doc
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragment_explosions_alias_floods_and_costly_queries_are_refused() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        for levels in [22, 24, 30] {
            let r = server.gql(&fragment_explosion(levels), json!({})).await;
            assert_eq!(
                limit(&r),
                Some("maxSelections"),
                "{} F{levels}: {r}",
                db.name
            );
        }
        let aliases: String = (0..1_000)
            .map(|i| format!("a{i}: events(first: 1000) {{ edges {{ node {{ id data }} }} }} "))
            .collect();
        let r = server.gql(&format!("{{ {aliases} }}"), json!({})).await;
        assert_eq!(limit(&r), Some("maxAliases"), "{}: {r}", db.name);
        // Five full pages of events cost more than the default allows.
        let pages: String = (0..5)
            .map(|i| format!("p{i}: events(first: 1000) {{ edges {{ cursor node {{ id streamId version position type data metadata recordedAt }} }} }} "))
            .collect();
        let r = server.gql(&format!("{{ {pages} }}"), json!({})).await;
        assert_eq!(error_code(&r), Some("BAD_USER_INPUT"), "{}: {r}", db.name);
        assert!(
            r["errors"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("complex"),
            "{}: {r}",
            db.name
        );
        // One full page is fine.
        let r = server
            .gql(
                "{ events(first: 1000) { edges { node { id data } } } }",
                json!({}),
            )
            .await;
        TestServer::data(&r);
        assert_alive(&server, db.name).await;
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_that_are_not_graphql_requests_get_json_errors_with_codes() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let json_type = "application/json";
        for (label, content_type, body, status) in [
            ("truncated JSON", json_type, b"{".to_vec(), 400),
            ("a batch of null", json_type, b"[null]".to_vec(), 400),
            ("an empty batch", json_type, b"[]".to_vec(), 400),
            ("a number", json_type, b"42".to_vec(), 400),
            (
                "a lone surrogate",
                json_type,
                br#"{"query":"{ stats { totalEvents } }","variables":{"x":"\ud800"}}"#.to_vec(),
                400,
            ),
            (
                "invalid UTF-8",
                json_type,
                b"{\"query\":\"\xff\"}".to_vec(),
                400,
            ),
            (
                "form encoded",
                "application/x-www-form-urlencoded",
                b"query=%7B%7D".to_vec(),
                415,
            ),
            (
                "plain text",
                "text/plain",
                br#"{"query":"{ stats { totalEvents } }"}"#.to_vec(),
                415,
            ),
            (
                "broken multipart",
                "multipart/form-data; boundary=xyz",
                b"--xyz\r\nbroken".to_vec(),
                415,
            ),
        ] {
            let label = format!("{} {label}", db.name);
            let (got, body) = post_raw(&server, content_type, body).await;
            assert_eq!(got, status, "{label}: {body}");
            assert_eq!(error_code(&body), Some("BAD_REQUEST"), "{label}: {body}");
            let message = body["errors"][0]["message"].as_str().unwrap_or_default();
            for rust in [
                "Error(",
                "InvalidRequest",
                "UnsupportedBatch",
                "BatchRequest",
            ] {
                assert!(
                    !message.contains(rust),
                    "{label}: Rust leaked into {message:?}"
                );
            }
        }
        // Odd but valid media-type syntax is still JSON.
        let (got, body) = post_raw(
            &server,
            "application/json;;;",
            br#"{"query":"{ stats { totalEvents } }"}"#.to_vec(),
        )
        .await;
        assert_eq!(got, 200, "{}: {body}", db.name);
        TestServer::data(&body);
        assert_eq!(server.total_events().await, 0);
        assert_alive(&server, db.name).await;
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_gets_a_413_the_client_can_read() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let mut body = br#"{"query":"{ stats { totalEvents } }","variables":{"pad":""#.to_vec();
        body.resize(17 * 1024 * 1024, b'x');
        body.extend_from_slice(br#""}}"#);
        let (status, response) = post_raw(&server, "application/json", body).await;
        assert_eq!(status, 413, "{}: {response}", db.name);
        assert_eq!(error_code(&response), Some("BAD_REQUEST"), "{}", db.name);
        // The connection is reusable afterwards.
        assert_eq!(server.total_events().await, 0);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_a_database_would_reject_is_bad_user_input_before_sql() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let label = db.name;
        // A NUL anywhere: an id, an owner, a forged cursor.
        for (query, variables) in [
            (
                "query($id: ID!) { user(id: $id) { id } }",
                json!({ "id": "a\u{0}b" }),
            ),
            ("{ user(id: \"a\\u0000b\") { id } }", json!({})),
            (
                "mutation($o: String!) { openAccount(input: { owner: $o }) { version } }",
                json!({ "o": "Ada\u{0}" }),
            ),
        ] {
            let r = server.gql(query, variables).await;
            assert_eq!(error_code(&r), Some("BAD_USER_INPUT"), "{label}: {r}");
        }
        let r = server
            .gql(
                "{ accounts(after: \"dDE6AA\") { edges { cursor } } }",
                json!({}),
            )
            .await;
        assert_eq!(error_code(&r), Some("BAD_USER_INPUT"), "{label}: {r}");
        // 500,000 event types, and a 1 MB category.
        let types: Vec<String> = (0..500_000).map(|i| format!("T{i}")).collect();
        let q = "query($f: EventFilter) { events(filter: $f) { edges { cursor } } }";
        let r = server.gql(q, json!({ "f": { "types": types } })).await;
        assert_eq!(limit(&r), Some("maxListLength"), "{label}: {r}");
        let r = server
            .gql(q, json!({ "f": { "category": "c".repeat(1 << 20) } }))
            .await;
        assert_eq!(error_code(&r), Some("BAD_USER_INPUT"), "{label}: {r}");
        let r = server
            .gql(q, json!({ "f": { "category": "c".repeat(1000) } }))
            .await;
        assert_eq!(error_code(&r), Some("BAD_USER_INPUT"), "{label}: {r}");
        assert_eq!(server.total_events().await, 0, "{label}");
        assert_alive(&server, label).await;
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_runs_each_operation_and_is_bounded() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let batch = json!([
            { "query": "{ stats { totalEvents } }" },
            { "query": "{ nope }" },
        ]);
        let r: Value = server
            .client
            .post(server.url("/graphql"))
            .json(&batch)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r[0]["data"]["stats"]["totalEvents"], 0, "{}: {r}", db.name);
        assert_eq!(
            error_code(&r[1]),
            Some("BAD_USER_INPUT"),
            "{}: {r}",
            db.name
        );
        let too_many: Vec<Value> = (0..21)
            .map(|_| json!({ "query": "{ __typename }" }))
            .collect();
        let (status, r) = post_raw(
            &server,
            "application/json",
            serde_json::to_vec(&too_many).unwrap(),
        )
        .await;
        assert_eq!(
            (status, error_code(&r)),
            (400, Some("BAD_REQUEST")),
            "{}: {r}",
            db.name
        );
        server.stop().await;
    }
}
