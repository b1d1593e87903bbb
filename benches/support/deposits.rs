//! Deposit events as the store holds them (current schema), for benches
//! that build long histories straight through the store: through commands
//! a million events would take far longer than what they are there for.

use chronicle::NewEvent;
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
