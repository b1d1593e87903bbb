//! The fan-out hub: one task takes every commit from the writer's
//! broadcast and hands each subscriber only the events its filter matches.
//!
//! Subscribers are indexed by stream id and by category, so a commit costs
//! work in proportion to the subscribers it concerns, not to all of them:
//! ten thousand subscribers each watching their own account wake only when
//! their account changes. Unfiltered subscribers share the commit's batch
//! itself (one `Arc`, no copy).
//!
//! No gap: positions are dense, so the hub knows the next one it expects.
//! A hole (another node's commit, or the hub lagging the broadcast) is read
//! from the store once, for everybody, before the batch after it. Every
//! position up to `through` has been dispatched; a subscriber registers
//! under the same lock the hub dispatches under, so everything after the
//! `through` it is given reaches its channel.
//!
//! No stall: the hub never waits for a subscriber. One whose channel is full
//! is dropped from the registry; its feed sees the channel end, registers
//! again and reads what it missed from the store (see `event_feed.rs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Semaphore, broadcast, mpsc};

use crate::metrics as m;
use crate::store::{EventStore, LogFilter, RecordedEvent, category_of};

/// Deliveries (one per commit that concerns it) a subscriber may have
/// waiting before it is dropped and must catch up from the store.
const CHANNEL: usize = 1_024;
/// Events per store read when the hub fills a hole.
const PAGE: u64 = 1_000;
/// Subscribers catching up from the store at once: the rest wait, so
/// lagging subscribers cannot take every pooled connection from writers.
const CATCH_UP_READERS: usize = 4;

pub type Delivery = Arc<[RecordedEvent]>;

#[derive(Clone)]
pub struct Hub {
    registry: Arc<Mutex<Registry>>,
    catch_up: Arc<Semaphore>,
}

/// A registered subscriber's end: deliveries after `through`.
pub struct Registration {
    pub through: i64,
    pub deliveries: mpsc::Receiver<Delivery>,
    _entry: Deregister,
}

#[derive(Default)]
struct Registry {
    through: i64,
    next_id: u64,
    subscribers: HashMap<u64, Subscriber>,
    by_stream: HashMap<String, Vec<u64>>,
    by_category: HashMap<String, Vec<u64>>,
    everything: Vec<u64>,
}

struct Subscriber {
    filter: LogFilter,
    tx: mpsc::Sender<Delivery>,
}

impl Hub {
    /// Starts the hub on `store`'s commits from its current head on.
    pub fn start(store: EventStore) -> Self {
        let live = store.live_events();
        let registry = Registry {
            through: store.head(),
            ..Registry::default()
        };
        let hub = Self {
            registry: Arc::new(Mutex::new(registry)),
            catch_up: Arc::new(Semaphore::new(CATCH_UP_READERS)),
        };
        tokio::spawn(hub.clone().run(store, live));
        hub
    }

    /// Registers a subscriber: it receives every matching event after the
    /// returned `through`, in order, until it drops the registration or
    /// falls `CHANNEL` deliveries behind (then its channel ends).
    pub fn register(&self, filter: LogFilter) -> Registration {
        let (tx, deliveries) = mpsc::channel(CHANNEL);
        let mut registry = self.lock();
        let id = registry.next_id;
        registry.next_id += 1;
        registry.index(id, &filter);
        registry.subscribers.insert(id, Subscriber { filter, tx });
        metrics::gauge!(m::SUBSCRIBERS).set(registry.subscribers.len() as f64);
        Registration {
            through: registry.through,
            deliveries,
            _entry: Deregister {
                id,
                registry: Arc::downgrade(&self.registry),
            },
        }
    }

    /// A turn to read from the store while catching up.
    pub async fn catch_up_turn(&self) -> tokio::sync::SemaphorePermit<'_> {
        self.catch_up
            .acquire()
            .await
            .expect("the catch-up semaphore is never closed")
    }

    #[cfg(test)]
    fn subscribers(&self) -> usize {
        self.lock().subscribers.len()
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        // A panic while dispatching leaves the index as it was between two
        // statements; it stays usable.
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn run(self, store: EventStore, mut live: broadcast::Receiver<Delivery>) {
        let mut head = store.watch_head();
        loop {
            // This node's commits come broadcast (the writer sends them
            // before it moves the head, so `biased` takes them first);
            // another node's move only the head, and are read from the log.
            let (batch, by_head) = tokio::select! {
                biased;
                received = live.recv() => match received {
                    Ok(batch) => (Some(batch), false),
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(
                            missed,
                            "subscription hub lagged the writer; reading the log"
                        );
                        (None, true)
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                changed = head.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    // The head can wake this loop before the batch the
                    // writer broadcast just before moving it is received:
                    // take it as broadcast rather than read it back (under
                    // load that was a query for every other commit).
                    (live.try_recv().ok(), true)
                }
            };
            let until = match &batch {
                Some(batch) => batch.first().map_or(0, |e| e.position - 1),
                None => *head.borrow_and_update(),
            };
            self.fill(&store, until).await;
            if let Some(batch) = batch {
                self.lock().dispatch(&batch);
                if by_head {
                    // Whatever moved the head past it (another node's
                    // commits) is read from the log.
                    let head = *head.borrow_and_update();
                    self.fill(&store, head).await;
                }
            }
        }
    }

    /// Dispatches what the store holds after `through` up to `until`.
    async fn fill(&self, store: &EventStore, until: i64) {
        let mut after = self.lock().through;
        while after < until {
            let page = match store
                .read_log_until(after, until, &LogFilter::default(), PAGE)
                .await
            {
                Ok(page) if !page.is_empty() => page,
                Ok(_) => return,
                Err(err) => {
                    // Subscribers past the hole would wait for it forever;
                    // dropping them makes their feeds read it themselves.
                    tracing::error!(error = %err, after, until, "subscription hub could not read the log");
                    self.lock().drop_all();
                    return;
                }
            };
            after = page.last().map_or(until, |e| e.position);
            self.lock().dispatch(&page.into());
        }
    }
}

impl Registry {
    fn index(&mut self, id: u64, filter: &LogFilter) {
        let list = match (&filter.stream_id, &filter.category) {
            (Some(stream), _) => self.by_stream.entry(stream.clone()).or_default(),
            (None, Some(category)) => self.by_category.entry(category.clone()).or_default(),
            (None, None) => &mut self.everything,
        };
        list.push(id);
    }

    fn remove(&mut self, id: u64) {
        let Some(subscriber) = self.subscribers.remove(&id) else {
            return;
        };
        metrics::gauge!(m::SUBSCRIBERS).set(self.subscribers.len() as f64);
        let filter = subscriber.filter;
        let (map, key) = match (filter.stream_id, filter.category) {
            (Some(stream), _) => (&mut self.by_stream, stream),
            (None, Some(category)) => (&mut self.by_category, category),
            (None, None) => {
                self.everything.retain(|s| *s != id);
                return;
            }
        };
        if let Some(list) = map.get_mut(&key) {
            list.retain(|s| *s != id);
            if list.is_empty() {
                map.remove(&key);
            }
        }
    }

    fn drop_all(&mut self) {
        let ids: Vec<u64> = self.subscribers.keys().copied().collect();
        for id in ids {
            self.remove(id);
        }
    }

    /// Hands `batch` (positions right after `through`) to its subscribers.
    fn dispatch(&mut self, batch: &Delivery) {
        let Some(last) = batch.last().map(|e| e.position) else {
            return;
        };
        if last <= self.through {
            return;
        }
        let mut picks: HashMap<u64, Vec<RecordedEvent>> = HashMap::new();
        for event in batch.iter().filter(|e| e.position > self.through) {
            let by_stream = self.by_stream.get(&event.stream_id);
            let by_category = self.by_category.get(category_of(&event.stream_id));
            for id in by_stream.into_iter().chain(by_category).flatten() {
                if self.subscribers[id].filter.matches(event) {
                    picks.entry(*id).or_default().push(event.clone());
                }
            }
        }
        let mut overflowed = Vec::new();
        let whole = batch.first().is_some_and(|e| e.position > self.through);
        for id in &self.everything {
            let subscriber = &self.subscribers[id];
            let delivery = if whole && subscriber.filter.types.is_empty() {
                batch.clone()
            } else {
                let events: Vec<RecordedEvent> = batch
                    .iter()
                    .filter(|e| e.position > self.through && subscriber.filter.matches(e))
                    .cloned()
                    .collect();
                if events.is_empty() {
                    continue;
                }
                events.into()
            };
            if subscriber.tx.try_send(delivery).is_err() {
                overflowed.push(*id);
            }
        }
        for (id, events) in picks {
            if self.subscribers[&id].tx.try_send(events.into()).is_err() {
                overflowed.push(id);
            }
        }
        if !overflowed.is_empty() {
            metrics::counter!(m::SUBSCRIBERS_DROPPED).increment(overflowed.len() as u64);
        }
        for id in overflowed {
            self.remove(id);
        }
        self.through = last;
    }
}

/// Takes a subscriber out of the registry when its feed ends.
struct Deregister {
    id: u64,
    registry: std::sync::Weak<Mutex<Registry>>,
}

impl Drop for Deregister {
    fn drop(&mut self) {
        if let Some(registry) = self.registry.upgrade() {
            registry
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(self.id);
        }
    }
}

#[cfg(test)]
mod tests;
