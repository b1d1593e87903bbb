//! Account.transactions for a whole page of accounts is read in a few
//! statements, not one per account: counted at the database connection.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chronicle::{AppState, Config};
use serde_json::json;

use crate::commands_support::{open_account, run};
use crate::common::{TestServer, databases};
use crate::read_model_fold::head;
use crate::read_models::ids;

#[tokio::test]
async fn a_page_of_accounts_reads_their_transactions_in_a_bounded_number_of_statements() {
    for db in databases().await {
        // Every statement the server's pool runs goes through SeaORM's
        // metric callback; the test keeps those that read the two tables
        // the query touches (the projectors' own reads of the log and
        // their checkpoints go to other tables, and they write nothing
        // while the log stands still).
        let recording = Arc::new(AtomicBool::new(false));
        let statements = Arc::new(Mutex::new(Vec::<String>::new()));
        let mut conn = chronicle::connect_and_migrate(&db.args)
            .await
            .expect("migrate");
        let (on, log) = (recording.clone(), statements.clone());
        conn.set_metric_callback(move |info| {
            if on.load(Ordering::SeqCst) {
                log.lock().unwrap().push(info.statement.sql.clone());
            }
        });
        let state = AppState::start_on(conn, Config::default())
            .await
            .expect("start");
        let server = TestServer::serve(state).await;

        let shared = &server;
        for chunk in (0..100).collect::<Vec<_>>().chunks(20) {
            let opens = chunk.iter().map(|i| async move {
                let id = format!("dl-{i:03}");
                open_account(shared, &id, "5.00", "USD").await;
                run(
                    shared,
                    "deposit",
                    json!({ "accountId": id, "amount": "1.00" }),
                )
                .await;
                run(
                    shared,
                    "withdraw",
                    json!({ "accountId": id, "amount": "0.50" }),
                )
                .await;
            });
            futures::future::join_all(opens).await;
        }
        let p = head(&server).await;
        let wait = "query($p: Long) { accounts(first: 1, minPosition: $p) { edges { node { transactions(first: 1) { edges { cursor } } } } } }";
        TestServer::data(&server.gql(wait, json!({ "p": p })).await);

        let mut counts = Vec::new();
        for accounts in [10, 100] {
            let query = format!(
                "{{ accounts(first: {accounts}) {{ edges {{ node {{ id transactions(first: 10) {{ edges {{ node {{ id }} }} }} }} }} }} }}"
            );
            statements.lock().unwrap().clear();
            recording.store(true, Ordering::SeqCst);
            let response = server.gql(&query, json!({})).await;
            recording.store(false, Ordering::SeqCst);
            let edges = TestServer::data(&response)["accounts"]["edges"]
                .as_array()
                .unwrap()
                .clone();
            assert_eq!(edges.len(), accounts);
            for edge in &edges {
                assert_eq!(ids(&edge["node"]["transactions"]).len(), 3, "{edge}");
            }
            let read_models: Vec<String> = statements
                .lock()
                .unwrap()
                .iter()
                .filter(|sql| {
                    sql.contains("\"transactions\"") || sql.contains("\"account_summaries\"")
                })
                .cloned()
                .collect();
            // One for the accounts and one for all their transactions:
            // the list's nodes ask the loader together (`Siblings`), so
            // the count does not depend on how they are scheduled.
            assert!(
                read_models.len() <= 5,
                "{}: {accounts} accounts: {read_models:#?}",
                db.name
            );
            counts.push(read_models.len());
        }
        assert_eq!(counts, [2, 2], "{}", db.name);
        server.stop().await;
    }
}
