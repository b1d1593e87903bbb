//! Helpers for the command mutation tests: sending a command, checking a
//! `CommandResult`'s metadata, a rejection that leaves nothing behind but its
//! command log entry, and reading an account's history back.

use serde_json::{Value, json};

use crate::common::{TestServer, error_code};

/// Every field of a `CommandResult`.
pub const RESULT_FIELDS: &str = "commandId streamId version position \
    events { id streamId version position type schemaVersion data metadata recordedAt }";

/// Every field of a `CommandRecord`.
pub const RECORD_FIELDS: &str =
    "id type status errorCode error streamId version position createdAt completedAt";

/// The GraphQL document of a command mutation, e.g. `deposit` with a
/// `DepositInput`.
pub fn mutation_text(mutation: &str) -> String {
    let mut chars = mutation.chars();
    let first = chars.next().expect("a mutation name").to_ascii_uppercase();
    let input_type = format!("{first}{}Input", chars.as_str());
    format!("mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ {RESULT_FIELDS} }} }}")
}

/// Sends a command mutation; returns the whole response.
pub async fn send(server: &TestServer, mutation: &str, input: Value) -> Value {
    server
        .gql(&mutation_text(mutation), json!({ "input": input }))
        .await
}

/// Sends a command mutation with an `X-Correlation-Id` header.
pub async fn send_correlated(
    server: &TestServer,
    mutation: &str,
    input: Value,
    correlation_id: &str,
) -> Value {
    let body = json!({ "query": mutation_text(mutation), "variables": { "input": input } });
    server
        .client
        .post(server.url("/graphql"))
        .header("X-Correlation-Id", correlation_id)
        .json(&body)
        .send()
        .await
        .expect("POST /graphql")
        .json()
        .await
        .expect("JSON response")
}

/// Sends a command that must succeed; returns its `CommandResult`.
pub async fn run(server: &TestServer, mutation: &str, input: Value) -> Value {
    let response = send(server, mutation, input).await;
    TestServer::data(&response)[mutation].clone()
}

/// The events of a `CommandResult`.
pub fn events(result: &Value) -> &Vec<Value> {
    result["events"].as_array().expect("events")
}

/// Checks that every event of `result` carries the command's ids: the
/// command is its cause, and `correlation_id` ties it to the user action.
#[track_caller]
pub fn assert_metadata(result: &Value, correlation_id: &str, label: &str) {
    let command_id = result["commandId"].as_str().expect("commandId");
    assert!(!events(result).is_empty(), "{label}: no events in {result}");
    for event in events(result) {
        let meta = &event["metadata"];
        assert_eq!(meta["commandId"], command_id, "{label}: {event}");
        assert_eq!(meta["causationId"], command_id, "{label}: {event}");
        assert_eq!(meta["correlationId"], correlation_id, "{label}: {event}");
    }
}

/// Checks the parts of one event of a `CommandResult` that a test chose.
#[track_caller]
pub fn assert_event(event: &Value, stream: &str, version: i64, event_type: &str, data: &Value) {
    let label = format!("{event}");
    assert_eq!(event["streamId"], stream, "{label}");
    assert_eq!(event["version"], version, "{label}");
    assert_eq!(event["type"], event_type, "{label}");
    assert_eq!(&event["data"], data, "{label}");
}

/// The command log entry of `id`, or null.
pub async fn command_record(server: &TestServer, id: &str) -> Value {
    let query = format!("query($id: ID!) {{ command(id: $id) {{ {RECORD_FIELDS} }} }}");
    let response = server.gql(&query, json!({ "id": id })).await;
    TestServer::data(&response)["command"].clone()
}

/// Sends `input` under a fresh commandId and checks that it is rejected with
/// `code`, appends nothing, and is logged as REJECTED with that code.
/// Returns the response.
pub async fn assert_rejected(
    server: &TestServer,
    mutation: &str,
    mut input: Value,
    code: &str,
    label: &str,
) -> Value {
    let command_id = format!("rejected-{}", uuid::Uuid::new_v4());
    input["commandId"] = json!(command_id);
    let before = server.total_events().await;
    let response = send(server, mutation, input).await;
    assert_eq!(error_code(&response), Some(code), "{label}: {response}");
    assert_eq!(
        server.total_events().await,
        before,
        "{label}: nothing appended"
    );
    let record = command_record(server, &command_id).await;
    assert_eq!(
        record["id"],
        command_id.as_str(),
        "{label}: logged {record}"
    );
    assert_eq!(record["type"], mutation, "{label}: {record}");
    assert_eq!(record["status"], "REJECTED", "{label}: {record}");
    assert_eq!(record["errorCode"], code, "{label}: {record}");
    response
}

/// Opens an account with an id, owner "Ada", a balance and a currency.
pub async fn open_account(server: &TestServer, id: &str, balance: &str, currency: &str) -> Value {
    run(
        server,
        "openAccount",
        json!({ "accountId": id, "owner": "Ada", "initialBalance": balance, "currency": currency }),
    )
    .await
}

/// A stream's version and all its events (version, position, type, data),
/// in version order; `None` when the stream does not exist.
pub async fn stream_events(server: &TestServer, stream: &str) -> Option<(i64, Vec<Value>)> {
    let query = "query($id: ID!, $after: String) { stream(id: $id) { version
        events(first: 1000, after: $after) { edges { node { version position type data } }
        pageInfo { hasNextPage endCursor } } } }";
    let mut after = Value::Null;
    let mut all = Vec::new();
    loop {
        let response = server
            .gql(query, json!({ "id": stream, "after": after }))
            .await;
        let found = &TestServer::data(&response)["stream"];
        if found.is_null() {
            return None;
        }
        let page = &found["events"];
        for edge in page["edges"].as_array().expect("edges") {
            all.push(edge["node"].clone());
        }
        if page["pageInfo"]["hasNextPage"] != true {
            let version = found["version"].as_i64().expect("version");
            return Some((version, all));
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// The balance after each event of an account's history, in minor units.
pub fn balances(events: &[Value]) -> Vec<i64> {
    let mut balance = 0;
    events
        .iter()
        .map(|event| {
            let amount = || event["data"]["amount"].as_i64().expect("amount");
            balance += match event["type"].as_str().expect("type") {
                "AccountOpened" => event["data"]["initialBalance"]
                    .as_i64()
                    .expect("initialBalance"),
                "MoneyDeposited" | "MoneyTransferredIn" => amount(),
                "MoneyWithdrawn" | "MoneyTransferredOut" => -amount(),
                "AccountClosed" => 0,
                other => panic!("not an account event: {other}"),
            };
            balance
        })
        .collect()
}

/// An account's balance from its events, in minor units.
pub async fn balance_of(server: &TestServer, account_id: &str) -> i64 {
    let (_, events) = stream_events(server, &format!("account-{account_id}"))
        .await
        .expect("the account's stream");
    *balances(&events).last().expect("an opened account")
}
