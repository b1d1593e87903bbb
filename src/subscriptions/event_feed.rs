//! The event feed behind `eventAppended`: one subscriber's events in
//! position order, from the store while it catches up, then from the hub.
//!
//! The feed registers with the hub first, which tells it `through`: every
//! position after it will arrive on the registration's channel. It reads
//! what it asked for up to `through` from the store, in pages, then takes
//! the hub's deliveries. If the hub drops it for falling behind (its
//! channel ends), it registers again and reads the gap from the store. It
//! tracks the last position it has seen, so the hand-over has no gap and
//! no duplicate.

use std::collections::VecDeque;

use futures::Stream;

use super::hub::{Hub, Registration};
use crate::store::{EventStore, LogFilter, RecordedEvent, StoreError};

/// Events read per query while catching up.
const PAGE: u64 = 500;

/// Events matching `filter` in position order: those after `after` first
/// (when given), then every later one as it commits; without `after`, only
/// those committed from now on. Ends after an error, or when dropped.
pub fn event_feed(
    store: EventStore,
    hub: Hub,
    filter: LogFilter,
    after: Option<i64>,
) -> impl Stream<Item = Result<RecordedEvent, StoreError>> + Send + 'static {
    let registration = hub.register(filter.clone());
    // "From now on" is this node's head, not the hub's `through`: the hub
    // may not have dispatched the last commit yet, and its events are not
    // new to this subscriber. Deliveries up to `seen` are skipped.
    let now = registration.through.max(store.head());
    let feed = Feed {
        seen: after.unwrap_or(now),
        store,
        hub,
        filter,
        registration,
        pending: VecDeque::new(),
        failed: false,
    };
    futures::stream::unfold(feed, |mut feed| async move {
        let item = feed.next().await?;
        Some((item, feed))
    })
}

struct Feed {
    store: EventStore,
    hub: Hub,
    filter: LogFilter,
    registration: Registration,
    /// Every position up to this one is in `pending`, was sent, or did not
    /// match.
    seen: i64,
    pending: VecDeque<RecordedEvent>,
    failed: bool,
}

impl Feed {
    async fn next(&mut self) -> Option<Result<RecordedEvent, StoreError>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(Ok(event));
            }
            if self.failed {
                return None;
            }
            let through = self.registration.through;
            if self.seen < through {
                if let Err(err) = self.catch_up(through).await {
                    self.failed = true;
                    return Some(Err(err));
                }
                continue;
            }
            match self.registration.deliveries.recv().await {
                Some(batch) => {
                    for event in batch.iter() {
                        if event.position > self.seen {
                            self.seen = event.position;
                            self.pending.push_back(event.clone());
                        }
                    }
                }
                // Dropped for falling behind: whatever committed since the
                // last delivery is read from the store on the next turn.
                None => self.registration = self.hub.register(self.filter.clone()),
            }
        }
    }

    /// Reads the next page stored after `seen`, up to `through`.
    async fn catch_up(&mut self, through: i64) -> Result<(), StoreError> {
        let page = {
            let _turn = self.hub.catch_up_turn().await;
            self.store
                .read_log_until(self.seen, through, &self.filter, PAGE)
                .await?
        };
        // A short page read everything up to `through`, matching or not.
        self.seen = match page.last() {
            Some(last) if page.len() as u64 == PAGE => last.position,
            _ => through,
        };
        self.pending.extend(page);
        Ok(())
    }
}
