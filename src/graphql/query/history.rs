//! The write model in time: `accountAt`, and the snapshots of a stream.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};

use crate::commands::{AsOf, Commands};
use crate::graphql::ApiError;
use crate::graphql::scalars::{DateTime, Long};
use crate::graphql::types::{AccountState, Snapshot};
use crate::store::EventStore;

#[derive(Default)]
pub struct HistoryQuery;

#[Object]
impl HistoryQuery {
    /// Rebuilt from the event store at a version or a time (default: now),
    /// from the nearest snapshot at or below it plus the events after.
    /// Null when the account does not exist, did not exist yet at `asOf`,
    /// or `version` is past its last event. Giving both is BAD_USER_INPUT.
    async fn account_at(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: Option<Long>,
        as_of: Option<DateTime>,
    ) -> Result<Option<AccountState>, ApiError> {
        let at = match (version, as_of) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_input("pass version or asOf, not both"));
            }
            (Some(Long(v)), None) => AsOf::Version(v),
            (None, Some(t)) => AsOf::Time(t.0),
            (None, None) => AsOf::Now,
        };
        let commands = ctx.data_unchecked::<Arc<Commands>>();
        let found = commands.account_at(&id, at).await?;
        Ok(found.map(|(loaded, at)| AccountState::new(id.0, loaded, at.into())))
    }

    /// The snapshots of a stream, oldest first.
    async fn snapshots(&self, ctx: &Context<'_>, stream_id: ID) -> Result<Vec<Snapshot>, ApiError> {
        let store = ctx.data_unchecked::<EventStore>();
        Ok(store
            .snapshots(&stream_id)
            .await?
            .into_iter()
            .map(Snapshot::from)
            .collect())
    }
}
