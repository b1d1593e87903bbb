//! Queries on the Users read model: `user`, `users`.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Object};

use crate::config::ApiConfig;
use crate::graphql::ApiError;
use crate::graphql::consistency::reflect;
use crate::graphql::pagination::{self, PageArgs, Window};
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
    #[graphql(complexity = "crate::graphql::pagination::cost(first, last, child_complexity)")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        min_position: Option<Long>,
    ) -> Result<Connection<String, User>, ApiError> {
        let decode = |c: String| pagination::decode_text(&c);
        let args = PageArgs {
            first,
            after: after.map(decode).transpose()?,
            last,
            before: before.map(decode).transpose()?,
        };
        let window = Window::new(args, ctx.data_unchecked::<ApiConfig>())?;
        reflect(ctx, READS, min_position).await?;
        let db = ctx.data_unchecked::<EventStore>().db();
        let rows = users::page(db, &window.slice).await?;
        window.page(
            rows,
            |m| pagination::encode_text(&m.user_id),
            |m| Ok(User::from(m)),
        )
    }
}
