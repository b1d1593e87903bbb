//! Snapshots, time travel and upcasting, on both databases.

use chronicle::{
    AsOf, CommandContext, Commands, Deposit, ExpectedVersion, Movement, NewEvent, OpenAccount,
    StreamId, Withdraw,
};
use proptest::prelude::*;
use serde_json::json;

use crate::common::{TestDb, TestServer, databases, error_code};

fn movement(account: &str, amount: &str) -> Movement {
    Movement {
        account_id: account.into(),
        amount: amount.into(),
        description: None,
        expected_version: None,
    }
}

fn deposit(account: &str, amount: &str) -> Deposit {
    Deposit::new(movement(account, amount))
}

/// Writes events as an older Chronicle did: MoneyDeposited v1, in whole
/// units of the account's currency and without one.
async fn legacy_account(db: &TestDb, id: &str) {
    let store = db.store().await;
    let stream = StreamId::parse(format!("account-{id}")).unwrap();
    let opened = NewEvent::new(
        "AccountOpened",
        json!({ "owner": "Old", "currency": "EUR", "initialBalance": 1000 }),
    );
    let mut v1 = NewEvent::new(
        "MoneyDeposited",
        json!({ "amount": 12, "description": "cash" }),
    );
    v1.schema_version = 1;
    store
        .append(stream, ExpectedVersion::NoStream, vec![opened, v1])
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_v1_deposits_read_as_v2_everywhere() {
    for db in databases().await {
        legacy_account(&db, "legacy").await;
        let store = db.store().await;
        let events = store
            .read_stream("account-legacy", None, chronicle::Direction::Forward, 10)
            .await
            .unwrap();
        assert_eq!(events[1].schema_version, 2, "on {}", db.name);
        assert_eq!(
            events[1].data,
            json!({ "amount": 1200, "currency": "EUR", "description": "cash" })
        );

        let server = TestServer::start(&db).await;
        // The aggregate loads through the upcaster, so it decides on 22.00.
        let r = server
            .gql(
                r#"mutation { deposit(input: { accountId: "legacy", amount: "1" }) { position } }"#,
                json!({}),
            )
            .await;
        let position = TestServer::data(&r)["deposit"]["position"].clone();
        let q = r#"query($p: Long) {
            account(id: "legacy", minPosition: $p) { balance }
            accountAt(id: "legacy", version: 2) { balance }
            stream(id: "account-legacy") { events { edges { node { schemaVersion data } } } }
        }"#;
        let r = server.gql(q, json!({ "p": position })).await;
        let data = TestServer::data(&r);
        assert_eq!(
            data["account"]["balance"], "23.00",
            "the projection saw v2, on {}",
            db.name
        );
        assert_eq!(data["accountAt"]["balance"], "22.00");
        let deposit = &data["stream"]["events"]["edges"][1]["node"];
        assert_eq!(deposit["schemaVersion"], 2);
        assert_eq!(deposit["data"]["amount"], 1200);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_version_no_upcaster_knows_is_served_as_stored_and_stops_every_fold() {
    for db in databases().await {
        let store = db.store().await;
        let stream = StreamId::parse("account-future").unwrap();
        let opened = NewEvent::new(
            "AccountOpened",
            json!({ "owner": "F", "currency": "USD", "initialBalance": 0 }),
        );
        let mut v9 = NewEvent::new("MoneyDeposited", json!({ "amount": 1 }));
        v9.schema_version = 9;
        store
            .append(stream, ExpectedVersion::NoStream, vec![opened, v9])
            .await
            .unwrap();
        // Reads keep answering: the event comes back as stored, with why.
        let events = store
            .read_stream("account-future", None, chronicle::Direction::Forward, 10)
            .await
            .unwrap();
        assert_eq!(events[1].schema_version, 9, "on {}", db.name);
        let reason = events[1].upcast_error.clone().unwrap_or_default();
        assert!(
            reason.contains("MoneyDeposited v9"),
            "on {}: {reason}",
            db.name
        );
        let server = TestServer::start(&db).await;
        let r = server
            .gql(r#"{ accountAt(id: "future") { balance } }"#, json!({}))
            .await;
        assert_eq!(error_code(&r), Some("INTERNAL"), "{r}");
        // Projections apply what precedes the event and stop at it, saying
        // where and why, instead of stalling.
        let q = r#"{ projection(name: "AccountBalances") { status position failedPosition lastError } }"#;
        let mut status = serde_json::Value::Null;
        for _ in 0..100 {
            status = server.gql(q, json!({})).await["data"]["projection"].clone();
            if status["status"] == "FAILED" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(status["status"], "FAILED", "on {}: {status}", db.name);
        assert_eq!(status["failedPosition"], 2);
        assert_eq!(status["position"], 1, "the opening before it was applied");
        assert!(
            status["lastError"]
                .as_str()
                .unwrap_or("")
                .contains("MoneyDeposited v9"),
            "{status}"
        );
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_of_another_state_shape_or_unreadable_ones_are_ignored() {
    for db in databases().await {
        let store = db.store().await;
        let commands = Commands::new(store.clone(), 100, 0);
        let open = OpenAccount::new(Some("s".into()), "S".into(), Some("5".into()), None);
        commands
            .execute(&CommandContext::fresh(), open)
            .await
            .unwrap();
        commands
            .execute(&CommandContext::fresh(), deposit("s", "1"))
            .await
            .unwrap();
        // An older shape claims a balance the events never had, and a
        // current-shape snapshot is garbage: neither may be believed.
        for (state_version, state) in [(0, json!({ "balance": 999_999 })), (1, json!("garbage"))] {
            store
                .save_snapshot(&chronicle::StoredSnapshot {
                    stream_id: "account-s".into(),
                    version: 2,
                    state,
                    state_schema_version: state_version,
                    created_at: chrono::Utc::now(),
                })
                .await
                .unwrap();
            let fresh = Commands::new(store.clone(), 100, 0);
            let (loaded, _) = fresh.account_at("s", AsOf::Now).await.unwrap().unwrap();
            assert_eq!(
                loaded.state.balance.0, 600,
                "on {} (state v{state_version})",
                db.name
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_at_a_time_sees_the_account_as_it_was_then() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        server
            .gql(r#"mutation { openAccount(input: { accountId: "t", owner: "T", initialBalance: "1" }) { version } }"#, json!({}))
            .await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let between = chrono::Utc::now();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        server
            .gql(
                r#"mutation { deposit(input: { accountId: "t", amount: "2" }) { version } }"#,
                json!({}),
            )
            .await;
        let q = r#"query($t: DateTime, $before: DateTime) {
            then: accountAt(id: "t", asOf: $t) { balance version }
            now: accountAt(id: "t") { balance version }
            before: accountAt(id: "t", asOf: $before) { balance }
            missing: accountAt(id: "nobody") { balance }
            past: accountAt(id: "t", version: 3) { balance }
        }"#;
        let vars = json!({ "t": between.to_rfc3339(), "before": "2000-01-01T00:00:00Z" });
        let r = server.gql(q, vars).await;
        let data = TestServer::data(&r);
        assert_eq!(
            data["then"],
            json!({ "balance": "1.00", "version": 1 }),
            "on {}",
            db.name
        );
        assert_eq!(data["now"], json!({ "balance": "3.00", "version": 2 }));
        assert!(
            data["before"].is_null() && data["missing"].is_null() && data["past"].is_null(),
            "{data}"
        );
        let both = server
            .gql(
                r#"{ accountAt(id: "t", version: 1, asOf: "2030-01-01T00:00:00Z") { balance } }"#,
                json!({}),
            )
            .await;
        assert_eq!(error_code(&both), Some("BAD_USER_INPUT"));
        server.stop().await;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    /// For random deposit/withdraw sequences and a small snapshot interval,
    /// the state at every version from (nearest snapshot + delta) equals a
    /// full replay of the events up to that version.
    #[test]
    fn snapshot_plus_delta_equals_full_replay_at_every_version(
        ops in proptest::collection::vec((any::<bool>(), 1u32..500), 1..40),
        every in 2i64..7,
    ) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let db = TestDb::sqlite();
            let store = db.store().await;
            let commands = Commands::new(store.clone(), 100, every);
            let open = OpenAccount::new(Some("p".into()), "P".into(), Some("100".into()), None);
            commands.execute(&CommandContext::fresh(), open).await.unwrap();
            for (is_deposit, cents) in &ops {
                let amount = format!("{}.{:02}", cents / 100, cents % 100);
                let input = movement("p", &amount);
                // A refused withdrawal (insufficient funds) appends nothing.
                let ctx = CommandContext::fresh();
                let _ = if *is_deposit {
                    commands.execute(&ctx, Deposit::new(input)).await
                } else {
                    commands.execute(&ctx, Withdraw::new(input)).await
                };
            }
            let reader = Commands::new(store.clone(), 100, 0);
            let head = reader.account_at("p", AsOf::Now).await.unwrap().unwrap().0.version;
            // Snapshots are written in the background: wait for them, bounded.
            let mut snapshots = Vec::new();
            for _ in 0..500 {
                snapshots = store.snapshots("account-p").await.unwrap();
                if snapshots.len() as i64 >= head / every {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            prop_assert_eq!(snapshots.len() as i64, head / every, "one snapshot per {} events", every);
            let mut from_snapshots = Vec::new();
            for version in 1..=head {
                from_snapshots.push(reader.account_at("p", AsOf::Version(version)).await.unwrap().unwrap().0);
            }
            store.drop_snapshots(Some("account-p")).await.unwrap();
            for version in 1..=head {
                let replayed = reader.account_at("p", AsOf::Version(version)).await.unwrap().unwrap().0;
                prop_assert_eq!(&from_snapshots[version as usize - 1], &replayed, "version {}", version);
            }
            Ok(())
        })?;
    }
}
