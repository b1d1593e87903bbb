//! The domain: aggregates as pure functions, no I/O, no clock.
//!
//! An aggregate is a state folded from its events (`apply`) and a `decide`
//! that turns a command into new events or a typed rejection. Where a
//! command needs a fresh id or the time, the caller passes it in, so the
//! same inputs always decide the same way. Where a command is decided:
//! `account/decide.rs` and `user/decide.rs`.

pub mod account;
pub mod money;
pub mod user;

#[cfg(test)]
pub(crate) mod testing;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A rejected command: each variant is one `extensions.code` in the API.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// `BAD_USER_INPUT`: the command is malformed or breaks a rule that the
    /// client can fix (an amount with too many decimals, closing an account
    /// that still holds money, ...).
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    InsufficientFunds(String),
    #[error("{0}")]
    AccountClosed(String),
}

/// An aggregate's events: one enum, the stored type name is the variant's
/// name (serde's adjacent tagging), never a string typed twice.
pub trait DomainEvent: Serialize + DeserializeOwned + Clone + std::fmt::Debug {
    /// The schema version this code writes for `event_type`.
    fn schema_version(event_type: &str) -> i32;

    /// The stored type name and data of this event.
    fn to_parts(&self) -> Result<(String, Value), serde_json::Error> {
        let mut tagged = serde_json::to_value(self)?;
        let event_type = tagged["type"].as_str().unwrap_or_default().to_owned();
        let data = tagged
            .get_mut("data")
            .map(Value::take)
            .unwrap_or(Value::Null);
        Ok((event_type, data))
    }

    /// An event back from its stored type name and (current-schema) data.
    fn from_parts(event_type: &str, data: Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(serde_json::json!({ "type": event_type, "data": data }))
    }
}

/// An aggregate whose state can be stored as a snapshot, so that loading a
/// long stream replays only the events after it.
pub trait Snapshot: Aggregate + Serialize + DeserializeOwned {
    /// The shape of the serialized state. Change it whenever the state's
    /// fields change: snapshots of another shape are then ignored (and
    /// rebuilt from events), never misread.
    const STATE_VERSION: i32;
}

/// A consistency boundary: state folded from events, commands decided on it.
pub trait Aggregate: Default + Clone + Send + Sync + std::fmt::Debug + 'static {
    type Event: DomainEvent + Send + Sync;
    type Command;

    /// The stream category, e.g. `account` for `account-{id}`.
    const CATEGORY: &'static str;

    fn apply(self, event: &Self::Event) -> Self;

    fn decide(&self, command: &Self::Command) -> Result<Vec<Self::Event>, DomainError>;

    /// Folds events onto this state.
    fn fold<'a>(self, events: impl IntoIterator<Item = &'a Self::Event>) -> Self {
        events.into_iter().fold(self, Self::apply)
    }
}

impl Snapshot for account::Account {
    const STATE_VERSION: i32 = 1;
}

impl Snapshot for user::User {
    const STATE_VERSION: i32 = 1;
}

impl Snapshot for user::EmailReservation {
    const STATE_VERSION: i32 = 1;
}
