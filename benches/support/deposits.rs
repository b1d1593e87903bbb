//! Deposit events as the store holds them (current schema), for benches
//! that build long histories straight through the store: through commands
//! a million events would take far longer than what they are there for.

use chronicle::{
    AppendRequest, CommandEntry, EventStore, ExpectedVersion, NewEvent, StreamAppend, StreamId,
};
use serde_json::json;

/// `n` deposits of 1.00 USD.
pub fn deposits(n: i64) -> Vec<NewEvent> {
    (0..n)
        .map(|_| {
            let mut e = NewEvent::new(
                "MoneyDeposited",
                json!({ "amount": 100, "currency": "USD" }),
            );
            e.schema_version = 2;
            e
        })
        .collect()
}

/// Appends to an account stream as the account's commands do, with a
/// command log entry: the store refuses an aggregate's streams to appends
/// that carry none.
pub async fn seed(
    store: &EventStore,
    stream: StreamId,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) {
    let command = CommandEntry {
        id: uuid::Uuid::now_v7().to_string(),
        command_type: "benchSeed".into(),
        input: json!(null),
        received_at: chrono::Utc::now(),
        id_from_client: false,
    };
    let streams = vec![StreamAppend {
        stream,
        expected,
        events,
    }];
    let request = AppendRequest {
        streams,
        command: Some(command),
        ..AppendRequest::default()
    };
    store.submit(request).await.expect("seed");
}
