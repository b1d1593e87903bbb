//! A command id is an idempotency key: a retry gets the first answer,
//! success or rejection, and appends nothing; the id cannot be reused for
//! another command. (Racing retries: `commands_concurrency.rs`.)

use serde_json::{Value, json};

use crate::commands_support::{balance_of, command_record, open_account, run, send, stream_events};
use crate::common::{TestServer, databases, error_code};

/// Sends a command and its retry; checks that the retry returns the same
/// result and appends nothing. Returns the result.
async fn run_twice(server: &TestServer, mutation: &str, input: Value, label: &str) -> Value {
    let first = run(server, mutation, input.clone()).await;
    let total = server.total_events().await;
    let retry = run(server, mutation, input).await;
    assert_eq!(retry, first, "{label} {mutation}: the retry's result");
    assert_eq!(
        server.total_events().await,
        total,
        "{label} {mutation}: the retry appends nothing"
    );
    first
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_any_command_with_its_id_and_input_returns_the_first_result_and_appends_once() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let label = db.name;
        let mut sent: Vec<(&str, Value, Value)> = Vec::new();

        // No account id: the retry must not open a second, generated one.
        let input = json!({ "owner": "Ada", "initialBalance": "10.00", "commandId": "i-open-a" });
        let result = run_twice(&server, "openAccount", input.clone(), label).await;
        let a = result["streamId"].as_str().expect("streamId")["account-".len()..].to_owned();
        sent.push(("openAccount", input, result));

        let commands = [
            (
                "openAccount",
                json!({ "accountId": "i-b", "owner": "Bob", "commandId": "i-open-b" }),
            ),
            (
                "deposit",
                json!({ "accountId": a, "amount": "5.00", "commandId": "i-dep" }),
            ),
            (
                "withdraw",
                json!({ "accountId": a, "amount": "1.00", "commandId": "i-wd" }),
            ),
            (
                "transfer",
                json!({ "fromAccountId": a, "toAccountId": "i-b", "amount": "2.00",
                    "commandId": "i-tr" }),
            ),
            (
                "withdraw",
                json!({ "accountId": "i-b", "amount": "2.00", "commandId": "i-wd-b" }),
            ),
            (
                "closeAccount",
                json!({ "accountId": "i-b", "commandId": "i-close" }),
            ),
            (
                "registerUser",
                json!({ "email": "ada@example.com", "name": "Ada", "commandId": "i-reg" }),
            ),
        ];
        for (mutation, input) in commands {
            let result = run_twice(&server, mutation, input.clone(), label).await;
            sent.push((mutation, input, result));
        }
        let user = sent.last().expect("registered").2["streamId"]
            .as_str()
            .expect("streamId")["user-".len()..]
            .to_owned();
        let commands = [
            (
                "updateUser",
                json!({ "userId": user, "name": "Ada L", "commandId": "i-upd" }),
            ),
            // Changes nothing, and says so again on a retry.
            (
                "updateUser",
                json!({ "userId": user, "name": "Ada L", "commandId": "i-noop" }),
            ),
            (
                "deleteUser",
                json!({ "userId": user, "commandId": "i-del" }),
            ),
        ];
        for (mutation, input) in commands {
            let result = run_twice(&server, mutation, input.clone(), label).await;
            sent.push((mutation, input, result));
        }
        assert_eq!(
            balance_of(&server, &a).await,
            1000 + 500 - 100 - 200,
            "{label}"
        );
        let (version, _) = stream_events(&server, &format!("account-{a}"))
            .await
            .expect("a");
        assert_eq!(version, 4, "{label}: one event per command");

        // Late retries, after every aggregate moved on (the account exists,
        // is closed, the user is deleted), still get the first answers.
        let total = server.total_events().await;
        for (mutation, input, first) in &sent {
            let retry = run(&server, mutation, input.clone()).await;
            assert_eq!(&retry, first, "{label}: late retry of {mutation} {input}");
            let id = input["commandId"].as_str().expect("commandId");
            let record = command_record(&server, id).await;
            let what = format!("{label}: {record}");
            assert_eq!(record["type"], *mutation, "{what}");
            assert_eq!(record["status"], "SUCCEEDED", "{what}");
            assert_eq!(record["errorCode"], Value::Null, "{what}");
            assert_eq!(record["streamId"], first["streamId"], "{what}");
            assert_eq!(record["version"], first["version"], "{what}");
            assert_eq!(record["position"], first["position"], "{what}");
        }
        assert_eq!(server.total_events().await, total, "{label}");

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reusing_a_command_id_for_another_input_or_command_is_bad_user_input_and_appends_nothing() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        open_account(&server, "r", "10.00", "USD").await;
        let deposit = json!({ "accountId": "r", "amount": "5.00", "commandId": "used" });
        let first = run(&server, "deposit", deposit.clone()).await;
        let refused = json!({ "accountId": "r", "amount": "50.00", "commandId": "refused" });
        let label = format!("{} overdraw", db.name);
        let refusal = send(&server, "withdraw", refused.clone()).await;
        assert_eq!(
            error_code(&refusal),
            Some("INSUFFICIENT_FUNDS"),
            "{label}: {refusal}"
        );

        let cases = [
            (
                "deposit",
                json!({ "accountId": "r", "amount": "6.00", "commandId": "used" }),
                "another amount",
            ),
            (
                "deposit",
                json!({ "accountId": "r", "amount": "5.00", "description": "x", "commandId": "used" }),
                "an added description",
            ),
            (
                "deposit",
                json!({ "accountId": "r", "amount": "5.00", "expectedVersion": 2, "commandId": "used" }),
                "an added expected version",
            ),
            ("withdraw", deposit.clone(), "another command"),
            (
                "openAccount",
                json!({ "accountId": "r2", "owner": "Ada", "commandId": "used" }),
                "another command",
            ),
            (
                "withdraw",
                json!({ "accountId": "r", "amount": "1.00", "commandId": "refused" }),
                "a refused command's id",
            ),
        ];
        for (mutation, input, why) in cases {
            let label = format!("{} {mutation} {input}: {why}", db.name);
            let total = server.total_events().await;
            let response = send(&server, mutation, input).await;
            assert_eq!(
                error_code(&response),
                Some("BAD_USER_INPUT"),
                "{label}: {response}"
            );
            let message = response["errors"][0]["message"].as_str().unwrap_or("");
            assert!(message.contains("commandId"), "{label}: {response}");
            assert_eq!(server.total_events().await, total, "{label}");
        }

        // The ids still belong to their first commands.
        let record = command_record(&server, "used").await;
        assert_eq!(record["type"], "deposit", "{}: {record}", db.name);
        assert_eq!(record["status"], "SUCCEEDED", "{}: {record}", db.name);
        assert_eq!(run(&server, "deposit", deposit).await, first, "{}", db.name);
        let record = command_record(&server, "refused").await;
        assert_eq!(record["type"], "withdraw", "{}: {record}", db.name);
        assert_eq!(record["errorCode"], "INSUFFICIENT_FUNDS", "{}", db.name);
        assert_eq!(balance_of(&server, "r").await, 1500, "{}", db.name);
        assert!(
            stream_events(&server, "account-r2").await.is_none(),
            "{}",
            db.name
        );

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_a_rejected_command_returns_the_same_error_even_after_its_cause_is_gone() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        open_account(&server, "low", "10.00", "USD").await;
        run(
            &server,
            "deposit",
            json!({ "accountId": "low", "amount": "1.00" }),
        )
        .await;
        run(
            &server,
            "registerUser",
            json!({ "userId": "holder", "email": "taken@example.com", "name": "H" }),
        )
        .await;

        // Each command, and what removes the reason it was refused.
        let cases = [
            (
                "withdraw",
                json!({ "accountId": "low", "amount": "50.00", "commandId": "r-funds" }),
                "INSUFFICIENT_FUNDS",
                ("deposit", json!({ "accountId": "low", "amount": "100.00" })),
            ),
            (
                "deposit",
                json!({ "accountId": "later", "amount": "1.00", "commandId": "r-missing" }),
                "NOT_FOUND",
                (
                    "openAccount",
                    json!({ "accountId": "later", "owner": "Ada" }),
                ),
            ),
            (
                "registerUser",
                json!({ "userId": "second", "email": "TAKEN@example.com", "name": "S",
                    "commandId": "r-taken" }),
                "ALREADY_EXISTS",
                ("deleteUser", json!({ "userId": "holder" })),
            ),
            (
                "deposit",
                json!({ "accountId": "low", "amount": "1.00", "expectedVersion": 1,
                    "commandId": "r-stale" }),
                "CONCURRENCY_CONFLICT",
                ("withdraw", json!({ "accountId": "low", "amount": "0.01" })),
            ),
            (
                "deposit",
                json!({ "accountId": "low", "amount": "abc", "commandId": "r-bad" }),
                "BAD_USER_INPUT",
                ("deposit", json!({ "accountId": "low", "amount": "0.01" })),
            ),
        ];
        for (mutation, input, code, (fix, fix_input)) in cases {
            let label = format!("{} {mutation} {input}", db.name);
            let total = server.total_events().await;
            let first = send(&server, mutation, input.clone()).await;
            assert_eq!(error_code(&first), Some(code), "{label}: {first}");
            assert_eq!(server.total_events().await, total, "{label}");

            run(&server, fix, fix_input).await;
            let total = server.total_events().await;
            let retry = send(&server, mutation, input.clone()).await;
            assert_eq!(error_code(&retry), Some(code), "{label}: retry {retry}");
            if code != "CONCURRENCY_CONFLICT" {
                assert_eq!(
                    retry["errors"][0]["message"], first["errors"][0]["message"],
                    "{label}: the same message"
                );
            }
            assert_eq!(
                server.total_events().await,
                total,
                "{label}: the retry appends nothing"
            );
            let id = input["commandId"].as_str().expect("commandId");
            let record = command_record(&server, id).await;
            assert_eq!(record["status"], "REJECTED", "{label}: {record}");
            assert_eq!(record["errorCode"], code, "{label}: {record}");
        }
        // Under a new id the same deposit passes: the retry's NOT_FOUND came
        // from the log, not from the account.
        let fresh = json!({ "accountId": "later", "amount": "1.00" });
        let result = run(&server, "deposit", fresh).await;
        assert_eq!(result["version"], 2, "{}", db.name);

        server.stop().await;
    }
}
