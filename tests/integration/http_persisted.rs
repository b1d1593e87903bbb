//! Automatic persisted queries as Apollo's `PersistedQueryLink` sends
//! them: a hash alone, then the text with its hash, over POST and GET, in
//! batches too; a mutation named by hash still may not run over GET.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::{TestServer, databases, error_code};

fn sha256(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

async fn post(server: &TestServer, body: Value) -> Value {
    let response = server
        .client
        .post(server.url("/graphql"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn get(server: &TestServer, query: Option<&str>, hash: &str) -> (u16, Value) {
    let mut url = reqwest::Url::parse(&server.url("/graphql")).unwrap();
    {
        let mut pairs = url.query_pairs_mut();
        if let Some(query) = query {
            pairs.append_pair("query", query);
        }
        pairs.append_pair("extensions", &persisted(hash).to_string());
    }
    let response = server.client.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_hash_asks_for_the_text_and_afterwards_stands_for_it() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let query = "query Totals { stats { totalEvents } }";
        let hash = sha256(query);

        let first = post(&server, json!({ "extensions": persisted(&hash) })).await;
        assert_eq!(
            error_code(&first),
            Some("PERSISTED_QUERY_NOT_FOUND"),
            "{}: {first}",
            db.name
        );
        assert_eq!(first["errors"][0]["message"], "PersistedQueryNotFound");

        let (status, over_get) = get(&server, None, &hash).await;
        assert_eq!(status, 200);
        assert_eq!(error_code(&over_get), Some("PERSISTED_QUERY_NOT_FOUND"));

        let registered = post(
            &server,
            json!({ "query": query, "extensions": persisted(&hash) }),
        )
        .await;
        assert_eq!(TestServer::data(&registered)["stats"]["totalEvents"], 0);

        let by_hash = post(&server, json!({ "extensions": persisted(&hash) })).await;
        assert_eq!(TestServer::data(&by_hash)["stats"]["totalEvents"], 0);
        let (status, over_get) = get(&server, None, &hash).await;
        assert_eq!(status, 200, "{}: {over_get}", db.name);
        assert_eq!(TestServer::data(&over_get)["stats"]["totalEvents"], 0);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hash_that_does_not_match_its_text_is_refused() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let body = json!({
            "query": "{ stats { totalEvents } }",
            "extensions": persisted(&sha256("{ __typename }")),
        });
        let response = post(&server, body).await;
        assert_eq!(error_code(&response), Some("BAD_USER_INPUT"), "{}", db.name);
        assert!(response.get("data").is_none() || response["data"].is_null());
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutation_named_by_hash_does_not_run_over_get() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let mutation = "mutation { appendEvents(input: { streamId: \"order-1\", events: [{ type: \"placed\", data: {} }] }) { version } }";
        let hash = sha256(mutation);
        let registered = post(
            &server,
            json!({ "query": mutation, "extensions": persisted(&hash) }),
        )
        .await;
        assert_eq!(TestServer::data(&registered)["appendEvents"]["version"], 1);

        let (status, body) = get(&server, None, &hash).await;
        assert_eq!(status, 405, "{}: {body}", db.name);
        assert_eq!(server.total_events().await, 1, "{}", db.name);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_resolves_each_operations_hash_on_its_own() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let known = "{ stats { totalEvents } }";
        post(
            &server,
            json!({ "query": known, "extensions": persisted(&sha256(known)) }),
        )
        .await;
        let batch = json!([
            { "extensions": persisted(&sha256(known)) },
            { "extensions": persisted(&sha256("{ __typename }")) },
            { "query": "{ __typename }" },
        ]);
        let answers = post(&server, batch).await;
        let answers = answers.as_array().expect("an array");
        assert_eq!(answers.len(), 3, "{}", db.name);
        assert_eq!(answers[0]["data"]["stats"]["totalEvents"], 0);
        assert_eq!(error_code(&answers[1]), Some("PERSISTED_QUERY_NOT_FOUND"));
        assert_eq!(answers[2]["data"]["__typename"], "Query");
        server.stop().await;
    }
}
