//! Read-your-writes: a read-model field given `minPosition` first waits
//! until the projections it reads have applied that position.

use std::time::Duration;

use async_graphql::Context;

use super::ApiError;
use super::scalars::Long;
use crate::config::ApiConfig;
use crate::read_models::Projections;

/// Waits (bounded by `--consistency-timeout-ms`) for `projections` to reach
/// `min_position`; woken by the projectors, never by polling.
pub async fn reflect(
    ctx: &Context<'_>,
    projections: &[&str],
    min_position: Option<Long>,
) -> Result<(), ApiError> {
    let Some(Long(position)) = min_position else {
        return Ok(());
    };
    if position < 0 {
        return Err(ApiError::bad_input(format!(
            "minPosition must be 0 or more, got {position}"
        )));
    }
    let limits = ctx.data_unchecked::<ApiConfig>();
    let timeout = Duration::from_millis(limits.consistency_timeout_ms);
    ctx.data_unchecked::<Projections>()
        .wait_for(projections, position, timeout)
        .await
        .map_err(ApiError::from)
}
