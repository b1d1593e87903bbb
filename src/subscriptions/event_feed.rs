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
//!
//! A catch-up read that finds the database unreachable, or every pooled
//! connection taken for the pool's acquire timeout, is tried again a few
//! times before the feed ends with UNAVAILABLE. Hundreds of subscribers
//! that start at once all catch up at once; ending a long-lived stream
//! over one busy moment would make each of them subscribe again, and
//! read again, into the same crowd.

use std::collections::VecDeque;
use std::time::Duration;

use futures::Stream;

use super::hub::{Hub, Registration};
use crate::store::{EventStore, LogFilter, RecordedEvent, StoreError};

/// Events read per query while catching up.
const PAGE: u64 = 500;
/// Reads a catch-up page gets before its error ends the feed, and the
/// wait before the second; each later wait is four times the last
/// (0.1, 0.4, 1.6 s), so a database that is really gone ends the
/// subscriber's stream within seconds.
const CATCH_UP_TRIES: u32 = 4;
const FIRST_RETRY: Duration = Duration::from_millis(100);

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
        let mut tries = 1;
        let mut wait = FIRST_RETRY;
        let page = loop {
            let read = {
                let _turn = self.hub.catch_up_turn().await;
                self.store
                    .read_log_until(self.seen, through, &self.filter, PAGE)
                    .await
            };
            match read {
                Ok(page) => break page,
                Err(StoreError::Database(err))
                    if tries < CATCH_UP_TRIES && crate::db::is_unreachable(&err) =>
                {
                    tracing::warn!(%err, tries, "a subscriber's catch-up read failed; it tries again");
                    tokio::time::sleep(wait).await;
                    tries += 1;
                    wait *= 4;
                }
                Err(err) => return Err(err),
            }
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
