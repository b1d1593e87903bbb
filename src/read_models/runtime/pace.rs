//! How often the joint turn starts a read-model transaction.
//!
//! Each turn costs the same few statements however many commits it
//! applies (begin, lock the checkpoints, one multi-row write per table,
//! save the checkpoints, commit). At one client every command was its own
//! turn, and on two cores that work competed with the next command (on
//! SQLite it also held the one write lock the next command waited for).
//! Turns at least 5 ms apart took the one-client p50 from 1.05-1.13 ms to
//! 0.88-0.96 ms on PostgreSQL and from 1.22-1.47 ms to 0.80-0.97 ms on
//! SQLite (BENCHMARKS.md). Under load the commits between two turns are
//! many anyway: at 64 clients the same A/B showed no change.
//!
//! A read that asked for its own write (`minPosition`) does not wait for
//! the interval: it hurries the turn (`Turns::hurry`).
//!
//! On SQLite the turns are also at least [`COMMITS_APART`] event commits
//! apart, by what one costs on the disk lately (`store/commit_cost.rs`).
//! A turn holds the one write lock, and it starts just after a commit,
//! which is when one client's next command arrives: on a disk with a 4 ms
//! fsync, commands come 6.6 ms apart, so with turns 5 ms apart every
//! command had a turn of its own in its way and took 1.38-1.40× one raw
//! commit (p50); with turns 20 ms apart it took 1.20-1.26× (BENCHMARKS.md).
//! Four commits apart, one client's commands on that disk met a turn about
//! once in 2.5 (446-488 turns for about 1,220 commands, against a turn per
//! command before). On a fast disk four commits (about 2.4 ms at one client) are
//! less than the interval, which then decides alone. The wait is bounded
//! by [`LONGEST`], so a stalled disk cannot hide writes from readers for
//! long; PostgreSQL has no such lock and keeps the interval.

use tokio::time::{Duration, Instant};

/// On SQLite, turns start at least this many event commits apart.
pub(super) const COMMITS_APART: u32 = 4;
/// The longest the commit cost stretches the time between two turns.
pub(super) const LONGEST: Duration = Duration::from_millis(50);

/// When the next turn may start.
#[derive(Debug)]
pub(super) struct Pace {
    interval: Duration,
    last_start: Option<Instant>,
}

impl Pace {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            last_start: None,
        }
    }

    /// The instant to wait for before a turn due `now`, if it is early;
    /// `commit_cost` is what an event commit costs lately, if turns should
    /// keep clear of them. An interval of zero asks for a turn per commit,
    /// and gets it.
    pub fn wait_until(&self, now: Instant, commit_cost: Option<Duration>) -> Option<Instant> {
        let mut spacing = self.interval;
        if let Some(cost) = commit_cost.filter(|_| !self.interval.is_zero()) {
            spacing = spacing.max((cost * COMMITS_APART).min(LONGEST));
        }
        let next = self.last_start? + spacing;
        (now < next).then_some(next)
    }

    /// A turn starts `now`.
    pub fn started(&mut self, now: Instant) {
        self.last_start = Some(now);
    }

    /// A reader is waiting: the next turn may start at once.
    pub fn hurry(&mut self) {
        self.last_start = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_millis(5);

    #[test]
    fn given_no_turn_yet_when_one_is_due_then_it_starts_at_once() {
        let pace = Pace::new(INTERVAL);
        assert_eq!(pace.wait_until(Instant::now(), None), None);
    }

    #[test]
    fn given_a_turn_just_started_when_the_next_is_due_then_it_waits_out_the_interval() {
        let mut pace = Pace::new(INTERVAL);
        let start = Instant::now();
        pace.started(start);
        let now = start + Duration::from_millis(1);
        assert_eq!(pace.wait_until(now, None), Some(start + INTERVAL));
    }

    #[test]
    fn given_the_interval_passed_when_a_turn_is_due_then_it_starts_at_once() {
        let mut pace = Pace::new(INTERVAL);
        let start = Instant::now();
        pace.started(start);
        assert_eq!(pace.wait_until(start + INTERVAL, None), None);
        assert_eq!(pace.wait_until(start + 2 * INTERVAL, None), None);
    }

    #[test]
    fn given_a_turn_just_started_when_a_reader_hurries_then_the_next_starts_at_once() {
        let mut pace = Pace::new(INTERVAL);
        let start = Instant::now();
        pace.started(start);
        pace.hurry();
        assert_eq!(
            pace.wait_until(start + Duration::from_millis(1), None),
            None
        );
    }

    #[test]
    fn given_a_zero_interval_when_commits_are_slow_then_no_turn_waits() {
        let mut pace = Pace::new(Duration::ZERO);
        let start = Instant::now();
        pace.started(start);
        assert_eq!(pace.wait_until(start, Some(Duration::from_millis(4))), None);
    }

    #[test]
    fn given_slow_commits_when_a_turn_is_due_then_it_waits_for_four_of_them() {
        let mut pace = Pace::new(INTERVAL);
        let start = Instant::now();
        pace.started(start);
        let cost = Some(Duration::from_millis(5));
        let now = start + Duration::from_millis(6);
        assert_eq!(
            pace.wait_until(now, cost),
            Some(start + Duration::from_millis(20))
        );
        assert_eq!(
            pace.wait_until(start + Duration::from_millis(20), cost),
            None
        );
    }

    #[test]
    fn given_fast_commits_when_a_turn_is_due_then_the_interval_decides() {
        let mut pace = Pace::new(INTERVAL);
        let start = Instant::now();
        pace.started(start);
        let cost = Some(Duration::from_micros(600));
        let now = start + Duration::from_millis(1);
        assert_eq!(pace.wait_until(now, cost), Some(start + INTERVAL));
    }

    #[test]
    fn given_a_stalled_disk_when_a_turn_is_due_then_it_waits_no_longer_than_the_bound() {
        let mut pace = Pace::new(INTERVAL);
        let start = Instant::now();
        pace.started(start);
        let cost = Some(Duration::from_secs(1));
        let now = start + Duration::from_millis(1);
        assert_eq!(pace.wait_until(now, cost), Some(start + LONGEST));
    }

    #[test]
    fn given_slow_commits_when_a_reader_hurries_then_the_next_turn_starts_at_once() {
        let mut pace = Pace::new(INTERVAL);
        let start = Instant::now();
        pace.started(start);
        pace.hurry();
        let now = start + Duration::from_millis(1);
        assert_eq!(pace.wait_until(now, Some(Duration::from_millis(5))), None);
    }
}
