//! Three server processes on one fresh PostgreSQL schema (run when
//! `TEST_DATABASE_URL` is set): appends from every node keep one gap-free
//! log, a subscriber on one node hears another's commits with no commit of
//! its own, read-your-writes holds across nodes, each projection runs on
//! exactly one node, an operator's pause on any node is obeyed, a killed
//! node's projections are taken over, and the roles keep to their part.

use std::collections::{BTreeSet, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::node::Node;
use crate::test_db::TestDb;
use crate::ws_client::{Protocol, WsClient};

const PROJECTIONS: [&str; 4] = [
    "AccountBalances",
    "TransactionHistory",
    "DailySummary",
    "Users",
];

async fn postgres() -> Option<TestDb> {
    let url = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())?;
    Some(TestDb::postgres(&url).await)
}

async fn gql(node: &Node, query: &str, variables: Value) -> Value {
    gql_at(&node.url, query, variables).await
}

async fn gql_at(url: &str, query: &str, variables: Value) -> Value {
    reqwest::Client::new()
        .post(format!("{url}/graphql"))
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("POST /graphql")
        .json()
        .await
        .expect("JSON")
}

#[track_caller]
fn data(response: &Value) -> &Value {
    assert!(
        response.get("errors").is_none(),
        "unexpected errors: {response}"
    );
    &response["data"]
}

fn addr(node: &Node) -> SocketAddr {
    node.url
        .trim_start_matches("http://")
        .parse()
        .expect("host:port")
}

async fn deposit(node: &Node, account: &str, amount: &str) -> i64 {
    deposit_at(&node.url, account, amount).await
}

async fn deposit_at(url: &str, account: &str, amount: &str) -> i64 {
    let response = gql_at(
        url,
        "mutation($input: DepositInput!) { deposit(input: $input) { position } }",
        json!({ "input": { "accountId": account, "amount": amount } }),
    )
    .await;
    data(&response)["deposit"]["position"]
        .as_i64()
        .expect("a position")
}

async fn open(node: &Node, account: &str) -> i64 {
    let response = gql(
        node,
        "mutation($input: OpenAccountInput!) { openAccount(input: $input) { position } }",
        json!({ "input": { "accountId": account, "owner": "Ada", "initialBalance": "0", "currency": "USD" } }),
    )
    .await;
    data(&response)["openAccount"]["position"]
        .as_i64()
        .expect("a position")
}

/// Each projection's status and node, as `node` sees them.
async fn projections(node: &Node) -> Vec<Value> {
    let response = gql(
        node,
        "{ projections { name status position node } }",
        json!({}),
    )
    .await;
    data(&response)["projections"]
        .as_array()
        .expect("a list")
        .clone()
}

/// Waits (at most `within`) until `check` holds for what `node` says of
/// the projections; returns how long that took.
async fn until(node: &Node, within: Duration, check: impl Fn(&[Value]) -> bool) -> Duration {
    let started = Instant::now();
    loop {
        let seen = projections(node).await;
        if check(&seen) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "not within {within:?}: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn runners(seen: &[Value]) -> BTreeSet<String> {
    seen.iter()
        .filter_map(|p| p["node"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_share_one_log_and_each_projection_runs_on_one_of_them() {
    let Some(db) = postgres().await else { return };
    let a = Node::start_with(&db, &["--node-id", "node-a"]).await;
    let b = Node::start_with(&db, &["--node-id", "node-b"]).await;
    let c = Node::start_with(&db, &["--node-id", "node-c"]).await;
    let all = [&a, &b, &c];

    // Every projection is run by exactly one live node, and every node
    // says the same.
    until(&c, Duration::from_secs(10), |seen| {
        seen.iter().all(|p| p["node"].is_string())
    })
    .await;
    // A node's row lands with its first heartbeat, which may come just
    // after the node answers: wait for it, as a client polling would.
    let started = Instant::now();
    let listed = loop {
        let nodes = gql(&b, "{ nodes { id role version projections } }", json!({})).await;
        let listed = data(&nodes)["nodes"].as_array().unwrap().clone();
        if listed.len() >= 3 || started.elapsed() > Duration::from_secs(10) {
            break listed;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let ids: Vec<&str> = listed.iter().map(|n| n["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["node-a", "node-b", "node-c"], "{listed:?}");
    let mut run: Vec<String> = listed
        .iter()
        .flat_map(|n| {
            n["projections"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_owned())
        })
        .collect();
    run.sort();
    let mut expected: Vec<String> = PROJECTIONS.iter().map(|p| p.to_string()).collect();
    expected.sort();
    assert_eq!(
        run, expected,
        "each projection on exactly one node: {listed:?}"
    );

    // A subscriber on B tails the whole log while writers use all three.
    let mut tail = WsClient::connect(addr(&b), Protocol::TransportWs).await;
    tail.subscribe(
        "subscription { eventAppended(afterPosition: 0) { position } }",
        json!({}),
    )
    .await;
    for (i, node) in all.iter().enumerate() {
        open(node, &format!("acct-{i}")).await;
    }
    open(&a, "hot").await;
    let mut writers = Vec::new();
    for (i, node) in all.iter().enumerate() {
        let url = node.url.clone();
        writers.push(tokio::spawn(async move {
            for _ in 0..20 {
                deposit_at(&url, &format!("acct-{i}"), "1.00").await;
                // The hot account: three nodes' caches race for it.
                deposit_at(&url, "hot", "1.00").await;
            }
        }));
    }
    for writer in writers {
        writer.await.expect("a writer");
    }
    let head = 4 + 3 * 20 * 2;
    let mut positions = Vec::new();
    while positions.len() < head {
        let (_, payload) = tail.next_data().await;
        positions.push(payload["eventAppended"]["position"].as_i64().unwrap());
    }
    let expected: Vec<i64> = (1..=head as i64).collect();
    assert_eq!(positions, expected, "no skipped or repeated position");

    // Read-your-writes on C right after a write on A.
    let position = deposit(&a, "hot", "1.00").await;
    let read = gql(
        &c,
        "query($p: Long) { account(id: \"hot\", minPosition: $p) { balance version } }",
        json!({ "p": position }),
    )
    .await;
    assert_eq!(data(&read)["account"]["balance"], "61.00");
    assert_eq!(data(&read)["account"]["version"], 62);

    // A commit on A reaches a subscriber on B, which commits nothing.
    let mut live = WsClient::connect(addr(&b), Protocol::TransportWs).await;
    live.subscribe(
        "subscription { eventAppended(filter: { streamId: \"account-acct-0\" }) { position } }",
        json!({}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = Instant::now();
    let position = deposit(&a, "acct-0", "1.00").await;
    let (_, payload) = tokio::time::timeout(Duration::from_secs(2), live.next_data())
        .await
        .expect("B hears A's commit within 2 s");
    assert_eq!(payload["eventAppended"]["position"], position);
    eprintln!("cross-node delivery: {:?}", sent.elapsed());

    // A pause through A is obeyed by whichever node runs the projection,
    // and seen on every node.
    let paused = gql(
        &a,
        "mutation { pauseProjection(name: \"AccountBalances\") { status } }",
        json!({}),
    )
    .await;
    assert_eq!(data(&paused)["pauseProjection"]["status"], "PAUSED");
    for node in all {
        until(node, Duration::from_secs(5), |seen| {
            seen.iter()
                .any(|p| p["name"] == "AccountBalances" && p["status"] == "PAUSED")
        })
        .await;
    }
    let before = projections(&c)
        .await
        .into_iter()
        .find(|p| p["name"] == "AccountBalances")
        .unwrap()["position"]
        .clone();
    deposit(&b, "acct-1", "1.00").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = projections(&c)
        .await
        .into_iter()
        .find(|p| p["name"] == "AccountBalances")
        .unwrap()["position"]
        .clone();
    assert_eq!(
        before, after,
        "a paused projection applies nothing, on whatever node"
    );
    let resumed = gql(
        &c,
        "mutation { resumeProjection(name: \"AccountBalances\") { status } }",
        json!({}),
    )
    .await;
    assert_ne!(data(&resumed)["resumeProjection"]["status"], "PAUSED");

    // kill -9 the node that runs AccountBalances: another takes it over.
    let seen = projections(&a).await;
    let victim = seen
        .iter()
        .find(|p| p["name"] == "AccountBalances")
        .unwrap()["node"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut survivors = Vec::new();
    for (id, node) in [("node-a", a), ("node-b", b), ("node-c", c)] {
        if id == victim {
            node.kill().await;
        } else {
            survivors.push(node);
        }
    }
    let watcher = &survivors[0];
    let took = until(watcher, Duration::from_secs(15), |seen| {
        let now = runners(seen);
        seen.iter().all(|p| p["node"].is_string()) && !now.contains(&victim)
    })
    .await;
    eprintln!("takeover after kill -9: {took:?}");
    let position = deposit(watcher, "hot", "1.00").await;
    let read = gql(
        &survivors[1],
        "query($p: Long) { account(id: \"hot\", minPosition: $p) { balance transactionCount } }",
        json!({ "p": position }),
    )
    .await;
    assert_eq!(
        data(&read)["account"]["balance"],
        "62.00",
        "the fold of the log, nothing applied twice"
    );
    assert_eq!(data(&read)["account"]["transactionCount"], 63);
    let history = gql(
        watcher,
        "query($p: Long) { transactions(accountId: \"hot\", first: 1000, minPosition: $p) { edges { node { position } } } }",
        json!({ "p": position }),
    )
    .await;
    let edges = data(&history)["transactions"]["edges"]
        .as_array()
        .unwrap()
        .clone();
    let unique: HashSet<i64> = edges
        .iter()
        .map(|e| e["node"]["position"].as_i64().unwrap())
        .collect();
    assert_eq!((edges.len(), unique.len()), (63, 63), "every movement once");
    for node in survivors {
        node.kill().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_api_node_runs_no_projection_and_a_projector_answers_no_mutation() {
    let Some(db) = postgres().await else { return };
    let api = Node::start_with(&db, &["--node-id", "api-1", "--role", "api"]).await;
    let projector = Node::start_with(&db, &["--node-id", "proj-1", "--role", "projector"]).await;

    until(&api, Duration::from_secs(10), |seen| {
        seen.iter().all(|p| p["node"] == "proj-1")
    })
    .await;
    let position = open(&api, "r1").await;
    let read = gql(
        &api,
        "query($p: Long) { account(id: \"r1\", minPosition: $p) { balance } }",
        json!({ "p": position }),
    )
    .await;
    assert_eq!(data(&read)["account"]["balance"], "0.00");

    let refused = reqwest::Client::new()
        .post(format!("{}/graphql", projector.url))
        .json(&json!({ "query": "mutation { pauseProjection(name: \"Users\") { status } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 404, "a projector serves no GraphQL");
    let health = reqwest::get(format!("{}/ready", projector.url))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let nodes = gql(&api, "{ nodes { id role projections } }", json!({})).await;
    let listed = data(&nodes)["nodes"].clone();
    assert_eq!(listed[0]["id"], "api-1");
    assert_eq!(listed[0]["role"], "API");
    assert_eq!(listed[0]["projections"], json!([]));
    assert_eq!(listed[1]["role"], "PROJECTOR");
    assert_eq!(listed[1]["projections"].as_array().map(Vec::len), Some(4));
    api.kill().await;
    projector.kill().await;
}
