//! `projections` and `projection(name)`.

use async_graphql::{Context, Object};

use crate::graphql::ApiError;
use crate::graphql::types::Projection;
use crate::read_models::Projections;

#[derive(Default)]
pub struct ProjectionsQuery;

#[Object]
impl ProjectionsQuery {
    async fn projections(&self, ctx: &Context<'_>) -> Result<Vec<Projection>, ApiError> {
        let projections = ctx.data_unchecked::<Projections>();
        let head = projections.stored_head().await?;
        projections
            .names()
            .iter()
            .map(|name| Ok(Projection::new(projections.status(name)?, head)))
            .collect()
    }

    /// One projection by name; null when there is none.
    async fn projection(
        &self,
        ctx: &Context<'_>,
        name: String,
    ) -> Result<Option<Projection>, ApiError> {
        let projections = ctx.data_unchecked::<Projections>();
        match projections.status(&name) {
            Ok(status) => Ok(Some(Projection::new(
                status,
                projections.stored_head().await?,
            ))),
            Err(_) => Ok(None),
        }
    }
}
