//! Queries on the event store itself: streams, the global log, one event,
//! and counts.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Object};
use uuid::Uuid;

use crate::config::ApiConfig;
use crate::graphql::ApiError;
use crate::graphql::pagination::{self, CursorKind, PageArgs, Window};
use crate::graphql::scalars::Long;
use crate::graphql::types::{Event, EventFilter, Stats, Stream, event_page};
use crate::store::EventStore;

#[derive(Default)]
pub struct StoreQuery;

#[Object]
impl StoreQuery {
    /// A stream by id; null when it has no events.
    async fn stream(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Stream>, ApiError> {
        let store = ctx.data_unchecked::<EventStore>();
        Ok(store.stream_info(&id).await?.map(Stream::from))
    }

    /// The global log, ascending by position: events with position >
    /// afterPosition. `after` (a cursor from this list) takes precedence
    /// over afterPosition; `last`/`before` page backward from the end
    /// (the newest events) or from a cursor.
    #[graphql(complexity = "crate::graphql::pagination::cost(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)] // the connection's arguments, as the contract names them
    async fn events(
        &self,
        ctx: &Context<'_>,
        after_position: Option<Long>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<EventFilter>,
    ) -> Result<Connection<String, Event>, ApiError> {
        let store = ctx.data_unchecked::<EventStore>();
        let after = match (after, after_position) {
            (Some(cursor), _) => Some(pagination::decode(CursorKind::Position, &cursor)?),
            (None, Some(Long(p))) if p < 0 => {
                return Err(ApiError::bad_input(format!(
                    "afterPosition must be 0 or more, got {p}"
                )));
            }
            // Position 0 is before the first event: no bound at all.
            (None, Some(Long(p))) => Some(p).filter(|&p| p > 0),
            (None, None) => None,
        };
        let before = before
            .map(|c| pagination::decode(CursorKind::Position, &c))
            .transpose()?;
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let window = Window::new(args, ctx.data_unchecked::<ApiConfig>())?;
        let filter = filter.unwrap_or_default().into_log_filter()?;
        let rows = store.read_log_slice(&window.slice, &filter).await?;
        event_page(&window, rows, CursorKind::Position)
    }

    /// One event by its id; null when there is none.
    async fn event(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Event>, ApiError> {
        let id = Uuid::parse_str(&id)
            .map_err(|_| ApiError::bad_input(format!("event id {:?} is not a UUID", id.0)))?;
        let store = ctx.data_unchecked::<EventStore>();
        Ok(store.event(id).await?.map(Event::from))
    }

    async fn stats(&self, ctx: &Context<'_>) -> Result<Stats, ApiError> {
        let store = ctx.data_unchecked::<EventStore>();
        let stats = store.stats().await?;
        let snapshots = store.snapshot_count().await?;
        let head = store.stored_head().await?;
        Ok(Stats::new(stats, snapshots, head))
    }
}
