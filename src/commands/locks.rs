//! Per-aggregate serialization inside one node.
//!
//! Commands on the same aggregate would otherwise race: each loads version
//! v, all append expecting v, one wins per group commit, and the rest retry;
//! fifty concurrent deposits to one account would need fifty rounds. Taking
//! the aggregate's lock first makes them queue instead, each deciding on
//! the state its predecessor's append produces (from the cache). A command
//! holds the lock while it decides and queues its append, not while that
//! commits (`in_flight.rs`), so queued commands share a group commit.
//! Races with other nodes remain, and the optimistic check plus retry
//! still handles them.
//!
//! The locks are striped (a fixed set, chosen by hash) so there is nothing
//! to clean up; two aggregates that share a stripe merely wait for each
//! other. A command on several aggregates (a transfer) takes its stripes in
//! ascending order, so two opposite transfers cannot deadlock.

use std::hash::BuildHasher;

use tokio::sync::{Mutex, MutexGuard};

const STRIPES: usize = 1024;

pub struct AggregateLocks {
    stripes: Box<[Mutex<()>]>,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for AggregateLocks {
    fn default() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            hasher: Default::default(),
        }
    }
}

impl AggregateLocks {
    /// Locks every key's stripe, in stripe order; released on drop.
    pub async fn lock(&self, keys: &[&str]) -> Vec<MutexGuard<'_, ()>> {
        let mut stripes: Vec<usize> = keys.iter().map(|k| self.stripe(k)).collect();
        stripes.sort_unstable();
        stripes.dedup();
        let mut guards = Vec::with_capacity(stripes.len());
        for stripe in stripes {
            guards.push(self.stripes[stripe].lock().await);
        }
        guards
    }

    fn stripe(&self, key: &str) -> usize {
        (self.hasher.hash_one(key) % STRIPES as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn opposite_lock_orders_do_not_deadlock() {
        let locks = Arc::new(AggregateLocks::default());
        let tasks = (0..50).map(|i| {
            let locks = locks.clone();
            tokio::spawn(async move {
                let keys = if i % 2 == 0 {
                    ["account-a", "account-b"]
                } else {
                    ["account-b", "account-a"]
                };
                let _guards = locks.lock(&keys).await;
                tokio::task::yield_now().await;
            })
        });
        let all = futures::future::join_all(tasks);
        tokio::time::timeout(Duration::from_secs(5), all)
            .await
            .expect("no deadlock");
    }

    #[tokio::test]
    async fn one_key_is_held_by_one_caller_at_a_time() {
        let locks = AggregateLocks::default();
        let first = locks.lock(&["account-a"]).await;
        let second =
            tokio::time::timeout(Duration::from_millis(50), locks.lock(&["account-a"])).await;
        assert!(second.is_err(), "the second caller waits");
        drop(first);
        assert!(!locks.lock(&["account-a"]).await.is_empty());
    }
}
