//! The subscription root: `eventAppended` and `projectionStatus`, fed by
//! `crate::subscriptions`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_graphql::{Context, Subscription};
use futures::{Stream, StreamExt};

use super::ApiError;
use super::scalars::Long;
use super::types::{Event, EventFilter, Projection};
use crate::read_models::Projections;
use crate::store::EventStore;
use crate::subscriptions::{Hub, event_feed, status_feed};

/// The subscriptions one WebSocket connection may hold at once, and how
/// many it holds; put in the connection's data when it opens.
#[derive(Clone, Debug)]
pub struct SubscriptionSlots {
    max: usize,
    active: Arc<AtomicUsize>,
}

impl SubscriptionSlots {
    pub fn new(max: usize) -> Self {
        Self {
            max,
            active: Arc::default(),
        }
    }

    fn take(&self) -> Result<SlotGuard, ApiError> {
        let taken = self.active.fetch_add(1, Ordering::SeqCst);
        let guard = SlotGuard(self.active.clone());
        if taken >= self.max {
            return Err(ApiError::bad_input(format!(
                "this connection already has {} subscriptions, the most it may hold",
                self.max
            )));
        }
        Ok(guard)
    }
}

/// Gives the slot back when the subscription's stream is dropped.
struct SlotGuard(Arc<AtomicUsize>);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A slot for this subscription, when it runs over a connection with a limit.
fn slot(ctx: &Context<'_>) -> Result<Option<SlotGuard>, ApiError> {
    ctx.data_opt::<SubscriptionSlots>()
        .map(SubscriptionSlots::take)
        .transpose()
}

#[derive(Default)]
pub struct SubscriptionRoot;

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Events in global-position order. With afterPosition: first the stored
    /// events after it, then live ones, with no gap and no duplicate at the
    /// hand-over. Without it: live events only.
    async fn event_appended(
        &self,
        ctx: &Context<'_>,
        filter: Option<EventFilter>,
        after_position: Option<Long>,
    ) -> Result<impl Stream<Item = Result<Event, async_graphql::Error>> + use<>, ApiError> {
        if let Some(Long(p)) = after_position
            && p < 0
        {
            return Err(ApiError::bad_input(format!(
                "afterPosition must be 0 or more, got {p}"
            )));
        }
        let filter = filter.unwrap_or_default().into_log_filter()?;
        let guard = slot(ctx)?;
        let store = ctx.data_unchecked::<EventStore>().clone();
        let hub = ctx.data_unchecked::<Hub>().clone();
        Ok(
            event_feed(store, hub, filter, after_position.map(|p| p.0)).map(move |item| {
                let _held = &guard;
                item.map(Event::from).map_err(|e| ApiError::from(e).into())
            }),
        )
    }

    /// Every status change and throttled progress of one projection, or of
    /// all when name is omitted.
    async fn projection_status(
        &self,
        ctx: &Context<'_>,
        name: Option<String>,
    ) -> Result<impl Stream<Item = Projection> + use<>, ApiError> {
        let projections = ctx.data_unchecked::<Projections>().clone();
        let watches = match &name {
            Some(name) => vec![projections.watch(name)?],
            None => projections
                .names()
                .iter()
                .map(|n| projections.watch(n))
                .collect::<Result<_, _>>()?,
        };
        let guard = slot(ctx)?;
        Ok(status_feed(watches).map(move |status| {
            let _held = &guard;
            Projection::new(status, projections.head())
        }))
    }
}
