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

use tokio::time::{Duration, Instant};

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

    /// The instant to wait for before a turn due `now`, if it is early.
    pub fn wait_until(&self, now: Instant) -> Option<Instant> {
        let next = self.last_start? + self.interval;
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
        assert_eq!(pace.wait_until(Instant::now()), None);
    }

    #[test]
    fn given_a_turn_just_started_when_the_next_is_due_then_it_waits_out_the_interval() {
        let mut pace = Pace::new(INTERVAL);
        let start = Instant::now();
        pace.started(start);
        let now = start + Duration::from_millis(1);
        assert_eq!(pace.wait_until(now), Some(start + INTERVAL));
    }

    #[test]
    fn given_the_interval_passed_when_a_turn_is_due_then_it_starts_at_once() {
        let mut pace = Pace::new(INTERVAL);
        let start = Instant::now();
        pace.started(start);
        assert_eq!(pace.wait_until(start + INTERVAL), None);
        assert_eq!(pace.wait_until(start + 2 * INTERVAL), None);
    }

    #[test]
    fn given_a_turn_just_started_when_a_reader_hurries_then_the_next_starts_at_once() {
        let mut pace = Pace::new(INTERVAL);
        let start = Instant::now();
        pace.started(start);
        pace.hurry();
        assert_eq!(pace.wait_until(start + Duration::from_millis(1)), None);
    }

    #[test]
    fn given_a_zero_interval_when_turns_follow_each_other_then_none_waits() {
        let mut pace = Pace::new(Duration::ZERO);
        let start = Instant::now();
        pace.started(start);
        assert_eq!(pace.wait_until(start), None);
    }
}
