//! `Stream`: a stream's summary and its events by version.

use async_graphql::connection::Connection;
use async_graphql::{ComplexObject, Context, Enum, ID, SimpleObject};

use super::{Event, event_page};
use crate::config::ApiConfig;
use crate::graphql::ApiError;
use crate::graphql::pagination::{self, CursorKind, PageArgs, Window};
use crate::graphql::scalars::Long;
use crate::paging::ListOrder;
use crate::store::{EventStore, StreamInfo};

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
    /// BACKWARD: events with version <= fromVersion (default: the last),
    /// descending. `first`/`after` page along that order, `last`/`before`
    /// against it, from its end.
    #[graphql(complexity = "crate::graphql::pagination::cost(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)] // the connection's arguments
    async fn events(
        &self,
        ctx: &Context<'_>,
        from_version: Option<Long>,
        #[graphql(default_with = "Some(ReadDirection::Forward)")] direction: Option<ReadDirection>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<String, Event>, ApiError> {
        let store = ctx.data_unchecked::<EventStore>();
        if let Some(Long(v)) = from_version
            && v < 0
        {
            return Err(ApiError::bad_input(format!(
                "fromVersion must be 0 or more, got {v}"
            )));
        }
        let decode = |c: String| pagination::decode(CursorKind::Version, &c);
        let after = after.map(decode).transpose()?;
        let before = before.map(decode).transpose()?;
        // fromVersion is where the list starts: the bound an `after`
        // cursor, when given, replaces.
        let (order, start) = match direction.unwrap_or_default() {
            ReadDirection::Forward => (ListOrder::Ascending, from_version.map(|v| v.0 - 1)),
            ReadDirection::Backward => (ListOrder::Descending, from_version.map(|v| v.0 + 1)),
        };
        let args = PageArgs {
            first,
            after: after.or(start),
            last,
            before,
        };
        let mut window = Window::new(args, ctx.data_unchecked::<ApiConfig>())?;
        let rows = store
            .read_stream_slice(&self.id, &window.slice, order)
            .await?;
        // Only a cursor says there is a page before; fromVersion does not.
        window.slice.after = after;
        event_page(&window, rows, CursorKind::Version)
    }

    async fn snapshots(&self, ctx: &Context<'_>) -> Result<Vec<super::Snapshot>, ApiError> {
        let store = ctx.data_unchecked::<EventStore>();
        let snapshots = store.snapshots(&self.id).await?;
        Ok(snapshots.into_iter().map(super::Snapshot::from).collect())
    }
}
