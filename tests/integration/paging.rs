//! Every connection pages both ways, per the Relay Cursor Connections
//! spec: walking it backward with `last`/`before` visits the same items,
//! in the same order, as walking it forward with `first`/`after`.

use serde_json::{Value, json};

use crate::commands_support::{open_account, run};
use crate::common::{TestServer, databases, error_code};

/// Selects a connection's page: `$first`, `$after`, `$last` and `$before`
/// are the document's variables, `path` leads to the connection.
struct List {
    name: &'static str,
    document: String,
    path: &'static [&'static str],
    /// What identifies a node.
    key: &'static str,
}

fn list(name: &'static str, field: &str, path: &'static [&'static str], key: &'static str) -> List {
    let page = format!(
        "edges {{ cursor node {{ {key} }} }} pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}"
    );
    // `field` holds `PAGE` where the connection's arguments go and `SEL`
    // where its selection goes.
    let args = "first: $first, after: $after, last: $last, before: $before";
    let body = field.replace("PAGE", args).replace("SEL", &page);
    List {
        name,
        document: format!(
            "query($first: Int, $after: String, $last: Int, $before: String) {{ {body} }}"
        ),
        path,
        key,
    }
}

async fn page(server: &TestServer, list: &List, variables: Value) -> Value {
    let response = server.gql(&list.document, variables).await;
    let mut at = TestServer::data(&response);
    for step in list.path {
        at = &at[step];
    }
    at.clone()
}

fn keys(page: &Value, key: &str) -> Vec<Value> {
    page["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"][key].clone())
        .collect()
}

async fn walk_forward(server: &TestServer, list: &List) -> Vec<Value> {
    let (mut seen, mut after) = (Vec::new(), Value::Null);
    loop {
        let p = page(server, list, json!({ "first": 2, "after": after })).await;
        seen.extend(keys(&p, list.key));
        assert_eq!(
            p["pageInfo"]["hasPreviousPage"],
            !after.is_null(),
            "{}",
            list.name
        );
        if p["pageInfo"]["hasNextPage"] != true {
            return seen;
        }
        after = p["pageInfo"]["endCursor"].clone();
    }
}

async fn walk_backward(server: &TestServer, list: &List) -> Vec<Value> {
    let (mut seen, mut before) = (Vec::new(), Value::Null);
    loop {
        let p = page(server, list, json!({ "last": 2, "before": before })).await;
        let mut batch = keys(&p, list.key);
        assert!(batch.len() <= 2, "{}", list.name);
        assert_eq!(
            p["pageInfo"]["hasNextPage"],
            !before.is_null(),
            "{}",
            list.name
        );
        batch.extend(seen);
        seen = batch;
        if p["pageInfo"]["hasPreviousPage"] != true {
            return seen;
        }
        before = p["pageInfo"]["startCursor"].clone();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connection_walks_backward_through_what_it_walks_forward() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        for id in ["a1", "a2", "a3", "a4", "a5"] {
            open_account(&server, id, "10.00", "USD").await;
        }
        for n in 1..=4 {
            let input = json!({ "accountId": "a1", "amount": format!("{n}.00") });
            run(&server, "deposit", input).await;
        }
        for n in 1..=3 {
            let input = json!({ "email": format!("u{n}@example.com"), "name": "U", "userId": format!("u{n}") });
            run(&server, "registerUser", input).await;
        }
        server
            .append("order-1", json!([{ "type": "a", "data": {} }, { "type": "b", "data": {} }, { "type": "c", "data": {} }]))
            .await;
        let head = server.total_events().await;
        let wait = format!("minPosition: {head}");

        let lists = [
            list("events", "events(PAGE) { SEL }", &["events"], "position"),
            list(
                "filtered events",
                "events(PAGE, filter: { category: \"account\" }) { SEL }",
                &["events"],
                "position",
            ),
            list(
                "stream forward",
                "stream(id: \"order-1\") { events(PAGE) { SEL } }",
                &["stream", "events"],
                "version",
            ),
            list(
                "stream backward",
                "stream(id: \"order-1\") { events(direction: BACKWARD, PAGE) { SEL } }",
                &["stream", "events"],
                "version",
            ),
            list(
                "accounts",
                &format!("accounts(PAGE, {wait}) {{ SEL }}"),
                &["accounts"],
                "id",
            ),
            list(
                "users",
                &format!("users(PAGE, {wait}) {{ SEL }}"),
                &["users"],
                "id",
            ),
            list(
                "transactions",
                &format!("transactions(accountId: \"a1\", PAGE, {wait}) {{ SEL }}"),
                &["transactions"],
                "position",
            ),
            list(
                "account transactions",
                &format!("account(id: \"a1\", {wait}) {{ transactions(PAGE) {{ SEL }} }}"),
                &["account", "transactions"],
                "position",
            ),
            list("commands", "commands(PAGE) { SEL }", &["commands"], "id"),
        ];
        for list in &lists {
            let forward = walk_forward(&server, list).await;
            assert!(forward.len() >= 3, "{} {}: {forward:?}", db.name, list.name);
            let backward = walk_backward(&server, list).await;
            assert_eq!(backward, forward, "{} {}", db.name, list.name);
        }
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_newest_events_come_last_in_order_and_both_cursors_bound_a_page() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let events: Vec<Value> = (1..=6)
            .map(|n| json!({ "type": format!("e{n}"), "data": {} }))
            .collect();
        server.append("order-9", json!(events)).await;
        let newest = server
            .gql("{ events(last: 2) { edges { cursor node { position type } } pageInfo { hasPreviousPage hasNextPage } } }", json!({}))
            .await;
        let newest = &TestServer::data(&newest)["events"];
        let types: Vec<&Value> = newest["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["node"]["type"])
            .collect();
        assert_eq!(types, [&json!("e5"), &json!("e6")], "{}", db.name);
        assert_eq!(newest["pageInfo"]["hasPreviousPage"], true);
        assert_eq!(newest["pageInfo"]["hasNextPage"], false);

        // Between position 1 and the newest's first cursor: 2, 3, 4.
        let before = newest["edges"][0]["cursor"].clone();
        let between = server
            .gql(
                "query($before: String) { events(afterPosition: 1, before: $before, first: 10) { edges { node { type } } } }",
                json!({ "before": before }),
            )
            .await;
        let between: Vec<Value> = TestServer::data(&between)["events"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["type"].clone())
            .collect();
        assert_eq!(
            between,
            [json!("e2"), json!("e3"), json!("e4")],
            "{}",
            db.name
        );

        let both = server
            .gql(
                "{ events(first: 1, last: 1) { edges { cursor } } }",
                json!({}),
            )
            .await;
        assert_eq!(error_code(&both), Some("BAD_USER_INPUT"), "{}", db.name);
        let negative = server
            .gql("{ events(last: -1) { edges { cursor } } }", json!({}))
            .await;
        assert_eq!(error_code(&negative), Some("BAD_USER_INPUT"), "{}", db.name);
        server.stop().await;
    }
}
