//! `transactions(accountId)`: one account's history from the
//! TransactionHistory read model, newest first.

use async_graphql::{Context, ID, Object};

use crate::config::ApiConfig;
use crate::graphql::ApiError;
use crate::graphql::consistency::reflect;
use crate::graphql::pagination::{self, CursorKind};
use crate::graphql::scalars::Long;
use crate::graphql::types::{TransactionConnection, transaction_page};
use crate::read_models::transaction_history;
use crate::store::EventStore;

pub const READS: &[&str] = &["TransactionHistory"];

#[derive(Default)]
pub struct TransactionsQuery;

#[Object]
impl TransactionsQuery {
    /// An account's money movements, newest first; the cursor is the
    /// movement's position, so new movements never shift a page.
    #[graphql(complexity = "crate::graphql::pagination::cost(first, child_complexity)")]
    async fn transactions(
        &self,
        ctx: &Context<'_>,
        account_id: ID,
        first: Option<i32>,
        after: Option<String>,
        min_position: Option<Long>,
    ) -> Result<TransactionConnection, ApiError> {
        let limit = pagination::page_size(first, ctx.data_unchecked::<ApiConfig>())?;
        let before = after
            .map(|c| pagination::decode(CursorKind::Position, &c))
            .transpose()?;
        reflect(ctx, READS, min_position).await?;
        let db = ctx.data_unchecked::<EventStore>().db();
        let rows = transaction_history::page(db, &account_id, before, limit as u64 + 1).await?;
        transaction_page(rows, limit, before.is_some())
    }
}
