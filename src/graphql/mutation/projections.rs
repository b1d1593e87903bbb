//! Operating projections: rebuild, pause, resume.

use async_graphql::{Context, Object};

use crate::graphql::ApiError;
use crate::graphql::types::Projection;
use crate::projections::Projections;

#[derive(Default)]
pub struct ProjectionMutation;

#[Object]
impl ProjectionMutation {
    /// Empties the projection's tables and replays the whole log; queries
    /// keep answering (with REBUILDING status) while it catches up.
    async fn rebuild_projection(
        &self,
        ctx: &Context<'_>,
        name: String,
    ) -> Result<Projection, ApiError> {
        let projections = ctx.data_unchecked::<Projections>();
        let status = projections.rebuild(&name).await?;
        Ok(Projection::new(status, projections.stored_head().await?))
    }

    async fn pause_projection(
        &self,
        ctx: &Context<'_>,
        name: String,
    ) -> Result<Projection, ApiError> {
        let projections = ctx.data_unchecked::<Projections>();
        let status = projections.pause(&name).await?;
        Ok(Projection::new(status, projections.stored_head().await?))
    }

    /// Resumes a paused projection, or retries a failed one at once.
    async fn resume_projection(
        &self,
        ctx: &Context<'_>,
        name: String,
    ) -> Result<Projection, ApiError> {
        let projections = ctx.data_unchecked::<Projections>();
        let status = projections.resume(&name).await?;
        Ok(Projection::new(status, projections.stored_head().await?))
    }
}
