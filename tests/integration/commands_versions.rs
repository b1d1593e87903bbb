//! A command's expectedVersion over HTTP: a stale one is refused with
//! CONCURRENCY_CONFLICT, naming the stream and both versions, and appends
//! nothing; the right one passes.

use serde_json::json;

use crate::commands_support::{assert_rejected, balance_of, open_account, run};
use crate::common::{TestServer, databases};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_expected_version_on_an_account_is_a_concurrency_conflict_with_expected_and_actual()
{
    for db in databases().await {
        let server = TestServer::start(&db).await;
        open_account(&server, "cv", "10.00", "USD").await;
        run(
            &server,
            "deposit",
            json!({ "accountId": "cv", "amount": "1.00" }),
        )
        .await;

        let cases = [
            (
                "deposit",
                json!({ "accountId": "cv", "amount": "1.00", "expectedVersion": 1 }),
                1,
            ),
            (
                "withdraw",
                json!({ "accountId": "cv", "amount": "1.00", "expectedVersion": "5" }),
                5,
            ),
            (
                "closeAccount",
                json!({ "accountId": "cv", "expectedVersion": 0 }),
                0,
            ),
        ];
        for (mutation, input, expected) in cases {
            let label = format!("{} {mutation} {input}", db.name);
            let response =
                assert_rejected(&server, mutation, input, "CONCURRENCY_CONFLICT", &label).await;
            let extensions = &response["errors"][0]["extensions"];
            assert_eq!(extensions["expected"], expected, "{label}: {response}");
            assert_eq!(extensions["actual"], 2, "{label}: {response}");
            assert_eq!(extensions["streamId"], "account-cv", "{label}: {response}");
        }
        assert_eq!(balance_of(&server, "cv").await, 1100, "{}", db.name);

        let input = json!({ "accountId": "cv", "amount": "1.00", "expectedVersion": 2 });
        let result = run(&server, "deposit", input).await;
        assert_eq!(
            result["version"], 3,
            "{}: the right version passes",
            db.name
        );

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_expected_version_on_a_user_is_a_concurrency_conflict_with_expected_and_actual() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let input = json!({ "userId": "u-v", "email": "vera@example.com", "name": "V" });
        run(&server, "registerUser", input).await;
        run(
            &server,
            "updateUser",
            json!({ "userId": "u-v", "name": "Vera" }),
        )
        .await;

        let cases = [
            (
                "updateUser",
                json!({ "userId": "u-v", "name": "V", "expectedVersion": 1 }),
                1,
            ),
            (
                "deleteUser",
                json!({ "userId": "u-v", "expectedVersion": 3 }),
                3,
            ),
        ];
        for (mutation, input, expected) in cases {
            let label = format!("{} {mutation} {input}", db.name);
            let response =
                assert_rejected(&server, mutation, input, "CONCURRENCY_CONFLICT", &label).await;
            let extensions = &response["errors"][0]["extensions"];
            assert_eq!(extensions["expected"], expected, "{label}: {response}");
            assert_eq!(extensions["actual"], 2, "{label}: {response}");
            assert_eq!(extensions["streamId"], "user-u-v", "{label}: {response}");
        }
        let input = json!({ "userId": "u-v", "name": "V", "expectedVersion": 2 });
        let result = run(&server, "updateUser", input).await;
        assert_eq!(result["version"], 3, "{}", db.name);

        server.stop().await;
    }
}
