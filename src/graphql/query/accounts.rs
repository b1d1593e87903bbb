//! `account` and `accounts`: the AccountBalances read model, through its
//! queries (`read_models::account_balances`).

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Object};

use crate::config::ApiConfig;
use crate::domain::money::Amount;
use crate::graphql::ApiError;
use crate::graphql::consistency::reflect;
use crate::graphql::pagination::{self, PageArgs, Window};
use crate::graphql::scalars::{Decimal, Long};
use crate::graphql::types::{Account, AccountFilter};
use crate::read_models::account_balances::{self, MinBalance};
use crate::store::EventStore;

const READS: &[&str] = &["AccountBalances"];
/// When `Account.transactions` is selected, the answer reads
/// TransactionHistory too, and minPosition must cover both.
const READS_WITH_TRANSACTIONS: &[&str] = &["AccountBalances", "TransactionHistory"];

#[derive(Default)]
pub struct AccountsQuery;

#[Object]
impl AccountsQuery {
    /// An account by id; null when the projection has not seen it opened.
    async fn account(
        &self,
        ctx: &Context<'_>,
        id: ID,
        min_position: Option<Long>,
    ) -> Result<Option<Account>, ApiError> {
        let reads = if ctx.look_ahead().field("transactions").exists() {
            READS_WITH_TRANSACTIONS
        } else {
            READS
        };
        reflect(ctx, reads, min_position).await?;
        let db = ctx.data_unchecked::<EventStore>().db();
        account_balances::get(db, &id)
            .await?
            .map(Account::try_from)
            .transpose()
    }

    /// Accounts ordered by id, filtered.
    #[graphql(complexity = "crate::graphql::pagination::cost(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)] // the connection's arguments
    async fn accounts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<AccountFilter>,
        min_position: Option<Long>,
    ) -> Result<Connection<String, Account>, ApiError> {
        let decode = |c: String| pagination::decode_text(&c);
        let args = PageArgs {
            first,
            after: after.map(decode).transpose()?,
            last,
            before: before.map(decode).transpose()?,
        };
        let window = Window::new(args, ctx.data_unchecked::<ApiConfig>())?;
        let filter = read_filter(filter.unwrap_or_default())?;
        let node = ctx.look_ahead().field("edges").field("node");
        let reads = if node.field("transactions").exists() {
            READS_WITH_TRANSACTIONS
        } else {
            READS
        };
        reflect(ctx, reads, min_position).await?;
        let db = ctx.data_unchecked::<EventStore>().db();
        let rows = account_balances::page(db, &filter, &window.slice).await?;
        let accounts = rows
            .into_iter()
            .map(Account::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        // Tied together so that their transactions load in one batch.
        let accounts = Account::list(accounts);
        window.page(accounts, |a| pagination::encode_text(&a.id), Ok)
    }
}

/// The API's filter as the read model's.
fn read_filter(filter: AccountFilter) -> Result<account_balances::AccountFilter, ApiError> {
    let min_balance = match filter.min_balance {
        Some(Decimal(min)) => {
            let amount = Amount::parse(&min)
                .map_err(|e| ApiError::bad_input(format!("filter.minBalance: {e}")))?;
            let bound = MinBalance::new(&amount)
                .ok_or_else(|| ApiError::bad_input("filter.minBalance is out of range"))?;
            Some(bound)
        }
        None => None,
    };
    Ok(account_balances::AccountFilter {
        owner: filter.owner,
        status: filter.status.map(Into::into),
        min_balance,
    })
}
