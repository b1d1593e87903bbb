//! The timed run shared by both systems: `clients` tasks, each sending one
//! command after another to a uniformly random account until the time is
//! up, timing every command; then the counts and the percentiles.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// What one command came to.
/// How much load a run puts on: shared by both systems' subcommands.
#[derive(clap::Args, Clone, Copy)]
pub struct Load {
    /// Concurrent clients, each sending its next deposit once the last one
    /// answered.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Length of the timed run.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Accounts opened before the run; deposits go to random ones.
    #[arg(long, default_value_t = 1000)]
    pub accounts: usize,
}

pub struct Done {
    /// Optimistic-concurrency conflicts met on the way (each one retried,
    /// or the last one the error).
    pub conflicts: u64,
    /// `None` when the command was accepted.
    pub error: Option<String>,
}

#[derive(Default)]
pub struct Run {
    /// Durations of the accepted commands.
    pub latencies: Vec<Duration>,
    pub errors: u64,
    pub conflicts: u64,
    /// Up to a few distinct error messages, with how often each came.
    pub samples: BTreeMap<String, u64>,
    pub elapsed: Duration,
}

impl Run {
    pub fn commands(&self) -> u64 {
        self.latencies.len() as u64
    }

    /// The JSON line both systems print: `system`, `clients`, `commands`,
    /// `seconds`, `commands_per_s`, `mean_ms`, `p50_ms`, `p99_ms`, `errors`
    /// and `conflicts`.
    pub fn summary(&mut self, system: &str, clients: usize, accounts: usize) -> Value {
        self.latencies.sort_unstable();
        let secs = self.elapsed.as_secs_f64();
        json!({
            "system": system,
            "clients": clients,
            "accounts": accounts,
            "commands": self.commands(),
            "seconds": round(secs, 3),
            "commands_per_s": round(self.commands() as f64 / secs, 1),
            "mean_ms": mean_ms(&self.latencies),
            "p50_ms": percentile_ms(&self.latencies, 0.50),
            "p99_ms": percentile_ms(&self.latencies, 0.99),
            "errors": self.errors,
            "conflicts": self.conflicts,
        })
    }

    /// The sampled errors on stderr, so that a run with errors says why.
    pub fn report_errors(&self) {
        for (message, count) in &self.samples {
            eprintln!("peer-bench: {count} x {message}");
        }
    }
}

pub fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// Nearest-rank percentile of sorted durations, in milliseconds.
pub fn percentile_ms(sorted: &[Duration], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(round(sorted[rank - 1].as_secs_f64() * 1000.0, 3))
}

/// The mean of `durations`, in milliseconds.
pub fn mean_ms(durations: &[Duration]) -> Option<f64> {
    if durations.is_empty() {
        return None;
    }
    let total: Duration = durations.iter().sum();
    Some(round(
        total.as_secs_f64() * 1000.0 / durations.len() as f64,
        3,
    ))
}

const MAX_SAMPLES: usize = 8;

/// Runs `op(account index)` from `clients` tasks for `seconds`.
pub async fn drive<F, Fut>(clients: usize, seconds: f64, accounts: usize, op: F) -> Run
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Done> + Send + 'static,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut rng = StdRng::from_rng(&mut rand::rng());
                let mut run = Run::default();
                while Instant::now() < deadline {
                    let account = rng.random_range(0..accounts);
                    let t0 = Instant::now();
                    let done = op(account).await;
                    let took = t0.elapsed();
                    run.conflicts += done.conflicts;
                    match done.error {
                        None => run.latencies.push(took),
                        Some(message) => {
                            run.errors += 1;
                            if let Some(n) = run.samples.get_mut(&message) {
                                *n += 1;
                            } else if run.samples.len() < MAX_SAMPLES {
                                run.samples.insert(message, 1);
                            }
                        }
                    }
                }
                run
            })
        })
        .collect();
    let mut all = Run::default();
    for task in tasks {
        let run = task.await.expect("a client task panicked");
        all.latencies.extend(run.latencies);
        all.errors += run.errors;
        all.conflicts += run.conflicts;
        for (message, n) in run.samples {
            if all.samples.len() < MAX_SAMPLES || all.samples.contains_key(&message) {
                *all.samples.entry(message).or_default() += n;
            }
        }
    }
    all.elapsed = start.elapsed();
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let d: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&d, 0.50), Some(50.0));
        assert_eq!(percentile_ms(&d, 0.99), Some(99.0));
        assert_eq!(percentile_ms(&d[..1], 0.99), Some(1.0));
        assert_eq!(percentile_ms(&[], 0.5), None);
    }
}
