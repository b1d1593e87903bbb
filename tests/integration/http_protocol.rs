//! GraphQL over HTTP as a client sees it: GET for queries only, media type
//! negotiation with its status codes, GraphiQL for browsers, health and
//! readiness.

use reqwest::header::{ACCEPT, ALLOW, CONTENT_TYPE};
use serde_json::{Value, json};

use crate::common::{TestServer, databases, error_code};

/// GET /graphql?query=...
fn get_url(server: &TestServer, query: &str) -> reqwest::Url {
    let mut url = reqwest::Url::parse(&server.url("/graphql")).expect("url");
    url.query_pairs_mut().append_pair("query", query);
    url
}

fn content_type(response: &reqwest::Response) -> String {
    let value = response
        .headers()
        .get(CONTENT_TYPE)
        .expect("a content type");
    value.to_str().expect("ASCII").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_runs_a_query_but_refuses_a_mutation_with_405_and_allow_post() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        server
            .append("order-1", json!([{ "type": "a", "data": {} }]))
            .await;

        let response = server
            .client
            .get(get_url(&server, "{ stats { totalEvents } }"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", db.name);
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            TestServer::data(&body)["stats"]["totalEvents"],
            1,
            "{}",
            db.name
        );

        let mutation = "mutation { appendEvents(input: { streamId: \"order-2\", events: [{ type: \"x\", data: {} }] }) { version } }";
        let response = server
            .client
            .get(get_url(&server, mutation))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{}", db.name);
        assert_eq!(
            response.headers().get(ALLOW).map(|v| v.as_bytes()),
            Some(&b"POST"[..]),
            "{}",
            db.name
        );
        let body: Value = response.json().await.unwrap();
        assert!(
            body["errors"][0]["message"].is_string(),
            "{}: {body}",
            db.name
        );
        assert_eq!(
            server.total_events().await,
            1,
            "{}: the mutation did not run",
            db.name
        );

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_response_json_gets_400_for_requests_that_never_ran_and_json_gets_200() {
    const MODERN: &str = "application/graphql-response+json";
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let post = |query: &str, accept: &'static str| {
            let request = server
                .client
                .post(server.url("/graphql"))
                .header(ACCEPT, accept);
            request.json(&json!({ "query": query })).send()
        };

        // (query, status for graphql-response+json, whether it has errors)
        for (query, modern_status, fails) in [
            ("{ nope }", 400, true),                   // validation error
            ("{ stats {", 400, true),                  // syntax error
            ("{ stats { totalEvents } }", 200, false), // success
            ("{ events(first: 1001) { edges { cursor } } }", 200, true), // field error: it ran
        ] {
            for (accept, status) in [(MODERN, modern_status), ("application/json", 200)] {
                let response = post(query, accept).await.unwrap();
                let label = format!("{} {query:?} accepting {accept}", db.name);
                assert_eq!(response.status(), status, "{label}");
                assert!(
                    content_type(&response).starts_with(accept),
                    "{label}: {}",
                    content_type(&response)
                );
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["errors"].is_array(), fails, "{label}: {body}");
                if fails {
                    // Even errors async-graphql raises before any resolver
                    // runs carry a code.
                    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{label}: {body}");
                }
            }
        }

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_get_graphiql_at_the_root_and_on_get_graphql_without_a_query() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let html = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        for (path, accept) in [("/", html), ("/", "*/*"), ("/graphql", html)] {
            let response = server
                .client
                .get(server.url(path))
                .header(ACCEPT, accept)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{} GET {path}", db.name);
            assert!(
                content_type(&response).starts_with("text/html"),
                "{} GET {path}",
                db.name
            );
            let page = response.text().await.unwrap().to_lowercase();
            assert!(
                page.contains("graphiql") && page.contains("/graphql"),
                "{} GET {path}",
                db.name
            );
        }
        let api = server
            .client
            .get(server.url("/graphql"))
            .header(ACCEPT, "application/json");
        assert_eq!(
            api.send().await.unwrap().status(),
            400,
            "{}: an API client without a query",
            db.name
        );

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_says_ok_and_ready_answers_200_once_started() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let health = server
            .client
            .get(server.url("/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200, "{}", db.name);
        assert_eq!(health.text().await.unwrap(), "ok", "{}", db.name);
        let ready = server
            .client
            .get(server.url("/ready"))
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status(), 200, "{}", db.name);

        server.stop().await;
    }
}
