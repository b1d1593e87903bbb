//! Commands racing each other over HTTP: retries of one command id, many
//! deposits on one account, opposite transfers between two accounts, and
//! users racing for one email.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use futures::future::join_all;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::commands_support::{
    balance_of, balances, command_record, open_account, send, stream_events,
};
use crate::common::{TestServer, databases, error_code};

/// Long enough for a slow CI machine, short enough to call a hang a hang.
const DEADLINE: Duration = Duration::from_secs(120);

/// Sends the same command `n` times at once; returns every response.
async fn race(server: &TestServer, n: usize, mutation: &str, input: Value) -> Vec<Value> {
    let sends = (0..n).map(|_| send(server, mutation, input.clone()));
    tokio::time::timeout(DEADLINE, join_all(sends))
        .await
        .expect("the racing requests finished")
}

/// Checks that every response is the same success; returns it.
#[track_caller]
fn all_the_same_success(responses: &[Value], mutation: &str, label: &str) -> Value {
    let first = TestServer::data(&responses[0])[mutation].clone();
    for (i, response) in responses.iter().enumerate() {
        let result = &TestServer::data(response)[mutation];
        assert_eq!(
            result, &first,
            "{label}: response {i} differs from the first"
        );
    }
    first
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_racing_retries_of_one_deposit_all_return_the_same_result_and_deposit_once() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let label = db.name;
        open_account(&server, "race", "0", "USD").await;
        let total = server.total_events().await;

        let input = json!({ "accountId": "race", "amount": "7.00", "commandId": "race-dep" });
        let responses = race(&server, 10, "deposit", input).await;
        let result = all_the_same_success(&responses, "deposit", label);
        assert_eq!(result["version"], 2, "{label}: {result}");
        assert_eq!(
            result["events"].as_array().map(Vec::len),
            Some(1),
            "{label}"
        );

        assert_eq!(server.total_events().await, total + 1, "{label}");
        let (version, events) = stream_events(&server, "account-race").await.expect("race");
        assert_eq!(version, 2, "{label}: deposited once");
        let deposits = events.iter().filter(|e| e["type"] == "MoneyDeposited");
        assert_eq!(deposits.count(), 1, "{label}");
        assert_eq!(balance_of(&server, "race").await, 700, "{label}");
        let record = command_record(&server, "race-dep").await;
        assert_eq!(record["status"], "SUCCEEDED", "{label}: {record}");
        assert_eq!(record["position"], result["position"], "{label}: {record}");

        server.stop().await;
    }
}

/// A retry that loses the race decides on the state its twin produced: the
/// account it opens exists, the money it withdraws is gone, the name it sets
/// is already set. It must still get the first answer, not a refusal or an
/// empty success.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_retries_that_their_own_success_would_refuse_or_make_a_no_op_all_return_the_first_result()
 {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let label = db.name;

        for round in 0..3 {
            let account = format!("race-{round}");
            let input = json!({ "accountId": account, "owner": "Ada", "initialBalance": "9.00",
                "commandId": format!("open-{round}") });
            let responses = race(&server, 10, "openAccount", input).await;
            let opened = all_the_same_success(&responses, "openAccount", label);
            assert_eq!(opened["version"], 1, "{label}: {opened}");

            let input = json!({ "accountId": account, "amount": "9.00",
                "commandId": format!("empty-{round}") });
            let responses = race(&server, 10, "withdraw", input).await;
            let emptied = all_the_same_success(&responses, "withdraw", label);
            assert_eq!(emptied["version"], 2, "{label}: {emptied}");

            let (version, _) = stream_events(&server, &format!("account-{account}"))
                .await
                .expect("the account");
            assert_eq!(version, 2, "{label}: opened once, withdrawn once");
            assert_eq!(balance_of(&server, &account).await, 0, "{label}");

            let user = format!("racer-{round}");
            let input = json!({ "userId": user, "email": format!("{user}@example.com"),
                "name": "Ada", "commandId": format!("register-{round}") });
            let responses = race(&server, 10, "registerUser", input).await;
            let registered = all_the_same_success(&responses, "registerUser", label);
            assert_eq!(registered["version"], 1, "{label}: {registered}");

            let input = json!({ "userId": user, "name": "Ada L",
                "commandId": format!("rename-{round}") });
            let responses = race(&server, 10, "updateUser", input).await;
            let renamed = all_the_same_success(&responses, "updateUser", label);
            assert_eq!(renamed["version"], 2, "{label}: {renamed}");
            assert_eq!(
                renamed["events"].as_array().map(Vec::len),
                Some(1),
                "{label}"
            );
        }

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_deposits_to_one_account_all_succeed_each_at_its_own_version() {
    const DEPOSITS: i64 = 50;
    let mut refusals = Vec::new();
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let label = db.name;
        open_account(&server, "busy", "10.00", "USD").await;

        let input = json!({ "accountId": "busy", "amount": "1.00" });
        let sends = (0..DEPOSITS).map(|_| send(&server, "deposit", input.clone()));
        let responses = tokio::time::timeout(DEADLINE, join_all(sends))
            .await
            .expect("the deposits finished");
        let mut versions = BTreeSet::new();
        let mut positions = BTreeSet::new();
        let mut refused = Vec::new();
        for response in &responses {
            if error_code(response).is_some() {
                refused.push(response["errors"][0]["message"].clone());
                continue;
            }
            let result = &TestServer::data(response)["deposit"];
            versions.insert(result["version"].as_i64().expect("version"));
            positions.insert(result["position"].as_i64().expect("position"));
        }
        // What did commit is consistent either way...
        let succeeded = DEPOSITS - refused.len() as i64;
        let expected: BTreeSet<i64> = (2..=succeeded + 1).collect();
        assert_eq!(versions, expected, "{label}: one version each");
        assert_eq!(positions.len() as i64, succeeded, "{label}");
        let (version, events) = stream_events(&server, "account-busy").await.expect("busy");
        assert_eq!(version, succeeded + 1, "{label}");
        assert_eq!(events.len() as i64, succeeded + 1, "{label}");
        let deposited: i64 = events
            .iter()
            .filter(|e| e["type"] == "MoneyDeposited")
            .map(|e| e["data"]["amount"].as_i64().expect("amount"))
            .sum();
        assert_eq!(deposited, succeeded * 100, "{label}");
        assert_eq!(
            balances(&events).last().copied(),
            Some(1000 + succeeded * 100),
            "{label}"
        );
        // ...and nothing was refused (checked once every database ran):
        // without an expectedVersion a deposit has no version to conflict
        // with.
        refusals.push((label, refused.len(), refused.first().cloned()));

        server.stop().await;
    }
    assert!(
        refusals.iter().all(|(_, n, _)| *n == 0),
        "deposits refused of {DEPOSITS} (database, count, first): {refusals:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_opposite_transfers_all_finish_conserve_money_and_never_overdraw() {
    const EACH_WAY: usize = 20;
    const OPENING: i64 = 10_000;
    let mut refusals = Vec::new();
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let label = db.name;
        open_account(&server, "a", "100.00", "USD").await;
        open_account(&server, "b", "100.00", "USD").await;

        // At most 5.00 each, so 20 of them can never overdraw 100.00: every
        // transfer must succeed, whatever order they commit in.
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let transfers: Vec<(&str, &str, i64)> = (0..2 * EACH_WAY)
            .map(|i| {
                let cents = rng.random_range(1..=500);
                if i % 2 == 0 {
                    ("a", "b", cents)
                } else {
                    ("b", "a", cents)
                }
            })
            .collect();
        let sends = transfers.iter().map(|(from, to, cents)| {
            let amount = format!("{}.{:02}", cents / 100, cents % 100);
            let input = json!({ "fromAccountId": from, "toAccountId": to, "amount": amount });
            send(&server, "transfer", input)
        });
        let responses = tokio::time::timeout(DEADLINE, join_all(sends))
            .await
            .expect("no deadlock: every transfer finished");

        let mut sent: HashMap<String, (&str, i64)> = HashMap::new();
        let mut refused = Vec::new();
        for (response, (from, _, cents)) in responses.iter().zip(&transfers) {
            if error_code(response).is_some() {
                refused.push(response["errors"][0]["message"].clone());
                continue;
            }
            let result = &TestServer::data(response)["transfer"];
            assert_eq!(result["streamId"], format!("account-{from}"), "{label}");
            let events = result["events"].as_array().expect("events");
            assert_eq!(events.len(), 2, "{label}: {result}");
            let id = &events[0]["data"]["transferId"];
            assert_eq!(id, &events[1]["data"]["transferId"], "{label}: {result}");
            assert_eq!(events[1]["data"]["amount"], *cents, "{label}: {result}");
            sent.insert(id.as_str().expect("transferId").to_owned(), (from, *cents));
        }
        let succeeded = 2 * EACH_WAY - refused.len();
        assert_eq!(sent.len(), succeeded, "{label}: one transfer id each");

        // Whatever committed, committed whole: both sides of each transfer,
        // money conserved, no balance ever below zero.
        let mut finals = Vec::new();
        for account in ["a", "b"] {
            let stream = format!("account-{account}");
            let (version, events) = stream_events(&server, &stream).await.expect("account");
            assert_eq!(version, 1 + succeeded as i64, "{label} {account}");
            let history = balances(&events);
            assert!(
                history.iter().all(|b| *b >= 0),
                "{label} {account}: never negative: {history:?}"
            );
            for event in &events[1..] {
                let id = event["data"]["transferId"].as_str().expect("transferId");
                let (from, cents) = sent[id];
                let out = event["type"] == "MoneyTransferredOut";
                assert_eq!(out, from == account, "{label} {account}: {event}");
                assert_eq!(event["data"]["amount"], cents, "{label}: {event}");
            }
            finals.push(*history.last().expect("a balance"));
        }
        assert_eq!(
            finals.iter().sum::<i64>(),
            2 * OPENING,
            "{label}: conserved"
        );
        let moved = |from: &str| -> i64 {
            sent.values()
                .filter(|(f, _)| *f == from)
                .map(|(_, cents)| cents)
                .sum()
        };
        assert_eq!(finals[0], OPENING - moved("a") + moved("b"), "{label}");
        // No transfer could overdraw and none names a version: all must
        // succeed (checked once every database ran).
        refusals.push((label, refused.len(), refused.first().cloned()));

        server.stop().await;
    }
    assert!(
        refusals.iter().all(|(_, n, _)| *n == 0),
        "transfers refused of {} (database, count, first): {refusals:?}",
        2 * EACH_WAY
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn users_racing_to_register_one_email_leave_exactly_one_holder() {
    const USERS: usize = 10;
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let label = db.name;

        let sends = (0..USERS).map(|i| {
            let input = json!({ "userId": format!("racer-{i}"), "email": "One@Example.com",
                "name": format!("Racer {i}") });
            send(&server, "registerUser", input)
        });
        let responses = tokio::time::timeout(DEADLINE, join_all(sends))
            .await
            .expect("the registrations finished");
        let codes: Vec<Option<&str>> = responses.iter().map(error_code).collect();
        let winners = codes.iter().filter(|c| c.is_none()).count();
        assert_eq!(winners, 1, "{label}: {codes:?}");
        assert!(
            codes.iter().flatten().all(|c| *c == "ALREADY_EXISTS"),
            "{label}: {codes:?}"
        );
        assert_eq!(
            server.total_events().await,
            2,
            "{label}: one user, one reservation"
        );

        server.stop().await;
    }
}
