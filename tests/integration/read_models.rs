//! The read-model queries: what they answer, read-your-writes through
//! minPosition, and stable cursors while rows arrive.

use std::collections::HashSet;

use chronicle::Config;
use serde_json::{Value, json};

use crate::commands_support::{open_account, run};
use crate::common::{TestServer, databases, error_code};
use crate::read_model_fold::{TRANSACTION_FIELDS, head};

/// The ids (or cursors) of a connection's nodes.
pub fn ids(connection: &Value) -> Vec<String> {
    connection["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["id"].as_str().expect("id").to_owned())
        .collect()
}

fn end_cursor(connection: &Value) -> Value {
    connection["edges"]
        .as_array()
        .and_then(|edges| edges.last())
        .map(|e| e["cursor"].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn transactions_list_every_movement_newest_first_with_the_balance_after_it() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        open_account(&server, "t1", "10.00", "USD").await;
        open_account(&server, "t2", "0", "USD").await;
        run(
            &server,
            "deposit",
            json!({ "accountId": "t1", "amount": "5.50", "description": "pay" }),
        )
        .await;
        run(
            &server,
            "withdraw",
            json!({ "accountId": "t1", "amount": "2.25" }),
        )
        .await;
        let transfer = json!({ "fromAccountId": "t1", "toAccountId": "t2", "amount": "3" });
        let last = run(&server, "transfer", transfer).await;
        let p = last["position"].as_i64().unwrap();

        let query = format!(
            "query($p: Long) {{ transactions(accountId: \"t1\", first: 2, minPosition: $p) {{
               edges {{ cursor node {{ {TRANSACTION_FIELDS} }} }} pageInfo {{ hasNextPage hasPreviousPage }} }} }}"
        );
        let response = server.gql(&query, json!({ "p": p })).await;
        let page = &TestServer::data(&response)["transactions"];
        let rows: Vec<(&str, &str, &str)> = page["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let n = &e["node"];
                (
                    n["kind"].as_str().unwrap(),
                    n["amount"].as_str().unwrap(),
                    n["balanceAfter"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("TRANSFER_OUT", "3.00", "10.25"),
                ("WITHDRAWAL", "2.25", "13.25")
            ],
            "{}",
            db.name
        );
        assert_eq!(page["edges"][0]["node"]["counterpartyAccountId"], "t2");
        assert_eq!(page["pageInfo"]["hasNextPage"], true);

        let after = "query($after: String) { transactions(accountId: \"t1\", after: $after) {
            edges { node { kind amount balanceAfter description } } pageInfo { hasNextPage hasPreviousPage } } }";
        let response = server
            .gql(after, json!({ "after": end_cursor(page) }))
            .await;
        let rest = &TestServer::data(&response)["transactions"];
        assert_eq!(
            rest["edges"],
            json!([
                { "node": { "kind": "DEPOSIT", "amount": "5.50", "balanceAfter": "15.50", "description": "pay" } },
                { "node": { "kind": "OPENING", "amount": "10.00", "balanceAfter": "10.00", "description": null } },
            ]),
            "{}",
            db.name
        );
        assert_eq!(
            rest["pageInfo"],
            json!({ "hasNextPage": false, "hasPreviousPage": true })
        );

        // An empty opening is a movement too, as transactionCount says.
        let t2 = "query($p: Long) { account(id: \"t2\", minPosition: $p) {
            transactionCount transactions { edges { node { kind amount balanceAfter } } } } }";
        let response = server.gql(t2, json!({ "p": p })).await;
        let account = &TestServer::data(&response)["account"];
        assert_eq!(account["transactionCount"], 2);
        assert_eq!(
            account["transactions"]["edges"],
            json!([
                { "node": { "kind": "TRANSFER_IN", "amount": "3.00", "balanceAfter": "3.00" } },
                { "node": { "kind": "OPENING", "amount": "0.00", "balanceAfter": "0.00" } },
            ])
        );
        let foreign = server
            .gql("query($c: String) { transactions(accountId: \"t1\", after: $c) { edges { cursor } } }",
                json!({ "c": "nonsense" }))
            .await;
        assert_eq!(error_code(&foreign), Some("BAD_USER_INPUT"), "{foreign}");
        server.stop().await;
    }
}

#[tokio::test]
async fn daily_summaries_validate_their_bounds_and_list_days_then_currencies() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        open_account(&server, "d1", "10.00", "USD").await;
        open_account(&server, "d2", "0", "USD").await;
        let last = open_account(&server, "d3", "500", "JPY").await;
        run(
            &server,
            "deposit",
            json!({ "accountId": "d1", "amount": "1.00" }),
        )
        .await;
        run(
            &server,
            "withdraw",
            json!({ "accountId": "d1", "amount": "4.00" }),
        )
        .await;
        let moved = run(
            &server,
            "transfer",
            json!({ "fromAccountId": "d1", "toAccountId": "d2", "amount": "2.00" }),
        )
        .await;
        let p = moved["position"]
            .as_i64()
            .unwrap()
            .max(last["position"].as_i64().unwrap());

        let query = "query($from: String, $to: String, $p: Long) { dailySummaries(from: $from, to: $to, minPosition: $p)
            { date currency deposits withdrawals netChange transactionCount } }";
        let response = server.gql(query, json!({ "p": p })).await;
        let days = TestServer::data(&response)["dailySummaries"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(days.len(), 2, "{}: {days:?}", db.name);
        let today = days[0]["date"].as_str().unwrap().to_owned();
        assert_eq!(
            json!(days),
            json!([
                { "date": today, "currency": "JPY", "deposits": "500", "withdrawals": "0",
                  "netChange": "500", "transactionCount": 1 },
                { "date": today, "currency": "USD", "deposits": "11.00", "withdrawals": "4.00",
                  "netChange": "7.00", "transactionCount": 5 },
            ]),
            "{}",
            db.name
        );
        let same_day = server
            .gql(query, json!({ "from": today, "to": today }))
            .await;
        assert_eq!(
            TestServer::data(&same_day)["dailySummaries"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        let before = server.gql(query, json!({ "to": "2000-01-01" })).await;
        assert_eq!(TestServer::data(&before)["dailySummaries"], json!([]));

        for (from, to) in [
            ("2026-13-01", "2026-12-01"),
            ("2026-1-1", "2026-12-01"),
            ("2026-12-02", "2026-12-01"),
        ] {
            let response = server.gql(query, json!({ "from": from, "to": to })).await;
            assert_eq!(
                error_code(&response),
                Some("BAD_USER_INPUT"),
                "{from}..{to}: {response}"
            );
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn a_read_with_min_position_sees_the_write_just_made() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        open_account(&server, "w", "0", "USD").await;
        run(
            &server,
            "registerUser",
            json!({ "userId": "wu", "email": "wu@example.com", "name": "W" }),
        )
        .await;
        let query = "query($p: Long) {
            account(id: \"w\", minPosition: $p) { balance transactions(first: 1) { edges { node { balanceAfter } } } }
            transactions(accountId: \"w\", first: 1, minPosition: $p) { edges { node { balanceAfter } } }
            dailySummaries(minPosition: $p) { transactionCount }
            user(id: \"wu\", minPosition: $p) { name } }";
        for i in 1..=5 {
            let deposit = run(
                &server,
                "deposit",
                json!({ "accountId": "w", "amount": "1.00" }),
            )
            .await;
            let renamed = run(
                &server,
                "updateUser",
                json!({ "userId": "wu", "name": format!("W{i}") }),
            )
            .await;
            let p = deposit["position"]
                .as_i64()
                .unwrap()
                .max(renamed["position"].as_i64().unwrap());
            let response = server.gql(query, json!({ "p": p })).await;
            let data = TestServer::data(&response);
            let balance = format!("{i}.00");
            assert_eq!(data["account"]["balance"], balance.as_str(), "{}", db.name);
            assert_eq!(
                data["account"]["transactions"]["edges"][0]["node"]["balanceAfter"],
                balance.as_str()
            );
            assert_eq!(
                data["transactions"]["edges"][0]["node"]["balanceAfter"],
                balance.as_str()
            );
            assert_eq!(data["dailySummaries"][0]["transactionCount"], i + 1);
            assert_eq!(data["user"]["name"], format!("W{i}"));
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn a_min_position_beyond_the_log_fails_with_consistency_timeout() {
    for db in databases().await {
        let mut limits = Config::default();
        limits.api.consistency_timeout_ms = 200;
        let server = TestServer::start_with(&db, limits).await;
        open_account(&server, "f", "1.00", "USD").await;
        let ahead = head(&server).await + 1000;
        for field in [
            "account(id: \"f\", minPosition: $p) { id }",
            "accounts(minPosition: $p) { edges { cursor } }",
            "transactions(accountId: \"f\", minPosition: $p) { edges { cursor } }",
            "dailySummaries(minPosition: $p) { date }",
            "user(id: \"u\", minPosition: $p) { id }",
            "users(minPosition: $p) { edges { cursor } }",
        ] {
            let started = std::time::Instant::now();
            let response = server
                .gql(
                    &format!("query($p: Long) {{ {field} }}"),
                    json!({ "p": ahead }),
                )
                .await;
            assert_eq!(
                error_code(&response),
                Some("CONSISTENCY_TIMEOUT"),
                "{}: {field}: {response}",
                db.name
            );
            assert!(
                started.elapsed() < std::time::Duration::from_secs(3),
                "{field} waited too long"
            );
        }
        let negative = server
            .gql("{ users(minPosition: -1) { edges { cursor } } }", json!({}))
            .await;
        assert_eq!(error_code(&negative), Some("BAD_USER_INPUT"), "{negative}");
        server.stop().await;
    }
}

/// Pages through a list, first 2 at a time, calling `between` after each
/// page; returns every id seen, in order.
async fn page_through(
    server: &TestServer,
    query: &str,
    list: &str,
    mut between: impl AsyncFnMut(usize) -> i64,
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut after = Value::Null;
    let mut position = head(server).await;
    for page in 0.. {
        let response = server
            .gql(query, json!({ "after": after, "p": position }))
            .await;
        let data = TestServer::data(&response).clone();
        let connection = list.split('.').fold(data, |v, key| v[key].clone());
        seen.extend(ids(&connection));
        if connection["pageInfo"]["hasNextPage"] != true {
            return seen;
        }
        after = end_cursor(&connection);
        position = between(page).await;
    }
    unreachable!()
}

#[track_caller]
fn assert_each_once(seen: &[String], existing: &[&str], label: &str) {
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(
        unique.len(),
        seen.len(),
        "{label}: a row came twice: {seen:?}"
    );
    for id in existing {
        assert_eq!(
            seen.iter().filter(|s| s == id).count(),
            1,
            "{label}: {id} in {seen:?}"
        );
    }
}

#[tokio::test]
async fn cursors_stay_stable_while_rows_arrive_between_pages() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let existing = ["m-01", "m-03", "m-05", "m-07", "m-09"];
        for id in existing {
            open_account(&server, id, "1.00", "USD").await;
            let user = json!({ "userId": id, "email": format!("{id}@example.com"), "name": id });
            run(&server, "registerUser", user).await;
        }
        let newcomers = ["m-00", "m-02", "m-04", "m-06", "m-08", "m-10"];

        let accounts =
            "query($after: String, $p: Long) { accounts(first: 2, after: $after, minPosition: $p) {
            edges { cursor node { id } } pageInfo { hasNextPage } } }";
        let seen = page_through(&server, accounts, "accounts", async |page| {
            let mut last = 0;
            for id in &newcomers[page * 2..page * 2 + 2] {
                last = open_account(&server, id, "1.00", "USD").await["position"]
                    .as_i64()
                    .unwrap();
            }
            last
        })
        .await;
        assert_each_once(&seen, &existing, &format!("{} accounts", db.name));

        let users =
            "query($after: String, $p: Long) { users(first: 2, after: $after, minPosition: $p) {
            edges { cursor node { id } } pageInfo { hasNextPage } } }";
        let seen = page_through(&server, users, "users", async |page| {
            let mut last = 0;
            for id in &newcomers[page * 2..page * 2 + 2] {
                let user =
                    json!({ "userId": id, "email": format!("{id}@example.com"), "name": id });
                last = run(&server, "registerUser", user).await["position"]
                    .as_i64()
                    .unwrap();
            }
            last
        })
        .await;
        assert_each_once(&seen, &existing, &format!("{} users", db.name));

        // Transactions, newest first: new ones land before the cursor.
        for i in 0..5 {
            let input =
                json!({ "accountId": "m-01", "amount": "1.00", "description": format!("old {i}") });
            run(&server, "deposit", input).await;
        }
        let history = "query($p: Long) {
            transactions(accountId: \"m-01\", first: 1000, minPosition: $p) { edges { node { id } } } }";
        let response = server
            .gql(history, json!({ "p": head(&server).await }))
            .await;
        let before = ids(&TestServer::data(&response)["transactions"]);
        let before: Vec<&str> = before.iter().map(String::as_str).collect();
        let deposit_more = async |_page: usize| {
            run(
                &server,
                "deposit",
                json!({ "accountId": "m-01", "amount": "2.00" }),
            )
            .await["position"]
                .as_i64()
                .unwrap()
        };
        let top = "query($after: String, $p: Long) { transactions(accountId: \"m-01\", first: 2, after: $after, minPosition: $p) {
            edges { cursor node { id } } pageInfo { hasNextPage } } }";
        let seen = page_through(&server, top, "transactions", deposit_more).await;
        assert_eq!(seen, before, "{} transactions", db.name);
        let nested = "query($after: String, $p: Long) { account(id: \"m-01\", minPosition: $p) {
            transactions(first: 2, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage } } } }";
        let deposit_more = async |_page: usize| {
            run(
                &server,
                "deposit",
                json!({ "accountId": "m-01", "amount": "3.00" }),
            )
            .await["position"]
                .as_i64()
                .unwrap()
        };
        let seen = page_through(&server, nested, "account.transactions", deposit_more).await;
        let response = server
            .gql(history, json!({ "p": head(&server).await }))
            .await;
        let all = ids(&TestServer::data(&response)["transactions"]);
        let expected: Vec<String> = all[all.len() - seen.len()..].to_vec();
        assert_eq!(seen, expected, "{} Account.transactions", db.name);
        assert!(seen.len() >= before.len());
        server.stop().await;
    }
}
