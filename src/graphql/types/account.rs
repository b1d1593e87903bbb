//! `Account` (the AccountBalances read model) and its filter.

use std::sync::Arc;

use async_graphql::dataloader::DataLoader;
use async_graphql::{ComplexObject, Context, Enum, ID, InputObject, SimpleObject};

use super::transaction::{TransactionConnection, transaction_page, transaction_window};
use crate::graphql::ApiError;
use crate::graphql::loaders::{Siblings, TransactionPage, TransactionsLoader};
use crate::graphql::scalars::{DateTime, Decimal, Long, money};
use crate::read_models::account_balances::{AccountRow, AccountStatus as StoredStatus};
use crate::read_models::transaction_history;
use crate::store::EventStore;

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
    pub opened_at: DateTime,
    pub updated_at: DateTime,
    /// The other accounts of the list this one came in, if any.
    #[graphql(skip)]
    pub siblings: Option<Arc<Siblings>>,
}

impl Account {
    /// Ties the accounts of one list together, so that their transactions
    /// load in one batch.
    pub fn list(accounts: impl IntoIterator<Item = Account>) -> Vec<Account> {
        let mut accounts: Vec<Account> = accounts.into_iter().collect();
        let ids = accounts.iter().map(|a| a.id.to_string()).collect();
        let siblings = Arc::new(Siblings::new(ids));
        for account in &mut accounts {
            account.siblings = Some(siblings.clone());
        }
        accounts
    }
}

impl TryFrom<AccountRow> for Account {
    type Error = ApiError;

    fn try_from(m: AccountRow) -> Result<Self, ApiError> {
        Ok(Self {
            balance: money(m.balance, &m.currency)?,
            id: ID(m.account_id),
            owner: m.owner,
            currency: m.currency,
            status: m.status.into(),
            version: Long(m.version),
            transaction_count: m.transaction_count,
            opened_at: m.opened_at.into(),
            updated_at: m.updated_at.into(),
            siblings: None,
        })
    }
}

impl From<StoredStatus> for AccountStatus {
    fn from(status: StoredStatus) -> Self {
        match status {
            StoredStatus::Open => Self::Open,
            StoredStatus::Closed => Self::Closed,
        }
    }
}

impl From<AccountStatus> for StoredStatus {
    fn from(status: AccountStatus) -> Self {
        match status {
            AccountStatus::Open => Self::Open,
            AccountStatus::Closed => Self::Closed,
        }
    }
}

#[ComplexObject]
impl Account {
    /// The account's money movements (TransactionHistory), newest first.
    /// The list's own minPosition covers them: `account` and `accounts`
    /// wait for TransactionHistory too when this field is asked for.
    #[graphql(complexity = "crate::graphql::pagination::cost(first, last, child_complexity)")]
    async fn transactions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<TransactionConnection, ApiError> {
        let window = transaction_window(ctx, first, after, last, before)?;
        let slice = &window.slice;
        if slice.from_end || slice.before.is_some() {
            // Paging backward is rare, and the batch loader reads forward
            // pages only: this one is read on its own.
            let db = ctx.data_unchecked::<EventStore>().db();
            let rows = transaction_history::page(db, &self.id, slice).await?;
            return transaction_page(&window, rows);
        }
        // Through the loader: a list of accounts reads all their pages in
        // one statement instead of one per account. In this list (newest
        // first), "after" a cursor means below its position.
        let page = TransactionPage {
            account_id: self.id.to_string(),
            rows: slice.limit,
            before: slice.after,
        };
        let loader = ctx.data_unchecked::<DataLoader<TransactionsLoader>>();
        let rows = match &self.siblings {
            Some(siblings) => siblings.load(loader, &page).await,
            None => loader.load_one(page).await.map(Option::unwrap_or_default),
        }
        .map_err(|e| ApiError::Internal(format!("loading transactions: {e}")))?;
        transaction_page(&window, rows)
    }
}

#[derive(Clone, Debug, Default, InputObject)]
pub struct AccountFilter {
    pub owner: Option<String>,
    pub status: Option<AccountStatus>,
    /// Accounts whose balance is at least this, in their own currency.
    pub min_balance: Option<Decimal>,
}
