//! Queries on the Users read model: `user`, `users`.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, Object};
use entity::users as row;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::config::ApiConfig;
use crate::graphql::ApiError;
use crate::graphql::consistency::reflect;
use crate::graphql::pagination;
use crate::graphql::scalars::Long;
use crate::graphql::types::User;
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
        let found = row::Entity::find_by_id(id.0).one(db).await?;
        Ok(found.map(User::from))
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
        let mut query = row::Entity::find();
        if let Some(after) = &after {
            query = query.filter(row::Column::UserId.gt(after.clone()));
        }
        let mut rows = query
            .order_by_asc(row::Column::UserId)
            .limit(limit as u64 + 1)
            .all(db)
            .await?;
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
