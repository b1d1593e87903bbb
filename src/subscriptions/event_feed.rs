//! The event feed behind `eventAppended`.
//!
//! Positions are dense (the writer hands them out without gaps), so the
//! feed always knows the next position it expects. It subscribes to the
//! writer's broadcast before reading anything, catches up from the store,
//! then takes live batches, skipping what it has seen and reading from the
//! store whatever it missed: a hole in the positions (another node's
//! commit) or a lag of the broadcast buffer (a slow subscriber). Writers
//! never wait for a subscriber: the broadcast drops what a slow one has not
//! taken, and the store has it all.

use std::sync::Arc;

use futures::Stream;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use crate::store::{EventStore, LogFilter, RecordedEvent, StoreError};

/// Events read per query while catching up.
const PAGE: u64 = 500;
/// Events buffered per subscriber between the feed and the connection.
const OUTBOX: usize = 256;

/// Events matching `filter` in position order: those after `after` first
/// (when given), then every later one as it commits; without `after`, only
/// those committed from now on. Ends when the subscriber goes away.
pub fn event_feed(
    store: EventStore,
    filter: LogFilter,
    after: Option<i64>,
) -> impl Stream<Item = Result<RecordedEvent, StoreError>> + Send + 'static {
    let (tx, rx) = mpsc::channel(OUTBOX);
    // Subscribe before reading the head: whatever commits after the head
    // is read arrives on the broadcast.
    let live = store.live_events();
    let start = after.unwrap_or_else(|| store.head());
    let feed = Feed {
        store,
        filter,
        last: start,
        tx,
    };
    tokio::spawn(feed.run(live));
    ReceiverStream::new(rx)
}

struct Feed {
    store: EventStore,
    filter: LogFilter,
    /// Every position up to this one has been seen (sent or filtered out).
    last: i64,
    tx: mpsc::Sender<Result<RecordedEvent, StoreError>>,
}

/// The subscriber went away.
struct Gone;

impl Feed {
    async fn run(mut self, mut live: broadcast::Receiver<Arc<[RecordedEvent]>>) {
        let head = self.store.head();
        if self.catch_up(head).await.is_err() {
            return;
        }
        loop {
            let result = match live.recv().await {
                Ok(batch) => self.take(&batch).await,
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let head = self.store.head();
                    self.catch_up(head).await
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            if result.is_err() {
                return;
            }
        }
    }

    async fn take(&mut self, batch: &[RecordedEvent]) -> Result<(), Gone> {
        for event in batch {
            if event.position <= self.last {
                continue;
            }
            if event.position > self.last + 1 {
                self.catch_up(event.position - 1).await?;
            }
            self.last = event.position;
            if self.filter.matches(event) {
                self.send(Ok(event.clone())).await?;
            }
        }
        Ok(())
    }

    /// Sends everything stored after `last` up to `until`, from the store.
    async fn catch_up(&mut self, until: i64) -> Result<(), Gone> {
        while self.last < until {
            let page = match self
                .store
                .read_log_until(self.last, until, &self.filter, PAGE)
                .await
            {
                Ok(page) => page,
                Err(err) => {
                    self.send(Err(err)).await?;
                    return Err(Gone);
                }
            };
            let full = page.len() as u64 == PAGE;
            for event in page {
                self.last = event.position;
                self.send(Ok(event)).await?;
            }
            if !full {
                // A short page read everything up to `until`, matching or not.
                self.last = until;
            }
        }
        Ok(())
    }

    async fn send(&self, item: Result<RecordedEvent, StoreError>) -> Result<(), Gone> {
        self.tx.send(item).await.map_err(|_| Gone)
    }
}
