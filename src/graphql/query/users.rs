//! Queries on the Users read model: `user`, `users`.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, Object};

use crate::config::ApiConfig;
use crate::graphql::ApiError;
use crate::graphql::consistency::reflect;
use crate::graphql::pagination;
use crate::graphql::scalars::Long;
use crate::graphql::types::User;
use crate::read_models::users;
use crate::store::EventStore;

const READS: &[&str] = &["Users"];

#[derive(Default)]
pub struct UsersQuery;

#[Object]
impl UsersQuery {
    /// A user by id, deleted or not; null when the projection has not seen
    /// it registered.
    async fn user(
        &self,
        ctx: &Context<'_>,
        id: ID,
        min_position: Option<Long>,
    ) -> Result<Option<User>, ApiError> {
        reflect(ctx, READS, min_position).await?;
        let db = ctx.data_unchecked::<EventStore>().db();
        Ok(users::get(db, &id).await?.map(User::from))
    }

    /// Users ordered by id, deleted ones included (with deleted: true).
    #[graphql(complexity = "crate::graphql::pagination::cost(first, child_complexity)")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        min_position: Option<Long>,
    ) -> Result<Connection<String, User>, ApiError> {
        let limit = pagination::page_size(first, ctx.data_unchecked::<ApiConfig>())?;
        let after = after.map(|c| pagination::decode_text(&c)).transpose()?;
        reflect(ctx, READS, min_position).await?;
        let db = ctx.data_unchecked::<EventStore>().db();
        let mut rows = users::page(db, after.as_deref(), limit as u64 + 1).await?;
        let has_next = rows.len() > limit;
        rows.truncate(limit);
        let mut page = Connection::new(after.is_some(), has_next);
        page.edges.extend(
            rows.into_iter()
                .map(|m| Edge::new(pagination::encode_text(&m.user_id), User::from(m))),
        );
        Ok(page)
    }
}
