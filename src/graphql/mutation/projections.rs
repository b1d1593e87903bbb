//! Operating projections: rebuild, pause, resume.

use async_graphql::{Context, Object};

use crate::graphql::ApiError;
use crate::graphql::scalars::Long;
use crate::graphql::types::Projection;
use crate::read_models::{ProjectionState, Projections};

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

    /// Resumes a paused projection, or retries a failed one at once. With
    /// skipFailed, a failed projection first skips the event it failed at
    /// (as skipEvent does).
    async fn resume_projection(
        &self,
        ctx: &Context<'_>,
        name: String,
        #[graphql(default = false)] skip_failed: bool,
    ) -> Result<Projection, ApiError> {
        let projections = ctx.data_unchecked::<Projections>();
        let current = projections.status(&name)?;
        let status = match current.failed_position {
            Some(position) if skip_failed && current.state == ProjectionState::Failed => {
                projections.skip(&name, position).await?
            }
            _ => projections.resume(&name).await?,
        };
        Ok(Projection::new(status, projections.stored_head().await?))
    }

    /// Skips the event at `position`, where the projection has FAILED: its
    /// checkpoint moves past the event without applying it, the skip is
    /// recorded (Projection.skippedEvents and the server log), and the
    /// projection runs on. Refused unless the projection failed at exactly
    /// that position.
    async fn skip_event(
        &self,
        ctx: &Context<'_>,
        projection: String,
        position: Long,
    ) -> Result<Projection, ApiError> {
        let projections = ctx.data_unchecked::<Projections>();
        let status = projections.skip(&projection, position.0).await?;
        Ok(Projection::new(status, projections.stored_head().await?))
    }
}
