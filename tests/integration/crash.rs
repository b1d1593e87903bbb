//! Crash safety, on both databases: the real binary under concurrent
//! commands with client-chosen ids is killed with SIGKILL mid-load,
//! restarted on the same database, and every command is retried with its
//! id until it succeeds. After each cycle nothing acknowledged is lost,
//! nothing is applied twice, positions are dense, and every read model
//! equals the fold of the log.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::common::databases;
use crate::node::Node;

const CYCLES: usize = 5;
const CLIENTS: usize = 16;
const ACCOUNTS: usize = 8;

async fn gql(client: &reqwest::Client, url: &str, query: &str, variables: Value) -> Option<Value> {
    let response = client
        .post(format!("{url}/graphql"))
        .json(&json!({ "query": query, "variables": variables }))
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .ok()?;
    response.json().await.ok()
}

const DEPOSIT: &str = "mutation($in: DepositInput!) { deposit(input: $in) { position } }";

/// One command the load sends: its id, account and amount in cents.
#[derive(Clone, Debug)]
struct Deposit {
    id: String,
    account: usize,
    cents: i64,
}

impl Deposit {
    fn input(&self) -> Value {
        json!({ "in": {
            "accountId": format!("crash-{}", self.account),
            "amount": format!("{}.{:02}", self.cents / 100, self.cents % 100),
            "commandId": self.id,
        } })
    }
}

/// Sends deposits until told to stop; records which were acknowledged.
async fn load(
    url: String,
    client: usize,
    cycle: usize,
    acknowledged: Arc<Mutex<Vec<Deposit>>>,
    sent: Arc<Mutex<Vec<Deposit>>>,
) {
    let http = reqwest::Client::new();
    for n in 0.. {
        let deposit = Deposit {
            id: format!("c{cycle}-{client}-{n}"),
            account: (client + n) % ACCOUNTS,
            cents: 1 + ((client * 7 + n * 13) % 500) as i64,
        };
        sent.lock().await.push(deposit.clone());
        match gql(&http, &url, DEPOSIT, deposit.input()).await {
            Some(r) if r["data"]["deposit"]["position"].is_i64() => {
                acknowledged.lock().await.push(deposit)
            }
            // The server died under the request: stop, the retry comes later.
            _ => return,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_nothing_acknowledged_and_applies_nothing_twice() {
    for db in databases().await {
        let label = db.name;
        let http = reqwest::Client::new();
        let mut node = Node::start(&db).await;
        for account in 0..ACCOUNTS {
            let open = format!(
                r#"mutation {{ openAccount(input: {{ accountId: "crash-{account}", owner: "C", commandId: "open-{account}" }}) {{ position }} }}"#
            );
            let r = gql(&http, &node.url, &open, json!({})).await.expect("open");
            assert!(r.get("errors").is_none(), "{label}: {r}");
        }
        let mut every: Vec<Deposit> = Vec::new();
        for cycle in 0..CYCLES {
            let acknowledged = Arc::new(Mutex::new(Vec::new()));
            let sent = Arc::new(Mutex::new(Vec::new()));
            let clients: Vec<_> = (0..CLIENTS)
                .map(|c| {
                    tokio::spawn(load(
                        node.url.clone(),
                        c,
                        cycle,
                        acknowledged.clone(),
                        sent.clone(),
                    ))
                })
                .collect();
            tokio::time::sleep(Duration::from_millis(300 + 150 * cycle as u64)).await;
            node.kill().await;
            for client in clients {
                client.await.expect("client task");
            }
            node = Node::start(&db).await;
            // Everything acknowledged before the kill is in the log.
            for deposit in acknowledged.lock().await.iter() {
                let r = gql(
                    &http,
                    &node.url,
                    "query($id: ID!) { command(id: $id) { status } }",
                    json!({ "id": deposit.id }),
                )
                .await
                .expect("command");
                assert_eq!(
                    r["data"]["command"]["status"], "SUCCEEDED",
                    "{label} cycle {cycle}: {} lost: {r}",
                    deposit.id
                );
            }
            // Every command sent is retried with its id until it succeeds:
            // once applied, a retry appends nothing.
            let sent = sent.lock().await.clone();
            for deposit in &sent {
                let r = gql(&http, &node.url, DEPOSIT, deposit.input())
                    .await
                    .expect("retry");
                assert!(
                    r.get("errors").is_none(),
                    "{label}: retry of {}: {r}",
                    deposit.id
                );
            }
            println!(
                "{label} cycle {cycle}: {} acknowledged before SIGKILL, {} sent, all retried",
                acknowledged.lock().await.len(),
                sent.len()
            );
            every.extend(sent);
            verify(&http, &node.url, &every, label, cycle).await;
        }
        node.kill().await;
    }
}

/// The log against what was sent, and the read models against the log.
async fn verify(http: &reqwest::Client, url: &str, sent: &[Deposit], label: &str, cycle: usize) {
    let context = format!("{label} after cycle {cycle}");
    // The whole log, page by page: dense positions, one deposit per id.
    let mut positions = Vec::new();
    let mut applied: BTreeMap<String, usize> = BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let r = gql(
            http,
            url,
            "query($after: String) { events(first: 1000, after: $after) { edges { cursor node { position type metadata } } pageInfo { hasNextPage endCursor } } }",
            json!({ "after": after }),
        )
        .await
        .expect("the log");
        let page = &r["data"]["events"];
        for edge in page["edges"].as_array().expect("edges") {
            let node = &edge["node"];
            positions.push(node["position"].as_i64().unwrap());
            if node["type"] == "MoneyDeposited" {
                let id = node["metadata"]["commandId"].as_str().unwrap().to_owned();
                *applied.entry(id).or_default() += 1;
            }
        }
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    let head = positions.len() as i64;
    assert_eq!(
        positions,
        (1..=head).collect::<Vec<_>>(),
        "{context}: positions are not dense"
    );
    assert_eq!(
        applied.len(),
        sent.len(),
        "{context}: applied {} commands, sent {}",
        applied.len(),
        sent.len()
    );
    if let Some((id, n)) = applied.iter().find(|(_, n)| **n != 1) {
        panic!("{context}: {id} applied {n} times");
    }
    // Every balance is the fold of its deposits, read once the projections
    // reflect the whole log.
    let mut expected = [0i64; ACCOUNTS];
    for deposit in sent {
        expected[deposit.account] += deposit.cents;
    }
    let r = gql(
        http,
        url,
        "query($p: Long) { accounts(first: 100, minPosition: $p) { edges { node { id balance transactionCount } } } dailySummaries(minPosition: $p) { deposits transactionCount } }",
        json!({ "p": head }),
    )
    .await
    .expect("read models");
    for edge in r["data"]["accounts"]["edges"].as_array().expect("accounts") {
        let node = &edge["node"];
        let account: usize = node["id"]
            .as_str()
            .unwrap()
            .trim_start_matches("crash-")
            .parse()
            .unwrap();
        let cents = expected[account];
        assert_eq!(
            node["balance"],
            format!("{}.{:02}", cents / 100, cents % 100),
            "{context}: {node}"
        );
    }
    let total: i64 = expected.iter().sum();
    let days = r["data"]["dailySummaries"].as_array().expect("days");
    let summed: i64 = days
        .iter()
        .map(|d| {
            let text = d["deposits"].as_str().unwrap().replace('.', "");
            text.parse::<i64>().unwrap()
        })
        .sum();
    assert_eq!(summed, total, "{context}: daily deposits");
}
