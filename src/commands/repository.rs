//! Loading aggregates: from the LRU cache, else from the latest snapshot
//! plus the events after it, else by replaying the whole stream.
//!
//! The cache is written with a newer version than it holds, never an
//! older one: for the streams a command locks, as soon as its append is
//! queued (the state that append will produce, `in_flight.rs`); for
//! others, after the commit. It is dropped when an append fails. An entry
//! made stale by another node, or by an append that then failed, cannot
//! cause a wrong decision to commit: every append expects the version the
//! state was loaded at, and names the queued append it was decided on, so
//! a stale state ends in a conflict, a drop and a reload.

use std::sync::Arc;

use moka::future::Cache;
use moka::ops::compute::Op;

use super::CommandError;
use chrono::{DateTime, Utc};

use crate::domain::{Aggregate, DomainEvent, Snapshot};
use crate::store::{Direction, EventStore, RecordedEvent, StreamId};

/// Events read per query while replaying a stream.
const REPLAY_PAGE: u64 = 1_000;

/// A state and the stream version it reflects.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded<A> {
    pub state: A,
    pub version: i64,
}

pub struct Repository<A: Snapshot> {
    pub(super) store: EventStore,
    cache: Cache<String, Arc<Loaded<A>>>,
    pub(super) snapshot_every: i64,
}

impl<A: Snapshot> Repository<A> {
    /// `snapshot_every`: a snapshot is written when a stream's version
    /// crosses a multiple of it (0: never).
    pub fn new(store: EventStore, capacity: u64, snapshot_every: i64) -> Self {
        Self {
            store,
            cache: Cache::new(capacity),
            snapshot_every,
        }
    }

    pub async fn load(&self, stream: &StreamId) -> Result<Loaded<A>, CommandError> {
        if let Some(hit) = self.cache.get(stream.as_str()).await {
            metrics::counter!(crate::metrics::CACHE_HITS).increment(1);
            return Ok((*hit).clone());
        }
        metrics::counter!(crate::metrics::CACHE_MISSES).increment(1);
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
            Err(CommandError::conflict(
                stream.to_string(),
                expected,
                loaded.version,
            ))
        }
    }

    /// The state from the latest snapshot plus the events after it.
    pub async fn replay(&self, stream: &StreamId) -> Result<Loaded<A>, CommandError> {
        let start = self.snapshot_at_or_below(stream, None).await?;
        Ok(self.fold_until(stream, start, None).await?.0)
    }

    /// The state at `version` (snapshot at or below it, then events), with
    /// the time of its last event; `None` when the stream is shorter.
    pub async fn load_at(
        &self,
        stream: &StreamId,
        version: i64,
    ) -> Result<Option<(Loaded<A>, DateTime<Utc>)>, CommandError> {
        let start = self.snapshot_at_or_below(stream, Some(version)).await?;
        let (loaded, at) = self.fold_until(stream, start, Some(version)).await?;
        if loaded.version != version {
            return Ok(None);
        }
        let at = match at {
            Some(at) => at,
            // The snapshot was exactly at `version`: its event tells the time.
            None => {
                let event = self
                    .store
                    .read_stream(stream.as_str(), Some(version), Direction::Forward, 1)
                    .await?;
                match event.first() {
                    Some(event) => event.recorded_at,
                    None => return Ok(None),
                }
            }
        };
        Ok(Some((loaded, at)))
    }

    /// Folds the stream's events after `loaded.version` onto it, up to
    /// `until` (or the end); also returns the last folded event's time.
    async fn fold_until(
        &self,
        stream: &StreamId,
        mut loaded: Loaded<A>,
        until: Option<i64>,
    ) -> Result<(Loaded<A>, Option<DateTime<Utc>>), CommandError> {
        let mut at = None;
        loop {
            let from = Some(loaded.version + 1);
            let page = self
                .store
                .read_stream(stream.as_str(), from, Direction::Forward, REPLAY_PAGE)
                .await?;
            let done = (page.len() as u64) < REPLAY_PAGE;
            for recorded in page
                .iter()
                .take_while(|e| until.is_none_or(|u| e.version <= u))
            {
                let event = decode::<A>(recorded)?;
                loaded.state = loaded.state.apply(&event);
                loaded.version = recorded.version;
                at = Some(recorded.recorded_at);
            }
            if done || until.is_some_and(|u| loaded.version >= u) {
                return Ok((loaded, at));
            }
        }
    }

    /// Caches a state unless the cache already holds a newer one (two
    /// commits on one aggregate may finish in either order).
    pub async fn remember(&self, stream: &StreamId, loaded: Loaded<A>) {
        let version = loaded.version;
        // Each command remembers its state twice, when its append is queued
        // and once it has committed, so the second call mostly finds it
        // there already. A read tells that for a fraction of what the
        // cache's atomic compute costs (about 5 % of the runtime workers'
        // samples at 64 clients went to it); skipping then is what the compute would do.
        if self
            .cache
            .get(stream.as_str())
            .await
            .is_some_and(|cached| cached.version >= version)
        {
            return;
        }
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

/// A stored event as the aggregate's event type. One that could not be
/// brought to its current schema is refused, never misread: deciding on a
/// state folded from it could break the aggregate's rules.
pub fn decode<A: Aggregate>(recorded: &RecordedEvent) -> Result<A::Event, CommandError> {
    let unreadable = |why: &dyn std::fmt::Display| {
        CommandError::internal(format!(
            "event {} of stream {} (version {}, type {}) cannot be read: {why}",
            recorded.id, recorded.stream_id, recorded.version, recorded.event_type
        ))
    };
    if let Some(reason) = &recorded.upcast_error {
        return Err(unreadable(reason));
    }
    A::Event::from_parts(&recorded.event_type, recorded.data.clone())
        .map_err(|err| unreadable(&err))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::account::Account;
    use crate::read_models::testing::sqlite_store;

    async fn cached_version(repo: &Repository<Account>, stream: &StreamId) -> i64 {
        repo.load(stream).await.expect("cached").version
    }

    #[tokio::test]
    async fn given_a_cached_state_when_one_is_remembered_then_only_a_newer_version_replaces_it() {
        let (_dir, store) = sqlite_store().await;
        let repo = Repository::<Account>::new(store, 10, 0);
        let stream = StreamId::parse("account-a").expect("stream id");
        let at = |version| Loaded {
            state: Account::default(),
            version,
        };

        repo.remember(&stream, at(3)).await;
        repo.remember(&stream, at(2)).await;
        assert_eq!(cached_version(&repo, &stream).await, 3);

        repo.remember(&stream, at(3)).await;
        assert_eq!(cached_version(&repo, &stream).await, 3);

        repo.remember(&stream, at(4)).await;
        assert_eq!(cached_version(&repo, &stream).await, 4);
    }
}
