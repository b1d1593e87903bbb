//! The projections as a whole: every read model equals a fold of the log
//! for random command sequences; pause, resume and rebuild; a failing
//! projection stops at its event while the others go on.

use chronicle::{ExpectedVersion, NewEvent, StreamId};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

use crate::commands_support::send;
use crate::common::{TestServer, databases, error_code};
use crate::read_model_fold::{
    PROJECTIONS, fold, head, log, money, projection, read, whole_read_models,
};

#[derive(Clone, Debug)]
enum Cmd {
    Open { account: u8, amount: i64, yen: bool },
    Deposit { account: u8, amount: i64 },
    Withdraw { account: u8, amount: i64 },
    Transfer { from: u8, to: u8, amount: i64 },
    Close { account: u8 },
    Register { user: u8 },
    Update { user: u8, email: bool },
    Delete { user: u8 },
}

fn command() -> impl Strategy<Value = Cmd> {
    let account = 0u8..4;
    let user = 0u8..3;
    let amount = 1i64..800;
    prop_oneof![
        3 => (account.clone(), 0i64..2000, any::<bool>())
            .prop_map(|(account, amount, yen)| Cmd::Open { account, amount, yen: yen && account == 3 }),
        3 => (account.clone(), amount.clone()).prop_map(|(account, amount)| Cmd::Deposit { account, amount }),
        2 => (account.clone(), amount.clone()).prop_map(|(account, amount)| Cmd::Withdraw { account, amount }),
        3 => (account.clone(), account.clone(), amount)
            .prop_map(|(from, to, amount)| Cmd::Transfer { from, to, amount }),
        1 => account.prop_map(|account| Cmd::Close { account }),
        2 => user.clone().prop_map(|user| Cmd::Register { user }),
        2 => (user.clone(), any::<bool>()).prop_map(|(user, email)| Cmd::Update { user, email }),
        1 => user.prop_map(|user| Cmd::Delete { user }),
    ]
}

/// Sends one command of case `case`; a rejection is fine (the fold is of
/// what was stored), an internal error is not.
async fn run(server: &TestServer, case: u32, cmd: &Cmd, step: usize) -> Result<(), TestCaseError> {
    let account = |n: &u8| format!("c{case}-a{n}");
    let user = |n: &u8| format!("c{case}-u{n}");
    // Account 3 may be in yen: amounts are then whole units.
    let amount = |n: &u8, minor: &i64| {
        if *n == 3 {
            minor.to_string()
        } else {
            money(*minor, "USD")
        }
    };
    let (mutation, input) = match cmd {
        Cmd::Open {
            account: n,
            amount: a,
            yen,
        } => {
            let currency = if *yen { "JPY" } else { "USD" };
            let initial = if *yen {
                a.to_string()
            } else {
                money(*a, currency)
            };
            let input = json!({ "accountId": account(n), "owner": format!("owner {n}"),
                "initialBalance": initial, "currency": currency });
            ("openAccount", input)
        }
        Cmd::Deposit {
            account: n,
            amount: a,
        } => {
            let input = json!({ "accountId": account(n), "amount": amount(n, a),
                "description": format!("deposit {step}") });
            ("deposit", input)
        }
        Cmd::Withdraw {
            account: n,
            amount: a,
        } => (
            "withdraw",
            json!({ "accountId": account(n), "amount": amount(n, a) }),
        ),
        Cmd::Transfer {
            from,
            to,
            amount: a,
        } => {
            let input = json!({ "fromAccountId": account(from), "toAccountId": account(to),
                "amount": amount(from, a), "description": "transfer" });
            ("transfer", input)
        }
        Cmd::Close { account: n } => ("closeAccount", json!({ "accountId": account(n) })),
        Cmd::Register { user: n } => {
            let input = json!({ "userId": user(n), "email": format!("{}@example.com", user(n)),
                "name": format!("User {n}") });
            ("registerUser", input)
        }
        Cmd::Update { user: n, email } => {
            let input = if *email {
                json!({ "userId": user(n), "email": format!("{}-{step}@example.com", user(n)) })
            } else {
                json!({ "userId": user(n), "name": format!("User {n} v{step}") })
            };
            ("updateUser", input)
        }
        Cmd::Delete { user: n } => ("deleteUser", json!({ "userId": user(n) })),
    };
    let response = send(server, mutation, input).await;
    prop_assert_ne!(
        error_code(&response),
        Some("INTERNAL"),
        "{:?}: {}",
        cmd,
        response
    );
    Ok(())
}

#[test]
fn every_read_model_equals_a_fold_of_the_log_after_random_commands() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    for db in rt.block_on(databases()) {
        let server = rt.block_on(TestServer::start_with(&db, whole_read_models()));
        let config = Config {
            cases: 16,
            failure_persistence: None,
            ..Config::default()
        };
        let mut runner = TestRunner::new(config);
        // Cases share the server (each works on its own ids) and compare
        // everything, so an earlier case's rows are checked again.
        let cases = std::cell::Cell::new(0);
        let strategy = prop::collection::vec(command(), 1..=30);
        let result = runner.run(&strategy, |commands| {
            let case = cases.get() + 1;
            cases.set(case);
            rt.block_on(async {
                for (step, cmd) in commands.iter().enumerate() {
                    run(&server, case, cmd, step).await?;
                }
                let head = head(&server).await;
                let expected = fold(&log(&server).await);
                let actual = read(&server, head).await;
                prop_assert_eq!(actual, expected, "{} after {:?}", db.name, commands);
                Ok(())
            })
        });
        rt.block_on(server.stop());
        if let Err(err) = result {
            panic!("{err}");
        }
    }
}

#[tokio::test]
async fn a_paused_projection_falls_behind_and_catches_up_when_resumed() {
    for db in databases().await {
        let mut limits = chronicle::Config::default();
        limits.api.consistency_timeout_ms = 200;
        let server = TestServer::start_with(&db, limits).await;
        let opened = send(
            &server,
            "openAccount",
            json!({ "accountId": "p", "owner": "Ada",
            "initialBalance": "10.00", "currency": "USD" }),
        )
        .await;
        TestServer::data(&opened);
        let pause = "mutation { pauseProjection(name: \"AccountBalances\") { status } }";
        let paused = server.gql(pause, json!({})).await;
        assert_eq!(
            TestServer::data(&paused)["pauseProjection"]["status"],
            "PAUSED"
        );

        let deposit = send(
            &server,
            "deposit",
            json!({ "accountId": "p", "amount": "5.00" }),
        )
        .await;
        let position = TestServer::data(&deposit)["deposit"]["position"]
            .as_i64()
            .unwrap();
        let status = projection(&server, "AccountBalances").await;
        assert_eq!(status["status"], "PAUSED", "{}: {status}", db.name);
        assert!(
            status["lag"].as_i64().unwrap() >= 1,
            "{}: {status}",
            db.name
        );
        assert!(status["position"].as_i64().unwrap() < position, "{status}");

        let account = "query($p: Long) { account(id: \"p\", minPosition: $p) { balance } }";
        let late = server.gql(account, json!({ "p": position })).await;
        assert_eq!(
            error_code(&late),
            Some("CONSISTENCY_TIMEOUT"),
            "{}: {late}",
            db.name
        );
        // The others are not paused.
        let history = "query($p: Long) { transactions(accountId: \"p\", minPosition: $p) { edges { node { kind } } } }";
        let seen = server.gql(history, json!({ "p": position })).await;
        assert_eq!(
            TestServer::data(&seen)["transactions"]["edges"][0]["node"]["kind"],
            "DEPOSIT"
        );

        let resume = "mutation { resumeProjection(name: \"AccountBalances\") { status } }";
        let resumed = server.gql(resume, json!({})).await;
        assert_ne!(
            TestServer::data(&resumed)["resumeProjection"]["status"],
            "PAUSED"
        );
        let caught_up = server.gql(account, json!({ "p": position })).await;
        assert_eq!(
            TestServer::data(&caught_up)["account"]["balance"],
            "15.00",
            "{}",
            db.name
        );
        let status = projection(&server, "AccountBalances").await;
        assert_eq!(status["lag"], 0, "{}: {status}", db.name);
        server.stop().await;
    }
}

#[tokio::test]
async fn a_rebuild_while_clients_write_ends_equal_to_the_fold_of_the_log() {
    for db in databases().await {
        let server = TestServer::start_with(&db, whole_read_models()).await;
        for id in ["r1", "r2", "r3"] {
            let input = json!({ "accountId": id, "owner": "Ada", "initialBalance": "100.00" });
            TestServer::data(&send(&server, "openAccount", input).await);
        }
        let user = json!({ "userId": "ru", "email": "ru@example.com", "name": "Ru" });
        TestServer::data(&send(&server, "registerUser", user).await);
        // Events no read model keeps, so that a replay takes a few batches.
        let noise: Vec<Value> = (0..1200)
            .map(|i| json!({ "type": "Noise", "data": { "i": i } }))
            .collect();
        server.append("noise-1", json!(noise)).await;

        let writes = async {
            for i in 0..40 {
                let (mutation, input) = match i % 4 {
                    0 => ("deposit", json!({ "accountId": "r1", "amount": "1.00" })),
                    1 => (
                        "transfer",
                        json!({ "fromAccountId": "r1", "toAccountId": "r2", "amount": "0.50" }),
                    ),
                    2 => ("withdraw", json!({ "accountId": "r3", "amount": "0.25" })),
                    _ => (
                        "updateUser",
                        json!({ "userId": "ru", "name": format!("Ru {i}") }),
                    ),
                };
                TestServer::data(&send(&server, mutation, input).await);
            }
        };
        let rebuilds = async {
            for name in PROJECTIONS {
                let rebuild =
                    "mutation($name: String!) { rebuildProjection(name: $name) { status } }";
                let response = server.gql(rebuild, json!({ "name": name })).await;
                let status = &TestServer::data(&response)["rebuildProjection"]["status"];
                assert_eq!(status, "REBUILDING", "{} {name}", db.name);
            }
        };
        tokio::join!(writes, rebuilds);

        let head = head(&server).await;
        assert_eq!(
            read(&server, head).await,
            fold(&log(&server).await),
            "{}",
            db.name
        );
        for name in PROJECTIONS {
            let mut status = projection(&server, name).await;
            for _ in 0..100 {
                if status["status"] == "RUNNING" {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                status = projection(&server, name).await;
            }
            assert_eq!(status["status"], "RUNNING", "{} {name}: {status}", db.name);
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn a_malformed_account_event_fails_the_account_read_models_at_its_position_only() {
    for db in databases().await {
        // appendEvents refuses the account category, so the bad event goes
        // in through the store, before the server starts.
        let store = db.store().await;
        let opened = json!({ "owner": "Ada", "currency": "USD", "initialBalance": 100 });
        let good = StreamId::parse("account-ok").unwrap();
        store
            .append(
                good,
                ExpectedVersion::NoStream,
                vec![NewEvent::new("AccountOpened", opened)],
            )
            .await
            .unwrap();
        let bad = StreamId::parse("account-x").unwrap();
        // MoneyWithdrawn is at its first schema, so no upcaster reads it
        // on the way: only the projections decoding it can fail on it.
        let garbage = NewEvent::new("MoneyWithdrawn", json!({ "amount": "lots" }));
        let outcome = store
            .append(bad, ExpectedVersion::Any, vec![garbage])
            .await
            .unwrap();
        let bad_position = outcome.position;
        drop(store);
        let server = TestServer::start(&db).await;

        let user = json!({ "userId": "fu", "email": "fu@example.com", "name": "Fu" });
        let registered = send(&server, "registerUser", user).await;
        let position = TestServer::data(&registered)["registerUser"]["position"]
            .as_i64()
            .unwrap();
        let query = "query($p: Long) { user(id: \"fu\", minPosition: $p) { name } }";
        let found = server.gql(query, json!({ "p": position })).await;
        assert_eq!(
            TestServer::data(&found)["user"]["name"],
            "Fu",
            "{}",
            db.name
        );

        for name in ["AccountBalances", "TransactionHistory", "DailySummary"] {
            let mut status = projection(&server, name).await;
            for _ in 0..100 {
                if status["status"] == "FAILED" {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                status = projection(&server, name).await;
            }
            assert_eq!(status["status"], "FAILED", "{} {name}: {status}", db.name);
            assert_eq!(status["failedPosition"], bad_position, "{name}: {status}");
            assert_eq!(status["position"], bad_position - 1, "{name}: {status}");
            let error = status["lastError"].as_str().unwrap_or_default();
            assert!(error.contains("MoneyWithdrawn"), "{name}: {status}");
        }
        let users = projection(&server, "Users").await;
        assert_eq!(users["status"], "RUNNING", "{}: {users}", db.name);
        assert!(users["position"].as_i64().unwrap() >= position, "{users}");
        // What precedes the bad event is applied.
        let account = server
            .gql("{ account(id: \"ok\") { balance } }", json!({}))
            .await;
        assert_eq!(TestServer::data(&account)["account"]["balance"], "1.00");
        server.stop().await;
    }
}
