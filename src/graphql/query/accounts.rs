//! `account` and `accounts`: the AccountBalances read model, through its
//! queries (`read_models::account_balances`).

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, Object};

use crate::config::ApiConfig;
use crate::domain::money::Amount;
use crate::graphql::ApiError;
use crate::graphql::consistency::reflect;
use crate::graphql::pagination;
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
    #[graphql(complexity = "crate::graphql::pagination::cost(first, child_complexity)")]
    async fn accounts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<AccountFilter>,
        min_position: Option<Long>,
    ) -> Result<Connection<String, Account>, ApiError> {
        let limit = pagination::page_size(first, ctx.data_unchecked::<ApiConfig>())?;
        let after = after.map(|c| pagination::decode_text(&c)).transpose()?;
        let filter = read_filter(filter.unwrap_or_default())?;
        let node = ctx.look_ahead().field("edges").field("node");
        let reads = if node.field("transactions").exists() {
            READS_WITH_TRANSACTIONS
        } else {
            READS
        };
        reflect(ctx, reads, min_position).await?;
        let db = ctx.data_unchecked::<EventStore>().db();
        let mut rows =
            account_balances::page(db, &filter, after.as_deref(), limit as u64 + 1).await?;
        let has_next = rows.len() > limit;
        rows.truncate(limit);
        let mut page = Connection::new(after.is_some(), has_next);
        let accounts = rows
            .into_iter()
            .map(Account::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        page.edges.extend(
            Account::list(accounts)
                .into_iter()
                .map(|a| Edge::new(pagination::encode_text(&a.id), a)),
        );
        Ok(page)
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
