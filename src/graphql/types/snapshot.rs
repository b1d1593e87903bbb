//! `Snapshot` and `AccountState` (an account rebuilt from its events).

use async_graphql::{ID, SimpleObject};

use super::AccountStatus;
use crate::commands::Loaded;
use crate::domain::account::Account;
use crate::graphql::scalars::{DateTime, Decimal, Json, Long};
use crate::store::StoredSnapshot;

#[derive(Clone, Debug, SimpleObject)]
pub struct Snapshot {
    pub stream_id: ID,
    pub version: Long,
    pub state: Json,
    /// The shape of `state`; snapshots of an older shape are ignored when
    /// loading.
    pub state_schema_version: i32,
    pub created_at: DateTime,
}

impl From<StoredSnapshot> for Snapshot {
    fn from(s: StoredSnapshot) -> Self {
        Self {
            stream_id: ID(s.stream_id),
            version: Long(s.version),
            state: Json(s.state),
            state_schema_version: s.state_schema_version,
            created_at: s.created_at.into(),
        }
    }
}

/// An account rebuilt from its events (write model), possibly as it was in the past.
#[derive(Clone, Debug, SimpleObject)]
pub struct AccountState {
    pub id: ID,
    pub owner: String,
    pub currency: String,
    pub balance: Decimal,
    pub status: AccountStatus,
    pub version: Long,
    /// Time of the last event included.
    pub as_of: DateTime,
}

impl AccountState {
    pub fn new(id: String, loaded: Loaded<Account>, as_of: DateTime) -> Self {
        let account = loaded.state;
        Self {
            id: ID(id),
            balance: Decimal(account.balance.format(&account.currency)),
            currency: account.currency.as_str().to_owned(),
            owner: account.owner,
            status: if account.closed {
                AccountStatus::Closed
            } else {
                AccountStatus::Open
            },
            version: Long(loaded.version),
            as_of,
        }
    }
}
