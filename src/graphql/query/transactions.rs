//! `transactions(accountId)`: one account's history from the
//! TransactionHistory read model, newest first.

use async_graphql::{Context, ID, Object};

use crate::graphql::ApiError;
use crate::graphql::consistency::reflect;
use crate::graphql::scalars::Long;
use crate::graphql::types::{TransactionConnection, transaction_page, transaction_window};
use crate::read_models::transaction_history;
use crate::store::EventStore;

pub const READS: &[&str] = &["TransactionHistory"];

#[derive(Default)]
pub struct TransactionsQuery;

#[Object]
impl TransactionsQuery {
    /// An account's money movements, newest first; the cursor is the
    /// movement's position, so new movements never shift a page.
    #[graphql(complexity = "crate::graphql::pagination::cost(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)] // the connection's arguments
    async fn transactions(
        &self,
        ctx: &Context<'_>,
        account_id: ID,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        min_position: Option<Long>,
    ) -> Result<TransactionConnection, ApiError> {
        let window = transaction_window(ctx, first, after, last, before)?;
        reflect(ctx, READS, min_position).await?;
        let db = ctx.data_unchecked::<EventStore>().db();
        let rows = transaction_history::page(db, &account_id, &window.slice).await?;
        transaction_page(&window, rows)
    }
}
