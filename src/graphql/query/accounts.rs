//! Queries on the AccountBalances read model: `account`, `accounts`.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, Object};
use entity::account_summaries as row;
use sea_orm::{ColumnTrait, Condition, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect};

use crate::config::ApiConfig;
use crate::domain::money::{Amount, NO_DECIMALS, THREE_DECIMALS};
use crate::graphql::ApiError;
use crate::graphql::consistency::reflect;
use crate::graphql::pagination;
use crate::graphql::scalars::{Decimal, Long};
use crate::graphql::types::{Account, AccountFilter, AccountStatus};
use crate::projections::{CLOSED, OPEN};
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
        let found = row::Entity::find_by_id(id.0).one(db).await?;
        Ok(found.map(Account::from))
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
        let condition = filter_condition(filter.unwrap_or_default())?;
        let node = ctx.look_ahead().field("edges").field("node");
        let reads = if node.field("transactions").exists() {
            READS_WITH_TRANSACTIONS
        } else {
            READS
        };
        reflect(ctx, reads, min_position).await?;
        let db = ctx.data_unchecked::<EventStore>().db();
        let mut query = row::Entity::find().filter(condition);
        if let Some(after) = &after {
            query = query.filter(row::Column::AccountId.gt(after.clone()));
        }
        let mut rows = query
            .order_by(row::Column::AccountId, Order::Asc)
            .limit(limit as u64 + 1)
            .all(db)
            .await?;
        let has_next = rows.len() > limit;
        rows.truncate(limit);
        let mut page = Connection::new(after.is_some(), has_next);
        let accounts = Account::list(rows.into_iter().map(Account::from));
        page.edges.extend(
            accounts
                .into_iter()
                .map(|a| Edge::new(pagination::encode_text(&a.id), a)),
        );
        Ok(page)
    }
}

fn filter_condition(filter: AccountFilter) -> Result<Condition, ApiError> {
    let mut cond = Condition::all();
    if let Some(owner) = filter.owner {
        cond = cond.add(row::Column::Owner.eq(owner));
    }
    if let Some(status) = filter.status {
        let status = if status == AccountStatus::Closed {
            CLOSED
        } else {
            OPEN
        };
        cond = cond.add(row::Column::Status.eq(status));
    }
    if let Some(Decimal(min)) = filter.min_balance {
        cond = cond.add(min_balance(&min)?);
    }
    Ok(cond)
}

/// Balances are minor units of each account's own currency, so the bound
/// is converted once per number of decimals, exactly.
fn min_balance(min: &str) -> Result<Condition, ApiError> {
    let amount =
        Amount::parse(min).map_err(|e| ApiError::bad_input(format!("filter.minBalance: {e}")))?;
    let bound = |exponent| {
        amount
            .ceil_minor(exponent)
            .ok_or_else(|| ApiError::bad_input("filter.minBalance is out of range"))
    };
    Ok(Condition::any()
        .add(
            Condition::all()
                .add(row::Column::Currency.is_in(NO_DECIMALS.iter().copied()))
                .add(row::Column::Balance.gte(bound(0)?)),
        )
        .add(
            Condition::all()
                .add(row::Column::Currency.is_in(THREE_DECIMALS.iter().copied()))
                .add(row::Column::Balance.gte(bound(3)?)),
        )
        .add(
            Condition::all()
                .add(
                    row::Column::Currency
                        .is_not_in(NO_DECIMALS.iter().chain(THREE_DECIMALS).copied()),
                )
                .add(row::Column::Balance.gte(bound(2)?)),
        ))
}
