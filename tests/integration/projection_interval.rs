//! The projection interval (`--projection-interval-ms`): turns a minute
//! apart, so that anything that waited for the next turn would show. A
//! read given `minPosition` and a pause must not.

use chronicle::Config;
use serde_json::json;

use crate::commands_support::{open_account, run};
use crate::common::{TestDb, TestServer, databases};

/// A server whose read models apply new commits at most once a minute.
async fn paced(db: &TestDb) -> TestServer {
    let mut config = Config::default();
    config.projections.projection_interval_ms = 60_000;
    config.api.consistency_timeout_ms = 2_000;
    TestServer::start_with(db, config).await
}

/// Deposits one unit to `account` and returns the mutation's payload.
async fn deposit(server: &TestServer, account: &str) -> serde_json::Value {
    run(
        server,
        "deposit",
        json!({ "accountId": account, "amount": "1.00" }),
    )
    .await
}

/// Each read with `minPosition` sees its write at once: it hurries the
/// next turn instead of waiting it out.
#[tokio::test]
async fn a_read_with_min_position_does_not_wait_out_the_projection_interval() {
    for db in databases().await {
        let server = paced(&db).await;
        open_account(&server, "iv", "0", "USD").await;
        let query = "query($p: Long) { account(id: \"iv\", minPosition: $p) { balance } }";
        for i in 1..=3 {
            let deposited = deposit(&server, "iv").await;
            let response = server
                .gql(query, json!({ "p": deposited["position"] }))
                .await;
            assert_eq!(
                TestServer::data(&response)["account"]["balance"],
                format!("{i}.00").as_str(),
                "{}: {response}",
                db.name
            );
        }
        server.stop().await;
    }
}

/// With a commit waiting for the next turn, pausing a projection takes it
/// out of the turn at once, not after the interval.
#[tokio::test]
async fn a_pause_does_not_wait_out_the_projection_interval() {
    for db in databases().await {
        let server = paced(&db).await;
        let opened = open_account(&server, "ip", "0", "USD").await;
        let seen = server
            .gql(
                "query($p: Long) { account(id: \"ip\", minPosition: $p) { id } }",
                json!({ "p": opened["position"] }),
            )
            .await;
        TestServer::data(&seen);
        // A turn just ran: this deposit waits for the next one.
        deposit(&server, "ip").await;
        let started = std::time::Instant::now();
        let paused = server
            .gql(
                "mutation { pauseProjection(name: \"AccountBalances\") { status } }",
                json!({}),
            )
            .await;
        assert_eq!(
            TestServer::data(&paused)["pauseProjection"]["status"],
            "PAUSED",
            "{}: {paused}",
            db.name
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{}: the pause took {:?}",
            db.name,
            started.elapsed()
        );
        server.stop().await;
    }
}
