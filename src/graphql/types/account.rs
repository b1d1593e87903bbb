//! `Account` (the AccountBalances read model) and its filter.

use async_graphql::dataloader::DataLoader;
use async_graphql::{ComplexObject, Context, Enum, ID, InputObject, SimpleObject};
use chrono::{DateTime, Utc};
use entity::account_summaries;

use super::transaction::{TransactionConnection, transaction_page};
use crate::config::Limits;
use crate::domain::money::{Currency, Money};
use crate::graphql::ApiError;
use crate::graphql::loaders::{TransactionPage, TransactionsLoader};
use crate::graphql::pagination::{self, CursorKind};
use crate::graphql::scalars::{Decimal, Long};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum AccountStatus {
    Open,
    Closed,
}

/// An account as the AccountBalances projection sees it.
#[derive(Clone, Debug, SimpleObject)]
#[graphql(complex)]
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

#[ComplexObject]
impl Account {
    /// The account's money movements (TransactionHistory), newest first.
    /// The list's own minPosition covers them: `account` and `accounts`
    /// wait for TransactionHistory too when this field is asked for.
    async fn transactions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<TransactionConnection, ApiError> {
        let limit = pagination::page_size(first, ctx.data_unchecked::<Limits>())?;
        let before = after
            .map(|c| pagination::decode(CursorKind::Position, &c))
            .transpose()?;
        // Through the loader: a list of accounts reads all their pages in
        // one statement instead of one per account.
        let page = TransactionPage {
            account_id: self.id.to_string(),
            rows: limit as u64 + 1,
            before,
        };
        let rows = ctx
            .data_unchecked::<DataLoader<TransactionsLoader>>()
            .load_one(page)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .unwrap_or_default();
        transaction_page(rows, limit, before.is_some())
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
