//! `Stream`: a stream's summary and its events by version.

use async_graphql::connection::Connection;
use async_graphql::{ComplexObject, Context, Enum, ID, SimpleObject};

use super::{Event, event_page};
use crate::config::ApiConfig;
use crate::graphql::ApiError;
use crate::graphql::pagination::{self, CursorKind};
use crate::graphql::scalars::Long;
use crate::store::{Direction, EventStore, StreamInfo};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum, Default)]
pub enum ReadDirection {
    #[default]
    Forward,
    Backward,
}

#[derive(Clone, Debug, SimpleObject)]
#[graphql(complex)]
pub struct Stream {
    pub id: ID,
    pub category: String,
    /// Current version (number of events); 0 never appears because a stream
    /// exists once it has an event.
    pub version: Long,
}

impl From<StreamInfo> for Stream {
    fn from(s: StreamInfo) -> Self {
        Self {
            id: ID(s.id),
            category: s.category,
            version: Long(s.version),
        }
    }
}

#[ComplexObject]
impl Stream {
    /// FORWARD: events with version >= fromVersion (default 1), ascending.
    /// BACKWARD: events with version <= fromVersion (default: the last), descending.
    #[graphql(complexity = "crate::graphql::pagination::cost(first, child_complexity)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        from_version: Option<Long>,
        #[graphql(default_with = "Some(ReadDirection::Forward)")] direction: Option<ReadDirection>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Event>, ApiError> {
        let store = ctx.data_unchecked::<EventStore>();
        let limit = pagination::page_size(first, ctx.data_unchecked::<ApiConfig>())?;
        if let Some(Long(v)) = from_version
            && v < 0
        {
            return Err(ApiError::bad_input(format!(
                "fromVersion must be 0 or more, got {v}"
            )));
        }
        let after = after
            .map(|c| pagination::decode(CursorKind::Version, &c))
            .transpose()?;
        let (from, direction) = match direction.unwrap_or_default() {
            ReadDirection::Forward => (
                after.map(|v| v + 1).or(from_version.map(|v| v.0)),
                Direction::Forward,
            ),
            ReadDirection::Backward => (
                after.map(|v| v - 1).or(from_version.map(|v| v.0)),
                Direction::Backward,
            ),
        };
        let rows = store
            .read_stream(&self.id, from, direction, limit as u64 + 1)
            .await?;
        Ok(event_page(
            rows,
            limit,
            CursorKind::Version,
            after.is_some(),
        ))
    }

    async fn snapshots(&self, ctx: &Context<'_>) -> Result<Vec<super::Snapshot>, ApiError> {
        let store = ctx.data_unchecked::<EventStore>();
        let snapshots = store.snapshots(&self.id).await?;
        Ok(snapshots.into_iter().map(super::Snapshot::from).collect())
    }
}
