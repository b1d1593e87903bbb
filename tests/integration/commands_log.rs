//! The command log over HTTP: `command(id)` and `commands(first, after,
//! status)`, newest first, with cursors that stay put as commands arrive.

use serde_json::{Value, json};

use crate::commands_support::{RECORD_FIELDS, command_record, open_account, run, send};
use crate::common::{TestServer, databases, error_code};

/// One page of the command log: the ids, and the whole page.
async fn log_page(server: &TestServer, args: &str) -> (Vec<String>, Value) {
    let query = format!(
        "{{ commands({args}) {{ edges {{ cursor node {{ {RECORD_FIELDS} }} }} \
         pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }}"
    );
    let response = server.gql(&query, json!({})).await;
    let page = TestServer::data(&response)["commands"].clone();
    let ids = page["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["id"].as_str().expect("id").to_owned())
        .collect();
    (ids, page)
}

/// Every id of the log with `filter` (e.g. `status: REJECTED`), following
/// the end cursor `size` at a time; checks each page's page info.
async fn walk(server: &TestServer, filter: &str, size: usize, label: &str) -> Vec<String> {
    let mut all = Vec::new();
    let mut after = String::new();
    loop {
        let args = format!("first: {size}{filter}{after}");
        let (ids, page) = log_page(server, &args).await;
        let info = &page["pageInfo"];
        assert_eq!(
            info["hasPreviousPage"],
            !after.is_empty(),
            "{label}: {info}"
        );
        if let Some(last) = page["edges"].as_array().and_then(|e| e.last()) {
            assert_eq!(last["cursor"], info["endCursor"], "{label}: {info}");
            assert_eq!(page["edges"][0]["cursor"], info["startCursor"], "{label}");
        }
        all.extend(ids.iter().cloned());
        if info["hasNextPage"] != true {
            return all;
        }
        assert_eq!(ids.len(), size, "{label}: a full page before the last");
        let cursor = info["endCursor"].as_str().expect("endCursor");
        after = format!(", after: \"{cursor}\"");
    }
}

/// Sends a command with `id` that may succeed or be refused.
async fn command(server: &TestServer, mutation: &str, id: &str, mut input: Value) -> Value {
    input["commandId"] = json!(id);
    send(server, mutation, input).await
}

/// Seven commands, oldest first: (id, succeeded).
async fn seven_commands(server: &TestServer) -> Vec<(&'static str, bool)> {
    let deposit = |amount: &str| json!({ "accountId": "log", "amount": amount });
    let open = json!({ "accountId": "log", "owner": "Ada", "initialBalance": "10.00" });
    command(server, "openAccount", "c1", open.clone()).await;
    command(server, "deposit", "c2", deposit("1.00")).await;
    command(server, "deposit", "c3", deposit("abc")).await;
    command(server, "withdraw", "c4", deposit("500.00")).await;
    command(server, "deposit", "c5", deposit("2.00")).await;
    command(server, "openAccount", "c6", open).await;
    command(server, "withdraw", "c7", deposit("3.00")).await;
    vec![
        ("c1", true),
        ("c2", true),
        ("c3", false),
        ("c4", false),
        ("c5", true),
        ("c6", false),
        ("c7", true),
    ]
}

fn newest_first(commands: &[(&str, bool)], keep: impl Fn(bool) -> bool) -> Vec<String> {
    commands
        .iter()
        .rev()
        .filter(|(_, ok)| keep(*ok))
        .map(|(id, _)| (*id).to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_log_pages_newest_first_with_a_cursor_that_stays_put_as_commands_arrive() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let label = db.name;
        let sent = seven_commands(&server).await;
        let all = newest_first(&sent, |_| true);

        for size in [1, 3, 7, 100] {
            let walked = walk(&server, "", size, &format!("{label} by {size}")).await;
            assert_eq!(walked, all, "{label}: pages of {size}");
        }

        // A cursor taken before new commands arrive goes on where it was:
        // the new ones are at the front, not pushed into the next page.
        let (first, page) = log_page(&server, "first: 3").await;
        assert_eq!(first, all[..3], "{label}");
        let cursor = page["pageInfo"]["endCursor"]
            .as_str()
            .expect("endCursor")
            .to_owned();
        open_account(&server, "later", "0", "USD").await;
        command(
            &server,
            "deposit",
            "c8",
            json!({ "accountId": "later", "amount": "1" }),
        )
        .await;
        let (next, _) = log_page(&server, &format!("first: 3, after: \"{cursor}\"")).await;
        assert_eq!(next, all[3..6], "{label}: the next page after the cursor");
        let (front, _) = log_page(&server, "first: 1").await;
        assert_eq!(front, ["c8"], "{label}: the newest first");

        let (none, page) = log_page(&server, "first: 0").await;
        assert!(none.is_empty(), "{label}");
        assert_eq!(page["pageInfo"]["hasNextPage"], true, "{label}");
        // Garbage, and the event log's cursor for position 5 ("p1:5").
        for bad in ["nonsense", "cDE6NQ"] {
            let query = format!("{{ commands(after: \"{bad}\") {{ edges {{ cursor }} }} }}");
            let response = server.gql(&query, json!({})).await;
            assert_eq!(
                error_code(&response),
                Some("BAD_USER_INPUT"),
                "{label}: {response}"
            );
        }

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_log_filters_by_status_and_pages_within_the_filter() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let label = db.name;
        let sent = seven_commands(&server).await;

        let rejected = newest_first(&sent, |ok| !ok);
        let succeeded = newest_first(&sent, |ok| ok);
        for size in [1, 2, 10] {
            let what = format!("{label} by {size}");
            let walked = walk(&server, ", status: REJECTED", size, &what).await;
            assert_eq!(walked, rejected, "{what}");
            let walked = walk(&server, ", status: SUCCEEDED", size, &what).await;
            assert_eq!(walked, succeeded, "{what}");
            let walked = walk(&server, ", status: FAILED", size, &what).await;
            assert!(walked.is_empty(), "{what}");
        }
        let (_, page) = log_page(&server, "status: REJECTED").await;
        let codes: Vec<&Value> = page["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| &e["node"]["errorCode"])
            .collect();
        let expected = ["ALREADY_EXISTS", "INSUFFICIENT_FUNDS", "BAD_USER_INPUT"];
        assert_eq!(
            codes,
            expected.map(|c| json!(c)).iter().collect::<Vec<_>>(),
            "{label}"
        );

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_by_id_describes_the_outcome_and_is_null_for_an_unknown_id() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let label = db.name;
        open_account(&server, "one", "1.00", "USD").await;
        let input = json!({ "accountId": "one", "amount": "2.50", "commandId": "known" });
        let result = run(&server, "deposit", input).await;
        let refused = json!({ "accountId": "one", "amount": "100", "commandId": "refused" });
        send(&server, "withdraw", refused).await;

        let record = command_record(&server, "known").await;
        assert_eq!(record["id"], "known", "{label}: {record}");
        assert_eq!(record["type"], "deposit", "{label}: {record}");
        assert_eq!(record["status"], "SUCCEEDED", "{label}: {record}");
        assert_eq!(record["errorCode"], Value::Null, "{label}: {record}");
        assert_eq!(record["error"], Value::Null, "{label}: {record}");
        assert_eq!(record["streamId"], "account-one", "{label}: {record}");
        assert_eq!(record["version"], result["version"], "{label}: {record}");
        assert_eq!(record["position"], result["position"], "{label}: {record}");
        let at = |field: &str| {
            let text = record[field].as_str().expect("a time");
            chrono::DateTime::parse_from_rfc3339(text).expect("RFC 3339")
        };
        assert!(at("createdAt") <= at("completedAt"), "{label}: {record}");

        let record = command_record(&server, "refused").await;
        assert_eq!(record["type"], "withdraw", "{label}: {record}");
        assert_eq!(record["status"], "REJECTED", "{label}: {record}");
        assert_eq!(
            record["errorCode"], "INSUFFICIENT_FUNDS",
            "{label}: {record}"
        );
        let error = record["error"].as_str().expect("an error message");
        assert!(error.contains("insufficient funds"), "{label}: {record}");

        for unknown in ["unknown", "00000000-0000-4000-8000-000000000000"] {
            let record = command_record(&server, unknown).await;
            assert_eq!(record, Value::Null, "{label}: {unknown}");
        }

        server.stop().await;
    }
}
