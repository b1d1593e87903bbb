//! Loading aggregates: from the LRU cache, else by replaying the stream.
//!
//! The cache is only ever ahead of nothing: it is written after a commit
//! (and only with a newer version than it holds) and dropped on a conflict.
//! An entry made stale by another node cannot cause a wrong decision to
//! commit either: every append expects the version the state was loaded
//! at, so a stale state ends in a conflict, a drop and a reload.

use std::sync::Arc;

use moka::future::Cache;
use moka::ops::compute::Op;

use super::CommandError;
use crate::domain::{Aggregate, DomainEvent};
use crate::store::{Direction, EventStore, RecordedEvent, StreamId};

/// Events read per query while replaying a stream.
const REPLAY_PAGE: u64 = 1_000;

/// A state and the stream version it reflects.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded<A> {
    pub state: A,
    pub version: i64,
}

pub struct Repository<A: Aggregate> {
    store: EventStore,
    cache: Cache<String, Arc<Loaded<A>>>,
}

impl<A: Aggregate> Repository<A> {
    pub fn new(store: EventStore, capacity: u64) -> Self {
        Self {
            store,
            cache: Cache::new(capacity),
        }
    }

    pub async fn load(&self, stream: &StreamId) -> Result<Loaded<A>, CommandError> {
        if let Some(hit) = self.cache.get(stream.as_str()).await {
            return Ok((*hit).clone());
        }
        let loaded = self.replay(stream).await?;
        self.remember(stream, loaded.clone()).await;
        Ok(loaded)
    }

    /// Loads and checks a client's expected version. A mismatch against
    /// the cache is confirmed against the store before it is reported, so
    /// another node's write cannot make a right expectation look wrong.
    pub async fn load_expecting(
        &self,
        stream: &StreamId,
        expected: Option<i64>,
    ) -> Result<Loaded<A>, CommandError> {
        let loaded = self.load(stream).await?;
        let Some(expected) = expected else {
            return Ok(loaded);
        };
        if loaded.version == expected {
            return Ok(loaded);
        }
        self.forget(stream).await;
        let loaded = self.load(stream).await?;
        if loaded.version == expected {
            Ok(loaded)
        } else {
            Err(CommandError::Conflict {
                stream: stream.to_string(),
                expected,
                actual: loaded.version,
            })
        }
    }

    /// Full replay of the stream from version 1.
    pub async fn replay(&self, stream: &StreamId) -> Result<Loaded<A>, CommandError> {
        let mut loaded = Loaded {
            state: A::default(),
            version: 0,
        };
        loop {
            let page = self
                .store
                .read_stream(
                    stream.as_str(),
                    Some(loaded.version + 1),
                    Direction::Forward,
                    REPLAY_PAGE,
                )
                .await?;
            let done = (page.len() as u64) < REPLAY_PAGE;
            for recorded in &page {
                let event = decode::<A>(recorded)?;
                loaded.state = loaded.state.apply(&event);
                loaded.version = recorded.version;
            }
            if done {
                return Ok(loaded);
            }
        }
    }

    /// Caches a state unless the cache already holds a newer one (two
    /// commits on one aggregate may finish in either order).
    pub async fn remember(&self, stream: &StreamId, loaded: Loaded<A>) {
        let version = loaded.version;
        let loaded = Arc::new(loaded);
        self.cache
            .entry(stream.as_str().to_owned())
            .and_compute_with(|current| async move {
                match current {
                    Some(entry) if entry.value().version >= version => Op::Nop,
                    _ => Op::Put(loaded),
                }
            })
            .await;
    }

    pub async fn forget(&self, stream: &StreamId) {
        self.cache.invalidate(stream.as_str()).await;
    }
}

/// A stored event as the aggregate's event type.
pub fn decode<A: Aggregate>(recorded: &RecordedEvent) -> Result<A::Event, CommandError> {
    A::Event::from_parts(&recorded.event_type, recorded.data.clone()).map_err(|err| {
        CommandError::Internal(format!(
            "event {} of stream {} (version {}, type {}) cannot be read: {err}",
            recorded.id, recorded.stream_id, recorded.version, recorded.event_type
        ))
    })
}
