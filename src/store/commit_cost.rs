//! What one durable event commit costs on this disk lately: how long a
//! small batch of the event writer held SQLite's write lock.
//!
//! The read models' turns are paced by it (`read_models/runtime/pace.rs`).
//! The disks these servers run on switch between a ~0.13 ms and a ~4 ms
//! fsync for minutes at a time. A fixed interval between read-model turns
//! suits one state only: at 5 ms on the slow disk, one client's commands
//! come 6.6 ms apart, every command gets a turn of its own, and that turn
//! holds the write lock just as the client's next command wants it
//! (BENCHMARKS.md). Measured here, the pace follows the disk.
//!
//! Only batches of a few commands count: a large batch's lock time is
//! mostly its rows, not the fsync, and under load the turns cover many
//! commits whatever their pace. Recent batches weigh most (an average
//! with weight [`WEIGHT`]), so the estimate follows a switch of the disk's
//! state within a few dozen commits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Batches of at most this many commands are measured.
pub(crate) const SMALL_BATCH: usize = 2;
/// Each measurement moves the estimate by 1/WEIGHT of the difference.
const WEIGHT: u64 = 8;

/// The estimate, in microseconds; 0 until the first measurement.
#[derive(Debug, Default)]
pub struct CommitCost {
    micros: AtomicU64,
}

impl CommitCost {
    /// A batch of `jobs` commands held the write lock for `held`.
    pub(crate) fn observe(&self, jobs: usize, held: Duration) {
        if jobs == 0 || jobs > SMALL_BATCH {
            return;
        }
        let sample = u64::try_from(held.as_micros()).unwrap_or(u64::MAX).max(1);
        // One writer measures; readers only load, so no update is lost
        // that matters.
        let last = self.micros.load(Ordering::Relaxed);
        let next = if last == 0 {
            sample
        } else if sample >= last {
            last + (sample - last) / WEIGHT
        } else {
            last - (last - sample) / WEIGHT
        };
        self.micros.store(next, Ordering::Relaxed);
    }

    /// The estimate, or `None` before any small batch committed.
    pub fn get(&self) -> Option<Duration> {
        match self.micros.load(Ordering::Relaxed) {
            0 => None,
            micros => Some(Duration::from_micros(micros)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn given_no_commit_yet_when_asked_then_there_is_no_estimate() {
        assert_eq!(CommitCost::default().get(), None);
    }

    #[test]
    fn given_the_first_small_batch_when_it_commits_then_it_is_the_estimate() {
        let cost = CommitCost::default();
        cost.observe(1, 4 * MS);
        assert_eq!(cost.get(), Some(4 * MS));
    }

    #[test]
    fn given_an_estimate_when_a_large_batch_commits_then_it_is_not_counted() {
        let cost = CommitCost::default();
        cost.observe(1, MS);
        cost.observe(SMALL_BATCH + 1, 40 * MS);
        assert_eq!(cost.get(), Some(MS));
    }

    #[test]
    fn given_a_fast_disk_when_it_turns_slow_then_the_estimate_follows_within_dozens_of_commits() {
        let cost = CommitCost::default();
        cost.observe(1, Duration::from_micros(300));
        cost.observe(1, 5 * MS);
        let one = cost.get().unwrap();
        assert!(one > Duration::from_micros(300) && one < MS, "{one:?}");
        for _ in 0..40 {
            cost.observe(2, 5 * MS);
        }
        let later = cost.get().unwrap();
        assert!(later > Duration::from_micros(4_900), "{later:?}");
    }

    #[test]
    fn given_a_slow_disk_when_it_turns_fast_then_the_estimate_falls() {
        let cost = CommitCost::default();
        cost.observe(1, 5 * MS);
        for _ in 0..40 {
            cost.observe(1, Duration::from_micros(300));
        }
        assert!(cost.get().unwrap() < Duration::from_micros(400));
    }
}
