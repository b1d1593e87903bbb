//! `Account` (the AccountBalances read model) and its filter.

use async_graphql::{Enum, ID, InputObject, SimpleObject};
use chrono::{DateTime, Utc};
use entity::account_summaries;

use crate::domain::money::{Currency, Money};
use crate::graphql::scalars::{Decimal, Long};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum AccountStatus {
    Open,
    Closed,
}

/// An account as the AccountBalances projection sees it.
#[derive(Clone, Debug, SimpleObject)]
pub struct Account {
    pub id: ID,
    pub owner: String,
    pub currency: String,
    pub balance: Decimal,
    pub status: AccountStatus,
    /// The account stream version this row reflects.
    pub version: Long,
    pub transaction_count: i32,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<account_summaries::Model> for Account {
    fn from(m: account_summaries::Model) -> Self {
        Self {
            balance: Decimal(format_money(m.balance, &m.currency)),
            id: ID(m.account_id),
            owner: m.owner,
            currency: m.currency,
            status: if m.status == crate::projections::CLOSED {
                AccountStatus::Closed
            } else {
                AccountStatus::Open
            },
            version: Long(m.version),
            transaction_count: m.transaction_count,
            opened_at: m.opened_at,
            updated_at: m.updated_at,
        }
    }
}

/// Minor units as the exact decimal string of their currency.
pub fn format_money(minor: i64, currency: &str) -> String {
    let currency = Currency::parse(currency).unwrap_or_default();
    Money(minor).format(&currency)
}

#[derive(Clone, Debug, Default, InputObject)]
pub struct AccountFilter {
    pub owner: Option<String>,
    pub status: Option<AccountStatus>,
    /// Accounts whose balance is at least this, in their own currency.
    pub min_balance: Option<Decimal>,
}
